/**
 * @module torchlight/cli/runs: reading run folders for `torchlight runs` and `torchlight show`
 * (and the dashboard): a summary per run, and one run in full. Only reads. A run folder that
 * is half-written, corrupt or from another version gives what can be read plus the problems
 * found, never a crash.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { env } from "../util/env.js";
import { readJsonLines, type JsonLinesFollower } from "./jsonl.js";
import { LEASE_FILE, leaseHolderAlive } from "../train/lease.js";
import { MANAGER_FILE, METRICS_FILE, RUN_FILE, RUN_FILE_VERSION, type CheckpointEntry, type ManagerState, type MetricsRow, type RunState } from "../train/storage.js";

export type CliErrorCode = "CLI_NO_RUN" | "CLI_NO_STORAGE" | "CLI_USAGE";

/** An error of a `torchlight` command, with a stable `code`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(readonly code: CliErrorCode, message: string) { super(message); }
}

/** The storage path a command reads by default: TORCHLIGHT_STORAGE_PATH, else RunConfig's default. */
export const defaultStoragePath = (): string => env("storagePath") ?? join(homedir(), "torchlight_results");

export interface RunSummary {
  name: string;
  path: string;
  /** run.json's status; "running" whose driver is gone reads "interrupted". */
  status: string;
  attempts: number;
  workers: number;
  /** Rank 0's last report. */
  lastMetrics: Record<string, unknown> | null;
  reports: number;
  /** The kept checkpoint with the best score (checkpointConfig's attribute), else the latest. */
  best: { name: string; metrics: Record<string, unknown> } | null;
  startedAt: string | null;
  /** Seconds from start to end (to now while running). */
  durationS: number | null;
  /** The run's error, first line. */
  error: string | null;
  /** What could not be read, each with what it means. */
  problems: string[];
}

export interface RunDetail extends RunSummary {
  config: Record<string, unknown>;
  attemptList: { attempt: number; startedAt: string; endedAt: string | null; error: unknown }[];
  /** Failures by attempt, each rank's with its stack. */
  failures: { attempt: number; rank: number; kind: string; type: string; message: string; stack: string | null }[];
  rows: MetricsRow[];
  checkpoints: (CheckpointEntry & { exists: boolean })[];
  torchlightVersion: string | null;
}

const readText = (p: string): string | null => { try { return readFileSync(p, "utf8"); } catch { return null; } };

/** Whether a parsed metrics.jsonl line is a row. */
export const isMetricsRow = (r: unknown): r is MetricsRow => r !== null && typeof r === "object" && typeof (r as MetricsRow).rank === "number" && typeof (r as MetricsRow).metrics === "object";


/** Whether the driver that holds the run folder is alive (its lease renewed recently, or its pid lives on this host). */
function driverAlive(runPath: string, now: number): boolean {
  const text = readText(join(runPath, LEASE_FILE));
  if (text === null) return false;
  try {
    return leaseHolderAlive(JSON.parse(text) as { heartbeat: number; host: string; pid: number }, now);
  } catch { return false; }
}

function readState(runPath: string, problems: string[]): RunState | null {
  const text = readText(join(runPath, RUN_FILE));
  if (text === null) return null;
  try {
    const s = JSON.parse(text) as RunState;
    if (s === null || typeof s !== "object") throw new Error("not an object");
    if (s.version !== RUN_FILE_VERSION) problems.push(`${RUN_FILE} is version ${JSON.stringify(s.version ?? null)} (written by torchlight ${s.torchlightVersion ?? "of an older version"}); this torchlight reads version ${RUN_FILE_VERSION}: fields it does not know are left out`);
    return s;
  } catch (e) {
    problems.push(`${RUN_FILE} is not JSON (${(e as Error).message}): the status, config and errors are unknown`);
    return { version: RUN_FILE_VERSION, name: "", storagePath: "", status: "unknown" as RunState["status"], worldSize: 0, config: {}, startedAt: "", endedAt: null, attempts: [], error: null, torchlightVersion: "" };
  }
}

function readManager(runPath: string, problems: string[]): ManagerState {
  const text = readText(join(runPath, MANAGER_FILE));
  const empty: ManagerState = { version: 1, nextIndex: 0, latest: null, checkpoints: [] };
  if (text === null) return empty;
  try {
    const m = JSON.parse(text) as ManagerState;
    return Array.isArray(m.checkpoints) ? m : empty;
  } catch {
    problems.push(`${MANAGER_FILE} is not JSON: the kept checkpoints are unknown`);
    return empty;
  }
}

