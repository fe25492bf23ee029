/**
 * @module torchlight/lightning/loops/prediction_loop: prediction, as Lightning's
 * `_PredictionLoop`: `predictStep` over every loader under `noGrad`, the outputs kept (the
 * caller owns them), one list per loader when several.
 */
import * as torch from "../../torch/index.js";
import { callHooks } from "../call.js";
import { Loop } from "./loop.js";
import { keepOutputs } from "./utils.js";
import type { AnyLoader } from "../types.js";

export class PredictionLoop extends Loop {
  override stateDict(): Record<string, unknown> { return {}; }

  async run(loaders: AnyLoader[]): Promise<unknown[]> {
    const t = this.trainer, m = t.lightningModule!;
    const precision = t._accelerator.precisionPlugin;
    const all: unknown[][] = [];
    m.eval();
    callHooks(t, "onPredictStart");
    callHooks(t, "onPredictEpochStart");
    for (const [dl, loader] of loaders.entries()) {
      const outs: unknown[] = [];
      for await (const [batch, idx] of t._data.batches(loader, t._data.limited(loader, t.limitPredictBatches))) {
        outs.push(torch.tidy(() => torch.noGrad(() => {
          callHooks(t, "onPredictBatchStart", batch, idx, dl);
          const out = keepOutputs(precision.forwardContext(() => loaders.length > 1 ? m.predictStep(batch, idx, dl) : m.predictStep(batch, idx)));
          callHooks(t, "onPredictBatchEnd", out, batch, idx, dl);
          return out;
        })));
      }
      all.push(outs);
    }
    callHooks(t, "onPredictEpochEnd");
    callHooks(t, "onPredictEnd");
    return loaders.length === 1 ? all[0]! : all;
  }
}
