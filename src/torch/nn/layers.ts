/**
 * @module torchlight/torch/nn/layers: the layers of `torch.nn`, with PyTorch's parameter
 * names, shapes, default initialisation (same draws, so the same seed gives the same
 * weights) and forward semantics.
 */
import { empty, ones, zeros } from "../creation.js";
import { noGrad } from "../autograd.js";
import { release } from "../memory.js";
import type { Tensor } from "../tensor.js";
import type { DType } from "../dtype.js";
import { TorchArgumentError } from "../errors.js";
import { is, pyArgs, required, tupleOf, invalid, type MakeError } from "../../util/validate.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, Parameter } from "./module.js";

type Pair = number | [number, number];
/** Options of layers that can make their parameters in another dtype or on another device. */
export interface FactoryOptions { dtype?: DType; device?: string }

/** A parameter of `shape` with uninitialised values (the layer initialises it). */
export function emptyParameter(shape: number[], o: FactoryOptions = {}): Parameter {
  const t = empty(shape, o);
  const p = new Parameter(t);
  release(t);
  return p;
}
function filledParameter(shape: number[], value: 0 | 1, o: FactoryOptions): Parameter {
  const t = value === 0 ? zeros(shape, o) : ones(shape, o);
  const p = new Parameter(t);
  release(t);
  return p;
}
const FACTORY = ["dtype", "device"] as const;
const argError = (layer: string): MakeError => (m) => new TorchArgumentError(m, layer);
/** A layer's arguments, as PyTorch's signature: `names` positional (or by name), then keyword options. */
function layerArgs(layer: string, names: readonly string[], passed: unknown[], options: readonly string[]): Record<string, unknown> {
  const a = pyArgs(layer, names, passed, [...options, ...FACTORY], argError(layer));
  for (const n of names) if (!OPTIONAL.has(`${layer}.${n}`)) required(layer, n, a[n], argError(layer));
  return a;
}
/** Positional parameters that have defaults in PyTorch. */
const OPTIONAL = new Set(["Flatten.startDim", "Flatten.endDim", "Dropout.p", "LeakyReLU.negativeSlope", "GELU.approximate"]);
const factory = (a: Record<string, unknown>): FactoryOptions => ({ ...(a.dtype !== undefined ? { dtype: a.dtype as DType } : {}), ...(a.device !== undefined ? { device: a.device as string } : {}) });
const pairOf = (layer: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): [number, number] => tupleOf(layer, name, v, 2, ok, what, argError(layer)) as [number, number];
const pos = (x: number) => x > 0, nonNeg = (x: number) => x >= 0;
function positiveInt(layer: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) invalid(layer, name, "a positive integer", v, argError(layer));
  return v as number;
}
function bool(layer: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") invalid(layer, name, "a boolean", v, argError(layer));
  return v as boolean;
}
function checkDim(layer: string, input: Tensor, dims: number[], what: string): void {
  if (!dims.includes(input.ndim)) {
    throw new TypeError(`${layer}: expected ${what} input (got ${input.ndim}D input of shape [${input.shape.join(", ")}])`);
  }
}
function checkLastDim(layer: string, input: Tensor, dim: number, size: number, name: string): void {
  const got = input.shape.at(dim);
  if (got !== size) {
    throw new TypeError(`${layer}: expected input with ${name}=${size} in dimension ${dim} but the input has shape [${input.shape.join(", ")}]`);
  }
}
/** PyTorch's default for Linear/Conv: kaiming_uniform_(a=√5) for the weight, U(±1/√fan_in) for the bias. */
function resetLinearLike(weight: Tensor, bias: Tensor | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = init.calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform_(bias, -bound, bound);
  }
}

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

// ---- normalisation ---------------------------------------------------------------------------

/** Options of BatchNorm1d/2d. `momentum: null` uses a cumulative moving average. */
export interface BatchNormOptions extends FactoryOptions { eps?: number; momentum?: number | null; affine?: boolean; trackRunningStats?: boolean }

