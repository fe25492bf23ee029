/**
 * @module torchlight/train/worker: the worker side of a run, as Ray Train's session:
 * `report(metrics, { checkpoint })`, `getContext()`, `getCheckpoint()`, and the runtime that
 * joins the driver's control channel and process group, then runs the train function as
 * this rank. Never imports the driver; both speak through ./protocol.
 */
import { checkOptions } from "../util/validate.js";
import { hostname, tmpdir } from "node:os";
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import WebSocket from "ws";
import * as torch from "../torch/index.js";
import { native } from "../torch/native/index.js";
import * as dist from "../distributed/index.js";
import { broadcastFlagSync } from "../distributed/internal.js";
import { setProgressSink } from "../util/progress.js";
import { setDefaultRootDir } from "../util/context.js";
import { env } from "../util/env.js";
import { takeCounts } from "../util/telemetry.js";
import { Checkpoint } from "./checkpoint.js";
import { TrainError } from "./errors.js";
import { Subset, type Dataset } from "../data/index.js";
import { ENV, SECRET_HEADER, isUserFailure, serializeError, type DriverMessage, type LocalRunner, type StartMessage, type WorkerMessage, type WorkerPlacement } from "./protocol.js";

/** Where the run is stored, as seen from a worker. */
export interface StorageInfo {
  /** RunConfig.storagePath. */
  storagePath: string;
  /** RunConfig.name: the run folder's name. */
  experimentDirName: string;
  /** {storagePath}/{name}. */
  runPath: string;
}

/** This worker's place in the run, as Ray's `TrainContext`. */
export class TrainContext {
  constructor(private readonly p: WorkerPlacement, private readonly storage: StorageInfo, private readonly attempt: number, private readonly device?: string,
    private readonly preempted: () => boolean = () => false) {}
  /**
   * Whether the run is being preempted (a scheduler's SIGTERM reached the driver or a worker):
   * save a checkpoint, `report()` it and return from the train function; the run ends as
   * "preempted" and its rerun (or the restarted group) resumes exactly there. Beyond Ray. The
   * answer is agreed across ranks (rank 0's, broadcast: one small collective), so every rank
   * must call it at the same points, e.g. once per step.
   */
  shouldStop(): boolean {
    const mine = this.preempted();
    return this.p.worldSize > 1 && dist.isInitialized() ? broadcastFlagSync(mine, 0) : mine;
  }
  getWorldSize(): number { return this.p.worldSize; }
  getWorldRank(): number { return this.p.worldRank; }
  getLocalRank(): number { return this.p.localRank; }
  getLocalWorldSize(): number { return this.p.localWorldSize; }
  getNodeRank(): number { return this.p.nodeRank; }
  getExperimentName(): string { return this.storage.experimentDirName; }
  /** Ray's trial name; here the run's name. */
  getTrialName(): string { return this.storage.experimentDirName; }
  getStorage(): StorageInfo { return { ...this.storage }; }
  /** Which attempt of the worker group this is (0 first, +1 per restart after a failure). */
  getAttempt(): number { return this.attempt; }
  /**
   * The device this worker trains on: "cpu", or with useGpu its GPU as this process sees it
   * ("cuda:{localRank}" on one machine; "cuda:0" in a Slurm step, which sees only its own GPU).
   */
  getDevice(): string { return this.device ?? env("trainDevice") ?? "cpu"; }
}

interface Session {
  send(m: WorkerMessage): void;
  context: TrainContext;
  datasets: Record<string, Dataset>;
  latest: Checkpoint | null;
  stagingDir: string;
  seq: number;
  acks: Map<number, { resolve: (checkpoint: string | null) => void; reject: (e: Error) => void }>;
  /** Local mode: an abort ends the pending report() with an error instead of the process. */
  local: boolean;
  closing: boolean;
  /** Why the run is being preempted (null: it is not). */
  preempt: string | null;
  /** The driver announced that it stops this worker. */
  stopRequested: boolean;
  /** When this rank last reported (s since the epoch), for the telemetry's intervals. */
  lastReportAt: number | null;
}
let session: Session | null = null;

/** With TORCHLIGHT_TRAIN_TRACE=1, prints when each start-up phase of this worker ended (ms since the driver spawned it). */
const trace = (phase: string) => {
  if (env("trainTrace") === "1") console.error(`[trace] ${phase}: +${Date.now() - Number(env("trainSpawnedAt") ?? Date.now())} ms`);
};

