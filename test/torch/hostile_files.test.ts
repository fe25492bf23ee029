// Untrusted checkpoints (issue 17, item 1): torch.load follows Python 2.6's weights_only
// default and never runs code; every tensor view is bounds-checked against its storage;
// safetensors headers are validated as the reference implementation does; a time-boxed fuzz
// of mutated files finds no crash, hang or raw error.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import { native } from "../../src/torch/native/index.js";
import { PYTHON, ROOT, liveTensors, zipRecords } from "../helpers.js";
import { env } from "../../src/util/env.js";
import { crc32, deflateRawSync } from "node:zlib";

/** A zip of `records` (name, bytes, stored or deflated, and optionally a false declared size or CRC). */
function zip(records: { name: string; data: Buffer; deflate?: boolean; size?: number; crc?: number }[]): Buffer {
  const parts: Buffer[] = [], central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const body = r.deflate ? deflateRawSync(r.data) : r.data;
    const name = Buffer.from(r.name);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0); head.writeUInt16LE(r.deflate ? 8 : 0, 8);
    head.writeUInt32LE(r.crc ?? crc32(r.data), 14); head.writeUInt32LE(body.length, 18); head.writeUInt32LE(r.size ?? r.data.length, 22); head.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(r.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(r.crc ?? crc32(r.data), 16); cd.writeUInt32LE(body.length, 20); cd.writeUInt32LE(r.size ?? r.data.length, 24); cd.writeUInt16LE(name.length, 28); cd.writeUInt32LE(offset, 42);
    parts.push(head, name, body);
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(records.length, 8); end.writeUInt16LE(records.length, 10); end.writeUInt32LE(cdBytes.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

const isLoadError = (e: unknown) => e instanceof torch.TorchError && (e as torch.TorchError).code === "TORCH_VALUE_ERROR";

/** A seeded xorshift, so a failing fuzz case can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

describe("hostile files", () => {
  const dir = mkdtempSync(join(tmpdir(), "torchlight-hostile-"));
  const marker = join(dir, "MARKER");
  before(() => {
    const r = spawnSync(PYTHON, [join(ROOT, "test", "parity", "hostile_files.py"), dir, marker], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a pickle naming os.system is refused by default (naming the global and the opt-in), and the opt-in does not run it", () => {
    assert.throws(() => torch.load(join(dir, "os_system.pt")), (e: Error) => isLoadError(e) && /names the global posix\.system/.test(e.message) && /weightsOnly: false/.test(e.message));
    const v = torch.load(join(dir, "os_system.pt"), { weightsOnly: false }) as unknown as { x: torch.PickledObject };
    assert.ok(v.x instanceof torch.PickledObject);
    assert.deepEqual([v.x.module, v.x.name, v.x.args], ["posix", "system", [`touch ${marker}`]]);
    assert.equal(existsSync(marker), false, "nothing was executed");
    assert.throws(() => torch.load(join(dir, "good.pt"), { weightsOnly: "yes" as never }), /weightsOnly must be true or false/);
  });

  it("tensor views outside their storage are refused before as_strided (libtorch 1.13's own check overflows)", () => {
    const good = torch.load(join(dir, "good.pt")) as { w: torch.Tensor };
    assert.deepEqual(good.w.toArray(), [0, 1, 2, 3]);
    good.w.dispose();
    const before = liveTensors();
    for (const [file, why] of [
      ["offset_huge", /reaches element 4611684918915760131 of a storage of 4 elements/],
      ["offset_wrap", /reaches element 4611686018427387843 of a storage of 4 elements/],
      ["size_overflow", /has more than 2\^53 elements|reaches element/],
      ["negative_stride", /stride \[-1\] is not a list of non-negative integers/],
      ["past_end", /reaches element 4 of a storage of 4 elements \(offset 1, size \[2, 2\], stride \[2, 1\]\)/],
    ] as const) {
      assert.throws(() => torch.load(join(dir, `${file}.pt`)), (e: Error) => isLoadError(e) && /does not fit its storage/.test(e.message) && why.test(e.message), file);
    }
    assert.equal(liveTensors(), before, "a refused file leaves no tensor behind");
  });

  it("zip records: only the ones the pickle references are read, never past the size the pickle (and the directory) declares", () => {
    const good = readFileSync(join(dir, "good.pt"));
    const recs = zipRecords(good);
    const pkl = recs.find(([n]) => n.endsWith("data.pkl"))![1], data0 = recs.find(([n]) => /data\/0$/.test(n))![1];
    const zeros = Buffer.alloc(1 << 20);
    // an unreferenced record that would fail if it were read (false CRC): the load succeeds
    const a = torch.deserialize(zip([{ name: "a/data.pkl", data: pkl }, { name: "a/data/0", data: data0 }, { name: "a/data/9", data: zeros, deflate: true, crc: 1 }])) as { w: torch.Tensor };
    assert.deepEqual(a.w.toArray(), [0, 1, 2, 3]);
    a.w.dispose();
    // the referenced record's directory size differs from the pickle's 16 bytes: refused before inflating
    assert.throws(() => torch.deserialize(zip([{ name: "a/data.pkl", data: pkl }, { name: "a/data/0", data: zeros, deflate: true }])),
      (e: Error) => isLoadError(e) && /the record data\/0 holds 1048576 bytes, but the pickle declares 16/.test(e.message));
    // a deflated record that inflates past its declared size stops at the declared size
    assert.throws(() => torch.deserialize(zip([{ name: "a/data.pkl", data: pkl }, { name: "a/data/0", data: zeros, deflate: true, size: 16 }])),
      (e: Error) => isLoadError(e) && /does not inflate to its declared 16 bytes|inflates to/.test(e.message));
    // a damaged stored record fails its CRC; a deflated good record loads
    const bad = Buffer.from(data0); bad[0]! ^= 1;
    assert.throws(() => torch.deserialize(zip([{ name: "a/data.pkl", data: pkl }, { name: "a/data/0", data: bad, crc: crc32(data0) }])), /fails its CRC-32 check/);
    const d = torch.deserialize(zip([{ name: "a/data.pkl", data: pkl, deflate: true }, { name: "a/data/0", data: data0, deflate: true }])) as { w: torch.Tensor };
    assert.deepEqual(d.w.toArray(), [0, 1, 2, 3]);
    d.w.dispose();
    assert.throws(() => torch.deserialize(Buffer.from("not a zip at all, just bytes")), (e: Error) => isLoadError(e) && /not a zip archive/.test(e.message));
  });

  it("torch 2.6's allow-list: dtypes, torch.Size, devices, OrderedDict, sets and Parameters load; torchlight's own files still load", () => {
    const file = join(dir, "allowed.pt");
    const r = spawnSync(PYTHON, ["-c", `import torch, collections
torch.save({"dtype": torch.float16, "size": torch.Size([2, 3]), "device": torch.device("cpu"), "od": collections.OrderedDict(a=1),
  "set": {3}, "p": torch.nn.Parameter(torch.ones(2)), "b": b"\\x00\\x01", "layout": torch.strided}, ${JSON.stringify(file)})`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const v = torch.load(file) as Record<string, unknown>;
    assert.equal(v.dtype, "float16");
    assert.deepEqual(v.size, [2, 3]);
    assert.equal(v.device, "cpu");
    assert.deepEqual(v.od, { a: 1 });
    assert.deepEqual(v.set, [3]);
    assert.ok(v.p instanceof torch.Tensor && (v.p as torch.Tensor).requiresGrad);
    (v.p as torch.Tensor).dispose();
    const mine = join(dir, "mine.pt");
    torch.save({ w: torch.ones([2]), n: 3, s: "x", l: [1, 2] }, mine);
    const back = torch.load(mine) as { w: torch.Tensor };
    assert.deepEqual(back.w.toArray(), [1, 1]);
    back.w.dispose();
  });

  it("safetensors: bad offsets, overlaps, gaps, trailing bytes, null or malformed entries are refused with what is wrong", () => {
    const file = (header: unknown, data: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const out = Buffer.alloc(8 + json.length + data);
      out.writeBigUInt64LE(BigInt(json.length), 0);
      json.copy(out, 8);
      return out;
    };
    const bad: [unknown, number, RegExp][] = [
      [{ a: { dtype: "F32", shape: [4], data_offsets: [-16, 0] } }, 16, /data_offsets \[-16,0\]; expected \[begin, end\]/],
      [{ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, 16, /tensor "b" overlaps/],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, 16, /a gap before tensor "a"/],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 16, /cover 8 bytes of a data section of 16/],
      [{ a: null }, 0, /tensor "a" is described by null/],
      [{ a: { dtype: "F32", shape: "4", data_offsets: [0, 16] } }, 16, /shape "4"; expected a list/],
      [{ a: { dtype: "F32", shape: [5], data_offsets: [0, 16] } }, 16, /do not match its shape \[5\]/],
      [[1, 2], 0, /not a JSON object/],
      [{ __metadata__: { k: 1 } }, 0, /__metadata__ must map strings to strings/],
    ];
    for (const [header, data, why] of bad) {
      assert.throws(() => torch.safetensors.load(file(header, data)), (e: Error) => isLoadError(e) && why.test(e.message), JSON.stringify(header));
    }
    const ok = torch.safetensors.load(file({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, z: { dtype: "U8", shape: [0], data_offsets: [8, 8] } }, 8));
    assert.deepEqual(ok.a!.toArray(), [0, 0]);
    torch.dispose(Object.values(ok));
  });

  it("fuzz: thousands of mutated checkpoints (pickles and whole zips) and safetensors files give a value or a load error, never a crash, hang or raw error (time-boxed)", async () => {
    const settle = async () => { for (let i = 0; i < 3; i++) { (globalThis as { gc?: () => void }).gc?.(); await new Promise((r) => setImmediate(r)); } };
    const ckpt = readFileSync(join(dir, "good.pt"));
    const records = zipRecords(ckpt);
    const pkl = records.find(([n]) => n.endsWith("data.pkl"))![1];
    const st = torch.safetensors.save({ a: torch.tidy(() => torch.arange(6).to("float32")), b: torch.tidy(() => torch.ones([2, 2]).to("int64")) });
    const next = rng(Number(env("fuzzSeed") ?? 12345));
    const deadline = performance.now() + Number(env("fuzzMs") ?? 4000);
    const mutate = (b: Buffer): Buffer => {
      const m = Buffer.from(b);
      const kind = next();
      if (kind < 0.15) return m.subarray(0, Math.floor(next() * m.length));             // truncation
      const flips = 1 + Math.floor(next() * 4);
      for (let i = 0; i < flips; i++) {
        const at = Math.floor(next() * m.length);
        m[at] = kind < 0.6 ? m[at]! ^ (1 << Math.floor(next() * 8)) : Math.floor(next() * 256);  // a bit, or a byte
      }
      return m;
    };
    await settle();
    const before = liveTensors();
    let cases = 0, loaded = 0;
    const tryLoad = (fn: () => unknown, what: string) => {
      const t0 = performance.now();
      try { torch.dispose(fn()); loaded++; } catch (e) {
        assert.ok(isLoadError(e) || (e instanceof torch.TorchError), `${what}: a raw ${(e as Error).name}: ${(e as Error).message}`);
      }
      assert.ok(performance.now() - t0 < 2000, `${what} took ${(performance.now() - t0).toFixed(0)} ms`);
      cases++;
    };
    while (performance.now() < deadline) {
      const p = mutate(pkl);
      const z = native.writeZip(records.map(([n, d]) => [n.replace(/^[^/]*\//, ""), n.endsWith("data.pkl") ? p : d]));
      tryLoad(() => torch.deserialize(z), `pickle case ${cases}`);
      tryLoad(() => torch.deserialize(mutate(ckpt)), `zip case ${cases}`);
      tryLoad(() => torch.safetensors.load(mutate(st)), `safetensors case ${cases}`);
    }
    assert.ok(cases >= 1000, `only ${cases} cases in the time box`);
    await settle();
    assert.equal(liveTensors(), before, `tensors left after ${cases} cases (${loaded} loaded)`);
  });
});
