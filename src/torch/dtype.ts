/** @module torchlight/torch/dtype: dtypes as PyTorch names them, and their native codes. */

/** A tensor element type, named as in PyTorch (`torch.float32` is `"float32"`). */
export type DType =
  | "float32" | "float64" | "float16" | "bfloat16"
  | "int8" | "int16" | "int32" | "int64" | "uint8" | "bool";

// c10::ScalarType enum values.
const CODE: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7, bool: 11, bfloat16: 15,
};
const NAME: Record<number, DType> = Object.fromEntries(Object.entries(CODE).map(([k, v]) => [v, k as DType]));

/** The native code of a dtype; throws a clear error for an unknown name. */
export function dtypeCode(d: DType): number {
  const c = CODE[d];
  if (c === undefined) throw new TypeError(`Expected a dtype (${Object.keys(CODE).join(", ")}) but received ${JSON.stringify(d)}`);
  return c;
}
/** The native code of an optional dtype (undefined stays undefined: the op's default). */
export const optDtypeCode = (d: DType | undefined): number | undefined => (d === undefined ? undefined : dtypeCode(d));
/** Whether a string names a dtype. */
export const isDType = (s: string): s is DType => Object.hasOwn(CODE, s);

/** The dtype name of a native code. */
export function dtypeName(code: number): DType {
  const n = NAME[code];
  if (n === undefined) throw new TypeError(`torchlight has no name for native dtype code ${code}`);
  return n;
}

/** The typed array that holds a dtype's elements (float16/bfloat16 as raw Uint16 bits). */
export type TypedArrayFor<D extends DType> =
  D extends "float32" ? Float32Array : D extends "float64" ? Float64Array
  : D extends "int8" ? Int8Array : D extends "int16" ? Int16Array : D extends "int32" ? Int32Array
  : D extends "int64" ? BigInt64Array : D extends "uint8" | "bool" ? Uint8Array
  : Uint16Array;

export type AnyTypedArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

/** Constructors of the typed array each dtype's data() returns. */
export const ARRAY_OF: Record<DType, { new (b: ArrayBuffer): AnyTypedArray }> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, bool: Uint8Array,
};

/** The dtype a typed array holds by default. */
export function dtypeOfArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof Int16Array) return "int16";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Uint8Array) return "uint8";
  return undefined;
}

export const isFloating = (d: DType): boolean => d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";

/** PyTorch's memory formats, by native code. */
export const MEMORY_FORMAT = { contiguousFormat: 1, channelsLast: 2, preserveFormat: 0, channelsLast3d: 3 } as const;
export type MemoryFormat = keyof typeof MEMORY_FORMAT;
