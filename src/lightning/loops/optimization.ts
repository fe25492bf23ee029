/**
 * @module torchlight/lightning/loops/optimization: one training batch's optimisation, as
 * Lightning's `loops/optimization/`. Automatic: the closure runs the training step and
 * backward (with gradient accumulation and DDP's no-sync on accumulating batches), the module's
 * `optimizerStep` steps a `LightningOptimizer`, which goes through the precision plugin
 * (scaling), the onBeforeOptimizerStep hooks and gradient clipping. Manual: the training step
 * drives `manualBackward` and `this.optimizers()` itself; each step of those counts.
 */
import type { Tensor } from "../../torch/index.js";
import type { Optimizer } from "../../torch/optim/index.js";
import { callHooks, callModuleHook, withHook } from "../call.js";
import { LightningOptimizer } from "../optimizer.js";
import { lossOf } from "./utils.js";
import type { Trainer } from "../trainer.js";

/** Backward with its hooks (automatic optimisation, and `manualBackward`). */
export function backward(trainer: Trainer, loss: Tensor): void {
  callHooks(trainer, "onBeforeBackward", loss);
  callModuleHook(trainer, "backward", trainer._accelerator.precisionPlugin.preBackward(loss));
  callHooks(trainer, "onAfterBackward");
}

/** The training step through the strategy (DDP) in the precision's forward context. */
function trainingStep(trainer: Trainer, batch: unknown, batchIdx: number): unknown {
  return withHook(trainer.lightningModule!, "trainingStep", () => trainer._accelerator.precisionPlugin.forwardContext(() => trainer.strategy.trainingStep(batch, batchIdx)));
}

/** The `LightningOptimizer`s user code sees, their steps going through the trainer. */
export function wrapOptimizers(trainer: Trainer, optimizers: Optimizer<object>[], manual: boolean): LightningOptimizer[] {
  const onStep = (raw: Optimizer<object>, closure: (() => unknown) | undefined): unknown => {
    const afterClosure = () => {
      callHooks(trainer, "onBeforeOptimizerStep", raw);
      if (!manual) callModuleHook(trainer, "configureGradientClipping", raw, trainer.gradientClipVal, trainer.gradientClipAlgorithm);
    };
    const out = trainer._accelerator.precisionPlugin.optimizerStep(raw, closure ?? (() => undefined), afterClosure, manual);
    if (manual) trainer.fitLoop.epochLoop.globalStep++;
    return out;
  };
  return optimizers.map((o) => new LightningOptimizer(o, onStep));
}

export interface BatchOutcome { output: unknown; stepped: boolean }

/** Automatic optimisation of one batch: step, backward, and (unless accumulating) the optimizer step. */
export function runAutomatic(trainer: Trainer, batch: unknown, batchIdx: number, isLast: boolean): BatchOutcome {
  const raw = trainer.optimizers[0]!;
  const acc = trainer.accumulateGradBatches;
  const shouldStep = (batchIdx + 1) % acc === 0 || isLast;
  let output: unknown;
  const closure = () => {
    output = trainingStep(trainer, batch, batchIdx);
    let loss = lossOf(output);
    if (loss === null) return null;
    if (acc > 1) loss = loss.div(acc);
    if (batchIdx % acc === 0) {
      callHooks(trainer, "onBeforeZeroGrad", raw);
      callModuleHook(trainer, "optimizerZeroGrad", trainer.currentEpoch, batchIdx, raw);
    }
    backward(trainer, loss);
    return loss;
  };
  if (!shouldStep) {
    trainer.strategy.noBackwardSync(closure);
    return { output, stepped: false };
  }
  callModuleHook(trainer, "optimizerStep", trainer.currentEpoch, batchIdx, trainer._lightningOptimizers[0]!, closure);
  trainer.fitLoop.epochLoop.globalStep++;
  return { output, stepped: true };
}

/** Manual optimisation of one batch: the training step does everything; it stepped if the global step moved. */
export function runManual(trainer: Trainer, batch: unknown, batchIdx: number): BatchOutcome {
  const before = trainer.globalStep;
  const output = trainingStep(trainer, batch, batchIdx);
  return { output, stepped: trainer.globalStep > before };
}
