/**
 * @module torchlight/train/config: the run's configuration, as Ray Train's `ScalingConfig`,
 * `RunConfig`, `CheckpointConfig`, `FailureConfig` and `TorchConfig` (camelCase). Every
 * class validates its options when constructed and rejects unknown keys, naming the fix.
 */
import { env } from "../util/env.js";
import { checkOptions } from "../util/validate.js";
import { availableParallelism, homedir } from "node:os";
import { join, resolve } from "node:path";
import * as torch from "../torch/index.js";
import { TrainConfigError } from "./errors.js";
import { resolveLauncherKind, type LauncherKind } from "./launcher.js";
import { isWorkerProcess } from "./protocol.js";

function checkKeys(cls: string, opts: object, known: readonly string[]): void {
  checkOptions(cls, opts, known, (m) => new TrainConfigError("TRAIN_UNKNOWN_OPTION", m));
}
function int(cls: string, name: string, v: unknown, min: number, hint: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new TrainConfigError("TRAIN_CONFIG", `${cls}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}; ${hint}`);
  return v;
}

export type PlacementStrategy = "PACK" | "SPREAD" | "STRICT_PACK" | "STRICT_SPREAD";

/**
 * How many workers, on what: `numWorkers` processes, each with `resourcesPerWorker` (CPU:
 * intra-op threads). `numWorkers: 0` is local mode (Ray Train V2's): the train function runs
 * in this process as the only rank, so a REPL, a notebook or a script fed on stdin can train.
 */
export class ScalingConfig {
  readonly numWorkers: number;
  /** @internal whether numWorkers was given (under a launcher it must then match WORLD_SIZE). */
  readonly numWorkersGiven: boolean;
  readonly useGpu: boolean;
  readonly resourcesPerWorker: { CPU?: number; GPU?: number; [k: string]: number | undefined };
  readonly placementStrategy: PlacementStrategy;
  /**
   * How the workers are started: "local" (child processes on this machine), "slurm" (one
   * `srun` step per worker in the driver's Slurm allocation), or "auto" (the default: "slurm"
   * when the driver runs inside an allocation, i.e. SLURM_JOB_ID is set outside a job step).
   */
  readonly launcher: "auto" | LauncherKind;
  constructor(opts: { numWorkers?: number; useGpu?: boolean; resourcesPerWorker?: Record<string, number>; placementStrategy?: PlacementStrategy; launcher?: "auto" | LauncherKind } = {}) {
    checkKeys("ScalingConfig", opts, ["numWorkers", "useGpu", "resourcesPerWorker", "placementStrategy", "launcher"]);
    this.launcher = opts.launcher ?? "auto";
    if (!["auto", "local", "slurm"].includes(this.launcher)) throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: launcher must be "auto", "local" or "slurm", got ${JSON.stringify(opts.launcher)}`);
    this.numWorkersGiven = opts.numWorkers !== undefined;
    this.numWorkers = int("ScalingConfig", "numWorkers", opts.numWorkers ?? 1, 0, "use numWorkers: 1 or more (one process per worker), or 0 to train in this process (local mode)");
    if (this.numWorkers === 0 && this.launcher === "slurm") throw new TrainConfigError("TRAIN_CONFIG", "ScalingConfig: numWorkers 0 (local mode) trains in this process, so it starts no Slurm step; use numWorkers: 1 or more with launcher \"slurm\", or drop the launcher");
    this.useGpu = opts.useGpu ?? false;
    if (typeof this.useGpu !== "boolean") throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: useGpu must be true or false, got ${JSON.stringify(opts.useGpu)}`);
    if (this.useGpu && !torch.cuda.isAvailable()) {
      throw new TrainConfigError("TRAIN_NO_CUDA", "ScalingConfig: useGpu is true but this libtorch has no CUDA (or no GPU is visible); use useGpu: false, or build torchlight against a CUDA libtorch (LIBTORCH or LIBTORCH_USE_PYTORCH=1, see the README)");
    }
    const rpw = opts.resourcesPerWorker ?? {};
    if (rpw === null || typeof rpw !== "object") throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: resourcesPerWorker must be an object such as { CPU: 2 }, got ${JSON.stringify(rpw)}`);
    for (const [k, v] of Object.entries(rpw)) {
      if (typeof v !== "number" || !(v >= 0)) throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: resourcesPerWorker.${k} must be a number ≥ 0, got ${JSON.stringify(v)}`);
    }
    if (rpw.CPU !== undefined && (!Number.isInteger(rpw.CPU) || rpw.CPU < 1)) throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: resourcesPerWorker.CPU must be a whole number of cores ≥ 1 (it sets the worker's threads), got ${rpw.CPU}`);
    if (rpw.GPU !== undefined && rpw.GPU > 0 && !this.useGpu) throw new TrainConfigError("TRAIN_CONFIG", "ScalingConfig: resourcesPerWorker.GPU is set but useGpu is false; set useGpu: true");
    this.resourcesPerWorker = { ...rpw };
    // the driver checks; a worker sees only its own GPU(s) (in a Slurm step, one)
    if (this.useGpu && !isWorkerProcess() && resolveLauncherKind(this) === "local" && this.numWorkers > torch.cuda.deviceCount()) {
      throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: ${this.numWorkers} workers with useGpu need ${this.numWorkers} GPUs on this machine, but ${torch.cuda.deviceCount()} are visible; lower numWorkers`);
    }
    const ps = opts.placementStrategy ?? "PACK";
    if (!["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"].includes(ps)) throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: placementStrategy must be "PACK", "SPREAD", "STRICT_PACK" or "STRICT_SPREAD", got ${JSON.stringify(ps)}`);
    this.placementStrategy = ps;
  }
  /** Intra-op threads per worker on a machine with `cores` running `workersHere` of them: resourcesPerWorker.CPU, else the cores shared out. */
  threadsPerWorker(workersHere = this.numWorkers, cores = availableParallelism()): number {
    return this.resourcesPerWorker.CPU ?? Math.max(1, Math.floor(cores / workersHere));
  }
  /** Local mode: numWorkers 0, the train function runs in the driver's process. */
  get localMode(): boolean { return this.numWorkers === 0; }
  /** The device local mode trains on: the first GPU with useGpu, else the CPU. */
  get localDevice(): string { return this.useGpu ? "cuda:0" : "cpu"; }
  toJSON(): object { return { numWorkers: this.numWorkers, useGpu: this.useGpu, resourcesPerWorker: this.resourcesPerWorker, placementStrategy: this.placementStrategy, launcher: this.launcher }; }
}

