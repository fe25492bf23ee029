/**
 * @module torchlight/lightning/loggers/csv: `CSVLogger`, as Lightning's: `metrics.csv` (one
 * row per logging call, a `step` column, the union of keys as sorted columns; the file is
 * rewritten when new keys appear) and `hparams.yaml` in `saveDir/name/version_N`.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileLogger, type FileLoggerOptions } from "./logger.js";

export class CSVLogger extends FileLogger {
  private rows: Record<string, number>[] = [];
  private written = 0;
  private keys: string[] = [];
  /** Flush to disk every this many logging calls (default 100, as Lightning's flush_logs_every_n_steps). */
  readonly flushLogsEveryNSteps: number;

  constructor(saveDir: string, opts: FileLoggerOptions & { flushLogsEveryNSteps?: number } = {}) {
    super(saveDir, opts, ["flushLogsEveryNSteps"]);
    this.flushLogsEveryNSteps = opts.flushLogsEveryNSteps ?? 100;
  }
  get metricsFile(): string { return join(this.logDir, "metrics.csv"); }

  logMetrics(metrics: Record<string, number>, step: number): void {
    this.rows.push({ ...this.prefixed(metrics), step });
    if ((this.rows.length - this.written) >= this.flushLogsEveryNSteps) this.save();
  }

  override save(): void {
    if (this.rows.length === this.written) return;
    mkdirSync(this.logDir, { recursive: true });
    const fresh = this.rows.slice(this.written);
    const all = new Set(this.keys);
    for (const r of fresh) for (const k of Object.keys(r)) all.add(k);
    const cell = (v: number | undefined) => (v === undefined ? "" : String(v));
    const line = (r: Record<string, number>) => this.keys.map((k) => cell(r[k])).join(",") + "\n";
    if (all.size !== this.keys.length || !existsSync(this.metricsFile)) {
      this.keys = [...all].sort();
      writeFileSync(this.metricsFile, this.keys.join(",") + "\n" + this.rows.map(line).join(""));
    } else {
      appendFileSync(this.metricsFile, fresh.map(line).join(""));
    }
    this.written = this.rows.length;
  }
}
