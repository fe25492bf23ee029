/**
 * @module torchlight/data/dataloader: `DataLoader`, as `torch.utils.data.DataLoader`.
 *
 * With `numWorkers: 0` batches are loaded in the calling thread, and the loader is a plain
 * iterable (`for (const batch of loader)`). With `numWorkers > 0`, worker threads rebuild the
 * dataset from its `workerSpec()`, load and collate batches in parallel and prefetch
 * `prefetchFactor` batches each while the training step runs; batches arrive in sampler
 * order and their tensors cross threads without copies. Iterate it with `for await`.
 */
import { invalid, pyArgs } from "../util/validate.js";
import { countBatch } from "../util/telemetry.js";
import { Worker } from "node:worker_threads";
import * as torch from "../torch/index.js";
import type { Generator } from "../torch/index.js";
import { Dataset, IterableDataset, type WorkerSpec } from "./dataset.js";
import { BatchSampler, RandomSampler, SequentialSampler, drawSeed, type Sized } from "./sampler.js";
import { applyToTensors, defaultCollate, type Batch } from "./collate.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./worker.js";

/** Options of {@link DataLoader}, as PyTorch's keyword arguments. */
export interface DataLoaderOptions<T> {
  /** Samples per batch (default 1); `null` yields samples one by one, uncollated. */
  batchSize?: number | null;
  /** A new random order every pass (a RandomSampler). */
  shuffle?: boolean;
  /** Where indices come from (exclusive with `shuffle`). */
  sampler?: Iterable<number> & Partial<Sized>;
  /** Where index lists come from (exclusive with batchSize, shuffle, sampler, dropLast). */
  batchSampler?: Iterable<number[]> & Partial<Sized>;
  /** Worker threads (0: load in the calling thread). */
  numWorkers?: number;
  /** Makes a batch from samples (default `defaultCollate`). With workers, a custom function runs in the main thread. */
  collateFn?: (samples: T[]) => Batch;
  /** Drop the last incomplete batch. */
  dropLast?: boolean;
  /** Give up on a batch a worker has not delivered in this many ms (0: wait forever). */
  timeoutMs?: number;
  /** Run in each worker after the dataset is rebuilt: `module`'s export `name`, called with (workerId, ...args). */
  workerInitFn?: WorkerSpec;
  /** Batches loaded ahead per worker (default 2). */
  prefetchFactor?: number;
  /** Keep the worker threads between passes. */
  persistentWorkers?: boolean;
  /** Draws the shuffle order and the workers' base seed (default: the default generator). */
  generator?: Generator;
  /**
   * Batches in page-locked memory (with CUDA), so copying them to the GPU with
   * `{ nonBlocking: true }` overlaps with compute. Without CUDA it has no effect and says so
   * once, as PyTorch does.
   */
  pinMemory?: boolean;
}

const DATALOADER_OPTIONS = ["batchSize", "shuffle", "sampler", "batchSampler", "numWorkers", "collateFn", "dropLast", "timeoutMs", "workerInitFn", "prefetchFactor", "persistentWorkers", "generator", "pinMemory"] as const satisfies readonly (keyof DataLoaderOptions<unknown>)[];

/** A failure in a worker thread (the sample index and the original stack are kept), or a timeout. */
export class DataLoaderError extends Error {
  override name = "DataLoaderError";
  constructor(message: string, readonly code: "DATA_WORKER_ERROR" | "DATA_WORKER_TIMEOUT" | "DATA_WORKER_DIED" | "DATA_LOADER_OPTION",
    readonly workerId?: number, readonly index?: number, options?: ErrorOptions) { super(message, options); }
}

const optionError = (msg: string) => new DataLoaderError(`DataLoader: ${msg}`, "DATA_LOADER_OPTION");

/**
 * Batches of a dataset, in sampler order.
 * @example
 * const loader = new DataLoader(train, { batchSize: 128, shuffle: true, numWorkers: 2 });
 * for await (const [x, y] of loader) { ... }
 */
let warnedNoPinning = false;
function warnNoPinning(): void {
  if (warnedNoPinning) return;
  warnedNoPinning = true;
  process.emitWarning("'pinMemory' is set to true but no CUDA device is available, so pinned memory is not used (as PyTorch's DataLoader).", { code: "TORCHLIGHT_PIN_MEMORY" });
}

