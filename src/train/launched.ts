/**
 * @module torchlight/train/launched: `TorchTrainer.fit()` in a process that a torchrun-style
 * launcher started (`torchlight launch`, PyTorch's torchrun: TORCHELASTIC_RUN_ID, RANK,
 * WORLD_SIZE), as Ray Train V2 runs under torchrun: the launcher's processes are the workers,
 * so each rank runs the train function in-process. `report()` is a barrier over the process
 * group; rank 0 owns the run folder (run.json, metrics, the checkpoint manager) and persists
 * every report, the other ranks' checkpoint files reaching it through the shared storage path
 * (checked when ranks are on several hosts); `fit()` returns the same Result on every rank.
 * A failed rank ends its process (the launcher restarts the group, up to --max-restarts); the
 * restarted ranks resume from the latest checkpoint, as after a driver's restart.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import * as dist from "../distributed/index.js";
import * as torch from "../torch/index.js";
import { writeErrorFile } from "../distributed/error_file.js";
import { env } from "../util/env.js";
import { FailureConfig, type RunConfig, type ScalingConfig, type TorchConfig } from "./config.js";
import { noteRunFolder, openRun } from "./driver.js";
import { TrainConfigError, TrainError, TrainingFailedError, TrainingPreemptedError, WorkerGroupError, driverFailure, type RankFailure } from "./errors.js";
import { isPeerFailure, isUserFailure, type LocalRunner, type WorkerMessage } from "./protocol.js";
import { Result } from "./result.js";
import { FileStorage, storageNotShared, type RunState } from "./storage.js";
import { nextIteration, persistReport, rankFailure, type ReportMsg } from "./worker_group.js";
import type { RunLease } from "./lease.js";

type Env = Record<string, string | undefined>;

/** Whether a torchrun-style launcher started this process (and not a TorchTrainer's driver). */
export function launchedByElastic(e: Env = process.env): boolean {
  return e.TORCHELASTIC_RUN_ID !== undefined && e.RANK !== undefined && e.WORLD_SIZE !== undefined;
}

export interface LaunchedOptions {
  scaling: ScalingConfig;
  run: RunConfig;
  torch: TorchConfig;
  trainLoopConfig: unknown;
  version: string;
  runner: (device: string) => LocalRunner;
}

const FAILURES_DIR = ".failures";
const envInt = (k: string): number => Number(process.env[k] ?? 0);

/** What rank 0 tells every rank when the run folder is open. */
interface Opened { error: { code: string; message: string } | null; runPath: string; stagingDir: string; latest: string | null }

