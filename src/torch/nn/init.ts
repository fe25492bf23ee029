/**
 * @module torchlight/torch/nn/init: weight initialisation, as `torch.nn.init`.
 * Same arithmetic and the same random-number draws as PyTorch, so after the same
 * `manualSeed` a layer starts with bit-identical weights.
 */
import { argAndOptions } from "../errors.js";
import { noGrad } from "../autograd.js";
import type { Tensor } from "../tensor.js";
import { emptyLike, tensor } from "../creation.js";
import { truncNormalByRejection } from "../compat.js";
import { tidy } from "../memory.js";

export type Nonlinearity = "linear" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d"
  | "sigmoid" | "tanh" | "relu" | "leaky_relu" | "selu";
export type FanMode = "fan_in" | "fan_out";

/** The recommended gain for a nonlinearity, as `nn.init.calculate_gain`. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear": case "conv1d": case "conv2d": case "conv3d": case "conv_transpose1d": case "conv_transpose2d": case "conv_transpose3d": case "sigmoid":
      return 1;
    case "tanh": return 5.0 / 3;
    case "relu": return Math.sqrt(2.0);
    case "leaky_relu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2.0 / (1 + slope ** 2));
    }
    case "selu": return 3.0 / 4;
    default: throw new TypeError(`calculateGain(): unsupported nonlinearity ${JSON.stringify(nonlinearity)}; use one of linear, conv*, sigmoid, tanh, relu, leaky_relu, selu`);
  }
}

/** `[fanIn, fanOut]` of a weight of 2 or more dimensions. */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  const shape = t.shape;
  if (shape.length < 2) throw new TypeError(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape [${shape.join(", ")}])`);
  let receptive = 1;
  for (const d of shape.slice(2)) receptive *= d;
  return [shape[1]! * receptive, shape[0]! * receptive];
}
function fan(t: Tensor, mode: FanMode): number {
  if (mode !== "fan_in" && mode !== "fan_out") throw new TypeError(`init: mode ${JSON.stringify(mode)} not supported, please use one of fan_in, fan_out`);
  const [i, o] = calculateFanInAndFanOut(t);
  return mode === "fan_in" ? i : o;
}

export const uniform_ = (t: Tensor, a = 0, b = 1): Tensor => noGrad(() => t.uniform_(a, b));
export const normal_ = (t: Tensor, mean = 0, std = 1): Tensor => noGrad(() => t.normal_(mean, std));
export const constant_ = (t: Tensor, value: number): Tensor => noGrad(() => t.fill_(value));
export const zeros_ = (t: Tensor): Tensor => noGrad(() => t.zero_());
export const ones_ = (t: Tensor): Tensor => noGrad(() => t.fill_(1));

/**
 * Normal(mean, std) truncated to [a, b], drawn as the Python torch of the same line: by inverse
 * CDF up to 2.11, by rejection since 2.12 (see compat.ts).
 */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2): Tensor {
  const cdf = (x: number) => (1 + erf(x / Math.sqrt(2))) / 2;
  if (truncNormalByRejection()) return noGrad(() => tidy(() => truncNormalRejection(t, mean, std, a, b, cdf((b - mean) / std) - cdf((a - mean) / std))));
  const l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  return noGrad(() => {
    t.uniform_(2 * l - 1, 2 * u - 1);
    const inv = t.erfinv();
    t.copy_(inv);
    inv.dispose();
    t.mul_(std * Math.sqrt(2));
    t.add_(mean);
    return t.clamp_(a, b);
  });
}

// torch 2.12+'s _no_grad_trunc_normal_, draw for draw: with most of the mass inside [a, b]
// (p > 0.3), normal draws redrawn where they fall outside; else uniform proposals on [a, b]
// accepted against the normal's log-density.
function truncNormalRejection(t: Tensor, mean: number, std: number, a: number, b: number, p: number): Tensor {
  const any = (m: Tensor) => Boolean(m.any().item());
  if (p > 0.3) {
    // the bounds in the tensor's dtype, so the test agrees with the values it can hold
    const lo = tensor([a], { dtype: t.dtype }).item(), hi = tensor([b], { dtype: t.dtype }).item();
    // (x < lo) | (x > hi): with lo <= hi, exactly one of x >= lo, x <= hi fails outside, none inside
    const outside = (x: Tensor) => x.ge(lo).ne(x.le(hi));
    let result = t.normal_(mean, std);
    for (let mask = outside(result); any(mask); mask = outside(result)) result = emptyLike(result).normal_(mean, std).where(mask, result);
    if (result !== t) t.copy_(result);
    return t;
  }
  const mode = Math.max(a, Math.min(mean, b)), logPeak = -0.5 * ((mode - mean) / std) ** 2;
  const candidates = emptyLike(t), acceptBuf = emptyLike(t);
  const logDensity = (c: Tensor) => c.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(logPeak);
  t.uniform_(a, b);
  candidates.copy_(t);
  logDensity(candidates);
  let pending = acceptBuf.uniform_().log_().gt(candidates);
  if (!any(pending)) return t;
  let result = t;
  for (;;) {
    candidates.uniform_(a, b);
    result = candidates.where(pending, result);
    logDensity(candidates);
    pending = acceptBuf.uniform_().log_().gt(candidates).where(pending, pending);
    if (!any(pending)) break;
  }
  t.copy_(result);
  return t;
}

export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [i, o] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (i + o));
  const bound = Math.sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [i, o] = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2.0 / (i + o)));
}

/** Options of the Kaiming initialisers, as PyTorch's keywords (`a` may also come positionally). */
export interface KaimingOptions { a?: number; mode?: FanMode; nonlinearity?: Nonlinearity }

/** He initialisation, uniform. `a`: the negative slope of the leaky ReLU that follows. */
export function kaimingUniform_(t: Tensor, aOrOptions?: number | KaimingOptions, options?: Omit<KaimingOptions, "a">): Tensor {
  const [a, rest] = argAndOptions<number, Omit<KaimingOptions, "a">>("kaimingUniform_", "a", aOrOptions, options, ["mode", "nonlinearity"]);
  const opts: KaimingOptions = { ...rest, ...(a !== undefined ? { a } : {}) };
  if (t.shape.includes(0)) return t;
  const std = calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0) / Math.sqrt(fan(t, opts.mode ?? "fan_in"));
  const bound = Math.sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}
export function kaimingNormal_(t: Tensor, aOrOptions?: number | KaimingOptions, options?: Omit<KaimingOptions, "a">): Tensor {
  const [a, rest] = argAndOptions<number, Omit<KaimingOptions, "a">>("kaimingNormal_", "a", aOrOptions, options, ["mode", "nonlinearity"]);
  const opts: KaimingOptions = { ...rest, ...(a !== undefined ? { a } : {}) };
  if (t.shape.includes(0)) return t;
  const std = calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0) / Math.sqrt(fan(t, opts.mode ?? "fan_in"));
  return normal_(t, 0, std);
}

// C's erf, as Python's math.erf calls it: computed by libtorch in float64 (std::erf).
function erf(x: number): number {
  return tidy(() => tensor([x], { dtype: "float64" }).erf().item());
}