/** The score attribute and order the run's checkpointConfig named (null: keep by recency). */
function scoreOf(config: Record<string, unknown>): { attr: string; order: "max" | "min" } | null {
  const cc = (config.runConfig as { checkpointConfig?: { checkpointScoreAttribute?: string | null; checkpointScoreOrder?: "max" | "min" } } | undefined)?.checkpointConfig;
  return cc?.checkpointScoreAttribute ? { attr: cc.checkpointScoreAttribute, order: cc.checkpointScoreOrder ?? "max" } : null;
}

/**
 * One run folder in full; throws CLI_NO_RUN when `runPath` holds no run. `metrics`: a follower
 * of its metrics.jsonl that has the rows already (the dashboard's stream), else the file is read.
 */
export function readRun(runPath: string, now = Date.now(), metrics?: JsonLinesFollower<MetricsRow>): RunDetail {
  const path = resolve(runPath);
  if (!existsSync(join(path, RUN_FILE))) {
    throw new CliError("CLI_NO_RUN", `${path} holds no run (no ${RUN_FILE}); give a run folder {storagePath}/{name}, or a run's name under the storage path (torchlight runs lists them)`);
  }
  const problems: string[] = [];
  const state = readState(path, problems)!;
  const manager = readManager(path, problems);
  // metrics.jsonl's rows; a line that is not JSON (cut by a crash, or corrupted) is skipped and named
  const { rows, problems: lineProblems } = metrics ?? readJsonLines(join(path, METRICS_FILE), isMetricsRow, "a metrics row");
  problems.push(...lineProblems);
  let status: string = String(state.status ?? "unknown");
  if (status === "running" && !driverAlive(path, now)) {
    status = "interrupted";
    problems.push("run.json says running, but its driver holds no live lease (it was killed, or its machine went away): the run was interrupted; rerun the script to resume it");
  }
  const rank0 = rows.filter((r) => r.rank === 0);
  const score = scoreOf(state.config ?? {});
  const kept = manager.checkpoints.map((c) => ({ ...c, exists: existsSync(join(path, c.name)) }));
  let best: RunDetail["best"] = null;
  if (kept.length) {
    const scored = score ? kept.filter((c) => typeof c.metrics?.[score.attr] === "number") : [];
    const pick = scored.length ? scored.reduce((a, b) => ((score!.order === "max" ? 1 : -1) * ((b.metrics[score!.attr] as number) - (a.metrics[score!.attr] as number)) > 0 ? b : a)) : kept.find((c) => c.name === manager.latest) ?? kept.at(-1)!;
    best = { name: pick.name, metrics: pick.metrics };
  }
  const start = state.startedAt ? Date.parse(state.startedAt) : NaN;
  const end = state.endedAt ? Date.parse(state.endedAt) : status === "running" ? now : NaN;
  const err = state.error as { message?: string } | string | null;
  const errorText = err === null || err === undefined ? null : typeof err === "string" ? err : String(err.message ?? JSON.stringify(err));
  const failures: RunDetail["failures"] = [];
  for (const a of state.attempts ?? []) {
    const fs = (a.error as { failures?: { rank: number; kind: string; type: string; message: string; stack?: string }[] } | null)?.failures ?? [];
    for (const f of fs) failures.push({ attempt: a.attempt, rank: f.rank, kind: f.kind, type: f.type, message: f.message, stack: f.stack ?? null });
  }
  return {
    name: path.split(/[\\/]/).pop()!, path, status, attempts: (state.attempts ?? []).length, workers: state.worldSize ?? 0,
    lastMetrics: rank0.at(-1)?.metrics ?? null, reports: rank0.length, best, startedAt: state.startedAt || null,
    durationS: Number.isFinite(start) && Number.isFinite(end) ? (end - start) / 1000 : null, error: errorText ? errorText.split("\n")[0]! : null, problems,
    config: state.config ?? {}, attemptList: state.attempts ?? [], failures, rows, checkpoints: kept, torchlightVersion: state.torchlightVersion || null,
  };
}

/** The runs under `storagePath` (each sub-folder with a run.json), newest first; `metricsOf` as readRun's `metrics`, by run folder. */
export function listRuns(storagePath: string, now = Date.now(), metricsOf?: (runPath: string) => JsonLinesFollower<MetricsRow>): RunSummary[] {
  const dir = resolve(storagePath);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CliError("CLI_NO_STORAGE", `${dir} is not a folder; give the storage path your runs use (RunConfig.storagePath; default ${defaultStoragePath()}, or TORCHLIGHT_STORAGE_PATH)`);
  }
  const runs: RunSummary[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || !existsSync(join(dir, e.name, RUN_FILE))) continue;
    const { config: _c, attemptList: _a, failures: _f, rows: _r, checkpoints: _k, torchlightVersion: _v, ...summary } = readRun(join(dir, e.name), now, metricsOf?.(join(dir, e.name)));
    runs.push(summary);
  }
  return runs.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
}