export class DataLoader<T = unknown> implements AsyncIterable<Batch> {
  readonly dataset: Dataset<T> | IterableDataset<T>;
  readonly batchSize: number | null;
  readonly dropLast: boolean;
  readonly numWorkers: number;
  readonly prefetchFactor: number;
  readonly persistentWorkers: boolean;
  readonly timeoutMs: number;
  /** Whether batches are pinned (pinMemory was asked for and CUDA is available). */
  readonly pinMemory: boolean;
  readonly generator: Generator | undefined;
  readonly sampler: (Iterable<number> & Partial<Sized>) | null;
  readonly batchSampler: (Iterable<number[]> & Partial<Sized>) | null;
  readonly collateFn: ((samples: T[]) => Batch) | null;
  private readonly workerInitFn: WorkerSpec | undefined;
  private pool: WorkerPool | null = null;

  constructor(dataset: Dataset<T> | IterableDataset<T>, opts?: DataLoaderOptions<T>);
  constructor(dataset: Dataset<T> | IterableDataset<T>, batchSize: number | null, opts?: Omit<DataLoaderOptions<T>, "batchSize">);
  constructor(opts: DataLoaderOptions<T> & { dataset: Dataset<T> | IterableDataset<T> });
  constructor(...args: unknown[]) {
    const { dataset, ...rest } = pyArgs("DataLoader", ["dataset", "batchSize", "shuffle"], args, DATALOADER_OPTIONS, optionError);
    const opts = rest as DataLoaderOptions<T>;
    if (!(dataset instanceof Dataset) && !(dataset instanceof IterableDataset)) invalid("DataLoader", "dataset", "a Dataset or an IterableDataset", dataset, optionError);
    this.dataset = dataset as Dataset<T> | IterableDataset<T>;
    const numWorkers = opts.numWorkers ?? 0;
    if (!Number.isInteger(numWorkers) || numWorkers < 0) throw optionError(`numWorkers should be a non-negative integer; got ${numWorkers}`);
    if (opts.prefetchFactor !== undefined && numWorkers === 0) throw optionError("prefetchFactor option could only be specified with numWorkers > 0");
    if (opts.persistentWorkers && numWorkers === 0) throw optionError("persistentWorkers option needs numWorkers > 0");
    if (opts.timeoutMs !== undefined && opts.timeoutMs < 0) throw optionError("timeoutMs option should be non-negative");
    const iterable = dataset instanceof IterableDataset;
    if (iterable) {
      if (opts.shuffle) throw optionError("shuffle option is not supported with an IterableDataset (it has no indices); shuffle inside the dataset");
      if (opts.sampler || opts.batchSampler) throw optionError("sampler and batchSampler options are not supported with an IterableDataset");
      if (numWorkers > 0) throw optionError("numWorkers > 0 is not supported with an IterableDataset yet; use a map-style Dataset or numWorkers: 0");
    }
    if (opts.sampler && opts.shuffle) throw optionError("sampler option is mutually exclusive with shuffle");
    const batchSize = opts.batchSize === undefined ? 1 : opts.batchSize;
    if (opts.batchSampler) {
      if (opts.batchSize !== undefined && opts.batchSize !== 1 || opts.shuffle || opts.sampler || opts.dropLast) {
        throw optionError("batchSampler option is mutually exclusive with batchSize, shuffle, sampler, and dropLast");
      }
    } else if (batchSize === null && opts.dropLast) {
      throw optionError("batchSize: null (no automatic batching) is mutually exclusive with dropLast");
    } else if (batchSize !== null && (!Number.isInteger(batchSize) || batchSize <= 0)) {
      throw optionError(`batchSize should be a positive integer or null; got ${String(batchSize)}`);
    }
    this.batchSize = opts.batchSampler ? null : batchSize;
    this.dropLast = opts.dropLast ?? false;
    this.numWorkers = numWorkers;
    this.prefetchFactor = opts.prefetchFactor ?? 2;
    this.persistentWorkers = opts.persistentWorkers ?? false;
    this.timeoutMs = opts.timeoutMs ?? 0;
    this.pinMemory = opts.pinMemory === true && torch.cuda.isAvailable();
    if (opts.pinMemory === true && !this.pinMemory) warnNoPinning();
    this.generator = opts.generator;
    this.workerInitFn = opts.workerInitFn;
    this.collateFn = opts.collateFn ?? null;
    if (iterable) { this.sampler = null; this.batchSampler = null; return; }
    const ds = dataset as Dataset<T>;
    this.sampler = opts.sampler ?? (opts.shuffle ? new RandomSampler(ds, opts.generator ? { generator: opts.generator } : {}) : new SequentialSampler(ds));
    this.batchSampler = opts.batchSampler ?? (batchSize === null ? null : new BatchSampler(this.sampler, batchSize, this.dropLast));
    if (numWorkers > 0 && !ds.workerSpec()) {
      throw optionError(`numWorkers > 0 needs a dataset that worker threads can rebuild, but ${ds.constructor.name} has no workerSpec(). ` +
        "Implement workerSpec() returning { module: import.meta.url, name: \"" + ds.constructor.name + "\", args: [...] } (its constructor's arguments), or use numWorkers: 0");
    }
  }

