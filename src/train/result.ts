/**
 * @module torchlight/train/result: `Result`, as Ray Train's: the last metrics rank 0 reported,
 * the latest persisted checkpoint, the run folder, the error (null when the run finished),
 * every report as a table, and the kept checkpoints. `Result.fromPath` rebuilds it from a
 * run folder; the driver builds the Result it returns the same way.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Checkpoint } from "./checkpoint.js";
import { TrainError, WorkerGroupError, type RankFailure } from "./errors.js";
import { FileStorage, type MetricsRow } from "./storage.js";

/** Rank 0's reports as rows (its metrics plus `training_iteration`, `timestamp`, `checkpoint_dir_name`), with a CSV rendering. */
export class MetricsTable {
  constructor(readonly rows: Record<string, unknown>[]) {}
  /** Every key that appears in a row, in first-seen order. */
  get columns(): string[] {
    const seen = new Set<string>();
    for (const r of this.rows) for (const k of Object.keys(r)) seen.add(k);
    return [...seen];
  }
  get length(): number { return this.rows.length; }
  /** One column's values (undefined where a row lacks it). */
  column(name: string): unknown[] { return this.rows.map((r) => r[name]); }
  /** RFC 4180 CSV with a header line. */
  toCSV(): string {
    const cols = this.columns;
    const cell = (v: unknown): string => {
      if (v === undefined || v === null) return "";
      const s = typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return [cols.map(cell).join(","), ...this.rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
  }
}

export class Result {
  constructor(
    /** The last metrics rank 0 reported (null when nothing was reported). */
    readonly metrics: Record<string, unknown> | null,
    /** The latest persisted checkpoint (null when none). */
    readonly checkpoint: Checkpoint | null,
    /** The run folder. */
    readonly path: string,
    /** Why the run failed (a WorkerGroupError), null when it finished. */
    readonly error: Error | null,
    /** Every report of rank 0, as rows. */
    readonly metricsDataframe: MetricsTable,
    /** The kept checkpoints with the metrics reported with them, oldest first. */
    readonly bestCheckpoints: [Checkpoint, Record<string, unknown>][],
  ) {}

  /** The kept checkpoint with the best `metric` (`mode` "max" or "min"). */
  getBestCheckpoint(metric: string, mode: "max" | "min"): Checkpoint | null {
    if (mode !== "max" && mode !== "min") throw new TrainError("TRAIN_RESULT", `getBestCheckpoint: mode must be "max" or "min", got ${JSON.stringify(mode)}`);
    if (!this.bestCheckpoints.length) return null;
    const withMetric = this.bestCheckpoints.filter(([, m]) => typeof m[metric] === "number" && !Number.isNaN(m[metric]));
    if (!withMetric.length) {
      const names = [...new Set(this.bestCheckpoints.flatMap(([, m]) => Object.keys(m)))];
      throw new TrainError("TRAIN_RESULT", `getBestCheckpoint: no kept checkpoint was reported with metric ${JSON.stringify(metric)}; the metrics reported with checkpoints are ${names.join(", ") || "(none)"}`);
    }
    const sign = mode === "max" ? 1 : -1;
    return withMetric.reduce((a, b) => (sign * ((b[1][metric] as number) - (a[1][metric] as number)) > 0 ? b : a))[0];
  }

  /** @internal The same Result with `error` (the driver's, when run.json could not be written). */
  withError(error: Error): Result {
    return new Result(this.metrics, this.checkpoint, this.path, error, this.metricsDataframe, this.bestCheckpoints);
  }

  /** Rebuilds the Result of the run stored at `path` ({storagePath}/{name}). */
  static fromPath(path: string): Result {
    const storage = new FileStorage(resolve(path, ".."), resolve(path).split(/[\\/]/).pop()!);
    const run = storage.readRun();
    if (!run) throw new TrainError("TRAIN_RESULT", `Result.fromPath: ${JSON.stringify(path)} holds no run (no ${"run.json"}); pass a folder {storagePath}/{name} written by TorchTrainer`);
    const manager = storage.readManager();
    const rows = storage.readMetrics().filter((r) => r.rank === 0);
    const last = rows.at(-1);
    const latest = manager.latest && existsSync(storage.checkpointPath(manager.latest)) ? new Checkpoint(storage.checkpointPath(manager.latest)) : null;
    const err = run.error as { failures?: RankFailure[]; attempt?: number; message?: string } | null;
    const error = !err ? null : err.failures ? WorkerGroupError.fromJSON(err as { failures: RankFailure[]; attempt: number }) : new TrainError("TRAIN_FAILED", String(err.message ?? err));
    return new Result(
      last ? last.metrics : null,
      latest,
      storage.path,
      error,
      new MetricsTable(rows.map(rowOf)),
      manager.checkpoints.map((c) => [new Checkpoint(storage.checkpointPath(c.name)), c.metrics]),
    );
  }

  toString(): string {
    const m = this.metrics ? Object.entries(this.metrics).map(([k, v]) => `${k}: ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : JSON.stringify(v)}`).join(", ") : "none";
    return `Result(\n  metrics={${m}},\n  path=${this.path},\n  checkpoint=${this.checkpoint ?? "None"}${this.error ? `,\n  error=${this.error.message.split("\n")[0]}` : ""}\n)`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string { return this.toString(); }
}

function rowOf(r: MetricsRow): Record<string, unknown> {
  return { ...r.metrics, training_iteration: r.iteration, timestamp: r.time, checkpoint_dir_name: r.checkpoint };
}
