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
import { DTYPE_GLOBALS, isAllowedGlobal, isCount, viewProblem } from "./weights_only.js";
import { readZipIndex, readZipRecord, ZipFormatError, type ZipEntry } from "./zip.js";

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
  /**
   * Python 2.6's default (`weights_only=True`): the pickle may name only the globals of
   * torch's weights-only allow-list (tensor and parameter rebuilds, storages, `torch.Size`,
   * devices, dtypes, OrderedDict, sets, the primitive types); any other is refused with an
   * error naming it. `false` accepts other globals as `PickledObject`s (their module, name,
   * arguments and state) — torchlight never runs code from a file either way.
   */
  weightsOnly?: boolean;
}

/** What the bytes of a torch.save file (from torchlight or Python) hold. */
export function deserialize(bytes: Buffer, options: LoadOptions = {}): Saveable {
  checkOptions("load", options, ["mapLocation", "weightsOnly"], (m) => new TorchArgumentError(m, "load"));
  if (options.weightsOnly !== undefined && typeof options.weightsOnly !== "boolean") throw new TorchArgumentError(`load(): weightsOnly must be true or false, got ${JSON.stringify(options.weightsOnly)}`, "load");
  const zipError = (e: unknown): never => {
    throw new TorchError("TORCH_VALUE_ERROR", `load(): ${e instanceof ZipFormatError ? e.message : `not a torch.save file (${(e as Error).message})`}`, "load");
  };
  let index: Map<string, ZipEntry>;
  try { index = readZipIndex(bytes); } catch (e) { return zipError(e); }
  const entry = index.get("data.pkl");
  if (entry === undefined) {
    throw new TorchError("TORCH_VALUE_ERROR", "load(): the file is a zip without data.pkl, so it is not a torch.save file; it may be a TorchScript archive (use torch.jit.load in Python)", "load");
  }
  const order = index.get("byteorder");
  if (order && readRecordOr(bytes, order, zipError).toString() !== "little") throw new TorchError("TORCH_VALUE_ERROR", "load(): the file was saved on a big-endian machine, which torchlight does not read", "load");
  // records are read when the pickle references them, and only if their size is the one it declares
  const record = (name: string, expectedBytes: number | null): Buffer | undefined => {
    const e = index.get(name);
    if (!e) return undefined;
    if (expectedBytes !== null && e.size !== expectedBytes) throw new TorchError("TORCH_VALUE_ERROR", `load(): the record ${name} holds ${e.size} bytes, but the pickle declares ${expectedBytes}`, "load");
    return readRecordOr(bytes, e, zipError);
  };
  return unpickle(readRecordOr(bytes, entry, zipError), record, options);
}

