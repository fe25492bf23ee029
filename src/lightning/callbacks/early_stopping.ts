/**
 * @module torchlight/lightning/callbacks/early_stopping: `EarlyStopping`, as Lightning's: stops
 * training when a monitored metric has not improved by `minDelta` for `patience` checks, or
 * crosses a stopping/divergence threshold, or stops being finite.
 */
import { pyArgs } from "../../util/validate.js";
const misconfigured = (m: string) => new LightningError("PL_MISCONFIGURATION", m);
import { Callback } from "./callback.js";
import { LightningError } from "../errors.js";
import type { Trainer } from "../trainer.js";

export interface EarlyStoppingOptions {
  monitor: string;
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Checks without improvement before stopping (default 3). */
  patience?: number;
  verbose?: boolean;
  mode?: "min" | "max";
  /** Fail when `monitor` was not logged (default true; false skips the check). */
  strict?: boolean;
  /** Stop when the metric becomes NaN or infinite (default true). */
  checkFinite?: boolean;
  /** Stop as soon as the metric is better than this. */
  stoppingThreshold?: number;
  /** Stop as soon as the metric is worse than this. */
  divergenceThreshold?: number;
  /** Check at the end of the training epoch (default: when validation runs once per epoch) rather than after validation. */
  checkOnTrainEpochEnd?: boolean;
}

export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly verbose: boolean;
  readonly mode: "min" | "max";
  readonly strict: boolean;
  readonly checkFinite: boolean;
  readonly stoppingThreshold: number | null;
  readonly divergenceThreshold: number | null;
  private checkOnTrainEpochEnd: boolean | null;
  waitCount = 0;
  stoppedEpoch = 0;
  bestScore: number;
  /** Why training was stopped (null: it was not). */
  stoppingReason: string | null = null;

  constructor(monitor: string, opts?: Omit<EarlyStoppingOptions, "monitor">);
  constructor(opts: EarlyStoppingOptions);
  constructor(...args: unknown[]) {
    super();
    const opts = pyArgs("EarlyStopping", ["monitor"], args, ["minDelta", "patience", "verbose", "mode", "strict", "checkFinite"], misconfigured) as unknown as EarlyStoppingOptions;
    if (!opts || typeof opts.monitor !== "string") throw new LightningError("PL_MISCONFIGURATION", "EarlyStopping: `monitor` (the logged metric to watch) is required, e.g. new EarlyStopping({ monitor: \"val_loss\" })");
    this.monitor = opts.monitor;
    this.mode = opts.mode ?? "min";
    if (this.mode !== "min" && this.mode !== "max") throw new LightningError("PL_MISCONFIGURATION", `EarlyStopping: mode ${JSON.stringify(this.mode)} is not supported; use "min" or "max"`);
    // as Lightning: the delta is signed so that `better(current - minDelta, best)` tests an improvement
    this.minDelta = Math.abs(opts.minDelta ?? 0) * (this.mode === "max" ? 1 : -1);
    this.patience = opts.patience ?? 3;
    this.verbose = opts.verbose ?? false;
    this.strict = opts.strict ?? true;
    this.checkFinite = opts.checkFinite ?? true;
    this.stoppingThreshold = opts.stoppingThreshold ?? null;
    this.divergenceThreshold = opts.divergenceThreshold ?? null;
    this.checkOnTrainEpochEnd = opts.checkOnTrainEpochEnd ?? null;
    this.bestScore = this.mode === "min" ? Infinity : -Infinity;
  }

  override get stateKey(): string { return `EarlyStopping{${JSON.stringify({ monitor: this.monitor, mode: this.mode })}}`; }
  override get isMonitoring(): boolean { return true; }
  private better(a: number, b: number): boolean { return this.mode === "min" ? a < b : a > b; }

  override setup(trainer: Trainer): void {
    this.checkOnTrainEpochEnd ??= trainer.valCheckInterval === 1 && trainer.checkValEveryNEpoch === 1;
  }
  override onTrainEpochEnd(trainer: Trainer): void {
    if (this.checkOnTrainEpochEnd) this.check(trainer);
  }
  override onValidationEnd(trainer: Trainer): void {
    if (!this.checkOnTrainEpochEnd && !trainer.sanityChecking) this.check(trainer);
  }

  private check(trainer: Trainer): void {
    const logs = trainer.callbackMetrics;
    if (trainer.fastDevRun !== false) return;
    if (!(this.monitor in logs)) {
      const msg = `Early stopping conditioned on metric \`${this.monitor}\` which is not available. Pass in or modify your \`EarlyStopping\` callback to use any of the following: \`${Object.keys(logs).join("`, `")}\``;
      if (this.strict) throw new LightningError("PL_MONITOR", msg);
      if (this.verbose) console.warn(msg);
      return;
    }
    const current = logs[this.monitor]!;
    const [stop, reason] = this.evaluate(current);
    if (stop) {
      trainer.shouldStop = true;
      this.stoppedEpoch = trainer.currentEpoch;
      this.stoppingReason = reason;
      if (reason && this.verbose && trainer.isGlobalZero) console.log(reason);
    }
  }

  private evaluate(current: number): [boolean, string | null] {
    const prev = this.bestScore;
    if (this.checkFinite && !Number.isFinite(current)) {
      return [true, `Monitored metric ${this.monitor} = ${current} is not finite. Previous best value was ${prev.toFixed(3)}. Signaling Trainer to stop.`];
    }
    if (this.stoppingThreshold !== null && this.better(current, this.stoppingThreshold)) {
      return [true, `Stopping threshold reached: ${this.monitor} = ${current} ${this.mode === "min" ? "<" : ">"} ${this.stoppingThreshold}. Signaling Trainer to stop.`];
    }
    if (this.divergenceThreshold !== null && this.better(-current, -this.divergenceThreshold)) {
      return [true, `Divergence threshold reached: ${this.monitor} = ${current} ${this.mode === "min" ? ">" : "<"} ${this.divergenceThreshold}. Signaling Trainer to stop.`];
    }
    if (this.better(current - this.minDelta, this.bestScore)) {
      this.bestScore = current;
      this.waitCount = 0;
      return [false, this.verbose ? `Metric ${this.monitor} improved. New best score: ${current.toFixed(3)}` : null];
    }
    this.waitCount++;
    if (this.waitCount >= this.patience) {
      return [true, `Monitored metric ${this.monitor} did not improve in the last ${this.waitCount} records. Best score: ${this.bestScore.toFixed(3)}. Signaling Trainer to stop.`];
    }
    return [false, null];
  }

  override stateDict(): Record<string, unknown> {
    return { wait_count: this.waitCount, stopped_epoch: this.stoppedEpoch, best_score: this.bestScore, patience: this.patience };
  }
  override loadStateDict(s: Record<string, unknown>): void {
    this.waitCount = Number(s.wait_count ?? 0);
    this.stoppedEpoch = Number(s.stopped_epoch ?? 0);
    if (typeof s.best_score === "number") this.bestScore = s.best_score;
  }
}
