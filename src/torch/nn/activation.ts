/**
 * @module torchlight/torch/nn/activation: activations, dropout, embedding and pooling layers, as `torch.nn`'s.
 */
import { noGrad } from "../autograd.js";
import type { Tensor } from "../tensor.js";
import { TorchArgumentError } from "../errors.js";
import { is, invalid } from "../../util/validate.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, type Parameter } from "./module.js";
import { argError, bool, emptyParameter, factory, layerArgs, nonNeg, poolPair, pos, positiveInt, type FactoryOptions, type Pair } from "./layer_args.js";

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
