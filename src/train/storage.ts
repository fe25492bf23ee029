/**
 * @module torchlight/train/storage: the run folder and its files, as the architecture lays
 * them out:
 *
 *     {storagePath}/{name}/run.json, metrics.jsonl, checkpoint_000000/…, checkpoint_manager.json
 *
 * The controller and the worker group see it through the `Storage` interface (commit a
 * checkpoint, keep the best, read and write the run's state); `FileStorage` implements it on
 * a local or shared (NFS) filesystem, and an object store can implement it later without
 * touching the controller. Every JSON file is written atomically (temporary file + rename),
 * and a checkpoint folder is renamed into place only when complete, so a crash never leaves a
 * half checkpoint listed. Both the driver and the worker runtime use this module.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync, truncateSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TrainError } from "./errors.js";
import { env } from "../util/env.js";
import type { CheckpointConfig } from "./config.js";

export const RUN_FILE = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const MANAGER_FILE = "checkpoint_manager.json";
/** Per-rank telemetry (the dashboard's): a row per rank per report, and the driver's liveness beats. */
export const TELEMETRY_FILE = "telemetry.jsonl";
export const STAGING_DIR = ".staging";

export const checkpointDirName = (index: number): string => `checkpoint_${String(index).padStart(6, "0")}`;

/** Writes JSON to `path` through a temporary file, fsync and rename. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 1) + "\n");
  const fd = openSync(tmp, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try { return JSON.parse(readFileSync(path, "utf8")) as T; } catch (e) {
    throw new TrainError("TRAIN_RESULT", `${path} is not valid JSON (${(e as Error).message}); the run folder is damaged`);
  }
}

/** One persisted checkpoint as listed in checkpoint_manager.json. */
export interface CheckpointEntry { name: string; index: number; iteration: number; metrics: Record<string, unknown>; time: number }
export interface ManagerState { version: 1; nextIndex: number; latest: string | null; checkpoints: CheckpointEntry[] }

/**
 * A run's status in run.json, the one list every reader uses: "running" (a driver holds it),
 * "finished", "failed" (no restart left), "interrupted" (the driver was stopped: Ctrl-C,
 * SIGTERM), "preempted" (the cluster took the allocation back).
 */
export const RUN_STATUSES = ["running", "finished", "failed", "interrupted", "preempted"] as const;
export type RunStatus = typeof RUN_STATUSES[number];
/** run.json's format version (2: the status list above). */
export const RUN_FILE_VERSION = 2;

/** The state of run.json. */
export interface RunState {
  version: typeof RUN_FILE_VERSION;
  name: string;
  storagePath: string;
  status: RunStatus;
  worldSize: number;
  config: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
  attempts: { attempt: number; startedAt: string; endedAt: string | null; error: unknown }[];
  /** The final error (WorkerGroupError.toJSON()), null when finished. */
  error: unknown;
  torchlightVersion: string;
}

/**
 * One line of telemetry.jsonl: a rank's report (what it did since its previous one, and how long
 * it waited for the others: the barrier's wait, which its peers' straggling makes long), or a
 * liveness beat of the driver (every rank's state).
 */
export type TelemetryRow =
  | { kind: "report"; rank: number; attempt: number; iteration: number; time: number; samples: number; batches: number; sinceS: number | null; waitS: number }
  | { kind: "beat"; attempt: number; time: number; ranks: { rank: number; host: string | null; alive: boolean; lastSeenS: number }[] };

/** One line of metrics.jsonl. */
export interface MetricsRow { rank: number; attempt: number; iteration: number; time: number; metrics: Record<string, unknown>; checkpoint: string | null }

/** What a checkpoint commit records next to the files (rank 0's report). */
export interface CommitInfo { iteration: number; metrics: Record<string, unknown>; time: number }

