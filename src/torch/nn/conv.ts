/**
 * @module torchlight/torch/nn/conv: Conv1d, Conv2d, ConvTranspose2d, as `torch.nn`'s (weights and initialisation drawn as PyTorch's).
 */
import type { Tensor } from "../tensor.js";
import { tupleOf } from "../../util/validate.js";
import * as F from "./functional.js";
import { Module, type Parameter } from "./module.js";
import {
  argError, bool, checkDim, checkLastDim, emptyParameter, factory, layerArgs, nonNeg, pairOf, pos, positiveInt, resetLinearLike, type FactoryOptions, type Pair,
} from "./layer_args.js";

// ---- convolution -----------------------------------------------------------------------------

/** Options of Conv1d/Conv2d/ConvTranspose2d, as PyTorch's keyword arguments. */
export interface ConvOptions<P> extends FactoryOptions { stride?: P; padding?: P; dilation?: P; groups?: number; bias?: boolean }
const CONV = ["stride", "padding", "dilation", "groups", "bias"] as const;
/** The arguments of a 2-D convolution (kernel, stride, padding, dilation as pairs). */
function conv2dArgs(layer: string, args: unknown[], extra: string[] = []) {
  const a = layerArgs(layer, ["inChannels", "outChannels", "kernelSize"], args, [...CONV, ...extra]);
  return {
    a, inChannels: positiveInt(layer, "inChannels", a.inChannels), outChannels: positiveInt(layer, "outChannels", a.outChannels),
    kernelSize: pairOf(layer, "kernelSize", a.kernelSize, pos, "a positive integer"), stride: pairOf(layer, "stride", a.stride ?? 1, pos, "a positive integer"),
    padding: pairOf(layer, "padding", a.padding ?? 0, nonNeg, "a non-negative integer"), dilation: pairOf(layer, "dilation", a.dilation ?? 1, pos, "a positive integer"),
    groups: positiveInt(layer, "groups", a.groups ?? 1), bias: bool(layer, "bias", a.bias, true),
  };
}

function convWeight(layer: string, inC: number, outC: number, groups: number, kernel: number[], transposed: boolean, o: FactoryOptions): Parameter {
  positiveInt(layer, "inChannels", inC);
  positiveInt(layer, "outChannels", outC);
  positiveInt(layer, "groups", groups);
  if (inC % groups !== 0) throw new TypeError(`${layer}: inChannels (${inC}) must be divisible by groups (${groups})`);
  if (outC % groups !== 0) throw new TypeError(`${layer}: outChannels (${outC}) must be divisible by groups (${groups})`);
  return emptyParameter(transposed ? [inC, outC / groups, ...kernel] : [outC, inC / groups, ...kernel], o);
}