const RUN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Why `name` is not a run name (the one rule for RunConfig.name and run folders), or null. */
export function runNameProblem(name: unknown): string | null {
  if (typeof name !== "string") return `must be a string, got ${name === null ? "null" : typeof name}`;
  if (RUN_NAME.test(name)) return null;
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
  if (name.length === 0) return "is empty";
  if (name.length > 128) return `${shown} has ${name.length} characters (at most 128)`;
  const bad = [...name].find((ch) => !/[A-Za-z0-9_.-]/.test(ch));
  if (bad !== undefined) return `${shown} contains ${JSON.stringify(bad)}`;
  return `${shown} starts with ${JSON.stringify(name[0])}`;
}

/** Which checkpoints to keep: the best `numToKeep` by `checkpointScoreAttribute` (the most recent when none), and always the latest. */
export class CheckpointConfig {
  readonly numToKeep: number | null;
  readonly checkpointScoreAttribute: string | null;
  readonly checkpointScoreOrder: "max" | "min";
  constructor(opts: { numToKeep?: number | null; checkpointScoreAttribute?: string | null; checkpointScoreOrder?: "max" | "min" } = {}) {
    checkKeys("CheckpointConfig", opts, ["numToKeep", "checkpointScoreAttribute", "checkpointScoreOrder"]);
    this.numToKeep = opts.numToKeep === undefined || opts.numToKeep === null ? null : int("CheckpointConfig", "numToKeep", opts.numToKeep, 1, "use null to keep every checkpoint");
    this.checkpointScoreAttribute = opts.checkpointScoreAttribute ?? null;
    if (this.checkpointScoreAttribute !== null && typeof this.checkpointScoreAttribute !== "string") throw new TrainConfigError("TRAIN_CONFIG", `CheckpointConfig: checkpointScoreAttribute must be a metric name, got ${JSON.stringify(opts.checkpointScoreAttribute)}`);
    this.checkpointScoreOrder = opts.checkpointScoreOrder ?? "max";
    if (!["max", "min"].includes(this.checkpointScoreOrder)) throw new TrainConfigError("TRAIN_CONFIG", `CheckpointConfig: checkpointScoreOrder must be "max" or "min", got ${JSON.stringify(opts.checkpointScoreOrder)}`);
  }
  toJSON(): object { return { numToKeep: this.numToKeep, checkpointScoreAttribute: this.checkpointScoreAttribute, checkpointScoreOrder: this.checkpointScoreOrder }; }
}

