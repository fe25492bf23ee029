/** @module test/helpers: shared test utilities (Python reference, comparisons, leak checks). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as torch from "../src/torch/index.js";
import { readZipIndex, readZipRecord } from "../src/torch/zip.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Debian's python3 with python3-torch (the `python3` on PATH may be another Python). */
export const PYTHON = process.env.TORCHLIGHT_PYTHON ?? "/usr/bin/python3";

export interface Encoded { shape: number[]; dtype: torch.DType; data: (number | boolean)[] }

/** Runs a reference script of test/parity/ (with `args` before the output path) and returns its JSON. */
export function pythonReference<T>(script: string, args: string[] = []): T {
  const out = join(mkdtempSync(join(tmpdir(), "torchlight-ref-")), "ref.json");
  execFileSync(PYTHON, [join(ROOT, "test", "parity", script), ...args, out], { stdio: ["ignore", "inherit", "inherit"] });
  return JSON.parse(readFileSync(out, "utf8")) as T;
}

export function decode(e: Encoded): torch.Tensor {
  return torch.tensor(e.data.length === 0 ? [] : (e.data as number[]), { dtype: e.dtype }).reshape(e.shape);
}

/** Asserts same shape and dtype, and values equal within atol + rtol·|expected| (exact for ints). */
export function assertMatches(t: torch.Tensor, e: Encoded, what: string, atol = 1e-6, rtol = 1e-5): void {
  assert.deepEqual(t.shape, e.shape, `${what}: shape`);
  assert.equal(t.dtype, e.dtype, `${what}: dtype`);
  const got = (t.shape.length === 0 ? [t.toArray()] : (t.flatten().toArray() as unknown[])) as (number | boolean)[];
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, x = e.data[i]!;
    if (typeof x === "boolean" || !e.dtype.startsWith("float")) assert.equal(g, x, `${what}[${i}]`);
    else assert.ok(Math.abs((g as number) - x) <= atol + rtol * Math.abs(x), `${what}[${i}]: got ${g}, expected ${x}`);
  }
}

/** Live native tensors now; use with {@link assertNoLeak} around a test. */
export const liveTensors = (): number => torch.memory().numTensors;

/** Asserts that the live tensor count is back to `baseline` (after a GC of unreachable ones). */
export async function assertNoLeak(baseline: number): Promise<void> {
  for (let i = 0; i < 5 && liveTensors() > baseline; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(liveTensors(), baseline, "live tensors should return to the baseline");
}

/** Every record of a torch.save zip, as [name without the top folder, bytes], read by torchlight's own zip reader. */
export function zipRecords(bytes: Buffer): [string, Buffer][] {
  return [...readZipIndex(bytes)].map(([name, e]) => [name, readZipRecord(bytes, e)]);
}