/** @internal the common part of the batch-norm layers, as PyTorch's `_BatchNorm`. */
export class BatchNormBase extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number; readonly momentum: number | null; readonly affine: boolean; readonly trackRunningStats: boolean;
  constructor(readonly numFeatures: number, opts: BatchNormOptions, protected readonly dims: number[], protected readonly dimText: string) {
    super();
    positiveInt(this.constructor.name, "numFeatures", numFeatures);
    const fo = factory(opts as Record<string, unknown>);
    this.eps = opts.eps ?? 1e-5; this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true; this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? filledParameter([numFeatures], 1, fo) : null;
    this.bias = this.affine ? filledParameter([numFeatures], 0, fo) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", zeros([numFeatures], fo));
      this.registerBuffer("running_var", ones([numFeatures], fo));
      this.registerBuffer("num_batches_tracked", zeros([], { dtype: "int64", ...(opts.device ? { device: opts.device } : {}) }));
    } else {
      for (const b of ["running_mean", "running_var", "num_batches_tracked"]) this.registerBuffer(b, null);
    }
  }
  get runningMean(): Tensor | null { return this._registered.get("running_mean") as Tensor | null; }
  get runningVar(): Tensor | null { return this._registered.get("running_var") as Tensor | null; }
  get numBatchesTracked(): Tensor | null { return this._registered.get("num_batches_tracked") as Tensor | null; }
  /** Resets running statistics to mean 0, variance 1, count 0. */
  resetRunningStats(): void {
    noGrad(() => { this.runningMean?.zero_(); this.runningVar?.fill_(1); this.numBatchesTracked?.zero_(); });
  }
  override forward(input: Tensor): Tensor {
    checkDim(this.constructor.name, input, this.dims, this.dimText);
    checkLastDim(this.constructor.name, input, 1, this.numFeatures, "numFeatures");
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && this.trackRunningStats && nbt) {
      nbt.add_(1);
      factor = this.momentum === null ? 1 / nbt.item() : this.momentum;
    }
    const bnTraining = this.training ? true : this.runningMean === null && this.runningVar === null;
    const useStats = !this.training || this.trackRunningStats;
    return this.normalize(input, { training: bnTraining, momentum: factor, runningMean: useStats ? this.runningMean : null, runningVar: useStats ? this.runningVar : null });
  }
  /** @internal the normalisation itself, once the running-statistics bookkeeping is done (SyncBatchNorm overrides it). */
  protected normalize(input: Tensor, o: { training: boolean; momentum: number; runningMean: Tensor | null; runningVar: Tensor | null }): Tensor {
    if (o.training) {
      const shape = input.shape;
      let perChannel = shape[0]!;
      for (const d of shape.slice(2)) perChannel *= d;
      if (perChannel === 1) throw new TypeError(`${this.constructor.name}: expected more than 1 value per channel when training, got input of shape [${shape.join(", ")}]`);
    }
    return F.batchNorm(input, o.runningMean, o.runningVar, { weight: this.weight, bias: this.bias, training: o.training, momentum: o.momentum, eps: this.eps });
  }
  override extraRepr(): string { return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`; }
}

const BATCH_NORM = ["eps", "momentum", "affine", "trackRunningStats"] as const;
/** BatchNorm's arguments (numFeatures positional or by name). */
export function batchNormArgs(layer: string, args: unknown[]): [number, BatchNormOptions] {
  const { numFeatures, ...o } = layerArgs(layer, ["numFeatures"], args, BATCH_NORM);
  return [numFeatures as number, o as BatchNormOptions];
}
/** Batch normalisation over (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormOptions);
  constructor(opts: BatchNormOptions & { numFeatures: number });
  constructor(...args: unknown[]) { super(...batchNormArgs("BatchNorm1d", args), [2, 3], "2D or 3D"); }
}
/** Batch normalisation over (N, C, H, W). */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormOptions);
  constructor(opts: BatchNormOptions & { numFeatures: number });
  constructor(...args: unknown[]) { super(...batchNormArgs("BatchNorm2d", args), [4], "4D"); }
}

/** Normalises over the last dimensions `normalizedShape`. */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  constructor(normalizedShape: number | number[], opts?: { eps?: number; elementwiseAffine?: boolean } & FactoryOptions);
  constructor(opts: { normalizedShape: number | number[]; eps?: number; elementwiseAffine?: boolean } & FactoryOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("LayerNorm", ["normalizedShape"], args, ["eps", "elementwiseAffine"]);
    const ns = a.normalizedShape;
    if (!(is.positiveInteger(ns) || (Array.isArray(ns) && ns.every((d) => is.positiveInteger(d))))) invalid("LayerNorm", "normalizedShape", "a positive integer or a list of them", ns, argError("LayerNorm"));
    this.normalizedShape = typeof ns === "number" ? [ns] : [...(ns as number[])];
    this.eps = (a.eps as number | undefined) ?? 1e-5;
    const affine = bool("LayerNorm", "elementwiseAffine", a.elementwiseAffine, true);
    this.weight = affine ? filledParameter(this.normalizedShape, 1, factory(a)) : null;
    this.bias = affine ? filledParameter(this.normalizedShape, 0, factory(a)) : null;
  }
  override forward(input: Tensor): Tensor { return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `(${this.normalizedShape.join(", ")}), eps=${this.eps}, elementwiseAffine=${this.weight !== null}`; }
}

/** Normalises over groups of channels. */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  readonly numGroups: number; readonly numChannels: number;
  constructor(numGroups: number, numChannels: number, opts?: { eps?: number; affine?: boolean } & FactoryOptions);
  constructor(opts: { numGroups: number; numChannels: number; eps?: number; affine?: boolean } & FactoryOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("GroupNorm", ["numGroups", "numChannels"], args, ["eps", "affine"]);
    const numGroups = this.numGroups = positiveInt("GroupNorm", "numGroups", a.numGroups);
    const numChannels = this.numChannels = positiveInt("GroupNorm", "numChannels", a.numChannels);
    if (numChannels % numGroups !== 0) throw new TorchArgumentError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`, "GroupNorm");
    this.eps = (a.eps as number | undefined) ?? 1e-5;
    const affine = bool("GroupNorm", "affine", a.affine, true);
    this.weight = affine ? filledParameter([numChannels], 1, factory(a)) : null;
    this.bias = affine ? filledParameter([numChannels], 0, factory(a)) : null;
  }
  override forward(input: Tensor): Tensor { return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`; }
}

// ---- dropout and embedding -------------------------------------------------------------------

/** Zeroes elements with probability `p` in training mode; identity in eval mode. */
export class Dropout extends Module {
  readonly p: number;
  constructor(p?: number);
  constructor(opts: { p?: number });
  constructor(...args: unknown[]) {
    super();
    const p = this.p = (layerArgs("Dropout", ["p"], args, []).p as number | undefined) ?? 0.5;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: expected a probability p in [0, 1] but received ${p}`);
  }
  override forward(input: Tensor): Tensor { return F.dropout(input, this.p, this.training); }
  override extraRepr(): string { return `p=${this.p}`; }
}