function readRecordOr(bytes: Buffer, e: ZipEntry, onError: (e: unknown) => never): Buffer {
  try { return readZipRecord(bytes, e); } catch (err) { return onError(err); }
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
// globals: _rebuild_tensor_v2, _rebuild_parameter, typed storages, OrderedDict. By default
// (weightsOnly) a global outside torch's weights-only allow-list is refused where the pickle
// names it; with weightsOnly: false any other Python class comes back as a PickledObject.
// Nothing here ever runs code named by a file.

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

function unpickle(pkl: Buffer, record: (name: string, expectedBytes: number | null) => Buffer | undefined, options: LoadOptions): Saveable {
  const made: Tensor[] = [];
  const storages = new Map<string, Storage>();
  const fail = (what: string): never => { throw new TorchError("TORCH_VALUE_ERROR", `load(): ${what}`, "load"); };

  const weightsOnly = options.weightsOnly ?? true;
  const views: Tensor[] = [];  // freed if the load fails
  const storageFor = (pid: unknown[]): Storage => {
    if (!Array.isArray(pid)) fail("a corrupt pickle (a persistent id that is not a tuple)");
    const [kind, type, key, location, declared] = pid as [string, unknown, string, string, unknown];
    if (kind !== "storage" || !(type instanceof StorageType)) fail(`unknown persistent id ${JSON.stringify(String(kind))}`);
    if (typeof key !== "string" || typeof location !== "string") fail("a corrupt pickle (a storage's key or location is not a string)");
    const st = type as StorageType;
    let s = storages.get(key);
    if (s) return s;
    const es = ELEMENT_SIZE[st.dtype];
    if (declared !== undefined && !isCount(declared)) fail(`a corrupt pickle (the storage data/${key} declares ${String(declared)} elements)`);
    const rec = record(`data/${key}`, declared === undefined ? null : (declared as number) * es) ?? fail(`the file lacks the record data/${key} of a tensor storage`);
    if (rec.byteLength % es !== 0) fail(`the record data/${key} has ${rec.byteLength} bytes, not a whole number of ${st.dtype} elements`);
    let flat = tensorFromBytes(rec, st.dtype, [rec.byteLength / es]);
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
    if (!storage || !(storage.flat instanceof Tensor)) fail("a corrupt pickle (a tensor rebuilt from something that is not a storage)");
    const problem = viewProblem(storage.flat.numel(), offset, size, stride);
    if (problem) fail(`a tensor does not fit its storage: ${problem}; the file is damaged or crafted`);
    const t = wrap(ops.as_strided(storage.flat._h, size, stride, offset));
    views.push(t);
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
      case "builtins.bytearray": return Buffer.from((args[0] ?? []) as Uint8Array);
      case "torch.device": return args.length > 1 ? `${String(args[0])}:${String(args[1])}` : String(args[0]);
      case "torch.Size": return Array.isArray(args[0]) ? [...args[0]] : fail("a corrupt pickle (torch.Size of something that is not a tuple)");
      case "collections.Counter": return new Map(args[0] instanceof Map ? args[0] : []);
      case "torch.serialization._get_layout": return String(args[0]);
      case "torch._tensor._rebuild_from_type_v2": {  // (func, type, args, state): a Tensor or Parameter rebuilt by func
        const [f, , fargs] = args as [unknown, unknown, unknown[]];
        if (!(f instanceof Global) || !isAllowedGlobal(`${f.module}.${f.name}`) || !Array.isArray(fargs)) fail("a corrupt pickle (_rebuild_from_type_v2 of something that is not a rebuild function)");
        return call(f, fargs);
      }
      default:
        if (isAllowedGlobal(full)) fail(`the file holds ${full} (a quantized, sparse, nested, meta or complex value), which torchlight cannot load`);
        return new PickledObject(g.module, g.name, args);  // only reachable with weightsOnly: false
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
  const line = () => {
    const end = pkl.indexOf(10, pos);
    if (end < 0) fail("a corrupt pickle (a text field without its end of line)");
    const s = pkl.toString("latin1", pos, end);
    pos = end + 1;
    return s;
  };
  const global = (mod: string, name: string): unknown => {
    const module = mod === "__builtin__" ? "builtins" : mod;  // protocol 2's Python 2 names, as Python's unpickler maps them
    const full = `${module}.${name}`;
    if (weightsOnly && !isAllowedGlobal(full)) {
      fail(`the file's pickle names the global ${full}, which loading with weights only (the default, as Python's torch.load since 2.6) does not allow. ` +
        "If you trust the file's source, load it with { weightsOnly: false }: its objects then come back as PickledObject (torchlight never runs code from a file)");
    }
    if (module === "torch" && name in DTYPE_GLOBALS) return DTYPE_GLOBALS[name];
    return globalFor(module, name);
  };
  const popMark = (): unknown[] => { const m = marks.pop() ?? fail("a corrupt pickle (MARK missing)"); return stack.splice(m); };
  const top = () => stack[stack.length - 1];
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof Map)) fail("a corrupt pickle (SETITEMS on a non-dict)");
    for (let i = 0; i < items.length; i += 2) (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const longFrom = (n: number): number | bigint => {
    if (n === 0) return 0;
    if (n > 1024 || pos + n > pkl.length) fail(`a corrupt pickle (an integer of ${n} bytes)`);
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
        case 0x2e: {                                              // STOP
          const out = finish(stack.pop(), new Map()) as Saveable;
          const kept = tensorsIn(out, new Set());
          for (const t of views) if (!kept.has(t)) t.dispose();  // built, then dropped by the pickle
          return out;
        }
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
        case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; }  // GLOBAL
        case 0x93: { const name = stack.pop(); const module = stack.pop(); if (typeof name !== "string" || typeof module !== "string") fail("a corrupt pickle (STACK_GLOBAL of non-strings)"); stack.push(global(module as string, name as string)); break; }  // STACK_GLOBAL
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
  } catch (e) {
    for (const t of views) t.dispose();
    if (e instanceof TorchError) throw e;
    // a stack or memo entry of the wrong kind, a read past the end: a damaged or crafted file
    throw new TorchError("TORCH_VALUE_ERROR", `load(): a corrupt pickle (${(e as Error).message} near byte ${pos})`, "load");
  } finally {
    // the flat storages: every returned tensor is a view that keeps its storage alive
    for (const t of made) t.dispose();
  }
}

function globalFor(module: string, name: string): unknown {
  if (module === "torch" && name in STORAGE_DTYPES) return new StorageType(STORAGE_DTYPES[name]!);
  return new Global(module, name);
}

/** The tensors inside `v` (arrays, objects, Maps, PickledObjects). */
function tensorsIn(v: unknown, out: Set<unknown>, seen = new Set<unknown>()): Set<unknown> {
  if (v instanceof Tensor) { out.add(v); return out; }
  if (v === null || typeof v !== "object" || Buffer.isBuffer(v) || seen.has(v)) return out;
  seen.add(v);
  const kids = v instanceof Map ? [...v.values()] : v instanceof PickledObject ? [v.args, v.state] : Array.isArray(v) ? v : Object.values(v);
  for (const k of kids) tensorsIn(k, out, seen);
  return out;
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
      // defineProperty: a key "__proto__" stays an own key instead of replacing the prototype
      for (const [k, x] of v) Object.defineProperty(out, k as string, { value: finish(x, seen), enumerable: true, writable: true, configurable: true });
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
