/**
 * @module torchlight/lightning/callbacks/model_checkpoint: `ModelCheckpoint`, as Lightning's:
 * saves checkpoints every N epochs or training steps, keeps the top k by a monitored metric
 * (or the latest k without one), optionally `last.ckpt`, and records its bookkeeping in
 * the checkpoints it writes so a resumed run continues it.
 */
import { checkOptions } from "../../util/validate.js";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Callback } from "./callback.js";
import { LightningError } from "../errors.js";
import type { Trainer } from "../trainer.js";

/** Options of {@link ModelCheckpoint}, as Lightning's keyword arguments. */
export interface ModelCheckpointOptions {
  /** Folder of the checkpoints (default: `<logger folder>/checkpoints`, or `<defaultRootDir>/checkpoints` without logger). */
  dirpath?: string;
  /** File name template, e.g. "{epoch}-{val_loss:.2f}" (default "{epoch}-{step}"; ".ckpt" is appended). */
  filename?: string;
  /** The metric that ranks checkpoints (default: none, the latest are kept). */
  monitor?: string | null;
  verbose?: boolean;
  /** Also write `last.ckpt` each time a checkpoint is saved. */
  saveLast?: boolean;
  /** How many to keep: the best k (-1: all, 0: none; default 1). */
  saveTopK?: number;
  /** Only the model's state dict (no optimizer, loops or callbacks). */
  saveWeightsOnly?: boolean;
  /** "min" or "max" of the monitored metric is best (default "min"). */
  mode?: "min" | "max";
  /** Write "name=value" for each template field (default true). */
  autoInsertMetricName?: boolean;
  /** Save every N optimizer steps (0: off). */
  everyNTrainSteps?: number;
  /** Save every N epochs (default 1 when neither a step nor a time interval is set). */
  everyNEpochs?: number;
  /**
   * Save after the first training batch that ends this long (ms) after the previous check
   * (Lightning's `train_time_interval`). Rank 0's clock decides for every rank.
   */
  trainTimeIntervalMs?: number;
  /** Save at the end of the training epoch rather than after validation (default: decided as Lightning does). */
  saveOnTrainEpochEnd?: boolean;
  /** Add "-v1", "-v2" when a name is taken (default true). */
  enableVersionCounter?: boolean;
}

export class ModelCheckpoint extends Callback {
  static CHECKPOINT_NAME_LAST = "last";
  static FILE_EXTENSION = ".ckpt";
  dirpath: string | null;
  readonly filename: string | null;
  readonly monitor: string | null;
  readonly verbose: boolean;
  readonly saveLast: boolean;
  readonly saveTopK: number;
  readonly saveWeightsOnly: boolean;
  readonly mode: "min" | "max";
  readonly autoInsertMetricName: boolean;
  readonly everyNTrainSteps: number;
  readonly everyNEpochs: number;
  readonly trainTimeIntervalMs: number | null;
  readonly saveOnTrainEpochEnd: boolean | null;
  readonly enableVersionCounter: boolean;
  /** Path → score of the kept checkpoints. */
  bestKModels: Record<string, number> = {};
  kthBestModelPath = "";
  kthValue: number;
  bestModelPath = "";
  bestModelScore: number | null = null;
  currentScore: number | null = null;
  lastModelPath = "";
  private lastGlobalStepSaved = -1;
  private lastTimeChecked: number | null = null;