function need(what: string): Session {
  if (!session) throw new TrainError("TRAIN_NOT_IN_WORKER", `${what} works only inside the train function a TorchTrainer runs (a worker process); call it from trainFunc, not from the driver script`);
  return session;
}

/** This worker's context: world size, ranks, node, run name, storage. */
export function getContext(): TrainContext { return need("getContext()").context; }

/** The latest persisted checkpoint: the run's (when it resumes after a failure or a rerun) or the last this group reported; null at a fresh start. */
export function getCheckpoint(): Checkpoint | null { return need("getCheckpoint()").latest; }

function checkMetrics(metrics: unknown): Record<string, unknown> {
  if (metrics === null || typeof metrics !== "object" || Array.isArray(metrics)) throw new TrainError("TRAIN_REPORT", `report: metrics must be an object of names to numbers, got ${Array.isArray(metrics) ? "an array" : metrics === null ? "null" : typeof metrics}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metrics as Record<string, unknown>)) {
    if (v instanceof torch.Tensor) {
      if (v.numel() !== 1) throw new TrainError("TRAIN_REPORT", `report: metric ${JSON.stringify(k)} is a tensor of shape [${v.shape.join(", ")}]; report numbers (a scalar's .item())`);
      out[k] = v.item();
    } else if (v === null || ["number", "string", "boolean"].includes(typeof v)) out[k] = v;
    else {
      try { out[k] = JSON.parse(JSON.stringify(v)); } catch { throw new TrainError("TRAIN_REPORT", `report: metric ${JSON.stringify(k)} is not JSON-serialisable (${typeof v}); report numbers, strings or plain objects`); }
    }
  }
  return out;
}

function send(s: Session, m: WorkerMessage): void { s.send(m); }

/**
 * This worker's shard of `TorchTrainer({ datasets: { [name]: dataset } })`, as Ray's
 * `train.get_dataset_shard(name)`: a `Dataset` (use it with a DataLoader) holding every
 * worldSize-th sample from this rank's, equal in length on every rank (the remainder of
 * `length / worldSize` is dropped, so every rank runs the same number of steps). Split
 * once: shuffle per epoch with the DataLoader. In local mode the whole dataset.
 */
export function getDatasetShard<T = unknown>(name = "train"): Dataset<T> {
  const s = need("getDatasetShard()");
  const ds = s.datasets[name];
  if (!ds) {
    const have = Object.keys(s.datasets);
    throw new TrainError("TRAIN_NO_DATASET", `getDatasetShard(${JSON.stringify(name)}): the TorchTrainer has no dataset of that name; ${have.length ? `it has ${have.map((n) => JSON.stringify(n)).join(", ")}` : "pass new TorchTrainer(trainFunc, { datasets: { train: dataset } })"}`);
  }
  const world = s.context.getWorldSize(), rank = s.context.getWorldRank();
  if (world === 1) return ds as Dataset<T>;
  const per = Math.floor(ds.length / world);
  return new Subset(ds as Dataset<T>, Array.from({ length: per }, (_, k) => rank + k * world));
}

function onDriverMessage(s: Session, m: DriverMessage): void {
  if (m.type === "reportAck") { s.acks.get(m.seq)?.resolve(m.checkpoint); s.acks.delete(m.seq); }
  else if (m.type === "preempt") s.preempt ??= m.reason;
  else if (m.type === "stop") s.stopRequested = true;
  else if (m.type === "abort") {
    if (!s.local) { console.error(`worker: the driver stopped this run: ${m.reason}`); process.exit(1); }
    for (const ack of s.acks.values()) ack.reject(new TrainError("TRAIN_FAILED", `report(): the driver stopped this run: ${m.reason}`));
    s.acks.clear();
  }
}

function newSession(start: StartMessage, sendFn: (m: WorkerMessage) => void, datasets: Record<string, Dataset>, device?: string): Session {
  const s: Session = {
    send: sendFn, datasets,
    context: new TrainContext(start.placement, { storagePath: join(start.runPath, ".."), experimentDirName: start.experimentName, runPath: start.runPath }, start.attempt, device, () => s.preempt !== null),
    latest: start.latestCheckpoint ? new Checkpoint(start.latestCheckpoint) : null, stagingDir: start.stagingDir, seq: 0, acks: new Map(), closing: false, local: false,
    preempt: null, stopRequested: false, lastReportAt: null,
  };
  return s;
}

