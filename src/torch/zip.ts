/**
 * @module torchlight/torch/zip: reading a torch.save archive's records on demand. The central
 * directory is read first (ZIP64 included); a record is read only when the unpickler asks for
 * it, sliced without a copy when stored (torch.save stores records) or inflated by Node's zlib
 * with the declared size as a hard limit, its CRC-32 checked. So a file's unreferenced records
 * are never inflated, and a record never grows past the size the caller expects: a small
 * hostile file cannot make the loader allocate gigabytes.
 */
import { crc32, inflateRawSync } from "node:zlib";

/** One record of the archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localOffset: number;
}

export class ZipFormatError extends Error {}

const fail = (what: string): never => { throw new ZipFormatError(what); };

/** A number from a 64-bit field, refused past 2^53 (no file that large can be in memory). */
function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`a 64-bit size or offset of ${v}`) : Number(v);
}

/** The archive's records by name, with the archive's top folder removed ("data.pkl", "data/0"). */
export function readZipIndex(buf: Buffer): Map<string, ZipEntry> {
  const need = (at: number, n: number, what: string) => { if (at < 0 || at + n > buf.length) fail(`${what} lies outside the ${buf.length}-byte file`); };
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) fail("no end-of-central-directory record: not a zip archive");
  let count = buf.readUInt16LE(eocd + 10), cdSize = buf.readUInt32LE(eocd + 12), cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    need(loc, 20, "the ZIP64 locator");
    if (buf.readUInt32LE(loc) !== 0x07064b50) fail("a ZIP64 archive without its locator");
    const z = u64(buf, loc + 8);
    need(z, 56, "the ZIP64 end record");
    if (buf.readUInt32LE(z) !== 0x06064b50) fail("a damaged ZIP64 end record");
    count = u64(buf, z + 32); cdSize = u64(buf, z + 40); cdOffset = u64(buf, z + 48);
  }
  need(cdOffset, cdSize, "the central directory");
  const out = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    need(p, 46, "a central directory entry");
    if (buf.readUInt32LE(p) !== 0x02014b50) fail(`a damaged central directory (entry ${k})`);
    const method = buf.readUInt16LE(p + 10), crc = buf.readUInt32LE(p + 16);
    let compressedSize = buf.readUInt32LE(p + 20), size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    need(p + 46, nameLen + extraLen + commentLen, "a central directory entry's name");
    const full = buf.toString("utf8", p + 46, p + 46 + nameLen);
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {  // ZIP64 extra field: the fields that overflowed, in order
      const id = buf.readUInt16LE(e), len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = u64(buf, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(buf, q); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = u64(buf, q); q += 8; }
      }
      e += 4 + len;
    }
    const slash = full.indexOf("/");
    out.set(slash >= 0 ? full.slice(slash + 1) : full, { name: full, method, compressedSize, size, crc, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/**
 * The bytes of one record: a view into `buf` when stored, inflated (at most `entry.size`
 * bytes) when deflated; its CRC-32 checked either way.
 */
export function readZipRecord(buf: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localOffset;
  if (at + 30 > buf.length || buf.readUInt32LE(at) !== 0x04034b50) fail(`the record ${entry.name} has no local header at byte ${at}`);
  const start = at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
  if (start + entry.compressedSize > buf.length) fail(`the record ${entry.name} runs past the end of the file`);
  const raw = buf.subarray(start, start + entry.compressedSize);
  let data: Buffer;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail(`the stored record ${entry.name} has two sizes (${entry.compressedSize} and ${entry.size})`);
    data = raw;
  } else if (entry.method === 8) {
    try { data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) }); } catch (e) { return fail(`the record ${entry.name} does not inflate to its declared ${entry.size} bytes (${(e as Error).message})`); }
    if (data.length !== entry.size) fail(`the record ${entry.name} inflates to ${data.length} bytes, not its declared ${entry.size}`);
  } else return fail(`the record ${entry.name} uses compression method ${entry.method} (only stored and deflated records are read)`);
  if (crc32(data) !== entry.crc) fail(`the record ${entry.name} fails its CRC-32 check: the file is damaged`);
  return data;
}
