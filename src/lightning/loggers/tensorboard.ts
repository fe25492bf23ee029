/**
 * @module torchlight/lightning/loggers/tensorboard: `TensorBoardLogger`, writing real
 * TensorBoard event files (`events.out.tfevents.<time>.<host>.<pid>.<n>`): TFRecord framing
 * (length, masked CRC-32C of the length, the `Event` protobuf, its masked CRC-32C), a first
 * event carrying `file_version: "brain.Event:2"`, then one `Event{wall_time, step,
 * summary{value{tag, simple_value}}}` per scalar. Plus `hparams.yaml`, as Lightning's.
 *
 * The protobuf messages are three small ones (Event, Summary, Summary.Value), so they are
 * encoded here by field number rather than through a protobuf library.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FileLogger, type FileLoggerOptions } from "./logger.js";

// ---- CRC-32C (Castagnoli), as TFRecord frames use ------------------------------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
/** CRC-32C of `bytes`. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** TFRecord's masked CRC: rotate right by 15, add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protobuf wire format ------------------------------------------------------------------
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
function lenField(field: number, bytes: Uint8Array | number[]): number[] { return [...key(field, 2), ...varint(bytes.length), ...bytes]; }
function doubleField(field: number, v: number): number[] { const b = Buffer.alloc(8); b.writeDoubleLE(v); return [...key(field, 1), ...b]; }
function floatField(field: number, v: number): number[] { const b = Buffer.alloc(4); b.writeFloatLE(v); return [...key(field, 5), ...b]; }
function intField(field: number, v: number): number[] { return [...key(field, 0), ...varint(v)]; }

/** An `Event` protobuf: wall_time = 1, step = 2, file_version = 3, summary = 5. */
export function encodeEvent(e: { wallTime: number; step?: number; fileVersion?: string; scalars?: Record<string, number> }): Uint8Array {
  const out: number[] = doubleField(1, e.wallTime);
  if (e.step !== undefined) out.push(...intField(2, e.step));
  if (e.fileVersion !== undefined) out.push(...lenField(3, Buffer.from(e.fileVersion, "utf8")));
  if (e.scalars) {
    const values: number[] = [];
    for (const [tag, v] of Object.entries(e.scalars)) values.push(...lenField(1, [...lenField(1, Buffer.from(tag, "utf8")), ...floatField(2, v)]));
    out.push(...lenField(5, values));
  }
  return Uint8Array.from(out);
}

/** One TFRecord frame around `data`. */
export function frame(data: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const head = Buffer.alloc(4), tail = Buffer.alloc(4);
  head.writeUInt32LE(maskedCrc32c(len));
  tail.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([len, head, Buffer.from(data), tail]);
}

let fileCounter = 0;

/** Writes an event file, as TensorFlow's `EventFileWriter`. */
export class EventFileWriter {
  readonly path: string;
  private fd: number;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}.${fileCounter++}`);
    this.fd = openSync(this.path, "a");
    this.write({ wallTime: Date.now() / 1000, fileVersion: "brain.Event:2" });
  }
  write(e: Parameters<typeof encodeEvent>[0]): void { writeSync(this.fd, frame(encodeEvent(e))); }
  addScalars(scalars: Record<string, number>, step: number): void { this.write({ wallTime: Date.now() / 1000, step, scalars }); }
  close(): void { if (this.fd >= 0) { closeSync(this.fd); this.fd = -1; } }
}

/** Logs scalars to TensorBoard event files in `saveDir/name/version_N` (Lightning's default logger). */
export class TensorBoardLogger extends FileLogger {
  private writer: EventFileWriter | null = null;
  constructor(saveDir: string, opts: FileLoggerOptions = {}) { super(saveDir, opts); }
  /** The event file writer (created on first use). */
  get experiment(): EventFileWriter {
    this.writer ??= new EventFileWriter(this.logDir);
    return this.writer;
  }
  logMetrics(metrics: Record<string, number>, step: number): void {
    const m = this.prefixed(metrics);
    const scalars = Object.fromEntries(Object.entries(m).filter(([k, v]) => k !== "epoch" || Number.isFinite(v)));
    if (Object.keys(scalars).length) this.experiment.addScalars(scalars, step);
  }
  // writes are unbuffered (writeSync): save() has nothing to flush
  override finalize(_status: string): void { this.writer?.close(); this.writer = null; }
}
