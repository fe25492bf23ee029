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

/** The tensors of a safetensors file's bytes (copies on the CPU), and its metadata. */
export function loadWithMetadata(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) fail(`a file of ${bytes.byteLength} bytes is too short to be safetensors`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.byteLength - 8) fail(`the header claims ${n} bytes but the file has ${bytes.byteLength - 8} after the length; the file is truncated or not safetensors`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try { header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString("utf8")); } catch (e) { return fail(`the header is not JSON (${(e as Error).message})`); }
  const base = 8 + n;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") { metadata = info as Record<string, string>; continue; }
    const { dtype, shape, data_offsets: [a, b] } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const d = DTYPE[dtype] ?? fail(`tensor "${name}" has dtype ${dtype}, which torchlight does not support (supported: ${Object.keys(DTYPE).join(", ")})`);
    const numel = shape.reduce((x, y) => x * y, 1);
    if (b - a !== numel * ELEMENT_SIZE[d] || base + b > bytes.byteLength) fail(`tensor "${name}" has offsets [${a}, ${b}] that do not match its shape [${shape.join(", ")}] and dtype ${dtype}`);
    tensors[name] = tensorFromBytes(bytes.subarray(base + a, base + b), d, shape);
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
