/**
 * @module torchlight/train/driver: the driver side of a run, as `TorchTrainer.fit()` starts it
 * in the user's process: it takes the run folder (Storage), writes run.json as the run goes,
 * builds the process worker group (./worker_group, placed by ./launcher) and hands both to the
 * controller (./controller) with a `MaxFailuresPolicy`; it turns the controller's outcome into
 * the `Result` or a `TrainingFailedError`, and a Ctrl-C or SIGTERM into an "interrupted" run.
 * Never imports the worker runtime; both speak through ./protocol.
 */
import { createLauncher } from "./launcher.js";
import { entryScriptProblem } from "../distributed/internal.js";
import type { RunConfig, ScalingConfig, TorchConfig } from "./config.js";
import { env } from "../util/env.js";
import { CallbackError, TrainConfigError, TrainError, TrainingFailedError, TrainingPreemptedError, driverFailure, isPreemption, type WorkerGroupError } from "./errors.js";
import { Result } from "./result.js";
import { FileStorage, RUN_FILE_VERSION, storageNotShared, type RunState, type Storage } from "./storage.js";
import { Controller, MaxFailuresPolicy } from "./controller.js";
import { ProcessWorkerGroup } from "./worker_group.js";
import { LocalWorkerGroup } from "./local_group.js";
import { RunLease } from "./lease.js";
import { appendFileSync, mkdirSync } from "node:fs";
import type { LocalRunner } from "./protocol.js";

export interface DriverOptions {
  scaling: ScalingConfig;
  run: RunConfig;
  torch: TorchConfig;
  trainLoopConfig: unknown;
  fitIndex: number;
  priorRuns: string[];
  version: string;
  /** Local mode (numWorkers 0): how to run the train function in this process. */
  localRunner?: LocalRunner | undefined;
}

