/**
 * @module torchlight/torch/pickler: writes data.pkl of a torch.save file the way Python's
 * `torch.save` does (pickle protocol 2, tensors as `torch._utils._rebuild_tensor_v2` over
 * persistent storages), using only what Python's `weights_only` unpickler allows (the default
 * of `torch.load` since 2.6): tensors, storages, `collections.OrderedDict` (a tensor's empty
 * backward hooks), dicts, lists, strings, numbers, booleans and None. libtorch's own
 * `pickle_save` tags typed containers with `torch.jit._pickle.restore_type_tag`, which 2.6's
 * default `torch.load` refuses.
 */
import { Tensor } from "./tensor.js";
import type { DType } from "./dtype.js";
import { TorchArgumentError } from "./errors.js";

const STORAGE_CLASS: Record<DType, string> = {
  float32: "FloatStorage", float64: "DoubleStorage", float16: "HalfStorage", bfloat16: "BFloat16Storage",
  int64: "LongStorage", int32: "IntStorage", int16: "ShortStorage", int8: "CharStorage", uint8: "ByteStorage", bool: "BoolStorage",
};

/** A storage record that the pickle refers to by key: its tensor and where it lives. */
export interface StorageRecord { key: string; tensor: Tensor }

const MAX_DEPTH = 64;

/** Pickle protocol 2 opcodes used here (Python's pickletools names). */
const OP = {
  PROTO: 0x80, STOP: 0x2e, MARK: 0x28, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89,
  BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d, APPENDS: 0x65, EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86,
  EMPTY_DICT: 0x7d, SETITEMS: 0x75, GLOBAL: 0x63, REDUCE: 0x52, BINPERSID: 0x51,
} as const;

class Writer {
  private chunks: Buffer[] = [];
  private cur = Buffer.allocUnsafe(1 << 16);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = Buffer.allocUnsafe(Math.max(1 << 16, n));
    this.pos = 0;
  }
  op(code: number): void { this.ensure(1); this.cur[this.pos++] = code; }
  bytes(b: Buffer): void { this.ensure(b.length); b.copy(this.cur, this.pos); this.pos += b.length; }
  u8(v: number): void { this.ensure(1); this.cur[this.pos++] = v; }
  u16(v: number): void { this.ensure(2); this.cur.writeUInt16LE(v, this.pos); this.pos += 2; }
  i32(v: number): void { this.ensure(4); this.cur.writeInt32LE(v, this.pos); this.pos += 4; }
  u32(v: number): void { this.ensure(4); this.cur.writeUInt32LE(v, this.pos); this.pos += 4; }
  f64be(v: number): void { this.ensure(8); this.cur.writeDoubleBE(v, this.pos); this.pos += 8; }
  done(): Buffer { this.chunks.push(this.cur.subarray(0, this.pos)); return Buffer.concat(this.chunks); }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The bytes of data.pkl for `obj`, and the storages it refers to (written by the caller as
 * the records `data/{key}`). JS values map as Python's: null/undefined → None, integral
 * number or bigint → int, number → float, string → str, Array → list, plain object → dict
 * with str keys, Map → dict (str or int keys), Tensor → tensor.
 */
