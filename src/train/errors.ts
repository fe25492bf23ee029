/**
 * @module torchlight/train/errors: the driver's errors, each with a stable `code`.
 * `TrainConfigError` for bad configuration (thrown before anything starts),
 * `WorkerGroupError` for a failed attempt (what each rank reported, grouped by message),
 * `TrainingFailedError` from `TorchTrainer.fit()` when the run failed (it carries the `Result`).
 */
import type { Result } from "./result.js";

export type TrainErrorCode =
  | "TRAIN_CONFIG" | "TRAIN_UNKNOWN_OPTION" | "TRAIN_NO_TRAIN_FUNC" | "TRAIN_NO_CUDA" | "TRAIN_RUN_EXISTS"
  | "TRAIN_NOTHING_TO_RESUME" | "TRAIN_STORAGE_NOT_SHARED" | "TRAIN_NOT_IN_WORKER" | "TRAIN_REPORT"
  | "TRAIN_CHECKPOINT" | "TRAIN_WORKER_FAILED" | "TRAIN_FAILED" | "TRAIN_RESULT" | "TRAIN_PROTOCOL" | "TRAIN_SLURM" | "TRAIN_ENTRY_SCRIPT"
  | "TRAIN_NO_DATASET" | "TRAIN_RUN_LOCKED";

/** A misuse of torchlight/train: what was expected, what came, how to fix it. */
export class TrainError extends Error {
  override name = "TrainError";
  constructor(readonly code: TrainErrorCode, message: string, options?: ErrorOptions) { super(message, options); }
}

/** Error codes of a full or failing disk: an infrastructure failure, never the user's code. */
export const STORAGE_ERROR_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT", "EIO", "EROFS", "EFBIG"]);

/** A RunConfig callback (onReport, onAttemptFailed, onRunEnd) threw in the driver. */
export class CallbackError extends Error {
  override name = "CallbackError";
  constructor(readonly hook: string, cause: unknown) {
    super(`the RunConfig callback ${hook} threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    if (cause instanceof Error && cause.stack) this.stack = `${this.name}: ${this.message}\n${cause.stack.split("\n").slice(1).join("\n")}`;
  }
}

/** What the driver failed at while persisting (a callback, or the storage), as a rank-0 failure of the attempt. */
export function driverFailure(e: unknown, where: string): RankFailure {
  const err = e as Error & { code?: string; path?: string };
  if (err instanceof CallbackError) return { rank: 0, pid: process.pid, kind: "user", type: "CallbackError", message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  if (typeof err?.code === "string" && STORAGE_ERROR_CODES.has(err.code)) {
    const what = err.code === "ENOSPC" || err.code === "EDQUOT" ? "storage full" : "storage error";
    return { rank: 0, pid: process.pid, kind: "infrastructure", type: "StorageError", code: err.code, message: `${what} at ${err.path ?? where}: ${err.message}; free space (or choose another RunConfig.storagePath) and rerun: the run resumes from its latest checkpoint` };
  }
  return { rank: 0, pid: process.pid, kind: "infrastructure", type: err?.name ?? "Error", message: `${where} failed: ${err?.message ?? String(e)}`, ...(err?.stack ? { stack: err.stack } : {}) };
}

/** The failure that ends a preempted attempt (every rank saved, reported and returned, or the grace ran out). */
export function preemptedFailure(rank: number, pid: number | null, message: string): RankFailure {
  return { rank, pid, kind: "infrastructure", type: "Preempted", code: "TRAIN_PREEMPTED", message };
}
/** Whether an attempt's error is a preemption (every failure is one). */
export const isPreemption = (e: WorkerGroupError): boolean => e.failures.length > 0 && e.failures.every((f) => f.code === "TRAIN_PREEMPTED");

/** A configuration that cannot run (thrown by the config classes and TorchTrainer before any worker starts). */
export class TrainConfigError extends TrainError {
  override name = "TrainConfigError";
}

/** What went wrong on one rank. `kind`: "user" (the train function threw) or "infrastructure" (the process died, hung, or lost a peer). */
export interface RankFailure {
  rank: number;
  pid: number | null;
  kind: "user" | "infrastructure";
  /** The error's class name ("Error", "DistributedError") or the way the process ended ("SIGKILL", "exit 3", "hang"). */
  type: string;
  message: string;
  stack?: string;
  code?: string;
}

/** One attempt of the worker group failed. `failures` are per rank, `groups` the same messages grouped. */
export class WorkerGroupError extends Error {
  override name = "WorkerGroupError";
  readonly code = "TRAIN_WORKER_FAILED";
  /** "user" when the train function raised on some rank (not only as a consequence of a lost peer), else "infrastructure". */
  readonly kind: "user" | "infrastructure";
  readonly groups: { message: string; type: string; kind: "user" | "infrastructure"; ranks: number[]; stack?: string }[];
  constructor(readonly failures: RankFailure[], readonly attempt: number) {
    const groups = groupFailures(failures);
    const kind = failures.some((f) => f.kind === "user") ? "user" : "infrastructure";
    const lines = groups.map((g) => `  rank${g.ranks.length > 1 ? "s" : ""} ${g.ranks.join(", ")}: ${g.type}: ${g.message}`);
    super(`the worker group failed (attempt ${attempt}, ${kind === "user" ? "an error in the train function" : "an infrastructure failure"}):\n${lines.join("\n")}`);
    this.kind = kind;
    this.groups = groups;
  }
  /** Whether the train function itself raised (as opposed to a process dying or hanging). */
  get isUserError(): boolean { return this.kind === "user"; }
  toJSON(): object { return { name: this.name, code: this.code, kind: this.kind, attempt: this.attempt, message: this.message, failures: this.failures }; }
  static fromJSON(j: { failures: RankFailure[]; attempt: number }): WorkerGroupError { return new WorkerGroupError(j.failures, j.attempt); }
}

/** Failures with the same message become one group listing their ranks; user errors first. */
export function groupFailures(failures: RankFailure[]): WorkerGroupError["groups"] {
  const by = new Map<string, WorkerGroupError["groups"][number]>();
  for (const f of [...failures].sort((a, b) => a.rank - b.rank)) {
    const key = `${f.kind}\0${f.type}\0${f.message}`;
    const g = by.get(key);
    if (g) g.ranks.push(f.rank);
    else by.set(key, { message: f.message, type: f.type, kind: f.kind, ranks: [f.rank], ...(f.stack ? { stack: f.stack } : {}) });
  }
  return [...by.values()].sort((a, b) => (a.kind === b.kind ? a.ranks[0]! - b.ranks[0]! : a.kind === "user" ? -1 : 1));
}

/** `TorchTrainer.fit()` failed: `result` holds what was reported and persisted before the failure, and `result.error`. */
export class TrainingFailedError extends Error {
  override name = "TrainingFailedError";
  readonly code: string = "TRAIN_FAILED";
  constructor(message: string, readonly result: Result, options?: ErrorOptions) { super(message, options); }
}

/**
 * `TorchTrainer.fit()` ended because the run was preempted (run.json: "preempted"): the ranks
 * saved and reported at an agreed step; rerunning the script resumes there.
 */
export class TrainingPreemptedError extends TrainingFailedError {
  override name = "TrainingPreemptedError";
  override readonly code = "TRAIN_PREEMPTED";
}
