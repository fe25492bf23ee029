/**
 * @module torchlight/torch/serialization: `torch.save` / `torch.load` in PyTorch's own file
 * format (a zip of a pickle and tensor records; the zip by libtorch, the pickle here).
 * Python's `torch.load` opens what `save` writes, and `load` opens files saved by Python.
 */
import { checkOptions } from "../util/validate.js";
import { TorchArgumentError } from "./errors.js";
import { readFileSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { readFile, writeFile, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { native, ops } from "./native/index.js";
import { dtypeCode, type DType } from "./dtype.js";
import { Tensor, wrap } from "./tensor.js";
import { TorchError } from "./errors.js";
import { pickle } from "./pickler.js";

/**
 * What `save` stores and `load` returns: tensors, numbers, bigints, strings, booleans, null,
 * arrays, plain objects (Python dicts with str keys) and Maps (dicts with int keys, such as
 * an optimizer state dict's `state`).
 */
export type Saveable = Tensor | number | bigint | string | boolean | null | undefined | Saveable[] | { [key: string]: Saveable } | Map<string | number, Saveable>;

/**
 * The bytes of a torch.save file holding `obj`, as Python's `torch.save` writes it: data.pkl
 * (only types Python's default `weights_only` load allows), a `byteorder` record, and one
 * record per tensor. Python 1.13 and 2.x open it with a plain `torch.load(path)`.
 */
export function serialize(obj: Saveable | object): Buffer {
  const { pkl, storages } = pickle(obj);
  const records: [string, Buffer][] = [["data.pkl", pkl], ["byteorder", Buffer.from("little")]];
  for (const { key, tensor } of storages) records.push([`data/${key}`, Buffer.from(native.data(tensor._h))]);
  return native.writeZip(records);
}
/** Options of {@link load}. */
export interface LoadOptions {
  /** Where tensors go: a device string for all of them (`"cpu"` reads a GPU checkpoint on a CPU machine). */
  mapLocation?: string;
}

/** What the bytes of a torch.save file (from torchlight or Python) hold. */
export function deserialize(bytes: Buffer, options: LoadOptions = {}): Saveable {
  checkOptions("load", options, ["mapLocation"], (m) => new TorchArgumentError(m, "load"));
  const records = new Map<string, Buffer>();
  let pkl: Buffer | undefined;
  for (const [name, data] of native.readZip(bytes)) {
    records.set(name, data);
    if (name === "data.pkl") pkl = data;
  }
  if (pkl === undefined) {
    throw new TorchError("TORCH_VALUE_ERROR", "load(): the file is a zip without data.pkl, so it is not a torch.save file; it may be a TorchScript archive (use torch.jit.load in Python)", "load");
  }
  return unpickle(pkl, records, options);
}

function tmpName(path: string): string {
  return `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
}

/**
 * Writes `obj` to `path` as Python's `torch.save` would (atomically: a temporary file is
 * renamed over `path`). Synchronous; see {@link saveAsync}.
 * @example torch.save(model.stateDict(), "model.pt")  // Python: model.load_state_dict(torch.load("model.pt"))
 */
export function save(obj: Saveable | object, path: string): void {
  const bytes = serialize(obj);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Reads a file written by `torch.save` (Python or torchlight). Tensors land on the device they were saved from. */
export function load(path: string, options: LoadOptions = {}): Saveable {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) {
    throw new TorchError("TORCH_VALUE_ERROR", `load(): cannot read ${path}: ${(e as Error).message}; check the path`, "load", { cause: e });
  }
  return deserialize(bytes, options);
}

/** {@link save}, with the file written off the JS thread. */
export async function saveAsync(obj: Saveable | object, path: string): Promise<void> {
  await writeAtomic(serialize(obj), path);
}
/** Writes bytes to `path` off the JS thread, atomically (a temporary file renamed over it). */
export async function writeAtomic(bytes: Uint8Array, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
/** {@link load}, with the file read off the JS thread. */
export async function loadAsync(path: string, options: LoadOptions = {}): Promise<Saveable> {
  return deserialize(await readFile(path), options);
}

// ---- unpickling ------------------------------------------------------------------------
// The subset of Python's pickle that torch.save files use (protocols 2-5), with torch's
// globals: _rebuild_tensor_v2, _rebuild_parameter, typed storages, OrderedDict. Any other
// Python class comes back as a PickledObject rather than failing the whole load.

/** A Python object of a class torchlight does not know (its module, name and pickled state). */
export class PickledObject {
  state: unknown = undefined;
  constructor(readonly module: string, readonly name: string, readonly args: unknown[]) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: "float32", DoubleStorage: "float64", HalfStorage: "float16", BFloat16Storage: "bfloat16",
  LongStorage: "int64", IntStorage: "int32", ShortStorage: "int16", CharStorage: "int8", ByteStorage: "uint8", BoolStorage: "bool",
};
const BYTES_PER: Record<number, (b: ArrayBuffer) => ArrayBufferView> = {
  1: (b) => new Uint8Array(b), 2: (b) => new Uint16Array(b), 4: (b) => new Float32Array(b), 8: (b) => new Float64Array(b),
};
/** Bytes per element of each dtype. */
export const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** A CPU tensor of `dtype` and `shape` holding a copy of little-endian `bytes`. */
export function tensorFromBytes(bytes: Uint8Array, dtype: DType, shape: number[]): Tensor {
  const es = ELEMENT_SIZE[dtype];
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return wrap(native.fromTypedArray(BYTES_PER[es]!(copy), shape, dtypeCode(dtype)));
}

class StorageType { constructor(readonly dtype: DType) {} }
class Global { constructor(readonly module: string, readonly name: string) {} }
const MARK = Symbol("mark");
type Storage = { flat: Tensor; dtype: DType };

function unpickle(pkl: Buffer, records: Map<string, Buffer>, options: LoadOptions): Saveable {
  const made: Tensor[] = [];
  const storages = new Map<string, Storage>();
  const fail = (what: string): never => { throw new TorchError("TORCH_VALUE_ERROR", `load(): ${what}`, "load"); };

  const storageFor = (pid: unknown[]): Storage => {
    const [kind, type, key, location] = pid as [string, unknown, string, string];
    if (kind !== "storage" || !(type instanceof StorageType)) fail(`unknown persistent id ${JSON.stringify(String(kind))}`);
    const st = type as StorageType;
    let s = storages.get(key);
    if (s) return s;
    const rec = records.get(`data/${key}`) ?? fail(`the file lacks the record data/${key} of a tensor storage`);
    let flat = tensorFromBytes(rec, st.dtype, [rec.byteLength / ELEMENT_SIZE[st.dtype]]);
    made.push(flat);
    const device = options.mapLocation ?? location;
    if (device !== "cpu") {
      if (device.startsWith("cuda") && !native.config().cuda) {
        fail(`the file holds tensors saved on ${location}, but CUDA is not available here; pass { mapLocation: "cpu" } to load them on the CPU`);
      }
      flat = flat.to(device);
      made.push(flat);
    }
    s = { flat, dtype: st.dtype };
    storages.set(key, s);
    return s;
  };

  const rebuildTensor = (args: unknown[]): Tensor => {
    const [storage, offset, size, stride, requiresGrad] = args as [Storage, number, number[], number[], boolean];
    const t = wrap(ops.as_strided(storage.flat._h, size, stride, offset));
    if (requiresGrad) t.requiresGrad_(true);
    return t;
  };

  const call = (fn: unknown, args: unknown[]): unknown => {
    if (!(fn instanceof Global)) return fail("a pickled call of something that is not a global");
    const g = fn as Global;
    const full = `${g.module}.${g.name}`;
    switch (full) {
      case "torch._utils._rebuild_tensor_v2": case "torch._utils._rebuild_tensor": return rebuildTensor(args);
      case "torch._utils._rebuild_parameter": case "torch._utils._rebuild_parameter_with_state": {
        const t = args[0] as Tensor;
        if (args[1] === true && !t.requiresGrad) t.requiresGrad_(true);
        return t;
      }
      case "collections.OrderedDict": case "builtins.dict": return new Map(args.length ? (args[0] as [unknown, unknown][]) : []);
      case "builtins.set": case "builtins.frozenset": return args.length ? [...(args[0] as unknown[])] : [];
      case "builtins.list": case "builtins.tuple": return args.length ? [...(args[0] as unknown[])] : [];
      // libtorch's pickler tags typed containers; the container itself is the value
      case "torch.jit._pickle.restore_type_tag": case "torch.jit._pickle.build_intlist": case "torch.jit._pickle.build_doublelist":
      case "torch.jit._pickle.build_boollist": case "torch.jit._pickle.build_tensorlist": return args[0];
      case "_codecs.encode": return Buffer.from(String(args[0]), "latin1");
      case "torch.device": return args.length > 1 ? `${String(args[0])}:${String(args[1])}` : String(args[0]);
      default: return new PickledObject(g.module, g.name, args);
    }
  };

  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const view = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  let pos = 0;
  const u8 = () => view.getUint8(pos++);
  const u16 = () => { const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { const v = view.getUint32(pos, true); pos += 4; return v; };
  const str = (n: number, enc: BufferEncoding = "utf8") => { const s = pkl.toString(enc, pos, pos + n); pos += n; return s; };
  const line = () => { const end = pkl.indexOf(10, pos); const s = pkl.toString("latin1", pos, end); pos = end + 1; return s; };
  const popMark = (): unknown[] => { const m = marks.pop() ?? fail("a corrupt pickle (MARK missing)"); return stack.splice(m); };
  const top = () => stack[stack.length - 1];
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof Map)) fail("a corrupt pickle (SETITEMS on a non-dict)");
    for (let i = 0; i < items.length; i += 2) (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const longFrom = (n: number): number | bigint => {
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[pos + i]!);
    if (pkl[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    pos += n;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  try {
    for (;;) {
      const op = u8();
      switch (op) {
        case 0x80: u8(); break;                                   // PROTO
        case 0x95: pos += 8; break;                               // FRAME
        case 0x2e: return finish(stack.pop(), new Map()) as Saveable;  // STOP
        case 0x28: marks.push(stack.length); break;               // MARK
        case 0x30: stack.pop(); break;                            // POP
        case 0x31: popMark(); break;                              // POP_MARK
        case 0x32: stack.push(top()); break;                      // DUP
        case 0x4e: stack.push(null); break;                       // NONE
        case 0x88: stack.push(true); break;                       // NEWTRUE
        case 0x89: stack.push(false); break;                      // NEWFALSE
        case 0x4a: stack.push(view.getInt32(pos, true)); pos += 4; break;  // BININT
        case 0x4b: stack.push(u8()); break;                       // BININT1
        case 0x4d: stack.push(u16()); break;                      // BININT2
        case 0x8a: { const n = u8(); stack.push(longFrom(n)); break; }  // LONG1
        case 0x8b: { const n = u32(); stack.push(longFrom(n)); break; } // LONG4
        case 0x47: stack.push(view.getFloat64(pos, false)); pos += 8; break;  // BINFLOAT (big-endian)
        case 0x49: { const s = line(); stack.push(s === "01" ? true : s === "00" ? false : Number(s)); break; }  // INT
        case 0x4c: stack.push(Number(line().replace(/L$/, ""))); break;  // LONG
        case 0x46: stack.push(Number(line())); break;             // FLOAT
        case 0x58: { const n = u32(); stack.push(str(n)); break; }  // BINUNICODE
        case 0x8c: { const n = u8(); stack.push(str(n)); break; }   // SHORT_BINUNICODE
        case 0x8d: { const n = Number(view.getBigUint64(pos, true)); pos += 8; stack.push(str(n)); break; }  // BINUNICODE8
        case 0x54: { const n = u32(); stack.push(str(n, "latin1")); break; }  // BINSTRING
        case 0x55: { const n = u8(); stack.push(str(n, "latin1")); break; }   // SHORT_BINSTRING
        case 0x42: { const n = u32(); stack.push(Buffer.from(pkl.subarray(pos, pos + n))); pos += n; break; }  // BINBYTES
        case 0x43: { const n = u8(); stack.push(Buffer.from(pkl.subarray(pos, pos + n))); pos += n; break; }   // SHORT_BINBYTES
        case 0x5d: stack.push([]); break;                         // EMPTY_LIST
        case 0x61: { const v = stack.pop(); (top() as unknown[]).push(v); break; }  // APPEND
        case 0x65: { const items = popMark(); (top() as unknown[]).push(...items); break; }  // APPENDS
        case 0x6c: stack.push(popMark()); break;                  // LIST
        case 0x29: stack.push([]); break;                         // EMPTY_TUPLE
        case 0x74: stack.push(popMark()); break;                  // TUPLE
        case 0x85: stack.push([stack.pop()]); break;              // TUPLE1
        case 0x86: { const b = stack.pop(); const a = stack.pop(); stack.push([a, b]); break; }  // TUPLE2
        case 0x87: { const c = stack.pop(); const b = stack.pop(); const a = stack.pop(); stack.push([a, b, c]); break; }  // TUPLE3
        case 0x7d: stack.push(new Map()); break;                  // EMPTY_DICT
        case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; }  // DICT
        case 0x73: { const v = stack.pop(); const k = stack.pop(); setItems(top(), [k, v]); break; }  // SETITEM
        case 0x75: { const items = popMark(); setItems(top(), items); break; }  // SETITEMS
        case 0x8f: stack.push([]); break;                         // EMPTY_SET
        case 0x90: { const items = popMark(); (top() as unknown[]).push(...items); break; }  // ADDITEMS
        case 0x91: stack.push(popMark()); break;                  // FROZENSET
        case 0x63: { const module = line(); const name = line(); stack.push(globalFor(module, name)); break; }  // GLOBAL
        case 0x93: { const name = stack.pop() as string; const module = stack.pop() as string; stack.push(globalFor(module, name)); break; }  // STACK_GLOBAL
        case 0x52: { const args = stack.pop() as unknown[]; const fn = stack.pop(); stack.push(call(fn, args)); break; }  // REDUCE
        case 0x81: { const args = stack.pop() as unknown[]; const cls = stack.pop(); stack.push(call(cls, args)); break; }  // NEWOBJ
        case 0x62: {                                              // BUILD
          const state = stack.pop();
          const obj = top();
          if (obj instanceof PickledObject) obj.state = state;
          // OrderedDict's state is its `_metadata` (module versions): not needed here
          break;
        }
        case 0x51: { const pid = stack.pop() as unknown[]; stack.push(storageFor(pid)); break; }  // BINPERSID
        case 0x71: memo.set(u8(), top()); break;                  // BINPUT
        case 0x72: memo.set(u32(), top()); break;                 // LONG_BINPUT
        case 0x94: memo.set(memo.size, top()); break;             // MEMOIZE
        case 0x68: stack.push(memo.get(u8())); break;             // BINGET
        case 0x6a: stack.push(memo.get(u32())); break;            // LONG_BINGET
        default: fail(`unsupported pickle opcode 0x${op.toString(16)} at byte ${pos - 1}`);
      }
    }
  } finally {
    // the flat storages: every returned tensor is a view that keeps its storage alive
    for (const t of made) t.dispose();
  }
}

function globalFor(module: string, name: string): unknown {
  if (module === "torch" && name in STORAGE_DTYPES) return new StorageType(STORAGE_DTYPES[name]!);
  return new Global(module, name);
}

/** Python dicts with only str keys become plain objects; others stay Maps. */
function finish(v: unknown, seen: Map<unknown, unknown>): unknown {
  if (v === null || typeof v !== "object" || v instanceof Tensor || Buffer.isBuffer(v)) return v;
  const done = seen.get(v);
  if (done !== undefined) return done;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    seen.set(v, out);
    for (const x of v) out.push(finish(x, seen));
    return out;
  }
  if (v instanceof Map) {
    if ([...v.keys()].every((k) => typeof k === "string")) {
      const out: Record<string, unknown> = {};
      seen.set(v, out);
      for (const [k, x] of v) out[k as string] = finish(x, seen);
      return out;
    }
    const out = new Map();
    seen.set(v, out);
    for (const [k, x] of v) out.set(k, finish(x, seen));
    return out;
  }
  if (v instanceof PickledObject) { v.state = finish(v.state, seen); return v; }
  return v;
}