/** How many failed attempts to restart from (`maxFailures`: 0 none, -1 without limit). */
export class FailureConfig {
  readonly maxFailures: number;
  /**
   * A rank that keeps the others waiting in a collective this long (or whose watchdog stops
   * beating) is named and the attempt fails, its JS stack captured (default 300 s; null: never).
   * Beyond Ray: the process group's own timeout (TorchConfig.timeoutS) stays PyTorch's 30 minutes.
   */
  readonly hangTimeoutS: number | null;
  /**
   * Restarts after a preemption (a worker's SIGTERM from a scheduler while the driver runs on),
   * counted apart from maxFailures, as Ray V2 treats preemption (default -1: no limit; 0: the
   * run ends "preempted"). A preempted driver never restarts: its rerun resumes.
   */
  readonly maxPreemptions: number;
  /** How long the ranks have to reach getContext().shouldStop(), save and return once preempted (default 60 s). */
  readonly preemptionGraceS: number;
  constructor(opts: { maxFailures?: number; hangTimeoutS?: number | null; maxPreemptions?: number; preemptionGraceS?: number } = {}) {
    checkKeys("FailureConfig", opts, ["maxFailures", "hangTimeoutS", "maxPreemptions", "preemptionGraceS"]);
    this.maxPreemptions = int("FailureConfig", "maxPreemptions", opts.maxPreemptions ?? -1, -1, "use 0 (end the run as preempted), a positive count, or -1 (no limit)");
    this.preemptionGraceS = opts.preemptionGraceS ?? 60;
    if (typeof this.preemptionGraceS !== "number" || !(this.preemptionGraceS >= 1)) throw new TrainConfigError("TRAIN_CONFIG", `FailureConfig: preemptionGraceS must be a number of seconds ≥ 1, got ${JSON.stringify(opts.preemptionGraceS)}`);
    this.maxFailures = int("FailureConfig", "maxFailures", opts.maxFailures ?? 0, -1, "use 0 (no restart), a positive count, or -1 (no limit)");
    const h = opts.hangTimeoutS === undefined ? 300 : opts.hangTimeoutS;
    if (h !== null && (typeof h !== "number" || !(h >= 1))) throw new TrainConfigError("TRAIN_CONFIG", `FailureConfig: hangTimeoutS must be a number of seconds ≥ 1 (or null to never judge hangs), got ${JSON.stringify(opts.hangTimeoutS)}`);
    this.hangTimeoutS = h;
  }
  toJSON(): object { return { maxFailures: this.maxFailures, hangTimeoutS: this.hangTimeoutS, maxPreemptions: this.maxPreemptions, preemptionGraceS: this.preemptionGraceS }; }
}

/** Hooks the driver calls as the run goes. All optional; they run in the driver process. */
export interface TrainCallback {
  /** Every report of rank 0 (after the barrier; `checkpoint` when one was persisted). */
  onReport?(report: { metrics: Record<string, unknown>; iteration: number; checkpoint: import("./checkpoint.js").Checkpoint | null }): void | Promise<void>;
  /** An attempt failed; `willRetry` says whether the group restarts. */
  onAttemptFailed?(error: Error, info: { attempt: number; willRetry: boolean }): void | Promise<void>;
  /** The run ended (finished or failed). */
  onRunEnd?(result: import("./result.js").Result): void | Promise<void>;
}

