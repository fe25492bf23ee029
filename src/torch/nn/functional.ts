/**
 * @module torchlight/torch/nn/functional: neural-network functions, as `torch.nn.functional`.
 * (A first set: what convolutional and MLP classifiers need. Modules build on these.)
 */
import { argAndOptions, torchOptions } from "../errors.js";
import { ops } from "../native/index.js";
import { Tensor, handle, wrap } from "../tensor.js";

const h = (t: Tensor, op: string, what: string) => handle(t, op, what);
const hOpt = (t: Tensor | null | undefined, op: string, what: string) => (t === undefined || t === null ? null : handle(t, op, what));
type Pair = number | [number, number];

/** `y = x Wᵀ + b`. x: (*, in), weight: (out, in), bias: (out). */
export const linear = (input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor =>
  wrap(ops.linear(h(input, "linear", "input"), h(weight, "linear", "weight"), hOpt(bias, "linear", "bias")));

/** Options of conv1d / conv2d / convTranspose2d, as PyTorch's keyword arguments (`bias` may be given among them). */
export interface Conv1dOptions { stride?: number; padding?: number; dilation?: number; groups?: number }
export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number }
export interface ConvTranspose2dOptions { stride?: Pair; padding?: Pair; outputPadding?: Pair; groups?: number; dilation?: Pair }

/** 2-D convolution. input: (N, C_in, H, W), weight: (C_out, C_in/groups, kH, kW). */
export function conv2d(input: Tensor, weight: Tensor, biasOrOptions?: Tensor | null | Conv2dOptions & { bias?: Tensor | null },
  options?: Conv2dOptions): Tensor {
  const [bias, opts] = argAndOptions<Tensor | null, Conv2dOptions>("conv2d", "bias", biasOrOptions, options, ["stride", "padding", "dilation", "groups"]);
  return wrap(ops.conv2d(h(input, "conv2d", "input"), h(weight, "conv2d", "weight"), hOpt(bias, "conv2d", "bias"),
    opts.stride ?? 1, opts.padding ?? 0, opts.dilation ?? 1, opts.groups ?? 1));
}

/** Batch normalisation; in training mode it updates runningMean/runningVar in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  opts: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {}): Tensor {
  torchOptions("batchNorm", opts, ["weight", "bias", "training", "momentum", "eps"]);
  return wrap(ops.batch_norm(h(input, "batchNorm", "input"), hOpt(opts.weight, "batchNorm", "weight"), hOpt(opts.bias, "batchNorm", "bias"),
    hOpt(runningMean, "batchNorm", "runningMean"), hOpt(runningVar, "batchNorm", "runningVar"),
    opts.training ?? false, opts.momentum ?? 0.1, opts.eps ?? 1e-5, true));
}

export function maxPool2d(input: Tensor, kernelSize: Pair, opts: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}): Tensor {
  torchOptions("maxPool2d", opts, ["stride", "padding", "dilation", "ceilMode"]);
  return wrap(ops.max_pool2d(h(input, "maxPool2d", "input"), kernelSize, opts.stride ?? kernelSize, opts.padding ?? 0, opts.dilation ?? 1, opts.ceilMode ?? false));
}
export function avgPool2d(input: Tensor, kernelSize: Pair, opts: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}): Tensor {
  torchOptions("avgPool2d", opts, ["stride", "padding", "ceilMode", "countIncludePad"]);
  return wrap(ops.avg_pool2d(h(input, "avgPool2d", "input"), kernelSize, opts.stride ?? kernelSize, opts.padding ?? 0, opts.ceilMode ?? false, opts.countIncludePad ?? true));
}
export const adaptiveAvgPool2d = (input: Tensor, outputSize: Pair): Tensor => wrap(ops.adaptive_avg_pool2d(h(input, "adaptiveAvgPool2d", "input"), outputSize));

export const relu = (input: Tensor): Tensor => input.relu();
export const relu_ = (input: Tensor): Tensor => input.relu_();

const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTION;

/** Cross-entropy of logits (N, C) against class indices (N) or class probabilities (N, C). */
export function crossEntropy(input: Tensor, target: Tensor,
  opts: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number } = {}): Tensor {
  torchOptions("crossEntropy", opts, ["weight", "ignoreIndex", "reduction", "labelSmoothing"]);
  return wrap(ops.cross_entropy_loss(h(input, "crossEntropy", "input"), h(target, "crossEntropy", "target"), hOpt(opts.weight, "crossEntropy", "weight"),
    REDUCTION[opts.reduction ?? "mean"], opts.ignoreIndex ?? -100, opts.labelSmoothing ?? 0));
}