/**
 * SIGTERM in a worker: from its driver, which said "stop" first, it ends the process; from
 * anyone else (a scheduler signalling the job's steps, a node being taken back) it preempts
 * the run: the driver tells every rank, `shouldStop()` turns true, and the train function
 * saves and returns. A second one ends the process.
 */
function onSigterm(s: Session): void {
  if (s.stopRequested || s.preempt !== null) process.exit(143);
  // the driver's "stop" may still be in flight on the channel: give it a moment
  setTimeout(() => {
    if (s.stopRequested) process.exit(143);
    const reason = `rank ${s.context.getWorldRank()} (pid ${process.pid}) received SIGTERM`;
    s.preempt ??= reason;
    send(s, { type: "preempt", reason });
  }, 200);
}

/**
 * Local mode's runner (see protocol's LocalRunner): the train function in this process as the
 * only rank, with report/getContext/getCheckpoint/getDatasetShard; no process group.
 */
export function localRunner(trainFunc: (config: unknown) => unknown, config: unknown, datasets: Record<string, Dataset>, device: string): LocalRunner {
  return (start, toDriver) => {
    const s = newSession(start, toDriver, datasets, device);
    s.local = true;
    session = s;
    setDefaultRootDir(start.runPath);
    const finished = (async () => {
      try {
        await trainFunc(config);
        toDriver({ type: "done" });
      } catch (e) {
        toDriver({ type: "error", error: serializeError(e), user: true });
      } finally {
        if (session === s) session = null;
        setDefaultRootDir(null);
      }
    })();
    return { finished, toWorker: (m) => onDriverMessage(s, m) };
  };
}

/**
 * Reports metrics (and optionally a checkpoint) to the driver, as Ray's `train.report`.
 * Every rank must call it the same number of times: it returns when all have (a barrier).
 * Rank 0's metrics become the run's; the checkpoint folders of all ranks are merged into
 * one persisted `checkpoint_NNNNNN` folder (rank 0's file wins a name clash).
 */
export async function report(metrics: Record<string, unknown>, opts: { checkpoint?: Checkpoint | null } = {}): Promise<void> {
  checkOptions("report", opts, ["checkpoint"], (m) => new TrainError("TRAIN_REPORT", m));
  const s = need("report()");
  const m = checkMetrics(metrics);
  const ck = opts.checkpoint ?? null;
  if (ck !== null && !(ck instanceof Checkpoint)) throw new TrainError("TRAIN_REPORT", "report: checkpoint must be a Checkpoint (Checkpoint.fromDirectory(dir))");
  const seq = s.seq++;
  let staged: string | null = null;
  if (ck) {
    staged = join(s.stagingDir, `a${s.context.getAttempt()}-r${seq}`, `rank${s.context.getWorldRank()}`);
    await mkdir(staged, { recursive: true });
    await cp(ck.path, staged, { recursive: true, force: true });
  }
  const acked = new Promise<string | null>((resolve, reject) => s.acks.set(seq, { resolve, reject }));
  const at = Date.now() / 1000;
  const telemetry = { ...takeCounts(), sinceS: s.lastReportAt === null ? null : at - s.lastReportAt };
  s.lastReportAt = at;
  send(s, { type: "report", seq, metrics: m, staged, at, telemetry });
  const persisted = await acked;
  if (persisted) s.latest = new Checkpoint(persisted);
}

/** @internal a folder for a worker's temporary checkpoint files (RayTrainReportCallback). */
export function workerTempDir(): string {
  const c = getContext();
  return join(tmpdir(), `torchlight-${c.getExperimentName()}-rank${c.getWorldRank()}-${process.pid}`);
}

