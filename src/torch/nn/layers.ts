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
const pair = (x: Pair): [number, number] => (typeof x === "number" ? [x, x] : x);
function positiveInt(layer: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new TypeError(`${layer}: expected ${name} to be a positive integer but received ${String(v)}`);
  }
  return v;
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

/** `y = x Wᵀ + b`. weight: (outFeatures, inFeatures). */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } & FactoryOptions = {}) {
    super();
    positiveInt("Linear", "inFeatures", inFeatures);
    positiveInt("Linear", "outFeatures", outFeatures);
    this.weight = emptyParameter([outFeatures, inFeatures], opts);
    this.bias = opts.bias === false ? null : emptyParameter([outFeatures], opts);
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
  constructor(readonly in1Features: number, readonly in2Features: number, readonly outFeatures: number, opts: { bias?: boolean } & FactoryOptions = {}) {
    super();
    this.weight = emptyParameter([outFeatures, in1Features, in2Features], opts);
    this.bias = opts.bias === false ? null : emptyParameter([outFeatures], opts);
    const bound = 1 / Math.sqrt(in1Features);
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
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  override forward(input: Tensor): Tensor { return input.flatten(this.startDim, this.endDim); }
  override extraRepr(): string { return `startDim=${this.startDim}, endDim=${this.endDim}`; }
}

// ---- convolution -----------------------------------------------------------------------------

/** Options of Conv1d/Conv2d/ConvTranspose2d, as PyTorch's keyword arguments. */
export interface ConvOptions<P> extends FactoryOptions { stride?: P; padding?: P; dilation?: P; groups?: number; bias?: boolean }

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
  readonly stride: number; readonly padding: number; readonly dilation: number; readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, opts: ConvOptions<number> = {}) {
    super();
    this.stride = opts.stride ?? 1; this.padding = opts.padding ?? 0; this.dilation = opts.dilation ?? 1; this.groups = opts.groups ?? 1;
    this.weight = convWeight("Conv1d", inChannels, outChannels, this.groups, [kernelSize], false, opts);
    this.bias = opts.bias === false ? null : emptyParameter([outChannels], opts);
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
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: ConvOptions<Pair> = {}) {
    super();
    this.kernelSize = pair(kernelSize); this.stride = pair(opts.stride ?? 1); this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1); this.groups = opts.groups ?? 1;
    this.weight = convWeight("Conv2d", inChannels, outChannels, this.groups, this.kernelSize, false, opts);
    this.bias = opts.bias === false ? null : emptyParameter([outChannels], opts);
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
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: ConvOptions<Pair> & { outputPadding?: Pair } = {}) {
    super();
    this.kernelSize = pair(kernelSize); this.stride = pair(opts.stride ?? 1); this.padding = pair(opts.padding ?? 0);
    this.outputPadding = pair(opts.outputPadding ?? 0); this.dilation = pair(opts.dilation ?? 1); this.groups = opts.groups ?? 1;
    this.weight = convWeight("ConvTranspose2d", inChannels, outChannels, this.groups, this.kernelSize, true, opts);
    this.bias = opts.bias === false ? null : emptyParameter([outChannels], opts);
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
    this.eps = opts.eps ?? 1e-5; this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true; this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? filledParameter([numFeatures], 1, opts) : null;
    this.bias = this.affine ? filledParameter([numFeatures], 0, opts) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", zeros([numFeatures], opts));
      this.registerBuffer("running_var", ones([numFeatures], opts));
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

/** Batch normalisation over (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) { super(numFeatures, opts, [2, 3], "2D or 3D"); }
}
/** Batch normalisation over (N, C, H, W). */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) { super(numFeatures, opts, [4], "4D"); }
}