// ---- more layers' functions ---------------------------------------------------------------

/** 1-D convolution. input: (N, C_in, L), weight: (C_out, C_in/groups, k). */
export function conv1d(input: Tensor, weight: Tensor, biasOrOptions?: Tensor | null | Conv1dOptions & { bias?: Tensor | null },
  options?: Conv1dOptions): Tensor {
  const [bias, opts] = argAndOptions<Tensor | null, Conv1dOptions>("conv1d", "bias", biasOrOptions, options, ["stride", "padding", "dilation", "groups"]);
  return wrap(ops.conv1d(h(input, "conv1d", "input"), h(weight, "conv1d", "weight"), hOpt(bias, "conv1d", "bias"),
    opts.stride ?? 1, opts.padding ?? 0, opts.dilation ?? 1, opts.groups ?? 1));
}

/** Transposed 2-D convolution. weight: (C_in, C_out/groups, kH, kW). */
export function convTranspose2d(input: Tensor, weight: Tensor, biasOrOptions?: Tensor | null | ConvTranspose2dOptions & { bias?: Tensor | null },
  options?: ConvTranspose2dOptions): Tensor {
  const [bias, opts] = argAndOptions<Tensor | null, ConvTranspose2dOptions>("convTranspose2d", "bias", biasOrOptions, options, ["stride", "padding", "outputPadding", "groups", "dilation"]);
  return wrap(ops.conv_transpose2d_input(h(input, "convTranspose2d", "input"), h(weight, "convTranspose2d", "weight"), hOpt(bias, "convTranspose2d", "bias"),
    opts.stride ?? 1, opts.padding ?? 0, opts.outputPadding ?? 0, opts.groups ?? 1, opts.dilation ?? 1));
}

/** `y = x1ᵀ A x2 + b`. weight: (out, in1, in2). */
export const bilinear = (input1: Tensor, input2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor =>
  wrap(ops.bilinear(h(input1, "bilinear", "input1"), h(input2, "bilinear", "input2"), h(weight, "bilinear", "weight"), hOpt(bias, "bilinear", "bias")));

export function layerNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return wrap(ops.layer_norm(h(input, "layerNorm", "input"), normalizedShape, hOpt(weight, "layerNorm", "weight"), hOpt(bias, "layerNorm", "bias"), eps, true));
}
export function groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return wrap(ops.group_norm(h(input, "groupNorm", "input"), numGroups, hOpt(weight, "groupNorm", "weight"), hOpt(bias, "groupNorm", "bias"), eps, true));
}

