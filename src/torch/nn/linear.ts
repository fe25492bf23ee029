/**
 * @module torchlight/torch/nn/linear: Linear, Bilinear, Identity, Flatten, as `torch.nn`'s.
 */
import type { Tensor } from "../tensor.js";
import { pyArgs } from "../../util/validate.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, type Parameter } from "./module.js";
import { argError, bool, checkLastDim, emptyParameter, factory, layerArgs, positiveInt, resetLinearLike, type FactoryOptions } from "./layer_args.js";

// ---- linear ----------------------------------------------------------------------------------

/** Options of {@link Linear}, as PyTorch's keyword arguments. */
export interface LinearOptions extends FactoryOptions { bias?: boolean }

/** `y = x Wᵀ + b`. weight: (outFeatures, inFeatures). */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, opts?: LinearOptions);
  constructor(opts: LinearOptions & { inFeatures: number; outFeatures: number });
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("Linear", ["inFeatures", "outFeatures"], args, ["bias"]);
    this.inFeatures = positiveInt("Linear", "inFeatures", a.inFeatures);
    this.outFeatures = positiveInt("Linear", "outFeatures", a.outFeatures);
    this.weight = emptyParameter([this.outFeatures, this.inFeatures], factory(a));
    this.bias = bool("Linear", "bias", a.bias, true) ? emptyParameter([this.outFeatures], factory(a)) : null;
    this.resetParameters();
  }
  resetParameters(): void { resetLinearLike(this.weight, this.bias); }
  override forward(input: Tensor): Tensor {
    checkLastDim("Linear", input, -1, this.inFeatures, "inFeatures");
    return F.linear(input, this.weight, this.bias);
  }
  override extraRepr(): string { return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`; }
}

/** `y = x1ᵀ A x2 + b`. weight: (outFeatures, in1Features, in2Features). */
export class Bilinear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly in1Features: number; readonly in2Features: number; readonly outFeatures: number;
  constructor(in1Features: number, in2Features: number, outFeatures: number, opts?: LinearOptions);
  constructor(opts: LinearOptions & { in1Features: number; in2Features: number; outFeatures: number });
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("Bilinear", ["in1Features", "in2Features", "outFeatures"], args, ["bias"]);
    const in1 = this.in1Features = positiveInt("Bilinear", "in1Features", a.in1Features);
    const in2 = this.in2Features = positiveInt("Bilinear", "in2Features", a.in2Features);
    const out = this.outFeatures = positiveInt("Bilinear", "outFeatures", a.outFeatures);
    this.weight = emptyParameter([out, in1, in2], factory(a));
    this.bias = bool("Bilinear", "bias", a.bias, true) ? emptyParameter([out], factory(a)) : null;
    const bound = 1 / Math.sqrt(in1);
    init.uniform_(this.weight, -bound, bound);
    if (this.bias) init.uniform_(this.bias, -bound, bound);
  }
  override forward(input1: Tensor, input2: Tensor): Tensor { return F.bilinear(input1, input2, this.weight, this.bias); }
  override extraRepr(): string { return `in1Features=${this.in1Features}, in2Features=${this.in2Features}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`; }
}

/** Passes its input through. */
export class Identity extends Module {
  override forward(input: Tensor): Tensor { return input; }
}

/** Flattens dimensions `startDim..endDim` (default: all but the batch). */
export class Flatten extends Module {
  readonly startDim: number; readonly endDim: number;
  constructor(startDim?: number, endDim?: number);
  constructor(opts: { startDim?: number; endDim?: number });
  constructor(...args: unknown[]) {
    super();
    const a = pyArgs("Flatten", ["startDim", "endDim"], args, [], argError("Flatten"));
    this.startDim = (a.startDim as number | undefined) ?? 1; this.endDim = (a.endDim as number | undefined) ?? -1;
  }
  override forward(input: Tensor): Tensor { return input.flatten(this.startDim, this.endDim); }
  override extraRepr(): string { return `startDim=${this.startDim}, endDim=${this.endDim}`; }
}