/** Runs the train function as this launcher-started rank; returns the run's Result (the same on every rank). */
export async function runLaunched(o: LaunchedOptions): Promise<Result> {
  const worldSize = envInt("WORLD_SIZE"), rank = envInt("RANK"), localRank = envInt("LOCAL_RANK"), attempt = envInt("TORCHELASTIC_RESTART_COUNT");
  checkConfig(o, worldSize);
  if (!dist.isInitialized()) {
    await dist.initProcessGroup({ backend: o.torch.backendFor(o.scaling.useGpu), initMethod: "env://", worldSize, rank, timeoutMs: o.torch.timeoutMs });
  }
  await checkShared(o.run.storagePath, rank);
  const storage = new FileStorage(o.run.storagePath, o.run.name);
  let state: RunState | null = null, lease: RunLease | null = null;
  let opened: Opened = { error: null, runPath: storage.path, stagingDir: "", latest: null };
  if (rank === 0) {
    try {
      // a restarted group reopens the run its first attempt created, whatever RunConfig.resume says
      const run = attempt > 0 && o.run.resume === "never" ? Object.assign(Object.create(Object.getPrototypeOf(o.run) as object) as RunConfig, o.run, { resume: "auto" }) : o.run;
      ({ state, lease } = openRun(storage, { scaling: o.scaling, run, torch: o.torch, trainLoopConfig: o.trainLoopConfig, fitIndex: 0, priorRuns: [], version: o.version }));
      noteRunFolder(storage.path);
      foldFailures(storage.path, state);
      state.worldSize = worldSize;
      const sc = state.config.scalingConfig as { numWorkers?: number; launcher?: string } | undefined;
      if (sc) { sc.numWorkers = worldSize; sc.launcher = `torchelastic (run ${process.env.TORCHELASTIC_RUN_ID})`; }
      state.attempts.push({ attempt, startedAt: new Date().toISOString(), endedAt: null, error: null });
      storage.writeRun(state);
      storage.resetStaging();
      const latest = storage.readManager().latest;
      opened = { error: null, runPath: storage.path, stagingDir: storage.stagingDir, latest: latest ? storage.checkpointPath(latest) : null };
    } catch (e) {
      lease?.release();
      opened = { ...opened, error: { code: (e as { code?: string }).code ?? "TRAIN_CONFIG", message: (e as Error).message } };
    }
  }
  opened = await dist.broadcastObject(opened, 0);
  if (opened.error) throw new TrainConfigError(opened.error.code as "TRAIN_CONFIG", opened.error.message);

  let iteration = rank === 0 ? nextIteration(storage) : 0;
  let persisting: Promise<void> = Promise.resolve();
  let failure: WorkerMessage | null = null;
  const device = o.scaling.useGpu ? `cuda:${localRank}` : "cpu";
  const start = {
    type: "start" as const, placement: { worldRank: rank, localRank, localWorldSize: envInt("LOCAL_WORLD_SIZE") || 1, nodeRank: envInt("GROUP_RANK"), worldSize },
    runPath: opened.runPath, experimentName: o.run.name, attempt, latestCheckpoint: opened.latest, stagingDir: opened.stagingDir,
  };
  const handle = o.runner(device)(start, (m) => {
    if (m.type === "report") {
      persisting = persisting.then(async () => {
        // a barrier: every rank's report reaches rank 0, which persists them as a driver does
        const all = await dist.allGatherObject(m);
        let ack: { checkpoint: string | null; error: string | null } = { checkpoint: null, error: null };
        if (rank === 0) {
          try { ack.checkpoint = await persistReport(storage, o.run, attempt, iteration++, new Map(all.map((r, i) => [i, r as ReportMsg]))); } catch (e) {
            ack = { checkpoint: null, error: driverFailure(e, `persisting report #${m.seq + 1} in ${storage.path}`).message };
          }
        }
        ack = await dist.broadcastObject(ack, 0);
        handle.toWorker(ack.error ? { type: "abort", reason: ack.error } : { type: "reportAck", seq: m.seq, checkpoint: ack.checkpoint });
      }).catch((e: unknown) => {
        // a collective of the barrier failed (a peer died): report() throws it
        handle.toWorker({ type: "abort", reason: `report() could not reach the other ranks: ${(e as Error).message}` });
      });
    } else if (m.type === "error") failure = m;
  });
  // SIGTERM from the launcher (a forwarded preemption): getContext().shouldStop() turns true; a second one ends the process
  let preempted = false;
  const onTerm = () => {
    preempted = true;
    process.off("SIGTERM", onTerm);
    process.once("SIGTERM", () => process.exit(143));
    handle.toWorker({ type: "preempt", reason: `rank ${rank} (pid ${process.pid}) received SIGTERM` });
  };
  process.on("SIGTERM", onTerm);
  await handle.finished;
  await persisting;
  process.off("SIGTERM", onTerm);
  const runPath = opened.runPath;
  if (failure) {
    const f = failure as Extract<WorkerMessage, { type: "error" }>;
    // a peer's death or a full disk is not this rank's code failing
    const rf = rankFailure(rank, process.pid, { ...f, user: isUserFailure(f.error) });
    writeErrorFile(Object.assign(new Error(f.error.message), { name: f.error.type, stack: f.error.stack, code: f.error.code }));
    recordFailure(runPath, attempt, rf);
    let err = new WorkerGroupError([rf], attempt);
    if (rank === 0 && state) {
      await waitForFailures(runPath, attempt, worldSize, 2000);
      err = attemptError(runPath, attempt, worldSize);
      state.attempts.at(-1)!.endedAt = new Date().toISOString();
      state.attempts.at(-1)!.error = err.toJSON();
      state.status = "failed"; state.endedAt = state.attempts.at(-1)!.endedAt; state.error = err.toJSON();
      storage.writeRun(state);
      lease?.release();
    }
    // as under the driver: the Result's error is the group's (rank 0 has every rank's record; the others, their own)
    const result = Result.fromPath(runPath).withError(err);
    throw new TrainingFailedError(`Training failed on rank ${rank} (attempt ${attempt}; the launcher restarts the group if --max-restarts allows): ${f.error.type}: ${f.error.message}\nThe run folder is ${runPath}.`, result,
      { cause: Object.assign(new Error(f.error.message), { stack: f.error.stack }) });
  }
  // every rank returned: rank 0 closes the run, then all read the same Result
  preempted = (await dist.allGatherObject(preempted)).some(Boolean);
  if (rank === 0 && state) {
    state.attempts.at(-1)!.endedAt = new Date().toISOString();
    state.status = preempted ? "preempted" : "finished"; state.endedAt = state.attempts.at(-1)!.endedAt; state.error = null;
    if (preempted) state.attempts.at(-1)!.error = state.error = { message: "the run was preempted (the launcher forwarded SIGTERM): every rank stopped at the same step and returned" };
    storage.writeRun(state);
    lease?.release();
    for (const c of o.run.callbacks) await c.onRunEnd?.(Result.fromPath(runPath));
  }
  await dist.barrier();
  const result = Result.fromPath(runPath);
  if (preempted) throw new TrainingPreemptedError(`Training was preempted; rerun the job (same RunConfig name and storagePath) to resume it.\nThe run folder is ${runPath}.`, result);
  return result;
}

