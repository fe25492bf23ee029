/**
 * @module torchlight/torch/safetensors: the safetensors format (a JSON header, then raw
 * little-endian tensor bytes), as the `safetensors.torch` Python package reads and writes it.
 * @example
 * torch.safetensors.saveFile(model.stateDict(), "model.safetensors");
 * model.loadStateDict(torch.safetensors.loadFile("model.safetensors"));
 */
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { native } from "./native/index.js";
import { Tensor } from "./tensor.js";
import { TorchError } from "./errors.js";
import type { DType } from "./dtype.js";
import { ELEMENT_SIZE, tensorFromBytes } from "./serialization.js";
import { isCount } from "./weights_only.js";

const CODE: Record<DType, string> = {
  float64: "F64", float32: "F32", float16: "F16", bfloat16: "BF16", int64: "I64", int32: "I32", int16: "I16", int8: "I8", uint8: "U8", bool: "BOOL",
};
const DTYPE: Record<string, DType> = Object.fromEntries(Object.entries(CODE).map(([d, c]) => [c, d as DType]));

const fail = (what: string): never => { throw new TorchError("TORCH_VALUE_ERROR", `safetensors: ${what}`, "safetensors"); };

/** The bytes of a safetensors file holding `tensors` (and string `metadata`). */
export function save(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) fail(`expected a Tensor for "${name}" but received ${typeof t}`);
    const bytes = new Uint8Array(native.data(t._h));  // contiguous, on the CPU
    header[name] = { dtype: CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);  // the data starts 8-byte aligned, as the reference writer does
  const head = Buffer.from(json, "utf8");
  const out = Buffer.allocUnsafe(8 + head.byteLength + offset);
  out.writeBigUInt64LE(BigInt(head.byteLength), 0);
  head.copy(out, 8);
  let pos = 8 + head.byteLength;
  for (const p of parts) { out.set(p, pos); pos += p.byteLength; }
  return out;
}

/** The reference implementation's limit on the JSON header. */
const MAX_HEADER = 100_000_000;

/**
 * The tensors of a safetensors file's bytes (copies on the CPU), and its metadata. The header
 * is validated as the reference implementation does: every entry a dtype, a shape of
 * non-negative integers and `[begin, end]` offsets that match them; the tensors tile the data
 * section exactly, in offset order, without gaps or overlaps; metadata maps strings to strings.
 */
export function loadWithMetadata(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) fail(`a file of ${bytes.byteLength} bytes is too short to be safetensors`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.byteLength - 8))) fail(`the header claims ${n} bytes but the file has ${bytes.byteLength - 8} after the length (and a header may have at most ${MAX_HEADER}); the file is truncated or not safetensors`);
  let header: unknown;
  try { header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, Number(n)).toString("utf8")); } catch (e) { return fail(`the header is not JSON (${(e as Error).message})`); }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("the header is not a JSON object of tensor names");
  const base = 8 + Number(n), dataLength = bytes.byteLength - base;
  const entries: { name: string; d: DType; shape: number[]; a: number; b: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info) || Object.values(info).some((v) => typeof v !== "string")) fail("__metadata__ must map strings to strings");
      metadata = info as Record<string, string>;
      continue;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info)) fail(`tensor "${name}" is described by ${JSON.stringify(info)}, not by { dtype, shape, data_offsets }`);
    const { dtype, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const d = DTYPE[String(dtype)] ?? fail(`tensor "${name}" has dtype ${JSON.stringify(dtype)}, which torchlight does not support (supported: ${Object.keys(DTYPE).join(", ")})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor "${name}" has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || (offsets[0] as number) > (offsets[1] as number)) fail(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end`);
    const [a, b] = offsets as [number, number];
    const numel = (shape as number[]).reduce((x, y) => x * BigInt(y), 1n);
    if (BigInt(b - a) !== numel * BigInt(ELEMENT_SIZE[d])) fail(`tensor "${name}" has offsets [${a}, ${b}] that do not match its shape [${(shape as number[]).join(", ")}] and dtype ${String(dtype)}`);
    entries.push({ name, d, shape: shape as number[], a, b });
  }
  let end = 0;
  for (const e of [...entries].sort((x, y) => x.a - y.a || x.b - y.b)) {
    if (e.a !== end) fail(e.a < end ? `tensor "${e.name}" overlaps the tensor before it (it begins at ${e.a}, the previous one ends at ${end})` : `the data section has a gap before tensor "${e.name}" (bytes ${end} to ${e.a})`);
    end = e.b;
  }
  if (end !== dataLength) fail(`the tensors cover ${end} bytes of a data section of ${dataLength}; the file is truncated or has trailing bytes`);
  const tensors: Record<string, Tensor> = {};
  try {
    // defineProperty: a tensor named "__proto__" is an own key, not the object's prototype
    for (const e of entries) Object.defineProperty(tensors, e.name, { value: tensorFromBytes(bytes.subarray(base + e.a, base + e.b), e.d, e.shape), enumerable: true, writable: true, configurable: true });
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  return { tensors, metadata };
}
export const load = (bytes: Uint8Array): Record<string, Tensor> => loadWithMetadata(bytes).tensors;

/** Writes a safetensors file (atomically). */
export function saveFile(tensors: Record<string, Tensor>, path: string, metadata?: Record<string, string>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, save(tensors, metadata));
  renameSync(tmp, path);
}
/** Reads a safetensors file; `device` moves the tensors after reading. */
export function loadFile(path: string, opts: { device?: string } = {}): Record<string, Tensor> {
  const out = load(readFileSync(path));
  if (opts.device && opts.device !== "cpu") for (const k of Object.keys(out)) { const t = out[k]!; out[k] = t.to(opts.device); t.dispose(); }
  return out;
}
