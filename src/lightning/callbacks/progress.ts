/**
 * @module torchlight/lightning/callbacks/progress: the progress bar (rank 0 only). On a
 * terminal a live bar (cli-progress) with ETA and the progress-bar metrics; otherwise
 * (logs, CI) plain lines every `refreshRate`-th of the epoch and at its end.
 *
 * A process whose bar is drawn elsewhere (a torchlight/train worker, whose driver draws one
 * bar for the whole group) sets a progress sink: the bar then sends its events there.
 */
import { SingleBar } from "cli-progress";
import { Callback } from "./callback.js";
import type { Trainer } from "../trainer.js";

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(3) : v.toExponential(2));
const clock = (s: number) => {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
};

/** One progress update: batches done of `total` (null: unknown) in `epoch`; `final` at the epoch's end. */
export interface ProgressEvent { epoch: number; done: number; total: number | null; postfix: string; final?: boolean; /** Seconds since the epoch started (default: measured by the renderer). */ secs?: number }
export type ProgressSink = (e: ProgressEvent) => void;
let sink: ProgressSink | null = null;
/** Sends every TQDMProgressBar's updates to `s` instead of drawing them (null: draw again). */
export function setProgressSink(s: ProgressSink | null): void { sink = s; }

/**
 * Draws one epoch's progress in TQDM's layout, live (cli-progress) or as plain lines:
 * `Epoch 0:  42%|████      | 42/100 [00:03<00:04, 12.5it/s, loss=0.31]`.
 */
export class ProgressRenderer {
  private bar: SingleBar | null = null;
  private started = 0;
  private total: number | null = null;
  private lastPlain = -1;
  private epoch = -1;
  /** Lines written instead of the live bar. */
  readonly lines: string[] = [];
  constructor(readonly live: boolean, private readonly prefix = "", private readonly out: (line: string) => void = (l) => console.log(l)) {}

  /** Starts drawing epoch `epoch` of `total` batches. */
  start(epoch: number, total: number | null): void {
    this.stop();
    this.epoch = epoch;
    this.total = total !== null && Number.isFinite(total) ? total : null;
    this.started = performance.now();
    this.lastPlain = -1;
    if (this.live) {
      this.bar = new SingleBar({
        format: `${this.prefix}Epoch ${epoch}: {percentage}%|{bar}| {value}/{total} [{duration_formatted}<{eta_formatted}, {rate}it/s{post}]`,
        barsize: 20, hideCursor: true, clearOnComplete: false, etaBuffer: 50,
      });
      this.bar.start(this.total ?? 0, 0, { rate: "0.00", post: "" });
    }
  }
  /** An update: `done` batches so far; `final` ends the epoch's bar. */
  update(e: ProgressEvent, refreshRate = 1): void {
    if (e.epoch !== this.epoch) this.start(e.epoch, e.total);
    const secs = e.secs ?? (performance.now() - this.started) / 1000;
    const post = e.postfix ? `, ${e.postfix}` : "";
    if (this.bar) {
      if (e.final || e.done % refreshRate === 0 || e.done === this.total) this.bar.update(e.done, { rate: (e.done / Math.max(secs, 1e-9)).toFixed(2), post });
      if (e.final) this.stop();
      return;
    }
    const tenth = this.total !== null ? Math.max(1, Math.ceil(this.total / 10)) : 50;
    if (e.final || (e.done % tenth === 0 && e.done !== this.total)) this.plain(e.done, secs, post);
  }
  stop(): void { this.bar?.stop(); this.bar = null; }

  private plain(done: number, secs: number, post: string): void {
    if (done === this.lastPlain) return;
    this.lastPlain = done;
    const eta = this.total !== null && done > 0 ? (secs / done) * (this.total - done) : NaN;
    const line = `${this.prefix}Epoch ${this.epoch}: ${done}/${this.total ?? "?"} [${clock(secs)}<${clock(eta)}, ${(done / Math.max(secs, 1e-9)).toFixed(2)}it/s${post}]`;
    this.lines.push(line);
    this.out(line);
  }
}

/** A progress bar in TQDM's layout: `Epoch 0:  42%|████      | 42/100 [00:03<00:04, 12.5it/s, loss=0.31, v_num=0]`. */
export class TQDMProgressBar extends Callback {
  private readonly renderer: ProgressRenderer;
  /** Live bar on a TTY (default: whether stdout is one). */
  readonly live: boolean;
  /** Batches between updates of the live bar (default 1); plain lines come at every tenth of the epoch. */
  readonly refreshRate: number;

  constructor(opts: { refreshRate?: number; live?: boolean } = {}) {
    super();
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
    if (sink) sink(e); else this.renderer.update(e, this.refreshRate);
  }

  override onTrainEpochStart(trainer: Trainer): void {
    this.epochStarted = performance.now();
    if (!trainer.isGlobalZero || this.refreshRate === 0 || sink) return;
    this.renderer.start(trainer.currentEpoch, Number.isFinite(trainer.numTrainingBatches) ? trainer.numTrainingBatches : null);
  }
  override onTrainBatchEnd(trainer: Trainer, _pl: unknown, _out: unknown, _batch: unknown, batchIdx: number): void { this.emit(trainer, batchIdx + 1, false); }
  override onTrainEpochEnd(trainer: Trainer): void { this.emit(trainer, trainer.fitLoop.epochLoop.batchesDone, true); }
  override onException(): void { this.renderer.stop(); }
  override onTrainEnd(): void { this.renderer.stop(); }
}
