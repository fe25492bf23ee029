/**
 * @module torchlight/util/progress: one epoch's progress drawn in TQDM's layout, live
 * (cli-progress) on a terminal or as plain lines every tenth of the epoch (logs, CI), and the
 * progress sink: a process whose bar is drawn elsewhere (a torchlight/train worker, whose
 * driver draws one bar for the whole group) sends its events there instead. Used by
 * Lightning's TQDMProgressBar and by the train driver; imports nothing of torchlight.
 */
import { SingleBar } from "cli-progress";

const clock = (s: number) => {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
};

/** One progress update: batches done of `total` (null: unknown) in `epoch`; `final` at the epoch's end. */
export interface ProgressEvent { epoch: number; done: number; total: number | null; postfix: string; final?: boolean; /** Seconds since the epoch started (default: measured by the renderer). */ secs?: number }
export type ProgressSink = (e: ProgressEvent) => void;
let sink: ProgressSink | null = null;
/** Sends every progress bar's updates to `s` instead of drawing them (null: draw again). */
export function setProgressSink(s: ProgressSink | null): void { sink = s; }
/** The sink set by `setProgressSink`, or null. */
export function progressSink(): ProgressSink | null { return sink; }

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