export function pickle(obj: unknown): { pkl: Buffer; storages: StorageRecord[] } {
  const w = new Writer();
  const storages: StorageRecord[] = [];
  const keyOf = new Map<Tensor, string>();

  const fail = (path: string, what: string): never => {
    throw new TorchArgumentError(
      `save(): cannot store ${what} at ${path || "the top level"}; torch.save stores Tensors, numbers, bigints, strings, booleans, null, arrays, plain objects and Maps`, "save");
  };

  const str = (s: string): void => {
    const b = Buffer.from(s, "utf8");
    w.op(OP.BINUNICODE); w.u32(b.length); w.bytes(b);
  };
  const global = (module: string, name: string): void => {
    w.op(OP.GLOBAL); w.bytes(Buffer.from(`${module}\n${name}\n`, "latin1"));
  };
  const int = (v: number | bigint): void => {
    if (typeof v === "number" && v >= 0 && v < 256) { w.op(OP.BININT1); w.u8(v); return; }
    if (typeof v === "number" && v >= 0 && v < 65536) { w.op(OP.BININT2); w.u16(v); return; }
    if (typeof v === "number" && v >= -(2 ** 31) && v < 2 ** 31) { w.op(OP.BININT); w.i32(v); return; }
    // LONG1: little-endian two's complement, as few bytes as keep the sign
    let b = BigInt(v);
    const out: number[] = [];
    for (;;) {
      out.push(Number(b & 0xffn));
      b >>= 8n;
      const sign = out[out.length - 1]! & 0x80;
      if ((b === 0n && !sign) || (b === -1n && sign)) break;
    }
    w.op(OP.LONG1); w.u8(out.length); w.bytes(Buffer.from(out));
  };
  const tuple = (items: (() => void)[]): void => {
    if (items.length === 0) { w.op(OP.EMPTY_TUPLE); return; }
    if (items.length > 2) w.op(OP.MARK);
    for (const f of items) f();
    w.op(items.length === 1 ? OP.TUPLE1 : items.length === 2 ? OP.TUPLE2 : OP.TUPLE);
  };

  const tensor = (t: Tensor, path: string): void => {
    if (t.isDisposed) fail(path, "a disposed Tensor");
    let key = keyOf.get(t);
    if (key === undefined) {
      key = String(storages.length);
      keyOf.set(t, key);
      storages.push({ key, tensor: t });
    }
    const k = key;
    const shape = t.shape;
    // the record holds the tensor's elements contiguously: offset 0, row-major strides
    const strides = new Array<number>(shape.length);
    for (let i = shape.length - 1, s = 1; i >= 0; i--) { strides[i] = s; s *= shape[i]!; }
    const numel = shape.reduce((a, b) => a * b, 1);
    const location = t.device;
    global("torch._utils", "_rebuild_tensor_v2");
    tuple([
      () => {
        tuple([() => str("storage"), () => global("torch", STORAGE_CLASS[t.dtype]), () => str(k), () => str(location), () => int(numel)]);
        w.op(OP.BINPERSID);
      },
      () => int(0),
      () => tuple(shape.map((d) => () => int(d))),
      () => tuple(strides.map((d) => () => int(d))),
      () => w.op(t.requiresGrad ? OP.NEWTRUE : OP.NEWFALSE),
      () => { global("collections", "OrderedDict"); w.op(OP.EMPTY_TUPLE); w.op(OP.REDUCE); },
    ]);
    w.op(OP.REDUCE);
  };

  const dictItems = (entries: [string | number, unknown][], path: string, depth: number): void => {
    w.op(OP.EMPTY_DICT);
    // SETITEMS in batches of 1000, as Python's pickler
    for (let i = 0; i < entries.length; i += 1000) {
      w.op(OP.MARK);
      for (const [k, v] of entries.slice(i, i + 1000)) {
        if (typeof k === "string") str(k); else int(k);
        value(v, path ? `${path}.${k}` : String(k), depth + 1);
      }
      w.op(OP.SETITEMS);
    }
  };

  const value = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) fail(path, "a structure nested deeper than 64 levels (a cycle?)");
    switch (typeof v) {
      case "undefined": w.op(OP.NONE); return;
      case "boolean": w.op(v ? OP.NEWTRUE : OP.NEWFALSE); return;
      case "number":
        if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) int(v);
        else { w.op(OP.BINFLOAT); w.f64be(v); }
        return;
      case "bigint":
        if (v < -(2n ** 63n) || v >= 2n ** 63n) fail(path, "a bigint outside the int64 range");
        int(v);
        return;
      case "string": str(v); return;
      case "object": break;
      default: fail(path, "a function or symbol");
    }
    if (v === null) { w.op(OP.NONE); return; }
    if (v instanceof Tensor) { tensor(v, path); return; }
    if (Array.isArray(v)) {
      w.op(OP.EMPTY_LIST);
      for (let i = 0; i < v.length; i += 1000) {
        w.op(OP.MARK);
        v.slice(i, i + 1000).forEach((x, j) => value(x, `${path}[${i + j}]`, depth + 1));
        w.op(OP.APPENDS);
      }
      return;
    }
    if (v instanceof Map) {
      const entries: [string | number, unknown][] = [];
      for (const [k, x] of v) {
        if (typeof k !== "string" && !(typeof k === "number" && Number.isInteger(k))) fail(path, "a Map key that is neither a string nor an integer");
        entries.push([k as string | number, x]);
      }
      dictItems(entries, path, depth);
      return;
    }
    if (!isPlainObject(v as object)) fail(path, `a class instance (${(v as object).constructor?.name ?? "object"}); store its stateDict() instead`);
    dictItems(Object.entries(v as Record<string, unknown>), path, depth);
  };

  w.op(OP.PROTO); w.u8(2);
  value(obj, "", 0);
  w.op(OP.STOP);
  return { pkl: w.done(), storages };
}