/** Options of {@link Embedding}, as PyTorch's keyword arguments. */
export interface EmbeddingOptions extends FactoryOptions { paddingIdx?: number; scaleGradByFreq?: boolean; sparse?: boolean }

/** A lookup table of `numEmbeddings` vectors of size `embeddingDim`, initialised N(0, 1). */
export class Embedding extends Module {
  weight: Parameter;
  readonly paddingIdx: number | null;
  readonly numEmbeddings: number; readonly embeddingDim: number; readonly scaleGradByFreq: boolean;
  constructor(numEmbeddings: number, embeddingDim: number, opts?: EmbeddingOptions);
  constructor(opts: EmbeddingOptions & { numEmbeddings: number; embeddingDim: number });
  constructor(...args: unknown[]) {
    super();
    const L = "Embedding";
    const a = layerArgs(L, ["numEmbeddings", "embeddingDim"], args, ["paddingIdx", "scaleGradByFreq", "sparse"]);
    const numEmbeddings = this.numEmbeddings = positiveInt(L, "numEmbeddings", a.numEmbeddings);
    const embeddingDim = this.embeddingDim = positiveInt(L, "embeddingDim", a.embeddingDim);
    this.scaleGradByFreq = bool(L, "scaleGradByFreq", a.scaleGradByFreq, false);
    if (bool(L, "sparse", a.sparse, false)) throw new TorchArgumentError("Embedding: sparse gradients are not supported by torchlight's optimizers; leave sparse unset (dense gradients)", L);
    const opts = factory(a);
    let pad = (a.paddingIdx as number | undefined) ?? null;
    if (pad !== null) {
      if (pad >= numEmbeddings || pad < -numEmbeddings) throw new RangeError(`Embedding: paddingIdx must be within [-${numEmbeddings}, ${numEmbeddings}) but is ${pad}`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = emptyParameter([numEmbeddings, embeddingDim], opts);
    init.normal_(this.weight);
    if (pad !== null) noGrad(() => { const row = this.weight.select(0, pad!); row.fill_(0); row.dispose(); });
  }
  override forward(input: Tensor): Tensor {
    if (input.dtype !== "int64" && input.dtype !== "int32") {
      throw new TypeError(`Embedding: expected integer indices (int64 or int32) but received a ${input.dtype} tensor; convert with .long()`);
    }
    return F.embedding(input, this.weight, { paddingIdx: this.paddingIdx, scaleGradByFreq: this.scaleGradByFreq });
  }
  override extraRepr(): string { return `${this.numEmbeddings}, ${this.embeddingDim}` + (this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ""); }
}

// ---- activations -----------------------------------------------------------------------------

export class ReLU extends Module { override forward(x: Tensor): Tensor { return x.relu(); } }
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(negativeSlope?: number);
  constructor(opts: { negativeSlope?: number });
  constructor(...args: unknown[]) { super(); this.negativeSlope = (layerArgs("LeakyReLU", ["negativeSlope"], args, []).negativeSlope as number | undefined) ?? 0.01; }
  override forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
export class GELU extends Module {
  readonly approximate: "none" | "tanh";
  constructor(approximate?: "none" | "tanh");
  constructor(opts: { approximate?: "none" | "tanh" });
  constructor(...args: unknown[]) {
    super();
    const v = layerArgs("GELU", ["approximate"], args, []).approximate ?? "none";
    if (v !== "none" && v !== "tanh") invalid("GELU", "approximate", '"none" or "tanh"', v, argError("GELU"));
    this.approximate = v as "none" | "tanh";
  }
  override forward(x: Tensor): Tensor { return F.gelu(x, this.approximate); }
}
export class SiLU extends Module { override forward(x: Tensor): Tensor { return x.silu(); } }
export class Tanh extends Module { override forward(x: Tensor): Tensor { return x.tanh(); } }
export class Sigmoid extends Module { override forward(x: Tensor): Tensor { return x.sigmoid(); } }
export class Softmax extends Module {
  readonly dim: number;
  constructor(dim: number);
  constructor(opts: { dim: number });
  constructor(...args: unknown[]) { super(); this.dim = layerArgs("Softmax", ["dim"], args, []).dim as number; }
  override forward(x: Tensor): Tensor { return x.softmax(this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(dim: number);
  constructor(opts: { dim: number });
  constructor(...args: unknown[]) { super(); this.dim = layerArgs("LogSoftmax", ["dim"], args, []).dim as number; }
  override forward(x: Tensor): Tensor { return x.logSoftmax(this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}

// ---- pooling ---------------------------------------------------------------------------------

/** A pooling size as given (an int stays an int, for PyTorch's repr), checked. */
function poolPair(layer: string, name: string, v: unknown, ok: (x: number) => boolean): Pair {
  const what = ok === pos ? "a positive integer" : "a non-negative integer";
  return typeof v === "number" ? tupleOf(layer, name, v, 1, ok, what, argError(layer))[0]! : pairOf(layer, name, v, ok, what);
}

export class MaxPool2d extends Module {
  readonly kernelSize: Pair; readonly stride: Pair; readonly padding: Pair; readonly dilation: Pair; readonly ceilMode: boolean;
  constructor(kernelSize: Pair, opts?: { stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean });
  constructor(opts: { kernelSize: Pair; stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean });
  constructor(...args: unknown[]) {
    super();
    const L = "MaxPool2d";
    const a = layerArgs(L, ["kernelSize"], args, ["stride", "padding", "dilation", "ceilMode"]);
    this.kernelSize = poolPair(L, "kernelSize", a.kernelSize, pos);
    this.stride = a.stride === undefined || a.stride === null ? this.kernelSize : poolPair(L, "stride", a.stride, pos);
    this.padding = poolPair(L, "padding", a.padding ?? 0, nonNeg); this.dilation = poolPair(L, "dilation", a.dilation ?? 1, pos); this.ceilMode = bool(L, "ceilMode", a.ceilMode, false);
  }
  override forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }
  override extraRepr(): string { return `kernelSize=${String(this.kernelSize)}, stride=${String(this.stride)}, padding=${String(this.padding)}`; }
}
export class AvgPool2d extends Module {
  readonly kernelSize: Pair; readonly stride: Pair; readonly padding: Pair; readonly ceilMode: boolean; readonly countIncludePad: boolean;
  constructor(kernelSize: Pair, opts?: { stride?: Pair | null; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean });
  constructor(opts: { kernelSize: Pair; stride?: Pair | null; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean });
  constructor(...args: unknown[]) {
    super();
    const L = "AvgPool2d";
    const a = layerArgs(L, ["kernelSize"], args, ["stride", "padding", "ceilMode", "countIncludePad"]);
    this.kernelSize = poolPair(L, "kernelSize", a.kernelSize, pos);
    this.stride = a.stride === undefined || a.stride === null ? this.kernelSize : poolPair(L, "stride", a.stride, pos);
    this.padding = poolPair(L, "padding", a.padding ?? 0, nonNeg); this.ceilMode = bool(L, "ceilMode", a.ceilMode, false); this.countIncludePad = bool(L, "countIncludePad", a.countIncludePad, true);
  }
  override forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }
  override extraRepr(): string { return `kernelSize=${String(this.kernelSize)}, stride=${String(this.stride)}, padding=${String(this.padding)}`; }
}
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: Pair;
  constructor(outputSize: Pair);
  constructor(opts: { outputSize: Pair });
  constructor(...args: unknown[]) { super(); this.outputSize = poolPair("AdaptiveAvgPool2d", "outputSize", layerArgs("AdaptiveAvgPool2d", ["outputSize"], args, []).outputSize, pos); }
  override forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
  override extraRepr(): string { return `outputSize=${String(this.outputSize)}`; }
}