/** Zeroes elements with probability `p` in training and scales the rest by 1/(1-p). */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout(): expected a probability p in [0, 1] but received ${p}`);
  return wrap(ops.dropout(h(input, "dropout", "input"), p, training));
}

/** Rows of `weight` picked by integer `input`; `paddingIdx` rows get no gradient. */
export function embedding(input: Tensor, weight: Tensor, opts: { paddingIdx?: number | null; scaleGradByFreq?: boolean; sparse?: boolean } = {}): Tensor {
  torchOptions("embedding", opts, ["paddingIdx", "scaleGradByFreq", "sparse"]);
  let pad = opts.paddingIdx ?? -1;
  if (opts.paddingIdx !== undefined && opts.paddingIdx !== null && opts.paddingIdx < 0) pad = weight.size(0) + opts.paddingIdx;
  return wrap(ops.embedding(h(weight, "embedding", "weight"), h(input, "embedding", "input"), pad, opts.scaleGradByFreq ?? false, opts.sparse ?? false));
}

export const leakyRelu = (input: Tensor, negativeSlope = 0.01): Tensor => wrap(ops.leaky_relu(h(input, "leakyRelu", "input"), negativeSlope));
/** GELU; `approximate: "tanh"` for the tanh approximation. */
export const gelu = (input: Tensor, approximate: "none" | "tanh" = "none"): Tensor => wrap(ops.gelu(h(input, "gelu", "input"), approximate));
export const silu = (input: Tensor): Tensor => input.silu();
export const tanh = (input: Tensor): Tensor => input.tanh();
export const sigmoid = (input: Tensor): Tensor => input.sigmoid();
export const softmax = (input: Tensor, dim: number): Tensor => input.softmax(dim);
export const logSoftmax = (input: Tensor, dim: number): Tensor => input.logSoftmax(dim);
/** Pads the last dimensions: `pad` = [left, right, top, bottom, ...] as in PyTorch (constant mode). */
export const pad = (input: Tensor, padding: number[], value = 0): Tensor => wrap(ops.constant_pad_nd(h(input, "pad", "input"), padding, value));
export const oneHot = (input: Tensor, numClasses = -1): Tensor => wrap(ops.one_hot(h(input, "oneHot", "input"), numClasses));

// ---- losses ----------------------------------------------------------------------------------

/** Options every loss takes. */
export interface LossOptions { reduction?: Reduction }
const red = (o: LossOptions): number => {
  const r = o.reduction ?? "mean";
  if (!(r in REDUCTION)) throw new TypeError(`loss: expected reduction "none", "mean" or "sum" but received ${JSON.stringify(r)}`);
  return REDUCTION[r];
};

/** Python warns and broadcasts when input and target shapes differ; torchlight broadcasts too. */
function broadcastPair(input: Tensor, target: Tensor, fn: (a: Tensor, b: Tensor) => Tensor): Tensor {
  const a = input.shape, b = target.shape;
  if (a.length === b.length && a.every((d, i) => d === b[i])) return fn(input, target);
  const x = input.expand(...broadcastShape(a, b)), y = target.expand(...broadcastShape(a, b));
  try { return fn(x, y); } finally { x.dispose(); y.dispose(); }
}
function broadcastShape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length), out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new TypeError(`loss: input shape [${a.join(", ")}] and target shape [${b.join(", ")}] do not broadcast; pass a target of the input's shape`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function mseLoss(input: Tensor, target: Tensor, o: LossOptions = {}): Tensor {
  torchOptions("mseLoss", o, ["reduction"]);
  return broadcastPair(input, target, (a, b) => wrap(ops.mse_loss(h(a, "mseLoss", "input"), h(b, "mseLoss", "target"), red(o))));
}
export function l1Loss(input: Tensor, target: Tensor, o: LossOptions = {}): Tensor {
  torchOptions("l1Loss", o, ["reduction"]);
  return broadcastPair(input, target, (a, b) => wrap(ops.l1_loss(h(a, "l1Loss", "input"), h(b, "l1Loss", "target"), red(o))));
}
export function smoothL1Loss(input: Tensor, target: Tensor, o: LossOptions & { beta?: number } = {}): Tensor {
  torchOptions("smoothL1Loss", o, ["reduction", "beta"]);
  const beta = o.beta ?? 1;
  if (beta === 0) return l1Loss(input, target, { ...(o.reduction ? { reduction: o.reduction } : {}) });
  return broadcastPair(input, target, (a, b) => wrap(ops.smooth_l1_loss(h(a, "smoothL1Loss", "input"), h(b, "smoothL1Loss", "target"), red(o), beta)));
}
export function huberLoss(input: Tensor, target: Tensor, o: LossOptions & { delta?: number } = {}): Tensor {
  torchOptions("huberLoss", o, ["reduction", "delta"]);
  return broadcastPair(input, target, (a, b) => wrap(ops.huber_loss(h(a, "huberLoss", "input"), h(b, "huberLoss", "target"), red(o), o.delta ?? 1)));
}

/** Negative log-likelihood of log-probabilities (N, C, ...) against class indices (N, ...). */
export function nllLoss(input: Tensor, target: Tensor, o: LossOptions & { weight?: Tensor | null; ignoreIndex?: number } = {}): Tensor {
  torchOptions("nllLoss", o, ["reduction", "weight", "ignoreIndex"]);
  return wrap(ops.nll_loss_nd(h(input, "nllLoss", "input"), h(target, "nllLoss", "target"), hOpt(o.weight, "nllLoss", "weight"), red(o), o.ignoreIndex ?? -100));
}