/** Runs the group until it finishes or fails for good; returns the Result or throws TrainingFailedError. */
export async function runDriver(o: DriverOptions): Promise<Result> {
  const { run, scaling } = o;
  const local = scaling.localMode;
  const problem = local ? null : entryScriptProblem();
  if (problem) {
    throw new TrainConfigError("TRAIN_ENTRY_SCRIPT", `TorchTrainer.fit(): the workers re-run this program's entry script, but ${problem}, which cannot be re-run. Save the program to a file and run it with \`node file.js\` (or \`npx tsx file.ts\`), or train in this process with new ScalingConfig({ numWorkers: 0 }) (local mode)`);
  }
  const launcher = local ? null : createLauncher(scaling);  // before anything is written: a bad allocation fails here
  if (launcher && env("storageShared") !== "1") {
    // workers on several nodes persist through storagePath: every node must see it (checked before any worker starts)
    mkdirSync(run.storagePath, { recursive: true });
    const missing = launcher.nodesNotSharing(run.storagePath);
    if (missing.length) {
      throw storageNotShared(run.storagePath, missing, new Set(launcher.placements.map((p) => p.nodeRank)).size, "the driver's node");
    }
  }
  const storage = new FileStorage(run.storagePath, run.name);
  const { state, lease } = openRun(storage, o);
  noteRunFolder(storage.path);
  const log = (s: string) => { if (run.verbose > 0) console.log(`TorchTrainer: ${s}`); };
  const latest = storage.readManager().latest;
  const group = launcher ? new ProcessWorkerGroup(o, storage, launcher) : new LocalWorkerGroup(run, storage, o.localRunner!, scaling.localDevice);
  log(`${state.attempts.length ? "resuming" : "starting"} run ${JSON.stringify(run.name)} in ${storage.path}: ${launcher ? launcher.describe() : group.describe()}${latest ? `, from ${latest}` : ""}`);

  const now = () => new Date().toISOString();
  // SIGTERM (a scheduler taking the allocation back, Slurm's --signal=B:TERM@60): the run is
  // preempted: the ranks stop at an agreed step, save and report, and the run ends "preempted"
  // (its rerun resumes there). Ctrl-C, or a second SIGTERM, stops at once ("interrupted").
  let preemptedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === "SIGTERM" && preemptedBy === null) {
      preemptedBy = sig;
      group.preempt(`the driver received ${sig}`);
      return;
    }
    group.stop("SIGKILL");
    state.status = "interrupted"; state.endedAt = now(); state.error = { message: `the driver received ${sig}` };
    try { storage.writeRun(state); } catch { /* leaving anyway */ }
    process.off("SIGINT", onSignal); process.off("SIGTERM", onSignal);
    lease.release();
    process.kill(process.pid, sig);
  };
  const onExit = () => group.stop("SIGKILL");
  process.on("SIGINT", onSignal); process.on("SIGTERM", onSignal); process.on("exit", onExit);
  const policy = new MaxFailuresPolicy(run.failureConfig.maxFailures);
  const preemptions = new MaxFailuresPolicy(run.failureConfig.maxPreemptions);  // a budget of its own
  // The driver's own failures (a RunConfig callback that throws, a storage write that fails) end
  // the run with a TrainingFailedError naming them; they never escape as an unhandled rejection.
  let driverError: Error | null = null;
  const writeRun = () => { try { storage.writeRun(state); } catch (e) { driverError ??= new Error(driverFailure(e, `writing ${storage.path}/run.json`).message, { cause: e }); } };
  const callbacks = async (hook: "onAttemptFailed" | "onRunEnd", call: (c: (typeof run.callbacks)[number]) => unknown) => {
    for (const c of run.callbacks) {
      try { await call(c); } catch (e) { driverError ??= new CallbackError(hook, e); }
    }
  };
  const controller = new Controller({
    group, timeoutMs: o.torch.timeoutMs, startupTimeoutMs: Math.max(o.torch.timeoutMs, 60_000),
    // a callback's error in the driver is the user's code failing where restarting cannot help
    policy: {
      decide: (err: WorkerGroupError) => {
        if (driverError || err.failures.some((f) => f.type === "CallbackError")) return "raise";
        if (preemptedBy !== null) return "raise";  // the driver itself is going: its rerun resumes
        if (err.failures.some((f) => f.code === "TRAIN_HOST_LOST")) return "raise";  // the allocation cannot give the same world size
        return isPreemption(err) ? preemptions.decide(err) : policy.decide(err);
      },
    },
    events: {
      attemptStarted: (attempt) => {
        state.attempts.push({ attempt, startedAt: now(), endedAt: null, error: null });
        writeRun();
      },
      attemptEnded: async (attempt, err, willRetry) => {
        const rec = state.attempts[state.attempts.length - 1]!;
        rec.endedAt = now();
        if (!err) return;
        rec.error = err.toJSON();
        await callbacks("onAttemptFailed", (c) => c.onAttemptFailed?.(err, { attempt, willRetry }));
        if (!willRetry) return;
        if (driverError) return "raise" as const;  // the callback failed: no restart (it would fail the same way)
        writeRun();
        const from = storage.readManager().latest;
        const [what, n, max] = isPreemption(err) ? ["preemption", preemptions.failures, run.failureConfig.maxPreemptions] : ["failure", policy.failures, run.failureConfig.maxFailures];
        console.error(`TorchTrainer: ${err.message}\nTorchTrainer: restarting the worker group (${what} ${n} of ${max === -1 ? "unlimited" : max}) ${from ? `from ${from}` : "from the start (no checkpoint yet)"}`);
      },
    },
  });
  try {
    const outcome = await controller.run(state.attempts.length);
    state.endedAt = state.attempts.at(-1)!.endedAt;
    state.status = outcome.state === "failed" && isPreemption(outcome.error) ? "preempted" : outcome.state;
    if (outcome.state === "failed") state.error = outcome.error.toJSON();
    writeRun();
    let result = Result.fromPath(storage.path);
    if (outcome.state === "failed" && !result.error) result = result.withError(outcome.error);  // run.json could not say it
    await callbacks("onRunEnd", (c) => c.onRunEnd?.(result));
    const where = `\nThe run folder is ${storage.path}; the Result is on this error's \`result\`.`;
    if (outcome.state === "finished") {
      if (driverError === null) {
        log(`run ${JSON.stringify(run.name)} finished`);
        return result;
      }
      // the workers finished, but the driver's own step failed (onRunEnd, run.json): the run failed of that
      const cause: Error = driverError;
      state.status = "failed"; state.error = { message: cause.message };
      writeRun();
      result = Result.fromPath(storage.path).withError(cause);
      throw new TrainingFailedError(`Training failed: ${cause.message}${where}`, result, { cause });
    }
    const n = outcome.failedAttempts;
    if (state.status === "preempted") {
      log(`run ${JSON.stringify(run.name)} was preempted; rerun the same script (same RunConfig name and storagePath) to resume it`);
      throw new TrainingPreemptedError(`Training was preempted: ${outcome.error.message}${where}`, result, { cause: outcome.error });
    }
    const also = driverError ? `\nThen the driver's own step failed: ${(driverError as Error).message}` : "";
    throw new TrainingFailedError(`Training failed${n > 1 ? ` after ${n} attempts` : ""}: ${outcome.error.message}${also}${where}`, result, { cause: outcome.error });
  } finally {
    process.off("SIGINT", onSignal); process.off("SIGTERM", onSignal); process.off("exit", onExit);
    try { await group.close(); } finally { lease.release(); }
    // a driver preempted by a signal ends as the signal would have ended it (a scheduler reads that)
    if (preemptedBy !== null) process.kill(process.pid, preemptedBy);
  }
}