  constructor(options?: ModelCheckpointOptions) {
    super();
    const opts = checkOptions("ModelCheckpoint", options, ["dirpath", "filename", "monitor", "verbose", "saveLast", "saveTopK", "saveWeightsOnly", "mode", "autoInsertMetricName",
      "everyNTrainSteps", "everyNEpochs", "trainTimeIntervalMs", "saveOnTrainEpochEnd", "enableVersionCounter"], (m) => new LightningError("PL_MISCONFIGURATION", m));
    this.dirpath = opts.dirpath ?? null;
    this.filename = opts.filename ?? null;
    this.monitor = opts.monitor ?? null;
    this.verbose = opts.verbose ?? false;
    this.saveLast = opts.saveLast ?? false;
    this.saveTopK = opts.saveTopK ?? 1;
    this.saveWeightsOnly = opts.saveWeightsOnly ?? false;
    this.mode = opts.mode ?? "min";
    this.autoInsertMetricName = opts.autoInsertMetricName ?? true;
    this.everyNTrainSteps = opts.everyNTrainSteps ?? 0;
    this.trainTimeIntervalMs = opts.trainTimeIntervalMs ?? null;
    const stepOrTime = opts.everyNTrainSteps !== undefined || this.trainTimeIntervalMs !== null;
    this.everyNEpochs = opts.everyNEpochs ?? (stepOrTime ? 0 : 1);
    this.saveOnTrainEpochEnd = opts.saveOnTrainEpochEnd ?? null;
    this.enableVersionCounter = opts.enableVersionCounter ?? true;
    if (this.mode !== "min" && this.mode !== "max") throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint: mode ${JSON.stringify(this.mode)} is not supported; use "min" or "max"`);
    if (!Number.isInteger(this.saveTopK) || this.saveTopK < -1) throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint: saveTopK must be >= -1 (an integer); got ${this.saveTopK}`);
    if (this.monitor === null && this.saveTopK !== -1 && this.saveTopK > 1) {
      throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint(saveTopK=${this.saveTopK}, monitor=null) is not a valid configuration: without a monitor only the latest checkpoint (saveTopK 1) or all (-1) can be kept; set monitor`);
    }
    for (const [k, v] of [["everyNTrainSteps", this.everyNTrainSteps], ["everyNEpochs", this.everyNEpochs]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint: ${k} must be a non-negative integer; got ${v}`);
    }
    if (this.trainTimeIntervalMs !== null && !(this.trainTimeIntervalMs > 0))
      throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint: trainTimeIntervalMs must be a positive number of milliseconds; got ${this.trainTimeIntervalMs}`);
    if ([this.everyNTrainSteps > 0, this.everyNEpochs > 0, this.trainTimeIntervalMs !== null].filter(Boolean).length > 1) {
      throw new LightningError("PL_MISCONFIGURATION", `ModelCheckpoint: combination of parameters everyNTrainSteps=${this.everyNTrainSteps}, everyNEpochs=${this.everyNEpochs} and ` +
        `trainTimeIntervalMs=${this.trainTimeIntervalMs} should be mutually exclusive; set only one (everyNEpochs defaults to 1 when none is set)`);
    }
    this.kthValue = this.mode === "min" ? Infinity : -Infinity;
  }

  override get stateKey(): string {
    return `ModelCheckpoint{${JSON.stringify({ monitor: this.monitor, mode: this.mode, every_n_train_steps: this.everyNTrainSteps, every_n_epochs: this.everyNEpochs, train_time_interval: this.trainTimeIntervalMs })}}`;
  }
  override get isMonitoring(): boolean { return true; }

  override setup(trainer: Trainer): void {
    this.dirpath ??= trainer.loggers.length
      ? join(trainer.loggers[0]!.logDir ?? trainer.defaultRootDir, "checkpoints")
      : join(trainer.defaultRootDir, "checkpoints");
  }

  private skip(trainer: Trainer): boolean {
    return trainer.fastDevRun !== false || trainer.sanityChecking || trainer.state.stage !== "fit" || this.lastGlobalStepSaved === trainer.globalStep;
  }
  private onTrainEpochEndDecision(trainer: Trainer): boolean {
    if (this.saveOnTrainEpochEnd !== null) return this.saveOnTrainEpochEnd;
    if (trainer.checkValEveryNEpoch !== 1) return false;
    if (trainer.numValBatches === 0) return true;
    return trainer.valCheckInterval === 1;
  }

  override onTrainStart(): void { this.lastTimeChecked = performance.now(); }
  override onTrainBatchEnd(trainer: Trainer): void {
    if (this.skip(trainer)) return;
    const skipBatch = this.everyNTrainSteps < 1 || trainer.globalStep % this.everyNTrainSteps !== 0;
    let skipTime = true;
    const now = performance.now();
    if (this.trainTimeIntervalMs !== null) {
      skipTime = this.lastTimeChecked === null || now - this.lastTimeChecked < this.trainTimeIntervalMs;
      // the ranks' clocks differ: rank 0 decides for all, as Lightning broadcasts it
      skipTime = trainer.strategy._broadcastDecision(skipTime);
    }
    if (skipBatch && skipTime) return;
    if (!skipTime) this.lastTimeChecked = now;
    this.saveCheckpoints(trainer);
  }
  override onTrainEpochEnd(trainer: Trainer): void {
    if (this.skip(trainer) || !this.onTrainEpochEndDecision(trainer)) return;
    if (this.everyNEpochs >= 1 && (trainer.currentEpoch + 1) % this.everyNEpochs === 0) this.saveCheckpoints(trainer);
  }
  override onValidationEnd(trainer: Trainer): void {
    if (this.skip(trainer) || this.onTrainEpochEndDecision(trainer)) return;
    if (this.everyNEpochs >= 1 && (trainer.currentEpoch + 1) % this.everyNEpochs === 0) this.saveCheckpoints(trainer);
  }

  /** Saves the top-k checkpoint and `last.ckpt` as configured, now. */
  saveCheckpoints(trainer: Trainer): void {
    const metrics: Record<string, number> = { ...trainer.callbackMetrics, epoch: trainer.currentEpoch, step: trainer.globalStep };
    this.lastGlobalStepSaved = trainer.globalStep;
    this.saveTopk(trainer, metrics);
    if (this.saveLast) this.saveLastCheckpoint(trainer);
  }

  private better(a: number, b: number): boolean { return this.mode === "min" ? a < b : a > b; }

  private saveTopk(trainer: Trainer, metrics: Record<string, number>): void {
    if (this.saveTopK === 0) return;
    if (this.monitor === null) {
      const path = this.formatPath(trainer, metrics, this.filename ?? "{epoch}-{step}", this.bestModelPath);
      const previous = this.bestModelPath;
      this.write(trainer, path);
      this.bestModelPath = path;
      if (this.saveTopK === 1 && previous && previous !== path) this.remove(trainer, previous);
      return;
    }
    if (!(this.monitor in metrics)) {
      throw new LightningError("PL_MONITOR", `ModelCheckpoint(monitor="${this.monitor}") could not find the monitored key in the returned metrics: ` +
        `${JSON.stringify(Object.keys(metrics))}. HINT: Did you call this.log("${this.monitor}", value) in the LightningModule?`);
    }
    let current = metrics[this.monitor]!;
    this.currentScore = current;
    if (Number.isNaN(current)) current = this.mode === "min" ? Infinity : -Infinity;
    const paths = Object.keys(this.bestKModels);
    const inTopK = this.saveTopK === -1 || paths.length < this.saveTopK || this.better(current, this.kthValue);
    if (!inTopK) {
      if (this.verbose && trainer.isGlobalZero) console.log(`Epoch ${trainer.currentEpoch}, global step ${trainer.globalStep}: '${this.monitor}' was not in top ${this.saveTopK}`);
      return;
    }
    const k = this.saveTopK === -1 ? paths.length + 1 : this.saveTopK;
    let del: string | null = null;
    if (paths.length === k && k > 0) { del = this.kthBestModelPath; delete this.bestKModels[del]; }
    const path = this.formatPath(trainer, metrics, this.filename ?? "{epoch}-{step}", del);
    this.bestKModels[path] = current;
    const entries = Object.entries(this.bestKModels);
    if (entries.length === k) {
      const worst = entries.reduce((w, e) => (this.better(w[1], e[1]) ? e : w));
      this.kthBestModelPath = worst[0]; this.kthValue = worst[1];
    }
    const best = entries.reduce((b, e) => (this.better(e[1], b[1]) ? e : b));
    this.bestModelPath = best[0]; this.bestModelScore = best[1];
    if (this.verbose && trainer.isGlobalZero) console.log(`Epoch ${trainer.currentEpoch}, global step ${trainer.globalStep}: '${this.monitor}' reached ${current} (best ${this.bestModelScore}), saving model to '${path}' as top ${k}`);
    this.write(trainer, path);
    if (del && del !== path) this.remove(trainer, del);
  }

  private saveLastCheckpoint(trainer: Trainer): void {
    const path = join(this.dirpath!, ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION);
    this.lastModelPath = path;
    this.write(trainer, path);
  }

  /** "epoch=3-val_loss=0.12.ckpt" from "{epoch}-{val_loss:.2f}", made unique with "-vN". */
  formatPath(trainer: Trainer, metrics: Record<string, number>, template: string, reusable: string | null): string {
    const name = template.replace(/\{([^{}:]+)(?::([^{}]*))?\}/g, (_m, key: string, spec: string | undefined) => {
      const k = key.trim();
      const v = metrics[k] ?? 0;
      let text: string;
      const fixed = spec ? /^\.(\d+)f$/.exec(spec) : null;
      if (fixed) text = v.toFixed(Number(fixed[1]));
      else if (spec && /^0?\d+d$/.test(spec)) text = String(Math.trunc(v)).padStart(Number(spec.replace(/d$/, "")), spec.startsWith("0") ? "0" : " ");
      else text = String(v);
      return this.autoInsertMetricName ? `${k}=${text}` : text;
    });
    let path = join(this.dirpath!, name + ModelCheckpoint.FILE_EXTENSION);
    if (this.enableVersionCounter) {
      const taken = (p: string) => p !== reusable && (p in this.bestKModels || p === this.lastModelPath || existsSync(p));
      for (let v = 1; taken(path) && trainer.isGlobalZero; v++) path = join(this.dirpath!, `${name}-v${v}${ModelCheckpoint.FILE_EXTENSION}`);
    }
    return path;
  }

  private write(trainer: Trainer, path: string): void {
    trainer.saveCheckpoint(path, { weightsOnly: this.saveWeightsOnly });
  }
  private remove(trainer: Trainer, path: string): void {
    if (trainer.isGlobalZero) trainer.defer(rm(path, { force: true }));
  }

  override stateDict(): Record<string, unknown> {
    return {
      monitor: this.monitor, best_model_score: this.bestModelScore, best_model_path: this.bestModelPath, current_score: this.currentScore,
      dirpath: this.dirpath, best_k_models: { ...this.bestKModels }, kth_best_model_path: this.kthBestModelPath, kth_value: this.kthValue,
      last_model_path: this.lastModelPath,
    };
  }
  override loadStateDict(s: Record<string, unknown>): void {
    if (s.dirpath !== this.dirpath && this.dirpath !== null && s.dirpath !== undefined) {
      // Lightning only restores the bookkeeping when the folder is the same
      return;
    }
    this.bestModelScore = (s.best_model_score as number | null) ?? null;
    this.bestModelPath = (s.best_model_path as string) ?? "";
    this.bestKModels = { ...((s.best_k_models as Record<string, number>) ?? {}) };
    this.kthBestModelPath = (s.kth_best_model_path as string) ?? "";
    this.kthValue = (s.kth_value as number) ?? this.kthValue;
    this.lastModelPath = (s.last_model_path as string) ?? "";
  }
}
