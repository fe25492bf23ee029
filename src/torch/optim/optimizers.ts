/**
 * @module torchlight/torch/optim/optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, with
 * PyTorch's options, defaults, state names and update arithmetic (native, bit-identical
 * to PyTorch 1.13's default single-tensor path).
 */
import { native, type Handle } from "../native/index.js";
import type { Tensor } from "../tensor.js";
import { Optimizer, OptimizerError, checkRange, type ParamGroup, type Params } from "./optimizer.js";
import { pyArgs, required } from "../../util/validate.js";

const nonNeg = (x: number) => x >= 0;
const unit = (x: number) => x >= 0 && x < 1;

/** Options of {@link SGD}. */
export interface SGDOptions { lr?: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean; foreach?: boolean | null }

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.
 * @example new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true })
 */
export class SGD extends Optimizer<Required<SGDOptions>> {
  protected readonly slotNames = ["momentum_buffer"] as const;
  constructor(params: Params, opts?: SGDOptions);
  constructor(params: Params, lr: number, opts?: Omit<SGDOptions, "lr">);
  constructor(...args: unknown[]) {
    const [params, o] = optimizerArgs<SGDOptions>("SGD", args, ["lr", "momentum", "dampening", "weightDecay", "nesterov", "maximize", "foreach"]);
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, foreach: null, ...o });
  }
  protected validate(o: Required<SGDOptions>): void {
    checkRange("SGD", "learning rate", o.lr, nonNeg, ">= 0");
    checkRange("SGD", "momentum value", o.momentum, nonNeg, ">= 0");
    checkRange("SGD", "weight_decay value", o.weightDecay, nonNeg, ">= 0");
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new OptimizerError("SGD: Nesterov momentum requires a momentum and zero dampening");
  }
  protected update(g: ParamGroup<Required<SGDOptions>>, params: Handle[], slots: Handle[]): Handle[] {
    return native.sgdStep(params, slots, g.lr, g.momentum, g.dampening, g.weightDecay, g.nesterov, g.maximize);
  }
}

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean; foreach?: boolean | null; capturable?: boolean; differentiable?: boolean; fused?: boolean }
const ADAM_KEYS = ["lr", "betas", "eps", "weightDecay", "amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused"];

function checkAdam(name: string, o: Required<AdamOptions>): void {
  checkRange(name, "learning rate", o.lr, nonNeg, ">= 0");
  checkRange(name, "epsilon value", o.eps, nonNeg, ">= 0");
  if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new OptimizerError(`${name}: expected betas as [beta1, beta2] but received ${String(o.betas)}`);
  checkRange(name, "beta parameter at index 0", o.betas[0], unit, "in [0, 1)");
  checkRange(name, "beta parameter at index 1", o.betas[1], unit, "in [0, 1)");
  checkRange(name, "weight_decay value", o.weightDecay, nonNeg, ">= 0");
}

/**
 * Adam (Kingma & Ba), with L2 weight decay folded into the gradient and optional AMSGrad.
 * @example new optim.Adam(model.parameters(), { lr: 1e-3 })
 */
export class Adam extends Optimizer<Required<AdamOptions>> {
  protected readonly slotNames = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"] as const;
  protected readonly decoupled: boolean = false;
  /** weightDecay's default (AdamW: 0.01). */
  protected static readonly defaultWeightDecay: number = 0;
  constructor(params: Params, opts?: AdamOptions);
  constructor(params: Params, lr: number, opts?: Omit<AdamOptions, "lr">);
  constructor(...args: unknown[]) {
    const [params, o] = optimizerArgs<AdamOptions>(new.target.name, args, ADAM_KEYS);
    const weightDecay = (new.target as unknown as { defaultWeightDecay: number }).defaultWeightDecay;
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay, amsgrad: false, maximize: false, foreach: null, capturable: false, differentiable: false, fused: false, ...o });
  }
  protected validate(o: Required<AdamOptions>): void { checkAdam(this.constructor.name, o); }
  protected update(g: ParamGroup<Required<AdamOptions>>, params: Handle[], slots: Handle[]): Handle[] {
    return native.adamStep(params, slots, g.lr, g.betas[0], g.betas[1], g.eps, g.weightDecay, g.amsgrad, g.maximize, this.decoupled);
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); weightDecay defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  protected static override readonly defaultWeightDecay: number = 0.01;
}