/** Normalises over the last dimensions `normalizedShape`. */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | number[], readonly opts: { eps?: number; elementwiseAffine?: boolean } & FactoryOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? filledParameter(this.normalizedShape, 1, opts) : null;
    this.bias = affine ? filledParameter(this.normalizedShape, 0, opts) : null;
  }
  get eps(): number { return this.opts.eps ?? 1e-5; }
  override forward(input: Tensor): Tensor { return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `(${this.normalizedShape.join(", ")}), eps=${this.eps}, elementwiseAffine=${this.weight !== null}`; }
}

/** Normalises over groups of channels. */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number, opts: { eps?: number; affine?: boolean } & FactoryOptions = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new TypeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? filledParameter([numChannels], 1, opts) : null;
    this.bias = affine ? filledParameter([numChannels], 0, opts) : null;
  }
  override forward(input: Tensor): Tensor { return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`; }
}

// ---- dropout and embedding -------------------------------------------------------------------

/** Zeroes elements with probability `p` in training mode; identity in eval mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: expected a probability p in [0, 1] but received ${p}`);
  }
  override forward(input: Tensor): Tensor { return F.dropout(input, this.p, this.training); }
  override extraRepr(): string { return `p=${this.p}`; }
}

/** A lookup table of `numEmbeddings` vectors of size `embeddingDim`, initialised N(0, 1). */
export class Embedding extends Module {
  weight: Parameter;
  readonly paddingIdx: number | null;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: { paddingIdx?: number; scaleGradByFreq?: boolean; sparse?: boolean } & FactoryOptions = {}) {
    super();
    let pad = opts.paddingIdx ?? null;
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
    return F.embedding(input, this.weight, { paddingIdx: this.paddingIdx });
  }
  override extraRepr(): string { return `${this.numEmbeddings}, ${this.embeddingDim}` + (this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ""); }
}

// ---- activations -----------------------------------------------------------------------------

export class ReLU extends Module { override forward(x: Tensor): Tensor { return x.relu(); } }
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  override forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
export class GELU extends Module {
  constructor(readonly approximate: "none" | "tanh" = "none") { super(); }
  override forward(x: Tensor): Tensor { return F.gelu(x, this.approximate); }
}
export class SiLU extends Module { override forward(x: Tensor): Tensor { return x.silu(); } }
export class Tanh extends Module { override forward(x: Tensor): Tensor { return x.tanh(); } }
export class Sigmoid extends Module { override forward(x: Tensor): Tensor { return x.sigmoid(); } }
export class Softmax extends Module {
  constructor(readonly dim: number) { super(); }
  override forward(x: Tensor): Tensor { return x.softmax(this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
export class LogSoftmax extends Module {
  constructor(readonly dim: number) { super(); }
  override forward(x: Tensor): Tensor { return x.logSoftmax(this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}

// ---- pooling ---------------------------------------------------------------------------------

export class MaxPool2d extends Module {
  readonly stride: Pair; readonly padding: Pair; readonly dilation: Pair; readonly ceilMode: boolean;
  constructor(readonly kernelSize: Pair, opts: { stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}) {
    super();
    this.stride = opts.stride ?? kernelSize; this.padding = opts.padding ?? 0; this.dilation = opts.dilation ?? 1; this.ceilMode = opts.ceilMode ?? false;
  }
  override forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }
  override extraRepr(): string { return `kernelSize=${String(this.kernelSize)}, stride=${String(this.stride)}, padding=${String(this.padding)}`; }
}
export class AvgPool2d extends Module {
  readonly stride: Pair; readonly padding: Pair; readonly ceilMode: boolean; readonly countIncludePad: boolean;
  constructor(readonly kernelSize: Pair, opts: { stride?: Pair | null; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}) {
    super();
    this.stride = opts.stride ?? kernelSize; this.padding = opts.padding ?? 0; this.ceilMode = opts.ceilMode ?? false; this.countIncludePad = opts.countIncludePad ?? true;
  }
  override forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }
  override extraRepr(): string { return `kernelSize=${String(this.kernelSize)}, stride=${String(this.stride)}, padding=${String(this.padding)}`; }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) { super(); }
  override forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
  override extraRepr(): string { return `outputSize=${String(this.outputSize)}`; }
}