async function connect(): Promise<{ ws: WebSocket; start: Extract<DriverMessage, { type: "start" }> }> {
  const url = process.env[ENV.control]!;
  // maxPendingAutoPongs 0: a step that holds the event loop longer than 60 heartbeats must not
  // make ws drop the channel when the pings it missed arrive at once (its default limit is 60).
  // (ws ≥ 8.18's option; its type definitions do not list it yet)
  const options: WebSocket.ClientOptions & { maxPendingAutoPongs: number } = { headers: { [SECRET_HEADER]: process.env[ENV.secret] ?? "" }, maxPendingAutoPongs: 0 };
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.once("open", () => {
      const hello: WorkerMessage = { type: "hello", rank: Number(process.env.RANK), pid: process.pid, hostname: hostname() };
      ws.send(JSON.stringify(hello));
    });
    ws.once("message", (data) => {
      const m = JSON.parse(String(data)) as DriverMessage;
      if (m.type !== "start") { reject(new TrainError("TRAIN_PROTOCOL", `worker: expected "start" from the driver, got ${JSON.stringify(m.type)}`)); return; }
      ws.off("error", reject);
      resolve({ ws, start: m });
    });
    ws.once("close", () => reject(new TrainError("TRAIN_PROTOCOL", "worker: the driver closed the control channel before the run started")));
  });
}

/** How often a worker's watchdog writes its record, and how long the driver's store may be silent before the worker exits. */
const WATCHDOG_INTERVAL_MS = 1000, WATCHDOG_GRACE_MS = 10_000;

/**
 * Runs `trainFunc(config)` as this worker and ends the process (exit 0 when it returned,
 * 1 when it threw). Joins the control channel, then the process group (TorchConfig).
 */
export async function runWorker(trainFunc: (config: unknown) => unknown, config: unknown, torchConfig: { backend: "gloo" | "nccl"; timeoutMs: number }, datasets: Record<string, Dataset> = {}): Promise<never> {
  let code = 1;
  trace("script reached fit()");
  // The kernel ends this worker when the driver dies, even while its JS thread is stuck in a
  // collective or a loop that never yields (it could not see the closed channel then).
  if (process.platform === "linux" && !native.dieWithParent(process.ppid)) {
    console.error("worker: the driver that started this worker is already gone; exiting");
    process.exit(1);
  }
  try {
    const { ws, start } = await connect();
    trace("joined the control channel");
    // The watchdog: a native thread that tells the driver where this rank is (user code, or
    // which collective since when) even while the JS thread is stuck, hands over the JS stack
    // when asked, and ends the worker when the driver's store stops answering.
    const storeSecret = process.env[ENV.storeSecret];
    if (storeSecret) native.watchdogStart(process.env.MASTER_ADDR ?? "127.0.0.1", Number(process.env.MASTER_PORT), storeSecret, start.placement.worldRank, WATCHDOG_INTERVAL_MS, WATCHDOG_GRACE_MS);
    const s = newSession(start, (m) => ws.send(JSON.stringify(m)), datasets);
    session = s;
    ws.on("message", (data) => onDriverMessage(s, JSON.parse(String(data)) as DriverMessage));
    process.on("SIGTERM", () => onSigterm(s));
    ws.on("close", (code, reason) => { if (!s.closing) { console.error(`worker: the driver went away (control channel closed: ${code}${reason.length ? ` ${String(reason)}` : ""}); exiting`); process.exit(1); } });
    setDefaultRootDir(start.runPath);
    if (start.placement.worldRank === 0) {
      let last = 0;
      setProgressSink((e) => {
        const now = performance.now();
        if (e.final || now - last >= 100) { last = now; send(s, { type: "progress", epoch: e.epoch, done: e.done, total: e.total, postfix: e.postfix, final: e.final ?? false, secs: e.secs ?? 0 }); }
      });
    } else setProgressSink(() => undefined);
    try {
      await dist.initProcessGroup({
        backend: torchConfig.backend, initMethod: `tcp://${process.env.MASTER_ADDR}:${process.env.MASTER_PORT}`,
        worldSize: start.placement.worldSize, rank: start.placement.worldRank, timeoutMs: torchConfig.timeoutMs,
      });
      trace("joined the process group");
      await trainFunc(config);
      code = 0;
      send(s, { type: "done" });
    } catch (e) {
      const err = serializeError(e);
      // a peer's death or a full disk (ENOSPC copying a checkpoint) is not the user's code failing
      send(s, { type: "error", error: err, user: isUserFailure(err) });
      console.error(e instanceof Error && e.stack ? e.stack : String(e));
    } finally {
      if (dist.isInitialized()) { try { dist.destroyProcessGroup(); } catch { /* exiting anyway */ } }
    }
    s.closing = true;
    await new Promise<void>((resolve) => { ws.once("close", () => resolve()); ws.close(); setTimeout(resolve, 1000).unref(); });
  } catch (e) {
    console.error(`worker: could not join the run: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exit(code);
}
