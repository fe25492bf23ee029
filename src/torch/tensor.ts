/**
 * @module torchlight/torch/tensor: the Tensor class, in PyTorch's names and semantics.
 * A Tensor is a small JS object owning one native handle; every method is one call into the libtorch addon. Memory: see ./memory.ts.
 */
import { argAndOptions, argumentError, torchOptions } from "./errors.js";
import { isPlain, toByName } from "./conversion.js";
import { UNARY, UNARY_INPLACE } from "./unary_ops.js";
import { native, ops, type Handle } from "./native/index.js";
import { track, release, keep as keepTensor } from "./memory.js";
import { syncBackward } from "./distributed_state.js";
import { ARRAY_OF, dtypeCode, dtypeName, isDType, MEMORY_FORMAT, optDtypeCode as dt, type AnyTypedArray, type DType, type MemoryFormat } from "./dtype.js";
import { formatTensor } from "./format.js";

/** A number, or a 0-d value PyTorch would accept as a Scalar. */
export type Scalar = number | boolean;
/** One dimension or several. */
export type Dims = number | number[];
/** A nested array of numbers or booleans. */
export type NestedArray = Scalar | NestedArray[];

/** Wraps a fresh native handle into a Tensor owned by the current scope. */
export function wrap(h: Handle): Tensor {
  const t = new Tensor(h);
  track(t);
  return t;
}
/** Wraps a handle that may be null (an undefined tensor, e.g. an unused input's grad). */
export const wrapOpt = (h: Handle | null): Tensor | null => (h === null ? null : wrap(h));
export const wrapAll = (hs: Handle[]): Tensor[] => hs.map(wrap);

/** The handle of a Tensor argument, with a clear error for anything else. */
export function handle(t: unknown, op: string, what = "argument"): Handle {
  if (t instanceof Tensor) return t._h;
  throw argumentError(op, what, "a Tensor", t);
}

const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;
/** Options of {@link Tensor.backward}, as PyTorch's keyword arguments. */
export interface BackwardOptions { retainGraph?: boolean; createGraph?: boolean; inputs?: Tensor[] }

/** Options of reductions that keep or drop the reduced dimensions. */
export interface ReduceOptions { keepdim?: boolean; dtype?: DType }
const REDUCE_KEYS = ["keepdim", "dtype"] as const;
/** Options of std/var: Bessel's `correction` (default 1) and `keepdim`. */
export interface VarOptions { correction?: number; keepdim?: boolean }

/** `{ values, indices }` of max/min/sort/topk along a dimension, as PyTorch's named tuple. */
export interface ValuesIndices { values: Tensor; indices: Tensor }

const pair = (hs: [Handle, Handle]): ValuesIndices => ({ values: wrap(hs[0]), indices: wrap(hs[1]) });

/**
 * A multi-dimensional array on a device, with autograd.
 * @example
 * const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * y.backward();
 * console.log(x.grad?.toArray()); // [[2, 4], [6, 8]]
 */
export class Tensor {
  /** @internal native handle; 0 once disposed. */
  _h: Handle;
  /** @internal survives the tidy() that created it. */
  _kept = false;

  /** @internal use the creation functions (torch.tensor, torch.zeros, ...) instead. */
  constructor(h: Handle) {
    this._h = h;
  }

