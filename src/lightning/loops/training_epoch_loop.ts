/**
 * @module torchlight/lightning/loops/training_epoch_loop: one training epoch, as Lightning's
 * `_TrainingEpochLoop`: its batches (each inside one tensor scope), validation at the
 * configured interval, the step- and epoch-interval schedulers, logging, and the state an
 * exact mid-epoch resume needs (batch progress, the epoch's starting RNG state).
 */
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/index.js";
import { DistributedSampler } from "../../data/index.js";
import { ResultCollection } from "../results.js";
import { disposeTree } from "../checkpoint.js";
import { callCallbackHooks, callHooks, callModuleHook, withHook } from "../call.js";
import { updateSchedulers } from "../connectors/optimizer_connector.js";
import { Loop } from "./loop.js";
import { Progress } from "./progress.js";
import { keepOutputs } from "./utils.js";
import { runAutomatic, runManual } from "./optimization.js";
import type { AnyLoader } from "../types.js";

export class TrainingEpochLoop extends Loop {
  readonly batchProgress = new Progress();
  /** Optimizer steps so far (the trainer's globalStep). */
  globalStep = 0;
  /** Batches after which an optimizer stepped (the logging step). */
  batchesThatStepped = 0;
  /** Whether the current epoch's batches are all done (its end hooks may be pending). */
  epochFinished = false;
  /** The RNG state the epoch's shuffling started from, and the state at the checkpoint (mid-epoch resume). */
  private rng: { epochStart: Tensor | null; now: Tensor | null } = { epochStart: null, now: null };

  /** Batches done in the current epoch. */
  get batchesDone(): number { return this.batchProgress.current.completed; }

  override stateDict(): Record<string, unknown> {
    return { batch_progress: this.batchProgress.stateDict(), state_dict: { _batches_that_stepped: this.batchesThatStepped, epoch_finished: this.epochFinished } };
  }
  override loadStateDict(s: Record<string, unknown>): void {
    super.loadStateDict(s);
    if (s.batch_progress) this.batchProgress.loadStateDict(s.batch_progress as Record<string, unknown>);
    const st = (s.state_dict ?? {}) as Record<string, unknown>;
    this.batchesThatStepped = Number(st._batches_that_stepped ?? 0);
    this.epochFinished = Boolean(st.epoch_finished);
  }
  /** The RNG states a checkpoint carries (`torchlight_rng`). */
  rngStateDict(): { epoch_start: Tensor | null; now: Tensor } { return { epoch_start: this.rng.epochStart, now: torch.getRngState() }; }
  loadRngState(s: { epoch_start?: Tensor | null; now?: Tensor } | undefined): void {
    this.releaseRng();
    this.rng.epochStart = s?.epoch_start ? s.epoch_start.clone().keep() : null;
    this.rng.now = s?.now ? s.now.clone().keep() : null;
  }
  /** A checkpoint written at an epoch's end: the next epoch starts afresh, drawing from the RNG where the finished one left it. */
  startNextEpochAfterResume(): void {
    this.batchProgress.resetOnRun();
    this.epochFinished = false;
    this.rng.epochStart?.dispose(); this.rng.epochStart = null;
    if (this.rng.now) { torch.setRngState(this.rng.now); this.rng.now.dispose(); this.rng.now = null; }
  }
  releaseRng(): void {
    this.rng.epochStart?.dispose(); this.rng.now?.dispose();
    this.rng = { epochStart: null, now: null };
  }

