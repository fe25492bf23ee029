/**
 * @module torchlight/lightning/loggers/logger: the `Logger` interface the Trainer writes
 * metrics and hyperparameters to, and the `version_N` folder numbering the file loggers share.
 */
import { checkOptions } from "../../util/validate.js";
import { LightningError } from "../errors.js";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export abstract class Logger {
  abstract get name(): string;
  abstract get version(): number | string;
  /** Where this logger writes (null when it writes no files). */
  abstract get logDir(): string | null;
  /** The root under which `name/version_N` lives. */
  get saveDir(): string | null { return null; }
  /** Writes metrics of `step` (called on global rank 0 only). */
  abstract logMetrics(metrics: Record<string, number>, step: number): void;
  /** Records the run's hyperparameters. */
  logHyperparams(_params: Record<string, unknown>): void {}
  /** Flushes what was written. */
  save(): void {}
  /** The run ended ("success", "failed", "interrupted"). */
  finalize(_status: string): void { this.save(); }
}

/** Options shared by the file loggers, as Lightning's. */
export interface FileLoggerOptions {
  /** Experiment name: the folder under saveDir (default "lightning_logs"). */
  name?: string;
  /** A version number or folder name (default: the next free version_N). */
  version?: number | string;
  /** Prefix of every metric key. */
  prefix?: string;
}

/** A logger writing to `saveDir/name/version_N`, with `hparams.yaml` there. */
export abstract class FileLogger extends Logger {
  private readonly _name: string;
  private _version: number | string | undefined;
  protected hparams: Record<string, unknown> = {};
  protected readonly prefix: string;

  constructor(readonly root: string, opts: FileLoggerOptions = {}, extra: readonly string[] = []) {
    super();
    checkOptions(this.constructor.name, opts, ["name", "version", "prefix", ...extra], (m) => new LightningError("PL_MISCONFIGURATION", m));
    this._name = opts.name ?? "lightning_logs";
    this._version = opts.version;
    this.prefix = opts.prefix ?? "";
  }
  get name(): string { return this._name; }
  override get saveDir(): string { return this.root; }
  get version(): number | string {
    if (this._version === undefined) this._version = nextVersion(join(this.root, this._name));
    return this._version;
  }
  get logDir(): string {
    const v = this.version;
    return join(this.root, this._name, typeof v === "number" ? `version_${v}` : v);
  }
  override logHyperparams(params: Record<string, unknown>): void {
    Object.assign(this.hparams, params);
    mkdirSync(this.logDir, { recursive: true });
    writeFileSync(join(this.logDir, "hparams.yaml"), Object.keys(this.hparams).length ? stringify(this.hparams) : "{}\n");
  }
  protected prefixed(metrics: Record<string, number>): Record<string, number> {
    if (!this.prefix) return metrics;
    return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`${this.prefix}-${k}`, v]));
  }
}

/** The next free N of `version_N` under `dir` (0 when there is none). */
export function nextVersion(dir: string): number {
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  const used = names.map((n) => /^version_(\d+)$/.exec(n)?.[1]).filter((x): x is string => x !== undefined).map(Number);
  return used.length ? Math.max(...used) + 1 : 0;
}