/** Options that a launcher decides refuse to disagree with it (nothing is silently ignored). */
function checkConfig(o: LaunchedOptions, worldSize: number): void {
  const s = o.scaling;
  if (s.numWorkersGiven && s.numWorkers !== worldSize) {
    throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: numWorkers is ${s.numWorkers}, but this script runs under a launcher (torchlight launch, torchrun) whose ${worldSize} process${worldSize > 1 ? "es are" : " is"} the workers (WORLD_SIZE ${worldSize}); make them agree (--nnodes × --nproc-per-node = ${s.numWorkers}) or leave numWorkers out`);
  }
  if (s.launcher !== "auto") throw new TrainConfigError("TRAIN_CONFIG", `ScalingConfig: launcher ${JSON.stringify(s.launcher)} starts workers, but this script already runs as one of a launcher's ${worldSize} workers (TORCHELASTIC_RUN_ID is set); leave launcher out`);
  const cpu = s.resourcesPerWorker.CPU;
  if (cpu !== undefined) torch.setNumThreads(Math.max(1, Math.floor(cpu)));  // the worker's CPU share: its intra-op threads, as under the driver
  // restarts, hangs and preemption are the launcher's under it: FailureConfig's settings would not apply
  const f = o.run.failureConfig, d = new FailureConfig();
  if (f.maxFailures !== d.maxFailures) throw new TrainConfigError("TRAIN_CONFIG", `FailureConfig: maxFailures ${f.maxFailures} restarts the worker group, but under a launcher (torchlight launch, torchrun) restarts are the launcher's: give --max-restarts ${Math.max(0, f.maxFailures)} to it and leave maxFailures out`);
  const other = (["hangTimeoutS", "maxPreemptions", "preemptionGraceS"] as const).filter((k) => f[k] !== d[k]);
  if (other.length) throw new TrainConfigError("TRAIN_CONFIG", `FailureConfig: ${other.join(", ")} ${other.length > 1 ? "are" : "is"} the driver's (it watches its workers), but this script runs as one of a launcher's workers, where the launcher decides: a collective that waits past TorchConfig.timeoutS fails its rank, and SIGTERM is forwarded to every rank; leave ${other.length > 1 ? "them" : "it"} out`);
}

/**
 * Ranks on several hosts persist through storagePath: every host must see rank 0's files (a
 * nonce file written by rank 0, looked for by every rank). Throws TRAIN_STORAGE_NOT_SHARED on every rank naming the hosts that do not.
 */
async function checkShared(storagePath: string, rank: number): Promise<void> {
  const hosts = await dist.allGatherObject(hostname());
  if (new Set(hosts).size < 2 || env("storageShared") === "1") return;
  let nonce = "";
  if (rank === 0) {
    mkdirSync(storagePath, { recursive: true });
    nonce = join(storagePath, `.torchlight-shared-${randomBytes(8).toString("hex")}`);
    writeFileSync(nonce, "");
  }
  nonce = await dist.broadcastObject(nonce, 0);
  const sees = await dist.allGatherObject(existsSync(nonce));
  if (rank === 0) rmSync(nonce, { force: true });
  const missing = [...new Set(hosts.filter((_, r) => !sees[r]))];
  if (missing.length) {
    throw storageNotShared(storagePath, missing, new Set(hosts).size, "rank 0's host");
  }
}

/** A failed rank's record in the run folder ({run}/.failures/attempt_N/rank_R.json), for rank 0 to fold into run.json. */
function recordFailure(runPath: string, attempt: number, f: RankFailure): void {
  try {
    const dir = join(runPath, FAILURES_DIR, `attempt_${attempt}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `rank_${f.rank}.json`), JSON.stringify(f));
  } catch { /* storage not writable: the launcher's error file still has it */ }
}

function readFailures(runPath: string, attempt: number): RankFailure[] {
  const dir = join(runPath, FAILURES_DIR, `attempt_${attempt}`);
  try {
    return readdirSync(dir).flatMap((f) => { try { return [JSON.parse(readFileSync(join(dir, f), "utf8")) as RankFailure]; } catch { return []; } });
  } catch { return []; }
}

/** Rank 0, failing: gives the other ranks a moment to record theirs (its own error is often a peer's consequence). */
async function waitForFailures(runPath: string, attempt: number, worldSize: number, ms: number): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    const fs = readFailures(runPath, attempt);
    if (fs.length >= worldSize || fs.some((f) => f.rank !== 0 && !isPeerFailure({ type: f.type, message: f.message, ...(f.code ? { code: f.code } : {}) }))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Earlier attempts of a restarted group that never closed: their errors from the failure records. */
function foldFailures(runPath: string, state: RunState): void {
  for (const a of state.attempts) {
    const fs = readFailures(runPath, a.attempt);
    if (fs.length && (a.error === null || (a.error as { message?: string }).message?.startsWith("the driver went away"))) a.error = attemptError(runPath, a.attempt, state.worldSize).toJSON();
  }
}

/**
 * An attempt's error from its ranks' records; when every record is a peer's consequence, the
 * ranks that recorded nothing (killed: SIGKILL leaves no record) are named as lost.
 */
function attemptError(runPath: string, attempt: number, worldSize: number): WorkerGroupError {
  const fs = readFailures(runPath, attempt);
  if (fs.every((f) => f.kind === "infrastructure")) {
    const seen = new Set(fs.map((f) => f.rank));
    for (let r = 0; r < worldSize; r++) {
      if (!seen.has(r)) fs.push({ rank: r, pid: null, kind: "infrastructure", type: "lost", message: "the rank ended without recording an error (killed, e.g. by SIGKILL, or its host went away); the launcher's log says how it ended" });
    }
  }
  return new WorkerGroupError(fs, attempt);
}