/** 1-D convolution over (N, C, L). */
export class Conv1d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly inChannels: number; readonly outChannels: number; readonly kernelSize: number;
  readonly stride: number; readonly padding: number; readonly dilation: number; readonly groups: number;
  constructor(inChannels: number, outChannels: number, kernelSize: number, opts?: ConvOptions<number>);
  constructor(inChannels: number, outChannels: number, opts: ConvOptions<number> & { kernelSize: number });
  constructor(opts: ConvOptions<number> & { inChannels: number; outChannels: number; kernelSize: number });
  constructor(...args: unknown[]) {
    super();
    const L = "Conv1d";
    const a = layerArgs(L, ["inChannels", "outChannels", "kernelSize"], args, CONV);
    const one = (name: string, v: unknown, ok: (x: number) => boolean, what: string) => tupleOf(L, name, v, 1, ok, what, argError(L))[0]!;
    this.inChannels = positiveInt(L, "inChannels", a.inChannels); this.outChannels = positiveInt(L, "outChannels", a.outChannels);
    this.kernelSize = one("kernelSize", a.kernelSize, pos, "a positive integer");
    this.stride = one("stride", a.stride ?? 1, pos, "a positive integer"); this.padding = one("padding", a.padding ?? 0, nonNeg, "a non-negative integer");
    this.dilation = one("dilation", a.dilation ?? 1, pos, "a positive integer"); this.groups = positiveInt(L, "groups", a.groups ?? 1);
    this.weight = convWeight(L, this.inChannels, this.outChannels, this.groups, [this.kernelSize], false, factory(a));
    this.bias = bool(L, "bias", a.bias, true) ? emptyParameter([this.outChannels], factory(a)) : null;
    resetLinearLike(this.weight, this.bias);
  }
  override forward(input: Tensor): Tensor {
    checkDim("Conv1d", input, [2, 3], "2D (unbatched) or 3D (batched)");
    return F.conv1d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
  override extraRepr(): string { return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}, stride=${this.stride}`; }
}

/** 2-D convolution over (N, C, H, W). */
export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number]; readonly stride: [number, number]; readonly padding: [number, number];
  readonly dilation: [number, number]; readonly groups: number;
  readonly inChannels: number; readonly outChannels: number;
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts?: ConvOptions<Pair>);
  constructor(inChannels: number, outChannels: number, opts: ConvOptions<Pair> & { kernelSize: Pair });
  constructor(opts: ConvOptions<Pair> & { inChannels: number; outChannels: number; kernelSize: Pair });
  constructor(...args: unknown[]) {
    super();
    const c = conv2dArgs("Conv2d", args);
    this.inChannels = c.inChannels; this.outChannels = c.outChannels;
    this.kernelSize = c.kernelSize; this.stride = c.stride; this.padding = c.padding; this.dilation = c.dilation; this.groups = c.groups;
    this.weight = convWeight("Conv2d", c.inChannels, c.outChannels, c.groups, c.kernelSize, false, factory(c.a));
    this.bias = c.bias ? emptyParameter([c.outChannels], factory(c.a)) : null;
    resetLinearLike(this.weight, this.bias);
  }
  override forward(input: Tensor): Tensor {
    checkDim("Conv2d", input, [3, 4], "3D (unbatched) or 4D (batched)");
    checkLastDim("Conv2d", input, -3, this.inChannels, "inChannels");
    return F.conv2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=(${this.kernelSize.join(", ")}), stride=(${this.stride.join(", ")})` +
      (this.padding.some((p) => p !== 0) ? `, padding=(${this.padding.join(", ")})` : "") + (this.bias ? "" : ", bias=false");
  }
}

/** Transposed 2-D convolution ("deconvolution"). weight: (inChannels, outChannels/groups, kH, kW). */
export class ConvTranspose2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number]; readonly stride: [number, number]; readonly padding: [number, number];
  readonly outputPadding: [number, number]; readonly dilation: [number, number]; readonly groups: number;
  readonly inChannels: number; readonly outChannels: number;
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts?: ConvOptions<Pair> & { outputPadding?: Pair });
  constructor(inChannels: number, outChannels: number, opts: ConvOptions<Pair> & { kernelSize: Pair; outputPadding?: Pair });
  constructor(opts: ConvOptions<Pair> & { inChannels: number; outChannels: number; kernelSize: Pair; outputPadding?: Pair });
  constructor(...args: unknown[]) {
    super();
    const c = conv2dArgs("ConvTranspose2d", args, ["outputPadding"]);
    this.inChannels = c.inChannels; this.outChannels = c.outChannels;
    this.kernelSize = c.kernelSize; this.stride = c.stride; this.padding = c.padding; this.dilation = c.dilation; this.groups = c.groups;
    this.outputPadding = pairOf("ConvTranspose2d", "outputPadding", c.a.outputPadding ?? 0, nonNeg, "a non-negative integer");
    this.weight = convWeight("ConvTranspose2d", c.inChannels, c.outChannels, c.groups, c.kernelSize, true, factory(c.a));
    this.bias = c.bias ? emptyParameter([c.outChannels], factory(c.a)) : null;
    resetLinearLike(this.weight, this.bias);
  }
  override forward(input: Tensor): Tensor {
    checkDim("ConvTranspose2d", input, [3, 4], "3D (unbatched) or 4D (batched)");
    return F.convTranspose2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation });
  }
  override extraRepr(): string { return `${this.inChannels}, ${this.outChannels}, kernelSize=(${this.kernelSize.join(", ")}), stride=(${this.stride.join(", ")})`; }
}