/** Where a run lives: what the controller and the worker group need of storage. */
export interface Storage {
  /** The run folder (a path, or an object store's URI). */
  readonly path: string;
  readonly storagePath: string;
  /** Where workers stage checkpoint files before a commit. */
  readonly stagingDir: string;
  checkpointPath(name: string): string;
  create(): void;
  readRun(): RunState | null;
  writeRun(state: RunState): void;
  readManager(): ManagerState;
  appendMetrics(rows: MetricsRow[]): void;
  appendTelemetry(rows: TelemetryRow[]): void;
  readMetrics(): MetricsRow[];
  /** Cuts a half-written last line of the metrics (a crash mid-append). */
  repairMetrics(): boolean;
  /** Removes what a crash left half-done (staging, unlisted checkpoint folders). */
  cleanIncomplete(): void;
  /** Empties the staging area (between attempts). */
  resetStaging(): void;
  /**
   * Merges the staged folders into the next checkpoint, lists it in the manager as the latest,
   * and deletes the checkpoints `cfg` no longer keeps. Returns the new checkpoint's name.
   */
  commitCheckpoint(staged: string[], info: CommitInfo, cfg: CheckpointConfig): Promise<string>;
}

/** The run folder on a local or shared filesystem. */
export class FileStorage implements Storage {
  readonly path: string;
  constructor(readonly storagePath: string, readonly name: string) {
    this.path = join(storagePath, name);
  }
  get runFile(): string { return join(this.path, RUN_FILE); }
  get metricsFile(): string { return join(this.path, METRICS_FILE); }
  get managerFile(): string { return join(this.path, MANAGER_FILE); }
  /** This driver's staging folder (`.staging/<driver id>` once it holds the run's lease). */
  get stagingDir(): string { return this.driverId ? join(this.path, STAGING_DIR, this.driverId) : join(this.path, STAGING_DIR); }
  /** Set by the driver that holds the lease: staging paths are its own. */
  driverId: string | null = null;
  checkpointPath(name: string): string { return join(this.path, name); }

  exists(): boolean { return existsSync(this.runFile); }
  create(): void { mkdirSync(this.stagingDir, { recursive: true }); }
  readRun(): RunState | null { return readJson<RunState>(this.runFile); }
  writeRun(state: RunState): void { writeJsonAtomic(this.runFile, state); }
  readManager(): ManagerState { return readJson<ManagerState>(this.managerFile) ?? { version: 1, nextIndex: 0, latest: null, checkpoints: [] }; }
  writeManager(state: ManagerState): void { writeJsonAtomic(this.managerFile, state); }
  appendMetrics(rows: MetricsRow[]): void { if (rows.length) appendFileSync(this.metricsFile, rows.map((r) => JSON.stringify(r)).join("\n") + "\n"); }
  appendTelemetry(rows: TelemetryRow[]): void { if (rows.length) appendFileSync(join(this.path, TELEMETRY_FILE), rows.map((r) => JSON.stringify(r)).join("\n") + "\n"); }
  /**
   * Cuts a line a crash left half-written at the end of metrics.jsonl (it would otherwise
   * swallow the next row appended after it). Returns whether there was one.
   */
  repairMetrics(): boolean {
    if (!existsSync(this.metricsFile)) return false;
    const buf = readFileSync(this.metricsFile);
    if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return false;
    truncateSync(this.metricsFile, buf.lastIndexOf(0x0a) + 1);
    return true;
  }
  readMetrics(): MetricsRow[] {
    if (!existsSync(this.metricsFile)) return [];
    return readFileSync(this.metricsFile, "utf8").split("\n").filter((l) => l.trim()).flatMap((l) => {
      try { return [JSON.parse(l) as MetricsRow]; } catch { return []; }  // a line cut by a crash
    });
  }
  /** Removes staged checkpoint files that never completed (a crash mid-write), and folders no manager entry lists. */
  cleanIncomplete(): void {
    rmSync(join(this.path, STAGING_DIR), { recursive: true, force: true });  // every earlier driver's: this one holds the lease
    mkdirSync(this.stagingDir, { recursive: true });
    const listed = new Set(this.readManager().checkpoints.map((c) => c.name));
    for (const e of readdirSync(this.path)) if (/^checkpoint_\d{6}$/.test(e) && !listed.has(e)) rmSync(join(this.path, e), { recursive: true, force: true });
  }
  resetStaging(): void {
    rmSync(this.stagingDir, { recursive: true, force: true });
    mkdirSync(this.stagingDir, { recursive: true });
  }
  async commitCheckpoint(staged: string[], info: CommitInfo, cfg: CheckpointConfig): Promise<string> {
    const manager = this.readManager();
    const index = manager.nextIndex;
    const name = checkpointDirName(index);
    const merged = join(this.stagingDir, `merge-${name}`);
    rmSync(merged, { recursive: true, force: true });
    mkdirSync(merged, { recursive: true });
    // each rank's files go in; on a name clash the lower rank's file wins
    for (const dir of staged) {
      if (!existsSync(dir)) continue;
      for (const e of readdirSync(dir)) if (!existsSync(join(merged, e))) renameSync(join(dir, e), join(merged, e));
    }
    const final = this.checkpointPath(name);
    rmSync(final, { recursive: true, force: true });
    renameSync(merged, final);
    manager.checkpoints.push({ name, index, iteration: info.iteration, metrics: info.metrics, time: info.time });
    manager.latest = name;
    manager.nextIndex = index + 1;
    const drop = checkpointsToDelete(manager.checkpoints, cfg);
    manager.checkpoints = manager.checkpoints.filter((c) => !drop.includes(c));
    this.writeManager(manager);
    await Promise.all(drop.map((c) => rm(this.checkpointPath(c.name), { recursive: true, force: true })));
    // the report's staging folder (.staging/a{attempt}-r{seq}/rank{r}) goes with it
    for (const dir of new Set(staged.map((d) => dirname(d)))) if (dir.startsWith(this.stagingDir) && dir !== this.stagingDir) rmSync(dir, { recursive: true, force: true });
    return name;
  }
}