  /** Batches per pass (samples per pass with `batchSize: null`). */
  get length(): number {
    const s = (this.batchSampler ?? this.sampler) as Partial<Sized> | null;
    if (!s || s.length === undefined) throw new TypeError("DataLoader: this loader has no length (its dataset or sampler has none)");
    return s.length;
  }

  private skipNext = 0;
  private afterSkip: (() => void) | null = null;

  /**
   * The next pass starts at batch `start`: the batches before it are drawn from the sampler
   * (so the order is the one a full pass would have) but not loaded. How a trainer resumes
   * in the middle of an epoch. Applies to one pass. `then` runs once the order is drawn,
   * before anything is loaded (a trainer restores its RNG state there).
   */
  skipBatches(start: number, then?: () => void): this {
    if (!Number.isInteger(start) || start < 0) throw optionError(`skipBatches expects a non-negative integer; got ${start}`);
    this.skipNext = start;
    this.afterSkip = then ?? null;
    return this;
  }

  private indexBatches(): Iterator<number[]> {
    let it: Iterator<number[]>;
    if (this.batchSampler) it = this.batchSampler[Symbol.iterator]();
    else {
      const single = this.sampler![Symbol.iterator]();
      it = { next: () => { const r = single.next(); return r.done ? { done: true, value: undefined } : { done: false, value: [r.value] }; } };
    }
    for (let k = this.skipNext; k > 0 && !it.next().done; k--);
    this.skipNext = 0;
    const then = this.afterSkip;
    this.afterSkip = null;
    then?.();
    return it;
  }

  private collate(samples: T[]): Batch {
    if (this.batchSize === null && !this.batchSampler) return this.pin(samples[0]);
    return this.pin(this.collateFn ? this.collateFn(samples) : defaultCollate(samples));
  }

  /** With pinMemory and CUDA: every tensor of the batch moved to page-locked memory. */
  private pin<B>(batch: B): B {
    if (!this.pinMemory) return batch;
    return applyToTensors(batch, (t) => {
      if (t.device !== "cpu" || t.isPinned()) return t;
      const pinned = t.pinMemory();
      t.dispose();
      return pinned;
    });
  }

  /** Loads in the calling thread (numWorkers 0). */
  *[Symbol.iterator](): Iterator<Batch> {
    for (const b of this.batches()) { countBatch(this.samplesIn(b)); yield b; }
  }

  /** How many samples a delivered batch holds (its first tensor's first dimension; 1 uncollated), for the run's telemetry. */
  private samplesIn(b: Batch): number {
    if (this.batchSize === null && !this.batchSampler) return 1;
    const first = (v: unknown): number => {
      if (v instanceof torch.Tensor) return v.dim() > 0 ? v.size(0) : 0;
      const parts = Array.isArray(v) ? v : v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype ? Object.values(v) : [];
      for (const x of parts) { const n = first(x); if (n) return n; }
      return 0;
    };
    return first(b) || 1;
  }

