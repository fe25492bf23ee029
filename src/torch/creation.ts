/** @module torchlight/torch/creation: making tensors, named as in PyTorch. */
import { native, ops } from "./native/index.js";
import { dtypeCode, dtypeOfArray, optDtypeCode, type DType } from "./dtype.js";
import { TorchArgumentError, argumentError } from "./errors.js";
import { checkOptions } from "../util/validate.js";
import { Tensor, handle, wrap, type NestedArray, type Scalar } from "./tensor.js";
import { genId, type Generator } from "./generator.js";

/** Options every factory takes. */
export interface TensorOptions {
  dtype?: DType;
  /** `"cpu"` (default), `"cuda"` or `"cuda:N"`. */
  device?: string;
  requiresGrad?: boolean;
}
/** Options of the random factories: a Generator to draw from instead of the default one. */
export interface RandomOptions extends TensorOptions { generator?: Generator }

type Shape = number[];
const FACTORY_OPTIONS = ["dtype", "device", "requiresGrad"] as const;
const RANDOM_OPTIONS = [...FACTORY_OPTIONS, "generator"] as const;
/** Checks a factory's options (unknown keys name the accepted ones) and returns the dtype code. */
function code(o: TensorOptions, op: string, random = false): number | undefined {
  for (const k in o) if (!(random ? RANDOM_OPTIONS : FACTORY_OPTIONS).includes(k as never)) checkOptions(op, o, random ? RANDOM_OPTIONS : FACTORY_OPTIONS, (m) => new TorchArgumentError(m, op));
  return optDtypeCode(o.dtype);
}

function finish(t: Tensor, o: TensorOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}

function shapeOf(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], op: string): Scalar[] {
  const out: Scalar[] = [];
  const walk = (v: NestedArray, k: number): void => {
    if (k === shape.length) {
      if (typeof v !== "number" && typeof v !== "boolean") throw argumentError(op, "data", "a number or boolean at depth " + k, v);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[k]) {
      throw new TypeError(`${op}(): expected a nested array with a regular shape [${shape.join(", ")}] but dimension ${k} has ${Array.isArray(v) ? `length ${v.length}` : "a scalar"}; every row must have the same length`);
    }
    for (const x of v) walk(x, k + 1);
  };
  walk(data, 0);
  return out;
}

const TYPED: Record<DType, (n: Scalar[]) => ArrayBufferView> = {
  float32: (v) => Float32Array.from(v, Number), float64: (v) => Float64Array.from(v, Number),
  int8: (v) => Int8Array.from(v, Number), int16: (v) => Int16Array.from(v, Number), int32: (v) => Int32Array.from(v, Number),
  int64: (v) => BigInt64Array.from(v, (x) => BigInt(Math.trunc(Number(x)))), uint8: (v) => Uint8Array.from(v, Number),
  bool: (v) => Uint8Array.from(v, (x) => (x ? 1 : 0)),
  float16: () => { throw new TypeError("tensor(): build float16 tensors from float32 data with .to('float16')"); },
  bfloat16: () => { throw new TypeError("tensor(): build bfloat16 tensors from float32 data with .to('bfloat16')"); },
};

/**
 * A tensor from a nested array or a typed array (copied). JS has one number type, so
 * plain numbers make float32 unless `dtype` says otherwise (PyTorch would pick int64 for
 * `[1, 2]`); booleans make bool; a typed array keeps its type (Int32Array → int32).
 * @example
 * torch.tensor([[1, 2], [3, 4]]);                 // float32
 * torch.tensor([0, 2, 1], { dtype: "int64" });    // class labels
 * torch.tensor(new Float64Array(6)).view(2, 3);
 */
export function tensor(data: NestedArray | ArrayBufferView, options: TensorOptions & { shape?: number[] } = {}): Tensor {
  checkOptions("tensor", options, [...FACTORY_OPTIONS, "shape"], (m) => new TorchArgumentError(m, "tensor"));
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const own = dtypeOfArray(data);
    if (own === undefined) throw argumentError("tensor", "data", "a Float32/Float64/Int8/Int16/Int32/BigInt64/Uint8 array", data);
    const n = (data as unknown as { length: number }).length;
    t = wrap(native.fromTypedArray(data, options.shape ?? [n], dtypeCode(own)));
    if (options.dtype !== undefined && options.dtype !== own) { const c = t.to(options.dtype); t.dispose(); t = c; }
  } else {
    const shape = shapeOf(data);
    const flat = flatten(data, shape, "tensor");
    const d = options.dtype ?? (flat.length > 0 && typeof flat[0] === "boolean" ? "bool" : "float32");
    const host = d === "float16" || d === "bfloat16" ? "float32" : d;
    t = wrap(native.fromTypedArray(TYPED[host](flat), shape, dtypeCode(host)));
    if (host !== d) { const c = t.to(d); t.dispose(); t = c; }
  }
  if (options.device !== undefined && options.device !== "cpu") { const c = t.to(options.device); t.dispose(); t = c; }
  return finish(t, options);
}