/** Where and how the run is stored, how faults are handled: as Ray's RunConfig. */
export class RunConfig {
  readonly name: string;
  readonly storagePath: string;
  readonly checkpointConfig: CheckpointConfig;
  readonly failureConfig: FailureConfig;
  readonly callbacks: TrainCallback[];
  /** "auto": resume from the run folder's latest checkpoint when there is one; "require": fail when there is none; "never": fail when the folder holds a run. */
  readonly resume: "auto" | "never" | "require";
  /** 0 silent, 1 progress and results (default), 2 also each report. */
  readonly verbose: 0 | 1 | 2;
  /** Whether `name` was given (else a timestamped one was made). */
  readonly named: boolean;
  constructor(opts: { name?: string; storagePath?: string; checkpointConfig?: CheckpointConfig; failureConfig?: FailureConfig; callbacks?: TrainCallback[]; resume?: "auto" | "never" | "require"; verbose?: 0 | 1 | 2 } = {}) {
    checkKeys("RunConfig", opts, ["name", "storagePath", "checkpointConfig", "failureConfig", "callbacks", "resume", "verbose"]);
    this.named = opts.name !== undefined;
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15);
    this.name = opts.name ?? `TorchTrainer_${stamp}`;
    const why = runNameProblem(this.name);
    if (why) throw new TrainConfigError("TRAIN_CONFIG", `RunConfig: name ${why}; a run name is 1 to 128 letters, digits, '-', '_' or '.', not starting with '.' or '-' (it names the run's folder), as "fashion-2" or "exp_01.b"`);
    const sp = opts.storagePath ?? env("storagePath") ?? join(homedir(), "torchlight_results");
    if (typeof sp !== "string" || !sp) throw new TrainConfigError("TRAIN_CONFIG", `RunConfig: storagePath must be a folder path, got ${JSON.stringify(opts.storagePath)}`);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(sp) && !sp.startsWith("file://")) throw new TrainConfigError("TRAIN_CONFIG", `RunConfig: storagePath ${JSON.stringify(sp)} uses a scheme this build cannot write to; use a local or shared (NFS) folder path`);
    this.storagePath = resolve(sp.replace(/^file:\/\//, ""));
    if (opts.checkpointConfig !== undefined && !(opts.checkpointConfig instanceof CheckpointConfig)) throw new TrainConfigError("TRAIN_CONFIG", "RunConfig: checkpointConfig must be a CheckpointConfig (new CheckpointConfig({ numToKeep: 2 }))");
    if (opts.failureConfig !== undefined && !(opts.failureConfig instanceof FailureConfig)) throw new TrainConfigError("TRAIN_CONFIG", "RunConfig: failureConfig must be a FailureConfig (new FailureConfig({ maxFailures: 1 }))");
    this.checkpointConfig = opts.checkpointConfig ?? new CheckpointConfig();
    this.failureConfig = opts.failureConfig ?? new FailureConfig();
    this.callbacks = opts.callbacks ?? [];
    if (!Array.isArray(this.callbacks)) throw new TrainConfigError("TRAIN_CONFIG", "RunConfig: callbacks must be an array of objects with onReport/onAttemptFailed/onRunEnd methods");
    this.resume = opts.resume ?? "auto";
    if (!["auto", "never", "require"].includes(this.resume)) throw new TrainConfigError("TRAIN_CONFIG", `RunConfig: resume must be "auto", "never" or "require", got ${JSON.stringify(opts.resume)}`);
    this.verbose = opts.verbose ?? 1;
    if (![0, 1, 2].includes(this.verbose)) throw new TrainConfigError("TRAIN_CONFIG", `RunConfig: verbose must be 0, 1 or 2, got ${JSON.stringify(opts.verbose)}`);
  }
  toJSON(): object { return { name: this.name, storagePath: this.storagePath, checkpointConfig: this.checkpointConfig, failureConfig: this.failureConfig, resume: this.resume }; }
}

/** The process group the workers join before the train function runs: backend and collective timeout (also the hang timeout of a worker). */
export class TorchConfig {
  /** "gloo", "nccl", or undefined: NCCL when ScalingConfig.useGpu, else Gloo (Ray's default); see {@link backendFor}. */
  readonly backend: "gloo" | "nccl" | undefined;
  /** The process-group timeout in seconds (Ray's `timeout_s`, default 1800), also a worker's heartbeat timeout. */
  readonly timeoutS: number;
  constructor(opts: { backend?: "gloo" | "nccl"; timeoutS?: number } = {}) {
    if (opts !== null && typeof opts === "object" && "timeoutMs" in opts) {
      throw new TrainConfigError("TRAIN_UNKNOWN_OPTION", `TorchConfig: the timeout is Ray's timeoutS, in seconds; pass { timeoutS: ${Number((opts as { timeoutMs: unknown }).timeoutMs) / 1000} } instead of { timeoutMs: ${JSON.stringify((opts as { timeoutMs: unknown }).timeoutMs)} }`);
    }
    checkKeys("TorchConfig", opts, ["backend", "timeoutS"]);
    this.backend = opts.backend;
    if (this.backend !== undefined && !["gloo", "nccl"].includes(this.backend)) throw new TrainConfigError("TRAIN_CONFIG", `TorchConfig: backend must be "gloo" or "nccl", got ${JSON.stringify(opts.backend)}`);
    if (this.backend === "nccl" && !torch.cuda.isAvailable()) throw new TrainConfigError("TRAIN_NO_CUDA", "TorchConfig: backend \"nccl\" needs a CUDA libtorch and a GPU; use backend \"gloo\"");
    this.timeoutS = opts.timeoutS ?? 1800;
    if (typeof this.timeoutS !== "number" || !(this.timeoutS >= 0.1)) throw new TrainConfigError("TRAIN_CONFIG", `TorchConfig: timeoutS must be a number of seconds ≥ 0.1, got ${JSON.stringify(opts.timeoutS)}`);
  }
  /** The timeout in milliseconds (what the process group and the controller take). */
  get timeoutMs(): number { return Math.round(this.timeoutS * 1000); }
  /** The backend the workers use: the one given, else "nccl" with GPUs and "gloo" without, as Ray's TorchConfig. */
  backendFor(useGpu: boolean): "gloo" | "nccl" { return this.backend ?? (useGpu ? "nccl" : "gloo"); }
  toJSON(): object { return { backend: this.backend ?? "default (nccl with useGpu, else gloo)", timeoutS: this.timeoutS }; }
}
