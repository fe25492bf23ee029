/**
 * @module torchlight/lightning/loops/evaluation_loop: validation and test, as Lightning's
 * `_EvaluationLoop`: every loader's batches under `noGrad` (each in one tensor scope), the
 * step and its hooks, metrics reduced over the epoch (and across ranks), one dict of logged
 * metrics per loader. Inside fit it also runs the sanity check.
 */
import * as torch from "../../torch/index.js";
import { ResultCollection } from "../results.js";
import { callCallbackHooks, callHooks, callModuleHook, withHook } from "../call.js";
import { Loop } from "./loop.js";
import type { CallbackHook } from "../callbacks/callback.js";
import type { Trainer } from "../trainer.js";
import type { AnyLoader } from "../types.js";

export class EvaluationLoop extends Loop {
  /** Batches run per loader so far in the current run. */
  batchesDone = 0;
  constructor(trainer: Trainer, readonly stage: "validate" | "test") { super(trainer); }

  override stateDict(): Record<string, unknown> { return {}; }

  /** Runs every loader once; `inFit` logs at the fit loop's step; `sanity` is fit's sanity check (nothing logged). */
  async run(loaders: AnyLoader[], inFit: boolean, sanity = false): Promise<Record<string, number>[]> {
    const t = this.trainer, m = t.lightningModule!;
    const T = this.stage === "test" ? "Test" : "Validation";
    const step = this.stage === "test" ? "testStep" : "validationStep";
    const limit = this.stage === "test" ? t.limitTestBatches : sanity ? (t.numSanityValSteps === -1 ? t.limitValBatches : t.numSanityValSteps) : t.limitValBatches;
    const results = new ResultCollection(false);
    const outerResults = t._results;
    t._results = results;
    const perLoader: Record<string, number>[] = [];
    const wasTraining = m.training;
    const precision = t._accelerator.precisionPlugin;
    try {
      callModuleHook(t, `on${T}ModelEval`);
      callHooks(t, `on${T}Start` as CallbackHook);
      callHooks(t, `on${T}EpochStart` as CallbackHook);
      for (const [dl, loader] of loaders.entries()) {
        results.dataloaderIdx = loaders.length > 1 ? dl : null;
        this.batchesDone = 0;
        for await (const [batch, idx] of t._data.batches(loader, t._data.limited(loader, limit))) {
          torch.tidy(() => torch.noGrad(() => withHook(m, null, () => {
            callCallbackHooks(t, `on${T}BatchStart` as CallbackHook, [batch, idx, dl]);
            callModuleHook(t, `on${T}BatchStart`, batch, idx, dl);
            const out = withHook(m, step, () => {
              const fn = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[step]!;
              return precision.forwardContext(() => loaders.length > 1 ? fn.call(m, batch, idx, dl) : fn.call(m, batch, idx));
            });
            callHooks(t, `on${T}BatchEnd` as CallbackHook, out, batch, idx, dl);
          }, batch)));
          await results.syncStep(t.strategy.sync);
          results.stepMetrics();
          this.batchesDone++;
        }
      }
      results.dataloaderIdx = null;
      callHooks(t, `on${T}EpochEnd` as CallbackHook);
      const em = await results.epochMetrics(t.strategy.sync);
      if (!sanity) {
        t._logger.absorb(em);
        if (Object.keys(em.log).length) t._logger.logMetrics(em.log, inFit ? t.fitLoop.epochLoop.batchesThatStepped : undefined);
      }
      // one dict per loader, as Lightning: that loader's metrics and those logged outside any loader
      const own = (k: string, i: number) => { const x = /\/dataloader_idx_(\d+)$/.exec(k); return !x || Number(x[1]) === i; };
      for (let i = 0; i < loaders.length; i++) perLoader.push(Object.fromEntries(Object.entries(em.log).filter(([k]) => own(k, i))));
      callHooks(t, `on${T}End` as CallbackHook);
      await t._flushDeferred();
    } finally {
      t._results = outerResults;
      if (inFit || wasTraining) callModuleHook(t, `on${T}ModelTrain`);
    }
    return perLoader;
  }
}
