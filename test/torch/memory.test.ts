// Scopes, dispose, keep and the garbage collector keep the live tensor count flat.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

const gc = (globalThis as { gc?: () => void }).gc!;
describe("memory", () => {
  it("10,000 steps of a small autograd loop inside tidy leave the live count flat", async () => {
    const baseline = liveTensors();
    torch.manualSeed(0);
    const w = torch.randn([8, 4], { requiresGrad: true });
    const x = torch.randn([16, 8]);
    const y = torch.randn([16, 4]);
    const afterSetup = liveTensors();
    let first = 0;
    for (let step = 0; step < 10_000; step++) {
      const loss = torch.tidy(() => {
        const l = x.matmul(w).sub(y).pow(2).mean();
        l.backward();
        torch.noGrad(() => { const g = w.grad!; w.sub_(g.mul(0.01)); g.zero_(); });
        return l.item();
      });
      if (step === 0) first = loss;
      if (step % 1000 === 0) assert.equal(liveTensors(), afterSetup, `live tensors at step ${step}`);
    }
    const last = torch.tidy(() => x.matmul(w).sub(y).pow(2).mean().item());
    assert.ok(last < first, `loss should fall: ${first} -> ${last}`);
    assert.equal(liveTensors(), afterSetup);
    torch.dispose([w, x, y]);
    await assertNoLeak(baseline);
  });

  it("tidy returns nested results, frees the rest, and keep() survives", () => {
    const baseline = liveTensors();
    let kept!: torch.Tensor;
    const { a, list } = torch.tidy(() => {
      const t = torch.ones([3]);
      kept = t.mul(5).keep();
      t.add(1);
      return { a: t.mul(2), list: [t.sub(1)] };
    });
    assert.equal(liveTensors(), baseline + 3);
    assert.deepEqual(a.toArray(), [2, 2, 2]);
    assert.deepEqual(list[0]!.toArray(), [0, 0, 0]);
    assert.deepEqual(kept.toArray(), [5, 5, 5]);
    torch.dispose([a, list, kept]);
    assert.equal(liveTensors(), baseline);
  });

  it("nested tidy moves returned tensors to the outer scope", () => {
    const baseline = liveTensors();
    const out = torch.tidy(() => {
      const inner = torch.tidy(() => torch.ones([2]).add(1));
      assert.equal(liveTensors(), baseline + 1);
      return inner.mul(3);
    });
    assert.equal(liveTensors(), baseline + 1);
    assert.deepEqual(out.toArray(), [6, 6]);
    out.dispose();
    assert.equal(liveTensors(), baseline);
  });

  it("a throwing tidy frees what it made", () => {
    const baseline = liveTensors();
    assert.throws(() => torch.tidy(() => { torch.ones([4]); throw new Error("boom"); }), /boom/);
    assert.equal(liveTensors(), baseline);
  });

  it("tensors outside any scope are freed by the garbage collector", async () => {
    const baseline = liveTensors();
    for (let i = 0; i < 100; i++) torch.ones([64]).add(1);
    assert.ok(liveTensors() > baseline);
    await assertNoLeak(baseline);
  });

  it("a synchronous loop that never yields frees what it drops, during GC itself", () => {
    gc();
    const baseline = liveTensors();
    const before = torch.memory().numBytes;
    let peak = 0;
    // No await, no tidy, no dispose: 4,000 results of 1 MB each would be 4 GB if none were freed.
    for (let i = 0; i < 4000; i++) {
      torch.zeros([256, 1024]).add(1);
      if (i % 500 === 499) { gc(); peak = Math.max(peak, torch.memory().numBytes - before); }
    }
    gc();
    assert.ok(liveTensors() - baseline < 300, `live tensors after a GC, still inside the loop's task: ${liveTensors() - baseline}`);
    assert.ok(peak < 600 * 2 ** 20, `native bytes held at the GCs: ${(peak / 2 ** 20).toFixed(0)} MB`);
  });

  it("V8 hears of native bytes: without explicit gc() calls a loop dropping 1 MB tensors stays bounded", () => {
    const before = torch.memory().numBytes;
    let peak = 0;
    for (let i = 0; i < 3000; i++) {
      torch.ones([256, 1024]).mul(2);
      peak = Math.max(peak, torch.memory().numBytes - before);
    }
    assert.ok(peak < 1024 * 2 ** 20, `native bytes peaked at ${(peak / 2 ** 20).toFixed(0)} MB for 6000 MB made`);
  });

  it("a tensor disposed before the GC finds its object does not free the slot's next tensor", async () => {
    for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setImmediate(r)); }  // earlier tests' garbage
    const baseline = liveTensors();
    // In plain functions: a suspended async function keeps its last locals alive across awaits.
    const drop = () => {
      for (let i = 0; i < 2000; i++) {
        const t = torch.ones([4]).add(i);  // watched (after the batch hand-over) and disposed
        if (i % 3 === 0) t.dispose();
      }
    };
    drop();
    await new Promise((r) => setImmediate(r));
    const keepers = Array.from({ length: 500 }, (_, i) => torch.full([2], i));  // reuse freed slots
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    keepers.forEach((k, i) => assert.deepEqual(k.toArray(), [i, i], `keeper ${i}`));
    torch.dispose(keepers);
    await assertNoLeak(baseline);
  });

  it("memory() reports owned bytes, not views of them", () => {
    const before = torch.memory().numBytes;
    const t = torch.zeros([1024]);
    assert.equal(torch.memory().numBytes, before + 4096);
    const v = t.view(32, 32);
    assert.equal(torch.memory().numBytes, before + 4096);
    torch.dispose([t, v]);
    assert.equal(torch.memory().numBytes, before);
  });
});