  // ---- metadata ------------------------------------------------------------------------
  /** The size of each dimension. */
  get shape(): number[] { return native.shape(this._h); }
  /** Size of one dimension, or the whole shape. */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] { return dim === undefined ? native.shape(this._h) : native.size(this._h, dim); }
  get dtype(): DType { return dtypeName(native.dtype(this._h)); }
  /** `"cpu"` or `"cuda:N"`. */
  get device(): string { return native.device(this._h); }
  get ndim(): number { return native.dim(this._h); }
  dim(): number { return native.dim(this._h); }
  numel(): number { return native.numel(this._h); }
  stride(): number[] { return native.strides(this._h); }
  isContiguous(): boolean { return native.isContiguous(this._h); }
  /** Whether the tensor's memory was freed (by dispose() or its tidy scope). */
  get isDisposed(): boolean { return this._h === 0; }

  // ---- lifetime ------------------------------------------------------------------------
  /** Frees the native memory now. */
  dispose(): void { release(this); }
  /** Survive the enclosing tidy(). */
  keep(): this { return keepTensor(this); }

  // ---- data ----------------------------------------------------------------------------
  /** The value of a one-element tensor. */
  item(): number {
    const v = native.item(this._h);
    return typeof v === "boolean" ? Number(v) : v;
  }
  /** A copy of the elements as a typed array (row-major; float16/bfloat16 as raw bits). */
  data(): AnyTypedArray {
    return new ARRAY_OF[this.dtype](native.data(this._h));
  }
  /** The elements as nested JS arrays (int64 as numbers, bool as booleans). */
  toArray(): NestedArray {
    const d = this.dtype;
    let flat: ArrayLike<number | bigint | boolean>;
    if (d === "float16" || d === "bfloat16") flat = this.to("float32").data() as Float32Array;
    else flat = this.data();
    const conv = d === "bool" ? (x: number | bigint | boolean) => x !== 0 : d === "int64" ? Number : (x: number | bigint | boolean) => x as number;
    const shape = this.shape;
    if (shape.length === 0) return conv(flat[0]!) as Scalar;
    let i = 0;
    const build = (k: number): NestedArray[] => {
      const n = shape[k]!;
      const out: NestedArray[] = new Array(n);
      for (let j = 0; j < n; j++) out[j] = k === shape.length - 1 ? (conv(flat[i++]!) as Scalar) : build(k + 1);
      return out;
    };
    return build(0);
  }
  /** Printed as PyTorch prints it. */
  toString(): string { return formatTensor(this); }
  [Symbol.for("nodejs.util.inspect.custom")](): string { return this._h === 0 ? "tensor(<disposed>)" : formatTensor(this); }

  // ---- conversion ----------------------------------------------------------------------
  /** Converts to a dtype or moves to a device (`"cpu"`, `"cuda"`, `"cuda:1"`). */
  to(target: DType | string | Tensor | { dtype?: DType; device?: string; nonBlocking?: boolean; copy?: boolean }, options: { nonBlocking?: boolean; copy?: boolean } = {}): Tensor {
    if (isPlain(target)) return toByName(this, torchOptions("to", target, ["dtype", "device", "nonBlocking", "copy"]), options);
    torchOptions("to", options, ["nonBlocking", "copy"]);
    if (target instanceof Tensor) return wrap(ops.to_other(this._h, target._h, options.nonBlocking, options.copy));
    if (typeof target !== "string") throw argumentError("to", "target", "a dtype name, a device string or a Tensor", target);
    if (isDType(target)) return wrap(ops.to_dtype(this._h, dtypeCode(target), options.nonBlocking, options.copy));
    return wrap(ops.to_device(this._h, target, native.dtype(this._h), options.nonBlocking, options.copy));
  }
  cpu(): Tensor { return this.to("cpu"); }
  cuda(index = 0): Tensor { return this.to(`cuda:${index}`); }
  float(): Tensor { return this.to("float32"); }
  double(): Tensor { return this.to("float64"); }
  half(): Tensor { return this.to("float16"); }
  long(): Tensor { return this.to("int64"); }
  int(): Tensor { return this.to("int32"); }
  bool(): Tensor { return this.to("bool"); }
  clone(): Tensor { return wrap(ops.clone(this._h)); }
  contiguous(memoryFormat?: MemoryFormat): Tensor {
    return wrap(native.contiguous(this._h, memoryFormat === undefined ? undefined : MEMORY_FORMAT[memoryFormat]));
  }
  /** A copy in page-locked host memory, so `to("cuda", { nonBlocking: true })` overlaps with compute (needs CUDA). */
  pinMemory(): Tensor { return wrap(ops.pin_memory(this._h)); }
  /** Whether this tensor lives in page-locked host memory. */
  isPinned(): boolean { return ops.is_pinned(this._h); }

  // ---- autograd ------------------------------------------------------------------------
  get requiresGrad(): boolean { return native.requiresGrad(this._h); }
  set requiresGrad(v: boolean) { native.setRequiresGrad(this._h, v); }
  /** Sets requiresGrad in place and returns this tensor. */
  requiresGrad_(v = true): this { native.setRequiresGrad(this._h, v); return this; }
  /** The accumulated gradient (a new handle on the same memory each access), or null. */
  get grad(): Tensor | null { return wrapOpt(native.grad(this._h)); }
  set grad(g: Tensor | null) { native.setGrad(this._h, g === null ? null : handle(g, "grad", "grad")); }
  /** Name of the autograd node that made this tensor (`"AddBackward0"`), or null for a leaf. */
  get gradFn(): string | null { return native.gradFn(this._h); }
  get isLeaf(): boolean { return native.isLeaf(this._h); }
  retainGrad(): void { native.retainGrad(this._h); }
  /**
   * Computes gradients of this tensor with respect to graph leaves (accumulated in `.grad`).
   * @example loss.backward(); y.backward(torch.onesLike(y), { retainGraph: true }); loss.backward({ retainGraph: true });
   */
  backward(gradient?: Tensor | BackwardOptions, options: BackwardOptions = {}): void {
    if (gradient !== undefined && !(gradient instanceof Tensor)) { options = gradient; gradient = undefined; }
    syncBackward(() => native.backward(this._h, gradient === undefined ? null : handle(gradient as Tensor, "backward", "gradient"),
      options.retainGraph, options.createGraph ?? false, options.inputs?.map((t) => handle(t, "backward", "inputs"))));
  }
  /** A tensor sharing memory with this one, cut from the autograd graph. */
  detach(): Tensor { return wrap(ops.detach(this._h)); }

  // ---- arithmetic ----------------------------------------------------------------------
  add(other: Tensor | Scalar, alpha?: Scalar): Tensor {
    return wrap(isTensor(other) ? ops.add_Tensor(this._h, other._h, alpha) : ops.add_Scalar(this._h, other, alpha));
  }
  add_(other: Tensor | Scalar, alpha?: Scalar): this {
    if (isTensor(other)) ops.add__Tensor(this._h, other._h, alpha); else ops.add__Scalar(this._h, other, alpha);
    return this;
  }
  sub(other: Tensor | Scalar, alpha?: Scalar): Tensor {
    return wrap(isTensor(other) ? ops.sub_Tensor(this._h, other._h, alpha) : ops.sub_Scalar(this._h, other, alpha));
  }
  sub_(other: Tensor | Scalar, alpha?: Scalar): this {
    if (isTensor(other)) ops.sub__Tensor(this._h, other._h, alpha); else ops.sub__Scalar(this._h, other, alpha);
    return this;
  }
  mul(other: Tensor | Scalar): Tensor {
    return wrap(isTensor(other) ? ops.mul_Tensor(this._h, other._h) : ops.mul_Scalar(this._h, other));
  }
  mul_(other: Tensor | Scalar): this {
    if (isTensor(other)) ops.mul__Tensor(this._h, other._h); else ops.mul__Scalar(this._h, other);
    return this;
  }
  /** True division; `roundingMode` `"trunc"` or `"floor"` as in PyTorch. */
  div(other: Tensor | Scalar, roundingMode?: "trunc" | "floor"): Tensor {
    if (roundingMode !== undefined) {
      return wrap(isTensor(other) ? ops.div_Tensor_mode(this._h, other._h, roundingMode) : ops.div_Scalar_mode(this._h, other, roundingMode));
    }
    return wrap(isTensor(other) ? ops.div_Tensor(this._h, other._h) : ops.div_Scalar(this._h, other));
  }
  div_(other: Tensor | Scalar): this {
    if (isTensor(other)) ops.div__Tensor(this._h, other._h); else ops.div__Scalar(this._h, other);
    return this;
  }
  pow(exponent: Tensor | Scalar): Tensor {
    return wrap(isTensor(exponent) ? ops.pow_Tensor_Tensor(this._h, exponent._h) : ops.pow_Tensor_Scalar(this._h, exponent));
  }
  pow_(exponent: Tensor | Scalar): this {
    if (isTensor(exponent)) ops.pow__Tensor(this._h, exponent._h); else ops.pow__Scalar(this._h, exponent);
    return this;
  }
  remainder(other: Tensor | Scalar): Tensor {
    return wrap(isTensor(other) ? ops.remainder_Tensor(this._h, other._h) : ops.remainder_Scalar(this._h, other));
  }
  fmod(other: Tensor | Scalar): Tensor {
    return wrap(isTensor(other) ? ops.fmod_Tensor(this._h, other._h) : ops.fmod_Scalar(this._h, other));
  }
  maximum(other: Tensor): Tensor { return wrap(ops.maximum(this._h, handle(other, "maximum", "other"))); }
  minimum(other: Tensor): Tensor { return wrap(ops.minimum(this._h, handle(other, "minimum", "other"))); }
  atan2(other: Tensor): Tensor { return wrap(ops.atan2(this._h, handle(other, "atan2", "other"))); }
  lerp(end: Tensor, weight: Tensor | Scalar): Tensor {
    return wrap(isTensor(weight) ? ops.lerp_Tensor(this._h, end._h, weight._h) : ops.lerp_Scalar(this._h, end._h, weight));
  }
  addcmul(t1: Tensor, t2: Tensor, value?: Scalar): Tensor { return wrap(ops.addcmul(this._h, t1._h, t2._h, value)); }
  addcdiv(t1: Tensor, t2: Tensor, value?: Scalar): Tensor { return wrap(ops.addcdiv(this._h, t1._h, t2._h, value)); }
  addcmul_(t1: Tensor, t2: Tensor, value?: Scalar): this { ops.addcmul_(this._h, t1._h, t2._h, value); return this; }
  addcdiv_(t1: Tensor, t2: Tensor, value?: Scalar): this { ops.addcdiv_(this._h, t1._h, t2._h, value); return this; }
  clamp(min?: Scalar | Tensor | null, max?: Scalar | Tensor | null): Tensor {
    if (isTensor(min) || isTensor(max)) {
      return wrap(ops.clamp_Tensor(this._h, isTensor(min) ? min._h : null, isTensor(max) ? max._h : null));
    }
    return wrap(ops.clamp(this._h, min, max));
  }
  clamp_(min?: Scalar | null, max?: Scalar | null): this { ops.clamp_(this._h, min, max); return this; }
  fill_(value: Scalar): this { ops.fill__Scalar(this._h, value); return this; }
  zero_(): this { ops.zero_(this._h); return this; }
  copy_(src: Tensor): this { ops.copy_(this._h, handle(src, "copy_", "src")); return this; }
  uniform_(from = 0, to = 1, generator?: { _id: number }): this { ops.uniform_(this._h, from, to, generator?._id); return this; }
  normal_(mean = 0, std = 1, generator?: { _id: number }): this { ops.normal_(this._h, mean, std, generator?._id); return this; }
  /**
   * Fills with random integers: `[0, 2^mantissa]` (or the dtype's range) without bounds,
   * `[0, to)` with one, `[from, to)` with two, as PyTorch's `random_`.
   */
  random_(from?: number, to?: number | null, generator?: { _id: number }): this {
    if (from === undefined) ops.random_(this._h, generator?._id);
    else if (to === undefined) ops.random__to(this._h, from, generator?._id);
    else ops.random__from(this._h, from, to, generator?._id);
    return this;
  }
  /** Fills with 0/1 draws of probability `p`. */
  bernoulli_(p = 0.5, generator?: { _id: number }): this { ops.bernoulli__float(this._h, p, generator?._id); return this; }

  // ---- comparison ----------------------------------------------------------------------
  eq(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.eq_Tensor(this._h, other._h) : ops.eq_Scalar(this._h, other)); }
  ne(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.ne_Tensor(this._h, other._h) : ops.ne_Scalar(this._h, other)); }
  lt(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.lt_Tensor(this._h, other._h) : ops.lt_Scalar(this._h, other)); }
  le(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.le_Tensor(this._h, other._h) : ops.le_Scalar(this._h, other)); }
  gt(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.gt_Tensor(this._h, other._h) : ops.gt_Scalar(this._h, other)); }
  ge(other: Tensor | Scalar): Tensor { return wrap(isTensor(other) ? ops.ge_Tensor(this._h, other._h) : ops.ge_Scalar(this._h, other)); }
  /** Same shape and elements. */
  equal(other: Tensor): boolean { return ops.equal(this._h, handle(other, "equal", "other")); }
  allclose(other: Tensor, rtol?: number, atol?: number, equalNan?: boolean): boolean {
    return ops.allclose(this._h, handle(other, "allclose", "other"), rtol, atol, equalNan);
  }

  // ---- reductions ----------------------------------------------------------------------
  sum(dimOrOptions?: Dims | null | ReduceOptions & { dim?: Dims | null }, options?: ReduceOptions): Tensor {
    const [dim, opts] = argAndOptions<Dims | null, ReduceOptions>("sum", "dim", dimOrOptions, options, REDUCE_KEYS), d = dt(opts.dtype);
    return wrap(dim === undefined || dim === null ? ops.sum(this._h, d) : ops.sum_dim_IntList(this._h, dim, opts.keepdim, d));
  }
  mean(dimOrOptions?: Dims | null | ReduceOptions & { dim?: Dims | null }, options?: ReduceOptions): Tensor {
    const [dim, opts] = argAndOptions<Dims | null, ReduceOptions>("mean", "dim", dimOrOptions, options, REDUCE_KEYS), d = dt(opts.dtype);
    return wrap(dim === undefined || dim === null ? ops.mean(this._h, d) : ops.mean_dim(this._h, dim, opts.keepdim, d));
  }
  prod(dimOrOptions?: number | ReduceOptions & { dim?: number }, options?: ReduceOptions): Tensor {
    const [dim, opts] = argAndOptions<number, ReduceOptions>("prod", "dim", dimOrOptions, options, REDUCE_KEYS), d = dt(opts.dtype);
    return wrap(dim === undefined ? ops.prod(this._h, d) : ops.prod_dim_int(this._h, dim, opts.keepdim, d));
  }
  /** Largest element; with `dim`, `{values, indices}` along it; with a Tensor, elementwise. */
  max(): Tensor;
  max(other: Tensor): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number | Tensor, keepdim?: boolean): Tensor | ValuesIndices {
    if (dim === undefined) return wrap(ops.max(this._h));
    if (isTensor(dim)) return wrap(ops.max_other(this._h, dim._h));
    return pair(ops.max_dim(this._h, dim, keepdim));
  }
  min(): Tensor;
  min(other: Tensor): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number | Tensor, keepdim?: boolean): Tensor | ValuesIndices {
    if (dim === undefined) return wrap(ops.min(this._h));
    if (isTensor(dim)) return wrap(ops.min_other(this._h, dim._h));
    return pair(ops.min_dim(this._h, dim, keepdim));
  }
  amax(dim: Dims = [], keepdim?: boolean): Tensor { return wrap(ops.amax(this._h, dim, keepdim)); }
  amin(dim: Dims = [], keepdim?: boolean): Tensor { return wrap(ops.amin(this._h, dim, keepdim)); }
  argmax(dim?: number, keepdim?: boolean): Tensor { return wrap(ops.argmax(this._h, dim, keepdim)); }
  argmin(dim?: number, keepdim?: boolean): Tensor { return wrap(ops.argmin(this._h, dim, keepdim)); }
  /** Standard deviation with Bessel's correction by default (`correction: 1`), as PyTorch. */
  std(dimOrOptions?: Dims | null | VarOptions & { dim?: Dims | null }, options?: VarOptions): Tensor {
    const [dim, o] = argAndOptions<Dims | null, VarOptions>("std", "dim", dimOrOptions, options, ["correction", "keepdim"]);
    return wrap(ops.std_correction(this._h, dim ?? null, o.correction ?? 1, o.keepdim));
  }
  var(dimOrOptions?: Dims | null | VarOptions & { dim?: Dims | null }, options?: VarOptions): Tensor {
    const [dim, o] = argAndOptions<Dims | null, VarOptions>("var", "dim", dimOrOptions, options, ["correction", "keepdim"]);
    return wrap(ops.var_correction(this._h, dim ?? null, o.correction ?? 1, o.keepdim));
  }
  /** p-norm over all elements or along `dim`. */
  norm(p: number = 2, dim?: Dims, keepdim?: boolean): Tensor {
    if (dim === undefined) return wrap(ops.norm_Scalar(this._h, p));
    return wrap(ops.norm_ScalarOpt_dim(this._h, p, dim, keepdim));
  }
  logsumexp(dim: Dims, keepdim?: boolean): Tensor { return wrap(ops.logsumexp(this._h, dim, keepdim)); }
  softmax(dim: number, dtype?: DType): Tensor { return wrap(ops.softmax_int(this._h, dim, dt(dtype))); }
  logSoftmax(dim: number, dtype?: DType): Tensor { return wrap(ops.log_softmax_int(this._h, dim, dt(dtype))); }
  cumsum(dim: number, dtype?: DType): Tensor { return wrap(ops.cumsum(this._h, dim, dt(dtype))); }
  cumprod(dim: number, dtype?: DType): Tensor { return wrap(ops.cumprod(this._h, dim, dt(dtype))); }
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices { return pair(ops.topk(this._h, k, dim, largest, sorted)); }
  sort(dim = -1, descending = false): ValuesIndices { return pair(ops.sort(this._h, dim, descending)); }
  argsort(dim = -1, descending = false): Tensor { return wrap(ops.argsort(this._h, dim, descending)); }
  all(dim?: number, keepdim?: boolean): Tensor { return wrap(dim === undefined ? ops.all(this._h) : ops.all_dim(this._h, dim, keepdim)); }
  any(dim?: number, keepdim?: boolean): Tensor { return wrap(dim === undefined ? ops.any(this._h) : ops.any_dim(this._h, dim, keepdim)); }

  // ---- linear algebra ------------------------------------------------------------------
  matmul(other: Tensor): Tensor { return wrap(ops.matmul(this._h, handle(other, "matmul", "other"))); }
  mm(other: Tensor): Tensor { return wrap(ops.mm(this._h, handle(other, "mm", "mat2"))); }
  bmm(other: Tensor): Tensor { return wrap(ops.bmm(this._h, handle(other, "bmm", "mat2"))); }
  dot(other: Tensor): Tensor { return wrap(ops.dot(this._h, handle(other, "dot", "tensor"))); }
  mv(vec: Tensor): Tensor { return wrap(ops.mv(this._h, handle(vec, "mv", "vec"))); }
  outer(other: Tensor): Tensor { return wrap(ops.outer(this._h, handle(other, "outer", "vec2"))); }

  // ---- shape ---------------------------------------------------------------------------
  view(...shape: number[] | [number[]]): Tensor { return wrap(ops.view(this._h, flatArgs(shape))); }
  reshape(...shape: number[] | [number[]]): Tensor { return wrap(ops.reshape(this._h, flatArgs(shape))); }
  viewAs(other: Tensor): Tensor { return wrap(ops.view_as(this._h, other._h)); }
  reshapeAs(other: Tensor): Tensor { return wrap(ops.reshape_as(this._h, other._h)); }
  permute(...dims: number[] | [number[]]): Tensor { return wrap(ops.permute(this._h, flatArgs(dims))); }
  transpose(dim0: number, dim1: number): Tensor { return wrap(ops.transpose_int(this._h, dim0, dim1)); }
  /** Transpose of a ≤2-D tensor. */
  t(): Tensor { return wrap(ops.t(this._h)); }
  get T(): Tensor { return wrap(ops.permute(this._h, [...Array(this.ndim).keys()].reverse())); }
  squeeze(dim?: number): Tensor { return wrap(dim === undefined ? ops.squeeze(this._h) : ops.squeeze_dim(this._h, dim)); }
  unsqueeze(dim: number): Tensor { return wrap(ops.unsqueeze(this._h, dim)); }
  flatten(startDim = 0, endDim = -1): Tensor { return wrap(ops.flatten_using_ints(this._h, startDim, endDim)); }
  unflatten(dim: number, sizes: number[]): Tensor { return wrap(ops.unflatten_int(this._h, dim, sizes)); }
  expand(...sizes: number[] | [number[]]): Tensor { return wrap(ops.expand(this._h, flatArgs(sizes))); }
  expandAs(other: Tensor): Tensor { return wrap(ops.expand_as(this._h, other._h)); }
  repeat(...sizes: number[] | [number[]]): Tensor { return wrap(ops.repeat(this._h, flatArgs(sizes))); }
  narrow(dim: number, start: number, length: number): Tensor { return wrap(ops.narrow(this._h, dim, start, length)); }
  select(dim: number, index: number): Tensor { return wrap(ops.select_int(this._h, dim, index)); }
  /** Elements `start:end:step` along `dim` (a view), as Python's `t[start:end:step]`. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(ops.slice_Tensor(this._h, dim, start ?? null, end ?? null, step));
  }
  /**
   * Python-style indexing: numbers select, `[start, end, step?]` arrays slice, `null`
   * inserts a dimension, Tensors index (advanced indexing), `"..."` fills the rest.
   * @example x.index(0, [1, 3]) // x[0, 1:3]
   */
  index(...idx: IndexItem[]): Tensor { return indexTensor(this, idx); }
  split(splitSize: number | number[], dim = 0): Tensor[] {
    return wrapAll(typeof splitSize === "number" ? ops.split_Tensor(this._h, splitSize, dim) : ops.split_with_sizes(this._h, splitSize, dim));
  }
  chunk(chunks: number, dim = 0): Tensor[] { return wrapAll(ops.chunk(this._h, chunks, dim)); }
  unbind(dim = 0): Tensor[] { return wrapAll(ops.unbind_int(this._h, dim)); }
  gather(dim: number, index: Tensor): Tensor { return wrap(ops.gather(this._h, dim, handle(index, "gather", "index"))); }
  scatter(dim: number, index: Tensor, src: Tensor | Scalar): Tensor {
    return wrap(isTensor(src) ? ops.scatter_src(this._h, dim, index._h, src._h) : ops.scatter_value(this._h, dim, index._h, src));
  }
  scatter_(dim: number, index: Tensor, src: Tensor | Scalar): this {
    if (isTensor(src)) ops.scatter__src(this._h, dim, index._h, src._h); else ops.scatter__value(this._h, dim, index._h, src);
    return this;
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return wrap(ops.scatter_add(this._h, dim, index._h, src._h)); }
  indexSelect(dim: number, index: Tensor): Tensor { return wrap(ops.index_select(this._h, dim, handle(index, "indexSelect", "index"))); }
  maskedFill(mask: Tensor, value: Scalar | Tensor): Tensor {
    return wrap(isTensor(value) ? ops.masked_fill_Tensor(this._h, mask._h, value._h) : ops.masked_fill_Scalar(this._h, handle(mask, "maskedFill", "mask"), value));
  }
  maskedFill_(mask: Tensor, value: Scalar): this { ops.masked_fill__Scalar(this._h, handle(mask, "maskedFill_", "mask"), value); return this; }
  maskedSelect(mask: Tensor): Tensor { return wrap(ops.masked_select(this._h, handle(mask, "maskedSelect", "mask"))); }
  /** `condition ? this : other`, elementwise. */
  where(condition: Tensor, other: Tensor | Scalar): Tensor {
    const c = handle(condition, "where", "condition");
    return wrap(isTensor(other) ? ops.where_self(c, this._h, other._h) : ops.where_ScalarOther(c, this._h, other));
  }
  flip(dims: Dims): Tensor { return wrap(ops.flip(this._h, dims)); }
  roll(shifts: Dims, dims: Dims = []): Tensor { return wrap(ops.roll(this._h, shifts, dims)); }
  tril(diagonal = 0): Tensor { return wrap(ops.tril(this._h, diagonal)); }
  triu(diagonal = 0): Tensor { return wrap(ops.triu(this._h, diagonal)); }
  movedim(source: Dims, destination: Dims): Tensor {
    return wrap(typeof source === "number" && typeof destination === "number" ? ops.movedim_int(this._h, source, destination) : ops.movedim_intlist(this._h, source, destination));
  }
  nonzero(): Tensor { return wrap(ops.nonzero(this._h)); }
  diag(diagonal = 0): Tensor { return wrap(ops.diag(this._h, diagonal)); }
}