  private *batches(): IterableIterator<Batch> {
    if (this.numWorkers > 0) throw optionError("a loader with numWorkers > 0 delivers batches asynchronously: iterate it with `for await (const batch of loader)`");
    drawSeed(this.generator);  // the base seed PyTorch draws per pass, so the default generator advances alike
    if (this.dataset instanceof IterableDataset) {
      let buf: T[] = [];
      let skip = this.skipNext * (this.batchSize ?? 1);
      this.skipNext = 0;
      const then = this.afterSkip;
      this.afterSkip = null;
      if (skip === 0) then?.();
      for (const s of this.dataset as IterableDataset<T>) {
        if (skip > 0) { skip--; torch.dispose(s); if (skip === 0) then?.(); continue; }
        if (this.batchSize === null) { yield s; continue; }
        buf.push(s);
        if (buf.length === this.batchSize) { yield this.collate(buf); buf = []; }
      }
      if (buf.length && !this.dropLast && this.batchSize !== null) yield this.collate(buf);
      return;
    }
    const ds = this.dataset as Dataset<T>;
    const it = this.indexBatches();
    // one scope per batch: the samples' intermediate tensors are freed once collated
    for (let r = it.next(); !r.done; r = it.next()) yield torch.tidy(() => this.collate(r.value.map((i) => ds.getItem(i))) as never);
  }