/** Finds a run by folder or by name under the storage path. */
export function resolveRun(arg: string, storagePath = defaultStoragePath()): string {
  if (existsSync(join(arg, RUN_FILE))) return resolve(arg);
  const byName = join(storagePath, arg);
  if (existsSync(join(byName, RUN_FILE))) return resolve(byName);
  throw new CliError("CLI_NO_RUN", `no run ${JSON.stringify(arg)}: it is not a run folder, and ${storagePath} has no run of that name; \`torchlight runs ${storagePath}\` lists the runs there (--storage-path PATH to look elsewhere)`);
}

// ---- formatting ------------------------------------------------------------------------------

const num = (v: unknown): string => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4)) : JSON.stringify(v) ?? "");
const metricsText = (m: Record<string, unknown> | null, max = 4) => (m ? Object.entries(m).slice(0, max).map(([k, v]) => `${k}=${num(v)}`).join(" ") : "-");
export const duration = (s: number | null): string => (s === null ? "-" : s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`);

/** Rows as an aligned text table. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? "").padEnd(w[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

/** `torchlight runs`: one line per run. */
export function formatRuns(runs: RunSummary[]): string {
  if (!runs.length) return "no runs";
  return table(["NAME", "STATUS", "ATTEMPTS", "WORKERS", "LAST METRICS", "BEST CHECKPOINT", "STARTED", "DURATION"],
    runs.map((r) => [r.name, r.status, String(r.attempts), String(r.workers), metricsText(r.lastMetrics), r.best ? `${r.best.name} ${metricsText(r.best.metrics, 2)}` : "-", r.startedAt?.replace("T", " ").slice(0, 19) ?? "-", duration(r.durationS)]));
}

/** The metrics rows as CSV (every rank; the columns are the union of the metric names). */
export function metricsCsv(rows: MetricsRow[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const cell = (v: unknown) => { const s = v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
  return [["rank", "attempt", "iteration", "time", "checkpoint", ...keys].join(","), ...rows.map((r) => [r.rank, r.attempt, r.iteration, r.time, r.checkpoint ?? "", ...keys.map((k) => r.metrics[k])].map(cell).join(","))].join("\n");
}

/** `torchlight show`: the run in full, as text. */
export function formatRun(d: RunDetail): string {
  const out: string[] = [];
  out.push(`run ${d.name}  (${d.path})`, `status ${d.status}, ${d.workers} worker${d.workers === 1 ? "" : "s"}, ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}, started ${d.startedAt ?? "?"}, ${duration(d.durationS)}${d.torchlightVersion ? `, torchlight ${d.torchlightVersion}` : ""}`);
  if (d.error) out.push(`error: ${d.error}`);
  if (d.problems.length) out.push("", "problems:", ...d.problems.map((p) => `  - ${p}`));
  out.push("", "attempts:", table(["ATTEMPT", "STARTED", "ENDED", "ERROR"], d.attemptList.map((a) => [String(a.attempt), a.startedAt, a.endedAt ?? "-", a.error ? String((a.error as { message?: string }).message ?? a.error).split("\n")[0]! : "-"])));
  if (d.failures.length) {
    out.push("", "errors by rank:");
    for (const f of d.failures) out.push(`  attempt ${f.attempt}, rank ${f.rank} (${f.kind}): ${f.type}: ${f.message}`, ...(f.stack ? f.stack.split("\n").map((l) => `      ${l}`) : []));
  }
  out.push("", "config:", JSON.stringify(d.config, null, 2).split("\n").map((l) => `  ${l}`).join("\n"));
  const keys = [...new Set(d.rows.flatMap((r) => Object.keys(r.metrics)))];
  out.push("", `metrics (${d.rows.length} reports over all ranks):`, d.rows.length ? table(["RANK", "ATTEMPT", "ITER", ...keys.map((k) => k.toUpperCase())], d.rows.map((r) => [String(r.rank), String(r.attempt), String(r.iteration), ...keys.map((k) => num(r.metrics[k]))])) : "  none");
  out.push("", "checkpoints kept:", d.checkpoints.length ? table(["NAME", "ITER", "METRICS", "ON DISK"], d.checkpoints.map((c) => [c.name, String(c.iteration), metricsText(c.metrics, 6), c.exists ? "yes" : "MISSING"])) : "  none");
  return out.join("\n");
}
