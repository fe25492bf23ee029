/**
 * @module torchlight/distributed/ddp: `DistributedDataParallel`, as PyTorch's, on the same
 * engine: libtorch's `c10d::Reducer` buckets gradients (25 MB, a 1 MB first bucket) and
 * all-reduces each bucket as soon as its gradients are ready, overlapping communication
 * with the rest of backward; gradients end up averaged over the ranks.
 */
import * as torch from "../torch/index.js";
import { nn, type Tensor } from "../torch/index.js";
import { DistributedError, defaultGroup, type ProcessGroup } from "./process_group.js";

import * as c10d from "../torch/c10d.js";
import { announceSyncBackward } from "../torch/distributed_state.js";
import { checkOptions } from "../util/validate.js";

/** Options of {@link DistributedDataParallel}, as PyTorch's keyword arguments. */
export interface DDPOptions {
  /** Bucket size in MiB (default 25). */
  bucketCapMb?: number;
  /** Parameters may get no gradient in a step (default false: faster). */
  findUnusedParameters?: boolean;
  /** Copy rank 0's buffers (batch-norm statistics) to every rank before each forward (default true). */
  broadcastBuffers?: boolean;
  /** Gradients are views into the communication buckets (saves a copy). */
  gradientAsBucketView?: boolean;
  processGroup?: ProcessGroup;
}

const BROADCAST_BUCKET = 250 * 1024 * 1024;
const FIRST_BUCKET = 1024 * 1024;

function tensorsIn(v: unknown, out: Tensor[]): Tensor[] {
  if (v instanceof torch.Tensor) out.push(v);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out);
  else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) tensorsIn(x, out);
  return out;
}

/**
 * Data-parallel training of `module` across the ranks of the process group. Construction
 * broadcasts rank 0's parameters and buffers to every rank; `await ddp.ready` (or use
 * `DistributedDataParallel.create`) before the first forward.
 * @example
 * const ddp = await DistributedDataParallel.create(model);
 * const loss = lossFn.forward(ddp.forward(x), y); loss.backward();  // gradients averaged
 */
export class DistributedDataParallel<M extends nn.Module = nn.Module> extends nn.Module {
  module: M;
  /** Resolves once rank 0's parameters and buffers are everywhere. */
  readonly ready: Promise<void>;
  readonly bucketCapMb: number;
  readonly findUnusedParameters: boolean;
  readonly broadcastBuffers: boolean;
  /** False inside `noSync`: gradients accumulate locally. */
  requireBackwardGradSync = true;
  private readonly group: ProcessGroup;
  private readonly reducer: number;
  private isReady = false;
  /** Forwards so far: the sequence number of this DDP's collectives for the worker's watchdog. */
  private steps = 0;

  constructor(module: M, opts: DDPOptions = {}) {
    checkOptions("DistributedDataParallel", opts, ["bucketCapMb", "findUnusedParameters", "broadcastBuffers", "gradientAsBucketView", "processGroup"], (e) => new DistributedError(e, "DIST_BAD_ARGUMENT"));
    super();
    const g = opts.processGroup ?? defaultGroup();
    if (!g) throw new DistributedError("DistributedDataParallel: the process group is not initialised; await initProcessGroup() first", "DIST_NOT_INITIALIZED");
    this.group = g;
    this.module = module;
    this.bucketCapMb = opts.bucketCapMb ?? 25;
    this.findUnusedParameters = opts.findUnusedParameters ?? false;
    this.broadcastBuffers = opts.broadcastBuffers ?? true;
    const params = module.parameters().filter((p) => p.requiresGrad);
    if (params.length === 0) throw new DistributedError("DistributedDataParallel: the module has no parameter that requires a gradient", "DIST_BAD_ARGUMENT");
    const state = [...params, ...module.buffers()];
    this.ready = c10d.broadcastCoalesced(g.id, state, BROADCAST_BUCKET, 0).then(() => { this.isReady = true; }, (e: unknown) => {
      throw new DistributedError(`DistributedDataParallel: broadcasting rank 0's parameters failed: ${(e as Error).message}`, "DIST_PEER_FAILED", {}, { cause: e });
    });
    this.reducer = c10d.reducerNew(g.id, params, Math.round(this.bucketCapMb * 1024 * 1024), FIRST_BUCKET, this.findUnusedParameters, opts.gradientAsBucketView ?? false);
  }

  /** Wraps `module` and waits for the initial broadcast. */
  static async create<M extends nn.Module>(module: M, opts: DDPOptions = {}): Promise<DistributedDataParallel<M>> {
    const ddp = new DistributedDataParallel(module, opts);
    await ddp.ready;
    return ddp;
  }

  override forward(...args: unknown[]): any {  // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!this.isReady) throw new DistributedError("DistributedDataParallel: forward before the initial parameter broadcast finished; await ddp.ready (or use DistributedDataParallel.create)", "DIST_NOT_INITIALIZED");
    const sync = torch.isGradEnabled() && this.requireBackwardGradSync;
    const step = ++this.steps, stream = `DDP of ${this.group.name}`;
    if (sync) c10d.reducerPrepareForward(this.reducer);
    if (this.broadcastBuffers && this.group.size > 1) {
      const bufs = this.module.buffers();
      if (bufs.length) {
        const token = c10d.watchEnter(`${stream} (buffers)`, "DDP forward (buffer broadcast)", step);
        try { c10d.broadcastCoalescedSync(this.group.id, bufs, BROADCAST_BUCKET, 0); } finally { c10d.watchLeave(token); }
      }
    }
    const out = this.module.forward(...args);
    if (sync) {
      c10d.reducerPrepareBackward(this.reducer, this.findUnusedParameters ? tensorsIn(out, []) : []);
      announceSyncBackward(() => { const token = c10d.watchEnter(stream, "DDP backward (gradient all-reduce)", step); return () => c10d.watchLeave(token); });
    }
    return out;
  }

  /**
   * Runs `fn` (a forward and its backward) without averaging gradients, for gradient
   * accumulation; the next synchronised backward averages everything accumulated.
   */
  noSync<T>(fn: () => T): T {
    const prev = this.requireBackwardGradSync;
    this.requireBackwardGradSync = false;
    try { return fn(); } finally { this.requireBackwardGradSync = prev; }
  }

  /** Frees the reducer (the module is left as it is). */
  dispose(): void { c10d.reducerFree(this.reducer); }
}
