/**
 * @module torchlight/torch/weights_only: what a torch.save pickle may name when it is loaded
 * as Python 2.6 does by default (`torch.load(path, weights_only=True)`): the allow-list of
 * `torch._weights_only_unpickler._get_allowed_globals()`, and the bounds check every tensor
 * view gets against its storage before `as_strided` (a hostile offset, size or stride must
 * not read outside the storage, and libtorch 1.13's own check overflows).
 */

const DTYPE_NAMES = [
  "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int", "int16", "short",
  "int8", "uint8", "bool", "complex32", "complex64", "complex128", "cfloat", "cdouble", "chalf", "uint16", "uint32", "uint64",
  "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
];
const TYPE_PREFIXES = ["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool", "ComplexFloat", "ComplexDouble"];
const REBUILDS = [
  "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
  "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor", "_rebuild_wrapper_subclass",
  "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_device_tensor_from_numpy",
];

/** torch 2.6's weights-only allow-list, as `module.name`. */
export const TORCH_ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter", "torch.serialization._get_layout",
  "torch.Size", "torch.Tensor", "torch.device", "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
  "torch._tensor._rebuild_from_type_v2",
  ...DTYPE_NAMES.map((d) => `torch.${d}`),
  ...TYPE_PREFIXES.flatMap((t) => [`torch.${t}Tensor`, `torch.cuda.${t}Tensor`, `torch.${t}Storage`, `torch.cuda.${t}Storage`]),
  "torch.UntypedStorage", "torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.QUInt8Storage", "torch.QInt8Storage", "torch.QInt32Storage",
  ...REBUILDS.map((f) => `torch._utils.${f}`),
]);

/**
 * What torchlight accepts besides torch's list: containers that construct only data
 * (`builtins.dict/list/tuple/frozenset`) and libtorch's typed-container tags
 * (`torch.jit._pickle.*`, written by libtorch's own pickler: older torchlight checkpoints).
 */
export const TORCHLIGHT_ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  "builtins.dict", "builtins.list", "builtins.tuple", "builtins.frozenset",
  "torch.jit._pickle.restore_type_tag", "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
  "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist",
]);

export const isAllowedGlobal = (full: string): boolean => TORCH_ALLOWED_GLOBALS.has(full) || TORCHLIGHT_ALLOWED_GLOBALS.has(full);

/** torch dtype globals (`torch.float32`, `torch.long`, ...) to torchlight's dtype names, where one exists. */
export const DTYPE_GLOBALS: Readonly<Record<string, string>> = {
  float32: "float32", float: "float32", float64: "float64", double: "float64", float16: "float16", half: "float16", bfloat16: "bfloat16",
  int64: "int64", long: "int64", int32: "int32", int: "int32", int16: "int16", short: "int16", int8: "int8", uint8: "uint8", bool: "bool",
};

/** A count or a size from a file: a non-negative safe integer. */
export const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
// pickled integers beyond 2^53 arrive as bigints: counted (and refused by the bounds) like the rest
const isCountOrBig = (v: unknown): v is number | bigint => isCount(v) || (typeof v === "bigint" && v >= 0n);

/**
 * Why a view (`offset`, `size`, `stride`, in elements) does not fit a storage of `numel`
 * elements, or null when it does. Arithmetic in BigInt, so no product or sum overflows.
 */
export function viewProblem(numel: number, offset: unknown, size: unknown, stride: unknown): string | null {
  if (!isCountOrBig(offset)) return `its storage offset ${String(offset)} is not a non-negative integer`;
  if (!Array.isArray(size) || !size.every(isCountOrBig)) return `its size ${JSON.stringify(size)} is not a list of non-negative integers`;
  if (!Array.isArray(stride) || !stride.every(isCountOrBig)) return `its stride ${JSON.stringify(stride)} is not a list of non-negative integers`;
  if (size.length !== stride.length) return `its size has ${size.length} dimensions and its stride ${stride.length}`;
  if (size.length > 64) return `it has ${size.length} dimensions (at most 64)`;
  if (size.some((s) => BigInt(s) === 0n)) return BigInt(offset) <= BigInt(numel) ? null : `its storage offset ${offset} is past the storage's ${numel} elements`;
  if (size.reduce((a: bigint, s) => a * BigInt(s), 1n) > BigInt(Number.MAX_SAFE_INTEGER)) return `its size [${size.join(", ")}] has more than 2^53 elements`;
  let last = BigInt(offset);
  for (let i = 0; i < size.length; i++) last += (BigInt(size[i]!) - 1n) * BigInt(stride[i]!);
  return last < BigInt(numel) ? null
    : `it reaches element ${last} of a storage of ${numel} elements (offset ${offset}, size [${size.join(", ")}], stride [${stride.join(", ")}])`;
}
