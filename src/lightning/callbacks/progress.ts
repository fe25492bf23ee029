/**
 * @module torchlight/lightning/callbacks/progress: the progress bar (rank 0 only), drawn by
 * util/progress's renderer: on a terminal a live bar with ETA and the progress-bar metrics;
 * otherwise (logs, CI) plain lines every `refreshRate`-th of the epoch and at its end. Where a
 * progress sink is set (a torchlight/train worker), its events go there instead.
 */
import { checkOptions } from "../../util/validate.js";
import { LightningError } from "../errors.js";
import { Callback } from "./callback.js";
import { ProgressRenderer, progressSink, type ProgressEvent } from "../../util/progress.js";
import type { Trainer } from "../trainer.js";

export { ProgressRenderer, setProgressSink, type ProgressEvent, type ProgressSink } from "../../util/progress.js";

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(3) : v.toExponential(2));
/** A progress bar in TQDM's layout: `Epoch 0:  42%|████      | 42/100 [00:03<00:04, 12.5it/s, loss=0.31, v_num=0]`. */
export class TQDMProgressBar extends Callback {
  private readonly renderer: ProgressRenderer;
  /** Live bar on a TTY (default: whether stdout is one). */
  readonly live: boolean;
  /** Batches between updates of the live bar (default 1); plain lines come at every tenth of the epoch. */
  readonly refreshRate: number;

  constructor(options?: { refreshRate?: number; live?: boolean }) {
    super();
    const opts = checkOptions("TQDMProgressBar", options, ["refreshRate", "live"], (m) => new LightningError("PL_MISCONFIGURATION", m));
    this.refreshRate = opts.refreshRate ?? 1;
    this.live = opts.live ?? Boolean(process.stdout.isTTY);
    this.renderer = new ProgressRenderer(this.live);
  }
  /** Lines written instead of the live bar (tests read them). */
  get lines(): string[] { return this.renderer.lines; }

  private postfix(trainer: Trainer): string {
    const parts = Object.entries(trainer.progressBarMetrics).map(([k, x]) => `${k}=${fmt(x)}`);
    const v = trainer.logger?.version;
    if (v !== undefined) parts.push(`v_num=${v}`);
    return parts.join(", ");
  }
  private epochStarted = 0;
  private emit(trainer: Trainer, done: number, final: boolean): void {
    if (!trainer.isGlobalZero || this.refreshRate === 0) return;
    const total = Number.isFinite(trainer.numTrainingBatches) ? trainer.numTrainingBatches : null;
    const secs = (performance.now() - this.epochStarted) / 1000;
    const e: ProgressEvent = { epoch: trainer.currentEpoch, done, total, postfix: final || done % this.refreshRate === 0 ? this.postfix(trainer) : "", final, secs };
    const sink = progressSink();
    if (sink) sink(e); else this.renderer.update(e, this.refreshRate);
  }

  override onTrainEpochStart(trainer: Trainer): void {
    this.epochStarted = performance.now();
    if (!trainer.isGlobalZero || this.refreshRate === 0 || progressSink()) return;
    this.renderer.start(trainer.currentEpoch, Number.isFinite(trainer.numTrainingBatches) ? trainer.numTrainingBatches : null);
  }
  override onTrainBatchEnd(trainer: Trainer, _pl: unknown, _out: unknown, _batch: unknown, batchIdx: number): void { this.emit(trainer, batchIdx + 1, false); }
  override onTrainEpochEnd(trainer: Trainer): void { this.emit(trainer, trainer.fitLoop.epochLoop.batchesDone, true); }
  override onException(): void { this.renderer.stop(); }
  override onTrainEnd(): void { this.renderer.stop(); }
}