/** `torchlight run` asks, through TORCHLIGHT_RUN_FOLDERS_FILE, for the run folders a script opens. */
export function noteRunFolder(path: string): void {
  const file = env("runFoldersFile");
  if (file) { try { appendFileSync(file, `${path}\n`); } catch { /* the command reports what it got */ } }
}

/**
 * Creates or reopens the run folder per `RunConfig.resume`, taking its lease (one driver per
 * folder); returns run.json's state, marked running, and the lease.
 */
export function openRun(storage: FileStorage, o: DriverOptions): { state: RunState; lease: RunLease } {
  mkdirSync(storage.path, { recursive: true });
  const lease = RunLease.acquire(storage.path);
  try {
    const state = openRunHeld(storage, o, lease);
    lease.start();
    return { state, lease };
  } catch (e) {
    lease.release();
    throw e;
  }
}

function openRunHeld(storage: FileStorage, o: DriverOptions, lease: RunLease): RunState {
  const { run, scaling } = o;
  storage.driverId = lease.info.id;
  if (lease.tookOver) console.error(`TorchTrainer: took over the run folder ${storage.path} from a driver that is gone (host ${lease.tookOver.host}, pid ${lease.tookOver.pid}, last seen ${new Date(lease.tookOver.heartbeat).toISOString()})`);
  const existing = storage.readRun();
  if (existing?.status === "running") {
    // its driver died without saying so (we hold the lease, so it is gone): that run was interrupted
    const message = "the driver went away while the run was running (found by the next driver)";
    existing.status = "interrupted";
    existing.endedAt = existing.endedAt ?? new Date().toISOString();
    existing.error = existing.error ?? { message };
    for (const a of existing.attempts) if (a.endedAt === null) { a.endedAt = existing.endedAt; a.error = a.error ?? { message }; }
    storage.writeRun(existing);
  }
  if (existing && run.resume === "never") {
    throw new TrainConfigError("TRAIN_RUN_EXISTS", `RunConfig: ${storage.path} already holds a run (status ${existing.status}) and resume is "never"; choose another RunConfig.name, delete the folder, or use resume: "auto" to continue it`);
  }
  if (run.resume === "require" && !storage.readManager().latest) {
    throw new TrainConfigError("TRAIN_NOTHING_TO_RESUME", `RunConfig: resume is "require" but ${storage.path} has no persisted checkpoint to resume from; run once with resume: "auto" (the default) first`);
  }
  storage.create();
  if (existing) {
    storage.cleanIncomplete();
    if (storage.repairMetrics()) console.error(`TorchTrainer: ${storage.path}/metrics.jsonl ended in a half-written line (a crash mid-write); it was cut`);
  }
  const state: RunState = existing
    ? { ...existing, version: RUN_FILE_VERSION, status: "running", endedAt: null, error: null, worldSize: Math.max(1, scaling.numWorkers) }
    : {
      version: RUN_FILE_VERSION, name: run.name, storagePath: run.storagePath, status: "running", worldSize: Math.max(1, scaling.numWorkers),
      config: { scalingConfig: scaling.toJSON(), runConfig: run.toJSON(), torchConfig: o.torch.toJSON(), trainLoopConfig: jsonOrNote(o.trainLoopConfig) },
      startedAt: new Date().toISOString(), endedAt: null, attempts: [], error: null, torchlightVersion: o.version,
    };
  storage.writeRun(state);
  return state;
}

function jsonOrNote(v: unknown): unknown {
  try { return v === undefined ? null : JSON.parse(JSON.stringify(v)); } catch { return "(not JSON-serialisable)"; }
}
