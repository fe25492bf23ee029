/**
 * @module torchlight/torch/nn/functional: neural-network functions, as `torch.nn.functional`.
 * (A first set: what convolutional and MLP classifiers need. Modules build on these.)
 */
import { ops } from "../native/index.js";
import { Tensor, handle, wrap } from "../tensor.js";

const h = (t: Tensor, op: string, what: string) => handle(t, op, what);
const hOpt = (t: Tensor | null | undefined, op: string, what: string) => (t === undefined || t === null ? null : handle(t, op, what));
type Pair = number | [number, number];

/** `y = x Wᵀ + b`. x: (*, in), weight: (out, in), bias: (out). */
export const linear = (input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor =>
  wrap(ops.linear(h(input, "linear", "input"), h(weight, "linear", "weight"), hOpt(bias, "linear", "bias")));

/** 2-D convolution. input: (N, C_in, H, W), weight: (C_out, C_in/groups, kH, kW). */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null,
  opts: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {}): Tensor {
  return wrap(ops.conv2d(h(input, "conv2d", "input"), h(weight, "conv2d", "weight"), hOpt(bias, "conv2d", "bias"),
    opts.stride ?? 1, opts.padding ?? 0, opts.dilation ?? 1, opts.groups ?? 1));
}

/** Batch normalisation; in training mode it updates runningMean/runningVar in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  opts: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {}): Tensor {
  return wrap(ops.batch_norm(h(input, "batchNorm", "input"), hOpt(opts.weight, "batchNorm", "weight"), hOpt(opts.bias, "batchNorm", "bias"),
    hOpt(runningMean, "batchNorm", "runningMean"), hOpt(runningVar, "batchNorm", "runningVar"),
    opts.training ?? false, opts.momentum ?? 0.1, opts.eps ?? 1e-5, true));
}

export function maxPool2d(input: Tensor, kernelSize: Pair, opts: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}): Tensor {
  return wrap(ops.max_pool2d(h(input, "maxPool2d", "input"), kernelSize, opts.stride ?? kernelSize, opts.padding ?? 0, opts.dilation ?? 1, opts.ceilMode ?? false));
}
export function avgPool2d(input: Tensor, kernelSize: Pair, opts: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}): Tensor {
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
  return wrap(ops.cross_entropy_loss(h(input, "crossEntropy", "input"), h(target, "crossEntropy", "target"), hOpt(opts.weight, "crossEntropy", "weight"),
    REDUCTION[opts.reduction ?? "mean"], opts.ignoreIndex ?? -100, opts.labelSmoothing ?? 0));
}
