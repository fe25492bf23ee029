/**
 * @module torchlight/torch/nn/layer_args: what the layer files share: PyTorch-style argument
 * reading (positional or by name, through util/validate), parameter creation, and the shape
 * checks and default initialisation of Linear/Conv.
 */
import { empty, ones, zeros } from "../creation.js";
import { release } from "../memory.js";
import type { Tensor } from "../tensor.js";
import type { DType } from "../dtype.js";
import { TorchArgumentError } from "../errors.js";
import { pyArgs, required, tupleOf, invalid, type MakeError } from "../../util/validate.js";
import * as init from "./init.js";
import { Parameter } from "./module.js";

/** A size given as one int or a pair, as PyTorch's `_size_2_t`. */
export type Pair = number | [number, number];
/** Options of layers that can make their parameters in another dtype or on another device. */
export interface FactoryOptions { dtype?: DType; device?: string }

/** A parameter of `shape` with uninitialised values (the layer initialises it). */
export function emptyParameter(shape: number[], o: FactoryOptions = {}): Parameter {
  const t = empty(shape, o);
  const p = new Parameter(t);
  release(t);
  return p;
}
export function filledParameter(shape: number[], value: 0 | 1, o: FactoryOptions): Parameter {
  const t = value === 0 ? zeros(shape, o) : ones(shape, o);
  const p = new Parameter(t);
  release(t);
  return p;
}
export const FACTORY = ["dtype", "device"] as const;
export const argError = (layer: string): MakeError => (m) => new TorchArgumentError(m, layer);
/** A layer's arguments, as PyTorch's signature: `names` positional (or by name), then keyword options. */
export function layerArgs(layer: string, names: readonly string[], passed: unknown[], options: readonly string[]): Record<string, unknown> {
  const a = pyArgs(layer, names, passed, [...options, ...FACTORY], argError(layer));
  for (const n of names) if (!OPTIONAL.has(`${layer}.${n}`)) required(layer, n, a[n], argError(layer));
  return a;
}
/** Positional parameters that have defaults in PyTorch. */
export const OPTIONAL = new Set(["Flatten.startDim", "Flatten.endDim", "Dropout.p", "LeakyReLU.negativeSlope", "GELU.approximate"]);
export const factory = (a: Record<string, unknown>): FactoryOptions => ({ ...(a.dtype !== undefined ? { dtype: a.dtype as DType } : {}), ...(a.device !== undefined ? { device: a.device as string } : {}) });
export const pairOf = (layer: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): [number, number] => tupleOf(layer, name, v, 2, ok, what, argError(layer)) as [number, number];
export const pos = (x: number) => x > 0, nonNeg = (x: number) => x >= 0;
export function positiveInt(layer: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) invalid(layer, name, "a positive integer", v, argError(layer));
  return v as number;
}
export function bool(layer: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") invalid(layer, name, "a boolean", v, argError(layer));
  return v as boolean;
}
export function checkDim(layer: string, input: Tensor, dims: number[], what: string): void {
  if (!dims.includes(input.ndim)) {
    throw new TypeError(`${layer}: expected ${what} input (got ${input.ndim}D input of shape [${input.shape.join(", ")}])`);
  }
}
export function checkLastDim(layer: string, input: Tensor, dim: number, size: number, name: string): void {
  const got = input.shape.at(dim);
  if (got !== size) {
    throw new TypeError(`${layer}: expected input with ${name}=${size} in dimension ${dim} but the input has shape [${input.shape.join(", ")}]`);
  }
}
/** PyTorch's default for Linear/Conv: kaiming_uniform_(a=√5) for the weight, U(±1/√fan_in) for the bias. */
export function resetLinearLike(weight: Tensor, bias: Tensor | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = init.calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform_(bias, -bound, bound);
  }
}

/** A pooling size as given (an int stays an int, for PyTorch's repr), checked. */
export function poolPair(layer: string, name: string, v: unknown, ok: (x: number) => boolean): Pair {
  const what = ok === pos ? "a positive integer" : "a non-negative integer";
  return typeof v === "number" ? tupleOf(layer, name, v, 1, ok, what, argError(layer))[0]! : pairOf(layer, name, v, ok, what);
}