  /** Runs (the rest of) one epoch over `loader`, validating on `val` as configured. */
  async run(loader: AnyLoader, val: AnyLoader[]): Promise<void> {
    const t = this.trainer, m = t.lightningModule!;
    const fit = t.fitLoop;
    const results = new ResultCollection(true);
    t._results = results;
    const skip = this.batchProgress.current.completed;
    if (skip === 0) this.batchProgress.resetOnRun();
    if (loader.sampler instanceof DistributedSampler) loader.sampler.setEpoch(fit.currentEpoch);
    t.numTrainingBatches = t._data.limited(loader, t.limitTrainBatches);
    fit.epochProgress.incrementReady();
    callHooks(t, "onTrainEpochStart");
    fit.epochProgress.incrementStarted();
    // the RNG state the epoch's shuffling starts from; a mid-epoch resume restores it,
    // re-draws the same order, skips the done batches, then restores the step's RNG state
    if (skip > 0 && this.restarting && this.rng.epochStart) torch.setRngState(this.rng.epochStart);
    else { this.rng.epochStart?.dispose(); this.rng.epochStart = torch.getRngState().keep(); }
    if (skip > 0) {
      const now = this.rng.now;
      const restore = () => { if (now) torch.setRngState(now); };
      if (skip >= t.numTrainingBatches) restore();  // every batch was done: only the epoch's end remains
      else loader.skipBatches(skip, restore);
    }
    this.restarting = false;
    const valEvery = t._valCheckBatches ?? (t.valCheckInterval < 1 ? Math.max(1, Math.floor(t.numTrainingBatches * t.valCheckInterval)) : null);
    const valThisEpoch = val.length > 0 && (t.checkValEveryNEpoch === null || (fit.currentEpoch + 1) % t.checkValEveryNEpoch === 0);
    for await (const [batch, k] of t._data.batches(loader, t.numTrainingBatches - skip)) {
      const batchIdx = skip + k;
      const isLast = batchIdx + 1 >= t.numTrainingBatches;
      const stop = await this.runBatch(results, batch, batchIdx, isLast);
      const countBatches = t.checkValEveryNEpoch === null ? this.batchProgress.total.completed : batchIdx + 1;
      if (valThisEpoch && (valEvery !== null ? countBatches % valEvery === 0 : isLast)) {
        await t.validateLoop.run(val, true);
        t._results = results;
        m.train();
      }
      if (stop === -1 || fit.stopRequestedMidEpoch() || await t._signals.afterStep()) break;
    }
    if (t._signals.stopped) return;  // requeued mid-epoch: the epoch's end belongs to the resumed job
    this.epochFinished = true;
    // epoch end: training epoch metrics, then the hooks (monitoring callbacks after the module)
    const epochMetrics = async () => { const mm = await results.epochMetrics(t.strategy.sync); t._logger.absorb(mm); return mm; };
    await epochMetrics();
    callCallbackHooks(t, "onTrainEpochEnd", [], (c) => !c.isMonitoring);
    callModuleHook(t, "onTrainEpochEnd");
    const em = await epochMetrics();
    callCallbackHooks(t, "onTrainEpochEnd", [], (c) => c.isMonitoring);
    fit.epochProgress.incrementProcessed();
    if (Object.keys(em.log).length) t._logger.logMetrics(em.log, Math.max(0, this.batchesThatStepped - 1));
    updateSchedulers(t.lrSchedulerConfigs, "epoch", fit.currentEpoch + 1, t.callbackMetrics);
    await t._flushDeferred();
    fit.epochProgress.incrementCompleted();
    fit.currentEpoch++;
    this.epochFinished = false;
    this.batchProgress.resetOnRun();
  }

  /** One training batch: hooks, step, backward, optimizer (inside one tensor scope). Returns -1 to end the epoch. */
  private async runBatch(results: ResultCollection, batch: unknown, batchIdx: number, isLast: boolean): Promise<number> {
    const t = this.trainer, m = t.lightningModule!;
    let signal = 0;
    this.batchProgress.incrementReady();
    let outputs: unknown;
    let stepped = false;
    try {
      outputs = torch.tidy(() => withHook(m, null, () => {
        callCallbackHooks(t, "onTrainBatchStart", [batch, batchIdx]);
        if (callModuleHook(t, "onTrainBatchStart", batch, batchIdx) === -1) { signal = -1; return undefined; }
        this.batchProgress.incrementStarted();
        const r = m.automaticOptimization ? runAutomatic(t, batch, batchIdx, isLast) : runManual(t, batch, batchIdx);
        stepped = r.stepped;
        return keepOutputs(r.output);
      }, batch));
      if (signal === -1) return -1;
      this.batchProgress.incrementProcessed();
      if (stepped || !m.automaticOptimization) updateSchedulers(t.lrSchedulerConfigs, "step", this.globalStep, t.callbackMetrics);
      await results.syncStep(t.strategy.sync);
      const sm = results.stepMetrics();
      t._logger.absorb(sm);
      this.batchProgress.incrementCompleted();
      torch.tidy(() => callHooks(t, "onTrainBatchEnd", outputs, batch, batchIdx));
      const logNow = t._logger.shouldUpdateLogs();
      if (stepped || !m.automaticOptimization) this.batchesThatStepped++;
      if (logNow && Object.keys(sm.log).length) t._logger.logMetrics(sm.log, this.batchesThatStepped - 1);
      await t._flushDeferred();
      return signal;
    } finally {
      disposeTree(outputs);  // the batch itself is freed by the data connector
    }
  }
}