  /** numWorkers 0 with a dataset that loads asynchronously. */
  private async *asyncSamples(ds: Dataset<T> & { getItemAsync(i: number): Promise<T> }): AsyncGenerator<Batch> {
    drawSeed(this.generator);
    const it = this.indexBatches();
    for (let r = it.next(); !r.done; r = it.next()) {
      const samples = await Promise.all(r.value.map((i) => ds.getItemAsync(i)));
      const batch = torch.tidy(() => this.collate(samples) as never);
      torch.dispose(samples);
      yield batch;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    for await (const b of this.asyncBatches()) { countBatch(this.samplesIn(b)); yield b; }
  }

  private async *asyncBatches(): AsyncGenerator<Batch> {
    const ds = this.dataset as Dataset<T>;
    if (this.numWorkers === 0 && typeof ds.getItemAsync === "function") {
      yield* this.asyncSamples(ds as Dataset<T> & { getItemAsync(i: number): Promise<T> });
      return;
    }
    if (this.numWorkers === 0) {
      // Batches are ready at once, so a `for await` over them would run on microtasks only and
      // never let the event loop turn: timers, sockets (a TorchTrainer worker's control channel
      // and its heartbeats) and I/O callbacks would wait for the whole epoch. Turn it every 100 ms.
      const it = this.batches();
      let turned = performance.now();
      for (let r = it.next(); !r.done; r = it.next()) {
        yield r.value;
        if (performance.now() - turned > 100) { await new Promise<void>((res) => setImmediate(res)); turned = performance.now(); }
      }
      return;
    }
    const baseSeed = drawSeed(this.generator);
    const custom = this.collateFn !== null || this.batchSize === null && !this.batchSampler;
    let pool = this.pool;
    if (!pool) {
      pool = new WorkerPool((this.dataset as Dataset<T>).workerSpec()!, this.numWorkers, baseSeed, !custom, this.workerInitFn, this.timeoutMs);
      await pool.ready;
      if (this.persistentWorkers) this.pool = pool;
    }
    const it = this.indexBatches();
    const inFlight: Promise<unknown>[] = [];
    let sent = 0;
    const send = () => {
      const r = it.next();
      if (r.done) return false;
      const p = pool!.run(sent % this.numWorkers, r.value);
      p.catch(() => undefined);  // a failure is reported when its batch is awaited, not as an unhandled rejection
      inFlight.push(p);
      sent++;
      return true;
    };
    try {
      for (let k = 0; k < this.prefetchFactor * this.numWorkers && send(); k++);
      while (inFlight.length) {
        const batch = await inFlight.shift()!;
        send();
        const out = torch.sharing.decode(batch);
        yield custom ? this.collate(out as T[]) : this.pin(out);
      }
    } finally {
      // results still in flight are received and freed; a pool not kept is shut down
      for (const p of inFlight) p.then((b) => torch.dispose(torch.sharing.decode(b)), () => undefined);
      if (pool !== this.pool) await pool.close(inFlight);
    }
  }

  /** Stops persistent workers (otherwise they stop when the process exits). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close([]);
  }
}

/** Worker threads that each rebuilt the dataset, answering index lists with encoded batches. */
class WorkerPool {
  readonly ready: Promise<void>;
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (b: unknown) => void; reject: (e: Error) => void; worker: number; timer?: NodeJS.Timeout }>();
  private readonly sharedTokens: number[] = [];
  private nextTask = 0;
  private failed: Error | null = null;
  private closed = false;

  constructor(spec: WorkerSpec, n: number, baseSeed: bigint, collate: boolean, init: WorkerSpec | undefined, private readonly timeoutMs: number) {
    const args = torch.sharing.encode(spec.args, this.sharedTokens, true) as unknown[];
    const readies: Promise<void>[] = [];
    for (let id = 0; id < n; id++) {
      const data: WorkerInit = { spec: { ...spec, args }, id, numWorkers: n, seed: String(baseSeed + BigInt(id)), collate, ...(init ? { init } : {}) };
      const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: data });
      this.workers.push(w);
      readies.push(new Promise<void>((resolve, reject) => {
        w.on("message", (m: WorkerReply) => {
          if ("ready" in m) resolve();
          else if ("fatal" in m) { const e = new DataLoaderError(`DataLoader worker ${id} could not rebuild the dataset: ${m.fatal.message}`, "DATA_WORKER_ERROR", id); e.stack += `\nworker stack: ${m.fatal.stack ?? ""}`; reject(e); this.fail(e); }
          else this.settle(m);
        });
        w.on("error", (e) => { const err = new DataLoaderError(`DataLoader worker ${id} crashed: ${e.message}`, "DATA_WORKER_DIED", id, undefined, { cause: e }); reject(err); this.fail(err); });
        w.on("exit", (code) => {
          if (this.closed) return;
          const err = new DataLoaderError(`DataLoader worker ${id} exited unexpectedly (code ${code})`, "DATA_WORKER_DIED", id);
          reject(err); this.fail(err);
        });
      }));
    }
    this.ready = Promise.all(readies).then(() => undefined, async (e: Error) => { await this.close([]); throw e; });
  }

  run(worker: number, indices: number[]): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed);
    const task = this.nextTask++;
    return new Promise((resolve, reject) => {
      const entry: { resolve: (b: unknown) => void; reject: (e: Error) => void; worker: number; timer?: NodeJS.Timeout } = { resolve, reject, worker };
      if (this.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(task);
          reject(new DataLoaderError(`DataLoader timed out after ${this.timeoutMs} ms waiting for worker ${worker} (batch ${task}, indices ${indices.slice(0, 8).join(", ")}${indices.length > 8 ? ", ..." : ""})`, "DATA_WORKER_TIMEOUT", worker));
        }, this.timeoutMs);
      }
      this.pending.set(task, entry);
      this.workers[worker]!.postMessage({ task, indices } satisfies WorkerRequest);
    });
  }

  private settle(m: Extract<WorkerReply, { task: number }>): void {
    const p = this.pending.get(m.task);
    if (!p) { if ("tokens" in m) torch.sharing.release(m.tokens); return; }  // timed out: drop it
    this.pending.delete(m.task);
    if (p.timer) clearTimeout(p.timer);
    if ("error" in m) {
      const where = m.error.index !== undefined ? ` on sample index ${m.error.index}` : "";
      const e = new DataLoaderError(`DataLoader worker ${p.worker} failed${where}: ${m.error.name ?? "Error"}: ${m.error.message}`, "DATA_WORKER_ERROR", p.worker, m.error.index);
      if (m.error.stack) e.stack = `${e.stack}\nOriginal traceback in worker ${p.worker}:\n${m.error.stack}`;
      p.reject(e);
    } else p.resolve(m.batch);
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.failed = e;
    for (const [, p] of this.pending) { if (p.timer) clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
  }

  async close(inFlight: Promise<unknown>[]): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled(inFlight);
    this.closed = true;
    for (const [, p] of this.pending) if (p.timer) clearTimeout(p.timer);
    await Promise.all(this.workers.map((w) => w.terminate()));
    torch.sharing.release(this.sharedTokens);
  }
}
