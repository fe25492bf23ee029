/**
 * @module torchlight/lightning/optimizer: `LightningOptimizer`, as Lightning's: what
 * `LightningModule.optimizers()` and `optimizerStep` hand to user code. Its `step` goes
 * through the trainer (the precision plugin's scaling, the onBeforeOptimizerStep hook,
 * gradient clipping, the global step count) instead of calling the optimizer directly; the
 * rest passes through to the wrapped `torch.optim` optimizer.
 */
import type { Optimizer } from "../torch/optim/index.js";

/** What the trainer does around one step (set by the optimisation loop). */
export interface StepHandler { (optimizer: Optimizer<object>, closure: (() => unknown) | undefined): unknown }

export class LightningOptimizer {
  /** @internal */ _onStep: StepHandler;
  constructor(readonly optimizer: Optimizer<object>, onStep: StepHandler) { this._onStep = onStep; }
  /** Steps the optimizer through the trainer; `closure` (optional) computes the loss and its gradients. */
  step(closure?: () => unknown): unknown { return this._onStep(this.optimizer, closure); }
  zeroGrad(opts: { setToNone?: boolean } = {}): void { this.optimizer.zeroGrad(opts); }
  get paramGroups(): Optimizer<object>["paramGroups"] { return this.optimizer.paramGroups; }
  get defaults(): object { return this.optimizer.defaults; }
  stateDict(): ReturnType<Optimizer<object>["stateDict"]> { return this.optimizer.stateDict(); }
  loadStateDict(sd: Parameters<Optimizer<object>["loadStateDict"]>[0]): void { this.optimizer.loadStateDict(sd); }
}
