/**
 * @module torchlight/lightning/loops/fit_loop: the fit loop, as Lightning's `_FitLoop`: the
 * sanity check, then training epochs until a stopping condition (maxEpochs, maxSteps,
 * maxTimeMs, `shouldStop` once minEpochs/minSteps are reached), with the epoch progress an
 * exact resume needs.
 */
import { callCallbackHooks, callHooks } from "../call.js";
import { Loop } from "./loop.js";
import { Progress } from "./progress.js";
import { TrainingEpochLoop } from "./training_epoch_loop.js";
import type { Trainer } from "../trainer.js";
import type { AnyLoader } from "../types.js";

export class FitLoop extends Loop {
  readonly epochProgress = new Progress();
  readonly epochLoop: TrainingEpochLoop;
  currentEpoch = 0;
  /** When the current fit started (maxTimeMs counts from here). */
  startedAt = 0;

  constructor(trainer: Trainer) {
    super(trainer);
    this.epochLoop = new TrainingEpochLoop(trainer);
  }

  override stateDict(): Record<string, unknown> {
    const e = this.epochLoop.stateDict();
    return { epoch_progress: this.epochProgress.stateDict(), "epoch_loop.batch_progress": e.batch_progress, "epoch_loop.state_dict": e.state_dict };
  }
  /** Restores the loops from a checkpoint's `loops.fit_loop`, `epoch` and `global_step`. */
  loadCheckpointState(fit: Record<string, unknown>, epoch: number, globalStep: number): void {
    super.loadStateDict(fit);
    this.currentEpoch = epoch;
    this.epochLoop.globalStep = globalStep;
    if (fit.epoch_progress) this.epochProgress.loadStateDict(fit.epoch_progress as Record<string, unknown>);
    this.epochLoop.loadStateDict({ batch_progress: fit["epoch_loop.batch_progress"], state_dict: fit["epoch_loop.state_dict"] });
    if (this.epochLoop.epochFinished) {
      // the checkpoint was written at the end of an epoch: the next one starts afresh
      this.currentEpoch++;
      this.epochLoop.startNextEpochAfterResume();
    }
  }

  private minReached(): boolean {
    return this.currentEpoch >= this.trainer.minEpochs && this.epochLoop.globalStep >= this.trainer.minSteps;
  }
  private timeUp(): boolean {
    const max = this.trainer.maxTimeMs;
    return max !== null && performance.now() - this.startedAt >= max;
  }
  /** Whether the epoch should end after the current batch (maxSteps, maxTimeMs, or a stop request past the minimums). */
  stopRequestedMidEpoch(): boolean {
    const t = this.trainer;
    return (t.maxSteps !== -1 && this.epochLoop.globalStep >= t.maxSteps) || this.timeUp() || (t.shouldStop && this.minReached()) || t._signals.stopped;
  }
  /** Whether fit is done (checked between epochs). */
  get done(): boolean {
    const t = this.trainer;
    if (t._signals.stopped) return true;  // requeued: the job goes; its rerun resumes
    if (t.maxSteps !== -1 && this.epochLoop.globalStep >= t.maxSteps) return true;
    if (t.maxEpochs !== -1 && this.currentEpoch >= t.maxEpochs) return true;
    if (this.timeUp()) return true;
    if (t.shouldStop && this.minReached()) return true;
    if (t.shouldStop) t.shouldStop = false;  // as Lightning: not before minEpochs/minSteps
    return false;
  }

  /** Trains on `train`, validating on `val`; `resumed` skips the sanity check. */
  async run(train: AnyLoader, val: AnyLoader[], resumed: boolean): Promise<void> {
    const t = this.trainer, m = t.lightningModule!;
    const hasVal = val.length > 0 && typeof (m as unknown as Record<string, unknown>).validationStep === "function" && t.limitValBatches !== 0;
    t.numValBatches = hasVal ? val.reduce((s, l) => s + t._data.limited(l, t.limitValBatches), 0) : 0;
    if (hasVal && t.numSanityValSteps !== 0 && !resumed) {
      t.sanityChecking = true;
      callCallbackHooks(t, "onSanityCheckStart");
      try { await t.validateLoop.run(val, true, true); } finally { t.sanityChecking = false; }
      callCallbackHooks(t, "onSanityCheckEnd");
      t._logger.reset();
    }
    m.train();
    callHooks(t, "onTrainStart");
    while (!this.done) await this.epochLoop.run(train, hasVal ? val : []);
    callHooks(t, "onTrainEnd");
  }
}