/**
 * The checkpoints to delete after adding one: keep the best `numToKeep` by the score
 * attribute (the most recent when none; a checkpoint without the metric ranks last), and
 * always the latest.
 */
export function checkpointsToDelete(entries: CheckpointEntry[], cfg: CheckpointConfig): CheckpointEntry[] {
  if (cfg.numToKeep === null || entries.length <= cfg.numToKeep) return [];
  const latest = entries.reduce((a, b) => (b.index > a.index ? b : a));
  const attr = cfg.checkpointScoreAttribute;
  const score = (e: CheckpointEntry): number => {
    if (attr === null) return e.index;
    const v = e.metrics[attr];
    if (typeof v !== "number" || Number.isNaN(v)) return -Infinity;
    return cfg.checkpointScoreOrder === "max" ? v : -v;
  };
  const ranked = [...entries].sort((a, b) => score(b) - score(a) || b.index - a.index);
  const keep = new Set(ranked.slice(0, cfg.numToKeep).map((e) => e.name));
  keep.add(latest.name);
  return entries.filter((e) => !keep.has(e.name));
}

/**
 * Ray's multi-node guard: workers on several hosts persist through storagePath, so every host
 * must see the files one host writes there. The error when `missing` hosts did not see a
 * nonce file written from `writer` (the driver's node under Slurm, rank 0's host under a
 * launcher); decided by what the hosts see, not by the filesystem's type (a bind mount reads
 * as a local disk).
 */
export function storageNotShared(storagePath: string, missing: string[], hostCount: number, writer: string): TrainError {
  const many = missing.length > 1;
  return new TrainError("TRAIN_STORAGE_NOT_SHARED",
    `TorchTrainer: the workers run on ${hostCount} hosts, but ${many ? "hosts" : "host"} ${missing.join(", ")} ${many ? "do" : "does"} not see RunConfig.storagePath ${JSON.stringify(storagePath)} as ${writer} does (a file written there was not found from ${many ? "them" : "it"}), so ${many ? "their" : "its"} checkpoints and results would not be persisted. ` +
    "Set RunConfig({ storagePath }) to a folder every host mounts at the same path (NFS, Lustre, a Kubernetes ReadWriteMany volume...); TORCHLIGHT_STORAGE_SHARED=1 skips this check");
}