/** Options of {@link RMSprop}. */
export interface RMSpropOptions { lr?: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean; maximize?: boolean; foreach?: boolean | null; differentiable?: boolean }

export class RMSprop extends Optimizer<Required<RMSpropOptions>> {
  protected readonly slotNames = ["step", "square_avg", "momentum_buffer", "grad_avg"] as const;
  constructor(params: Params, opts?: RMSpropOptions);
  constructor(params: Params, lr: number, opts?: Omit<RMSpropOptions, "lr">);
  constructor(...args: unknown[]) {
    const [params, o] = optimizerArgs<RMSpropOptions>("RMSprop", args, ["lr", "alpha", "eps", "weightDecay", "momentum", "centered", "maximize", "foreach", "differentiable"]);
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, foreach: null, differentiable: false, ...o });
  }
  protected validate(o: Required<RMSpropOptions>): void {
    checkRange("RMSprop", "learning rate", o.lr, nonNeg, ">= 0");
    checkRange("RMSprop", "epsilon value", o.eps, nonNeg, ">= 0");
    checkRange("RMSprop", "momentum value", o.momentum, nonNeg, ">= 0");
    checkRange("RMSprop", "weight_decay value", o.weightDecay, nonNeg, ">= 0");
    checkRange("RMSprop", "alpha value", o.alpha, nonNeg, ">= 0");
  }
  protected update(g: ParamGroup<Required<RMSpropOptions>>, params: Handle[], slots: Handle[]): Handle[] {
    return native.rmspropStep(params, slots, g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, g.centered, g.maximize);
  }
  // Python counts RMSprop's steps with an int
  protected override exportSlot(name: string, t: Tensor): Tensor | number { return name === "step" ? t.item() : t; }
}

/** Options of {@link Adagrad}. */
export interface AdagradOptions { lr?: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number; maximize?: boolean; foreach?: boolean | null }

export class Adagrad extends Optimizer<Required<AdagradOptions>> {
  protected readonly slotNames = ["step", "sum"] as const;
  constructor(params: Params, opts?: AdagradOptions);
  constructor(params: Params, lr: number, opts?: Omit<AdagradOptions, "lr">);
  constructor(...args: unknown[]) {
    const [params, o] = optimizerArgs<AdagradOptions>("Adagrad", args, ["lr", "lrDecay", "weightDecay", "initialAccumulatorValue", "eps", "maximize", "foreach"]);
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, foreach: null, ...o });
  }
  protected validate(o: Required<AdagradOptions>): void {
    checkRange("Adagrad", "learning rate", o.lr, nonNeg, ">= 0");
    checkRange("Adagrad", "lr_decay value", o.lrDecay, nonNeg, ">= 0");
    checkRange("Adagrad", "weight_decay value", o.weightDecay, nonNeg, ">= 0");
    checkRange("Adagrad", "initial_accumulator_value value", o.initialAccumulatorValue, nonNeg, ">= 0");
    checkRange("Adagrad", "epsilon value", o.eps, nonNeg, ">= 0");
  }
  protected update(g: ParamGroup<Required<AdagradOptions>>, params: Handle[], slots: Handle[]): Handle[] {
    return native.adagradStep(params, slots, g.lr, g.lrDecay, g.weightDecay, g.eps, g.initialAccumulatorValue, g.maximize);
  }
}

/** An optimizer's arguments as PyTorch's signature: `params`, then `lr` positionally or by name, then keyword options. */
function optimizerArgs<O>(opt: string, args: unknown[], known: readonly string[]): [Params, O] {
  const err = (m: string) => new OptimizerError(m);
  const { params, ...o } = pyArgs(opt, ["params", "lr"], args, known, err);
  return [required(opt, "params", params as Params | undefined, err), o as O];
}
