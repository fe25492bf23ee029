/** @module torchlight/torch/functional: torch.* functions over several tensors. */
import { ops } from "./native/index.js";
import { Tensor, handle, wrap, wrapAll, type Scalar } from "./tensor.js";

const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;
const handles = (ts: Tensor[], op: string): number[] => {
  if (!Array.isArray(ts)) throw new TypeError(`${op}(): expected an array of Tensors but received ${typeof ts}`);
  return ts.map((t) => handle(t, op, "tensors"));
};

/** Joins tensors along an existing dimension. */
export const cat = (tensors: Tensor[], dim = 0): Tensor => wrap(ops.cat(handles(tensors, "cat"), dim));
/** Joins tensors along a new dimension. */
export const stack = (tensors: Tensor[], dim = 0): Tensor => wrap(ops.stack(handles(tensors, "stack"), dim));
/** Einstein summation. @example torch.einsum("bij,bjk->bik", a, b) */
export const einsum = (equation: string, ...operands: Tensor[]): Tensor => wrap(ops.einsum(equation, handles(operands, "einsum")));
export const matmul = (a: Tensor, b: Tensor): Tensor => a.matmul(b);
export const broadcastTensors = (...ts: Tensor[]): Tensor[] => wrapAll(ops.broadcast_tensors(handles(ts, "broadcastTensors")));
export const add = (a: Tensor, b: Tensor | Scalar, alpha?: Scalar): Tensor => a.add(b, alpha);
export const sub = (a: Tensor, b: Tensor | Scalar, alpha?: Scalar): Tensor => a.sub(b, alpha);
export const mul = (a: Tensor, b: Tensor | Scalar): Tensor => a.mul(b);
export const div = (a: Tensor, b: Tensor | Scalar, roundingMode?: "trunc" | "floor"): Tensor => a.div(b, roundingMode);
export const pow = (a: Tensor, b: Tensor | Scalar): Tensor => a.pow(b);
export const clamp = (a: Tensor, min?: Scalar | null, max?: Scalar | null): Tensor => a.clamp(min, max);
export const allclose = (a: Tensor, b: Tensor, rtol?: number, atol?: number): boolean => a.allclose(b, rtol, atol);

/** `torch.where(condition, input, other)`; with one argument, the indices of true elements. */
export function where(condition: Tensor, input: Tensor | Scalar, other: Tensor | Scalar): Tensor {
  const c = handle(condition, "where", "condition");
  if (isTensor(input)) return wrap(isTensor(other) ? ops.where_self(c, input._h, other._h) : ops.where_ScalarOther(c, input._h, other));
  return wrap(isTensor(other) ? ops.where_ScalarSelf(c, input, other._h) : ops.where_Scalar(c, input, other));
}
