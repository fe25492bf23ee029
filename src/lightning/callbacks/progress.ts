/**
 * @module torchlight/lightning/callbacks/progress: the progress bar (rank 0 only). On a
 * terminal a live bar (cli-progress) with ETA and the progress-bar metrics; otherwise
 * (logs, CI) plain lines every `refreshRate`-th of the epoch and at its end.
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

/** A progress bar in TQDM's layout: `Epoch 0:  42%|████      | 42/100 [00:03<00:04, 12.5it/s, loss=0.31, v_num=0]`. */
export class TQDMProgressBar extends Callback {
  private bar: SingleBar | null = null;
  private started = 0;
  private total = 0;
  private lastPlain = -1;
  /** Live bar on a TTY (default: whether stdout is one). */
  readonly live: boolean;
  /** Batches between updates of the live bar (default 1); plain lines come at every tenth of the epoch. */
  readonly refreshRate: number;

  constructor(opts: { refreshRate?: number; live?: boolean } = {}) {
    super();
    this.refreshRate = opts.refreshRate ?? 1;
    this.live = opts.live ?? Boolean(process.stdout.isTTY);
  }
  /** Lines written instead of the live bar (tests read them). */
  readonly lines: string[] = [];

  private postfix(trainer: Trainer): string {
    const m = { ...trainer.progressBarMetrics };
    const v = trainer.logger?.version;
    const parts = Object.entries(m).map(([k, x]) => `${k}=${fmt(x)}`);
    if (v !== undefined) parts.push(`v_num=${v}`);
    return parts.join(", ");
  }

  override onTrainEpochStart(trainer: Trainer): void {
    if (!trainer.isGlobalZero || this.refreshRate === 0) return;
    this.total = trainer.numTrainingBatches;
    this.started = performance.now();
    this.lastPlain = -1;
    if (this.live) {
      this.bar = new SingleBar({
        format: `Epoch ${trainer.currentEpoch}: {percentage}%|{bar}| {value}/{total} [{duration_formatted}<{eta_formatted}, {rate}it/s{post}]`,
        barsize: 20, hideCursor: true, clearOnComplete: false, etaBuffer: 50,
      });
      this.bar.start(Number.isFinite(this.total) ? this.total : 0, 0, { rate: "0.00", post: "" });
    }
  }
  override onTrainBatchEnd(trainer: Trainer, _pl: unknown, _out: unknown, _batch: unknown, batchIdx: number): void {
    if (!trainer.isGlobalZero || this.refreshRate === 0) return;
    const done = batchIdx + 1;
    const secs = (performance.now() - this.started) / 1000;
    if (this.bar) {
      if (done % this.refreshRate === 0 || done === this.total) {
        const post = this.postfix(trainer);
        this.bar.update(done, { rate: (done / secs).toFixed(2), post: post ? `, ${post}` : "" });
      }
      return;
    }
    const tenth = Number.isFinite(this.total) ? Math.max(1, Math.ceil(this.total / 10)) : 50;
    if (done % tenth === 0 && done !== this.total) this.plain(trainer, done, secs);
  }
  override onTrainEpochEnd(trainer: Trainer): void {
    if (!trainer.isGlobalZero || this.refreshRate === 0) return;
    const secs = (performance.now() - this.started) / 1000;
    if (this.bar) {
      const post = this.postfix(trainer);
      this.bar.update({ post: post ? `, ${post}` : "" });
      this.bar.stop();
      this.bar = null;
    } else this.plain(trainer, trainer.fitLoop.epochLoop.batchesDone, secs);
  }
  override onException(): void { this.bar?.stop(); this.bar = null; }
  override onTrainEnd(): void { this.bar?.stop(); this.bar = null; }

  private plain(trainer: Trainer, done: number, secs: number): void {
    if (done === this.lastPlain) return;
    this.lastPlain = done;
    const total = Number.isFinite(this.total) ? this.total : "?";
    const eta = Number.isFinite(this.total) && done > 0 ? (secs / done) * (this.total - done) : NaN;
    const post = this.postfix(trainer);
    const line = `Epoch ${trainer.currentEpoch}: ${done}/${total} [${clock(secs)}<${clock(eta)}, ${(done / Math.max(secs, 1e-9)).toFixed(2)}it/s${post ? `, ${post}` : ""}]`;
    this.lines.push(line);
    console.log(line);
  }
}