/** Filled with zeros. */
export const zeros = (shape: Shape, o: TensorOptions = {}): Tensor => finish(wrap(ops.zeros(shape, code(o, "zeros"), undefined, o.device)), o);
/** Filled with ones. */
export const ones = (shape: Shape, o: TensorOptions = {}): Tensor => finish(wrap(ops.ones(shape, code(o, "ones"), undefined, o.device)), o);
/** Uninitialised memory. */
export const empty = (shape: Shape, o: TensorOptions = {}): Tensor => finish(wrap(ops.empty_memory_format(shape, code(o, "empty"), undefined, o.device)), o);
/** Filled with `value`. */
export const full = (shape: Shape, value: Scalar, o: TensorOptions = {}): Tensor => finish(wrap(ops.full(shape, value, code(o, "full"), undefined, o.device)), o);
/** Uniform on [0, 1). */
export const rand = (shape: Shape, o: RandomOptions = {}): Tensor => finish(wrap(ops.rand_generator(shape, genId(o.generator), code(o, "rand", true), undefined, o.device)), o);
/** Standard normal. */
export const randn = (shape: Shape, o: RandomOptions = {}): Tensor => finish(wrap(ops.randn_generator(shape, genId(o.generator), code(o, "randn", true), undefined, o.device)), o);
/** Integers in [low, high) (int64 unless `dtype`). */
export const randint = (low: number, high: number, shape: Shape, o: RandomOptions = {}): Tensor =>
  finish(wrap(ops.randint_low_generator(low, high, shape, genId(o.generator), code(o, "randint", true), undefined, o.device)), o);
/** A random permutation of 0..n-1. */
export const randperm = (n: number, o: RandomOptions = {}): Tensor => finish(wrap(ops.randperm_generator(n, genId(o.generator), code(o, "randperm", true), undefined, o.device)), o);
/** The identity matrix (n×n, or n×m). */
export const eye = (n: number, m?: number, o: TensorOptions = {}): Tensor =>
  finish(wrap(m === undefined ? ops.eye(n, code(o, "eye"), undefined, o.device) : ops.eye_m(n, m, code(o, "eye"), undefined, o.device)), o);
/** `steps` points evenly from start to end, inclusive. */
export const linspace = (start: number, end: number, steps: number, o: TensorOptions = {}): Tensor =>
  finish(wrap(ops.linspace(start, end, steps, code(o, "linspace"), undefined, o.device)), o);

/**
 * `arange(end)` or `arange(start, end, step?)`. Integral arguments give int64, as PyTorch.
 * @example torch.arange(5); torch.arange(0, 1, 0.25)
 */
export function arange(start: number, end?: number | TensorOptions, step?: number | TensorOptions, o: TensorOptions = {}): Tensor {
  if (typeof end !== "number") return finish(wrap(ops.arange(start, code(end ?? {}, "arange"), undefined, (end ?? {}).device)), end ?? {});
  if (typeof step !== "number") return finish(wrap(ops.arange_start(start, end, code(step ?? {}, "arange"), undefined, (step ?? {}).device)), step ?? {});
  return finish(wrap(ops.arange_start_step(start, end, step, code(o, "arange"), undefined, o.device)), o);
}

export const zerosLike = (t: Tensor, o: TensorOptions = {}): Tensor => finish(wrap(ops.zeros_like(handle(t, "zerosLike", "input"), code(o, "zerosLike"), undefined, o.device)), o);
export const onesLike = (t: Tensor, o: TensorOptions = {}): Tensor => finish(wrap(ops.ones_like(handle(t, "onesLike", "input"), code(o, "onesLike"), undefined, o.device)), o);
export const emptyLike = (t: Tensor, o: TensorOptions = {}): Tensor => finish(wrap(ops.empty_like(handle(t, "emptyLike", "input"), code(o, "emptyLike"), undefined, o.device)), o);
export const fullLike = (t: Tensor, value: Scalar, o: TensorOptions = {}): Tensor => finish(wrap(ops.full_like(handle(t, "fullLike", "input"), value, code(o, "fullLike"), undefined, o.device)), o);
export const randLike = (t: Tensor, o: TensorOptions = {}): Tensor => finish(wrap(ops.rand_like(handle(t, "randLike", "input"), code(o, "randLike"), undefined, o.device)), o);
export const randnLike = (t: Tensor, o: TensorOptions = {}): Tensor => finish(wrap(ops.randn_like(handle(t, "randnLike", "input"), code(o, "randnLike"), undefined, o.device)), o);
export const randintLike = (t: Tensor, low: number, high: number, o: TensorOptions = {}): Tensor =>
  finish(wrap(ops.randint_like_low_dtype(handle(t, "randintLike", "input"), low, high, code(o, "randintLike"), undefined, o.device)), o);