type UnaryName = keyof typeof UNARY;
type InplaceName = `${(typeof UNARY_INPLACE)[number]}_`;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Tensor extends Record<UnaryName, () => Tensor>, Record<InplaceName, () => Tensor> {}

const opTable = ops as unknown as Record<string, (h: Handle) => Handle>;
for (const [js, aten] of Object.entries(UNARY)) {
  const fn = opTable[aten];
  if (!fn) throw new Error(`torchlight: the addon lacks op ${aten}; rebuild it (npm run build:native)`);
  Object.defineProperty(Tensor.prototype, js, { value: function (this: Tensor) { return wrap(fn(this._h)); }, writable: true });
}
for (const name of UNARY_INPLACE) {
  const fn = opTable[`${name}_`];
  if (!fn) throw new Error(`torchlight: the addon lacks op ${name}_; rebuild it (npm run build:native)`);
  Object.defineProperty(Tensor.prototype, `${name}_`, { value: function (this: Tensor) { fn(this._h); return this; }, writable: true });
}

function flatArgs(a: number[] | [number[]]): number[] {
  return a.length === 1 && Array.isArray(a[0]) ? a[0] : (a as number[]);
}

/** One item of {@link Tensor.index}. */
export type IndexItem = number | [number | null, (number | null)?, number?] | null | "..." | Tensor;

