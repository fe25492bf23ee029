/**
 * @module torchlight/torch/optim: optimizers and learning-rate schedulers, as `torch.optim`.
 * @example
 * import { optim } from "torchlight/torch";
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * const sched = new optim.lrScheduler.CosineAnnealingLR(opt, 100);
 */
export { Optimizer, OptimizerError, type Params, type ParamGroup, type ParamGroupInput, type ParamState, type OptimizerStateDict } from "./optimizer.js";
export { SGD, Adam, AdamW, RMSprop, Adagrad, type SGDOptions, type AdamOptions, type RMSpropOptions, type AdagradOptions } from "./optimizers.js";
export * as lrScheduler from "./lr_scheduler.js";