function sameShape(input: Tensor, target: Tensor, op: string): void {
  const a = input.shape, b = target.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new TypeError(`${op}(): expected a target of the input's shape [${a.join(", ")}] but received [${b.join(", ")}]`);
  }
}
/** Binary cross-entropy of probabilities in [0, 1]. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, o: LossOptions & { weight?: Tensor | null } = {}): Tensor {
  torchOptions("binaryCrossEntropy", o, ["reduction", "weight"]);
  sameShape(input, target, "binaryCrossEntropy");
  if (o.weight) {
    const w = o.weight.expand(...broadcastShape(target.shape, o.weight.shape));
    try { return wrap(ops.binary_cross_entropy(input._h, target._h, w._h, red(o))); } finally { w.dispose(); }
  }
  return wrap(ops.binary_cross_entropy(h(input, "binaryCrossEntropy", "input"), h(target, "binaryCrossEntropy", "target"), null, red(o)));
}
/** Binary cross-entropy of logits (numerically stable). */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, o: LossOptions & { weight?: Tensor | null; posWeight?: Tensor | null } = {}): Tensor {
  torchOptions("binaryCrossEntropyWithLogits", o, ["reduction", "weight", "posWeight"]);
  sameShape(input, target, "binaryCrossEntropyWithLogits");
  return wrap(ops.binary_cross_entropy_with_logits(h(input, "binaryCrossEntropyWithLogits", "input"), h(target, "binaryCrossEntropyWithLogits", "target"),
    hOpt(o.weight, "binaryCrossEntropyWithLogits", "weight"), hOpt(o.posWeight, "binaryCrossEntropyWithLogits", "posWeight"), red(o)));
}
/** KL divergence of log-probabilities `input` from `target`; `reduction: "batchmean"` divides the sum by the batch size. */
export function klDiv(input: Tensor, target: Tensor, o: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {}): Tensor {
  torchOptions("klDiv", o, ["reduction", "logTarget"]);
  const r = o.reduction ?? "mean";
  if (r === "batchmean") {
    const s = wrap(ops.kl_div(h(input, "klDiv", "input"), h(target, "klDiv", "target"), REDUCTION.sum, o.logTarget ?? false));
    if (input.ndim === 0) return s;
    try { return s.div(input.size(0)); } finally { s.dispose(); }
  }
  return wrap(ops.kl_div(h(input, "klDiv", "input"), h(target, "klDiv", "target"), red({ reduction: r }), o.logTarget ?? false));
}

/**
 * Resizes (N, C, H, W) to `size` [H', W'] or by `scaleFactor`, as `F.interpolate`
 * ("nearest" or "bilinear"; bilinear with `alignCorners` false by default, and with
 * `antialias` a low-pass filter when shrinking, as PIL and torchvision's resize).
 */
export function interpolate(input: Tensor, opts: { size?: number | [number, number]; scaleFactor?: number | [number, number]; mode?: "nearest" | "bilinear"; alignCorners?: boolean; antialias?: boolean }): Tensor {
  torchOptions("interpolate", opts, ["size", "scaleFactor", "mode", "alignCorners", "antialias"]);
  if (input.ndim !== 4) throw new TypeError(`interpolate: expected a 4-D input (N, C, H, W) but received ${input.ndim}-D; unsqueeze(0) a single image`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new TypeError("interpolate: give exactly one of size and scaleFactor");
  const size = opts.size === undefined ? null : typeof opts.size === "number" ? [opts.size, opts.size] : opts.size;
  const scales = opts.scaleFactor === undefined ? null : typeof opts.scaleFactor === "number" ? [opts.scaleFactor, opts.scaleFactor] : opts.scaleFactor;
  const mode = opts.mode ?? "nearest";
  if (mode === "nearest") {
    if (opts.alignCorners !== undefined) throw new TypeError("interpolate: alignCorners can only be set with mode 'bilinear'");
    if (opts.antialias) throw new TypeError("interpolate: antialias can only be set with mode 'bilinear'");
    return wrap(ops.upsample_nearest2d_vec(h(input, "interpolate", "input"), size, scales));
  }
  if (mode !== "bilinear") throw new TypeError(`interpolate: mode must be "nearest" or "bilinear"; got ${JSON.stringify(mode)}`);
  const upsample = opts.antialias ? ops._upsample_bilinear2d_aa_vec : ops.upsample_bilinear2d_vec;
  return wrap(upsample(h(input, "interpolate", "input"), size, opts.alignCorners ?? false, scales));
}
