/** @module torchlight/torch/autograd: grad mode and functional gradients. */
import { native } from "./native/index.js";
import { Tensor, handle, wrapOpt } from "./tensor.js";

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(enabled);
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError("noGrad/enableGrad take a synchronous function; grad mode is per-thread state and an await would leak it to other code.");
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs `fn` with gradient recording off (PyTorch's `with torch.no_grad()`). */
export const noGrad = <T>(fn: () => T): T => withGradMode(false, fn);
/** Runs `fn` with gradient recording on. */
export const enableGrad = <T>(fn: () => T): T => withGradMode(true, fn);
/** Whether operations are being recorded for autograd. */
export const isGradEnabled = (): boolean => native.isGradEnabled();
/** Turns gradient recording on or off for the rest of the thread. */
export const setGradEnabled = (enabled: boolean): void => { native.setGradEnabled(enabled); };

/** Options of {@link grad}, as `torch.autograd.grad`. */
export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs`, without touching `.grad`.
 * @example const [dx] = torch.autograd.grad([y], [x]);
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const outs = (Array.isArray(outputs) ? outputs : [outputs]).map((t) => handle(t, "autograd.grad", "outputs"));
  const ins = (Array.isArray(inputs) ? inputs : [inputs]).map((t) => handle(t, "autograd.grad", "inputs"));
  const gos = options.gradOutputs?.map((t) => (t === null ? null : handle(t, "autograd.grad", "gradOutputs")));
  return native.autogradGrad(outs, ins, gos, options.retainGraph, options.createGraph ?? false, options.allowUnused ?? false).map(wrapOpt);
}
