/** @module torchlight/torch/nn/utils: gradient clipping, as `torch.nn.utils`. */
import { argAndOptions } from "../errors.js";
import { native } from "../native/index.js";
import { Tensor, handle, wrap } from "../tensor.js";

const handles = (params: Iterable<Tensor> | Tensor, op: string) =>
  (params instanceof Tensor ? [params] : [...params]).map((p) => handle(p, op, "parameters"));

/**
 * Scales gradients so that their total `normType`-norm is at most `maxNorm`; returns the
 * total norm before clipping (a 0-d tensor), as `torch.nn.utils.clip_grad_norm_`.
 */
export function clipGradNorm_(parameters: Iterable<Tensor> | Tensor, maxNorm: number, normTypeOrOptions?: number | { normType?: number; errorIfNonfinite?: boolean },
  options?: { errorIfNonfinite?: boolean }): Tensor {
  const [normType = 2, opts] = argAndOptions<number, { errorIfNonfinite?: boolean }>("clipGradNorm_", "normType", normTypeOrOptions, options, ["errorIfNonfinite"]);
  return wrap(native.clipGradNorm(handles(parameters, "clipGradNorm_"), maxNorm, normType, opts.errorIfNonfinite ?? false));
}
/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue_(parameters: Iterable<Tensor> | Tensor, clipValue: number): void {
  native.clipGradValue(handles(parameters, "clipGradValue_"), clipValue);
}