function indexTensor(t: Tensor, idx: IndexItem[]): Tensor {
  let cur = t;
  const made: Tensor[] = [];
  const advanced: (Handle | null)[] = [];
  let useAdvanced = false;
  const consumed = idx.filter((x) => x !== null && x !== "...").length;
  let dim = 0;
  const step = (next: Tensor) => { if (cur !== t) made.push(cur); cur = next; };
  for (const it of idx) {
    if (it === "...") {
      const skip = t.ndim - consumed;  // the dimensions no explicit item covers
      for (let s = 0; s < skip; s++) { advanced.push(null); dim++; }
    } else if (it === null) { step(cur.unsqueeze(dim)); advanced.push(null); dim++; }
    else if (typeof it === "number") step(cur.select(dim, it));
    else if (Array.isArray(it)) { step(cur.slice(dim, it[0], it[1] ?? null, it[2] ?? 1)); advanced.push(null); dim++; }
    else if (it instanceof Tensor) { advanced.push(it._h); useAdvanced = true; dim++; }
    else throw argumentError("index", "an index", "a number, [start, end, step], null, '...' or a Tensor", it);
  }
  if (useAdvanced) step(wrap(ops.index_Tensor(cur._h, advanced)));
  for (const m of made) m.dispose();
  return cur === t ? wrap(ops.alias(t._h)) : cur;
}
