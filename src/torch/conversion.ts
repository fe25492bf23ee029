/**
 * @module torchlight/torch/conversion: `Tensor.to` with PyTorch's keywords (`t.to({ device,
 * dtype, nonBlocking, copy })`): the dtype conversion and the move, through the Tensor's own
 * `to`. Imports Tensor as a type only (tensor.ts imports this).
 */
import { argumentError } from "./errors.js";
import type { DType } from "./dtype.js";
import type { Tensor } from "./tensor.js";

export const isPlain = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype;
/** `t.to({ device, dtype, ... })`, as PyTorch's keywords: the dtype conversion, then the move. */
export function toByName(t: Tensor, o: { dtype?: DType; device?: string; nonBlocking?: boolean; copy?: boolean }, rest: object): Tensor {
  if (Object.keys(rest).length) throw argumentError("to", "options", "one options object", rest);
  const flags = { ...(o.nonBlocking !== undefined ? { nonBlocking: o.nonBlocking } : {}), ...(o.copy !== undefined ? { copy: o.copy } : {}) };
  if (o.dtype === undefined || o.device === undefined) return t.to(o.dtype ?? o.device ?? t.dtype, flags);
  const moved = t.to(o.device, flags);
  try { return moved.to(o.dtype, flags); } finally { moved.dispose(); }
}
