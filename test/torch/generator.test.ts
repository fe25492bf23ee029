// torch.Generator and the default generator's state, against Python's draws.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { assertNoLeak, liveTensors, pythonReference } from "../helpers.js";

interface Ref { randperm: number[]; rand: number[]; randn: number[]; randint: number[]; state_len: number; after_state: number[]; default_rand: number[]; default_state_head: number[] }

describe("torch.Generator", () => {
  let ref: Ref;
  let baseline = 0;
  before(() => { baseline = liveTensors(); ref = pythonReference<Ref>("random_reference.py"); });
  after(async () => { await assertNoLeak(baseline); });

  it("draws what a Python Generator with the same seed draws", () => {
    const g = new torch.Generator().manualSeed(42);
    torch.tidy(() => {
      assert.deepEqual(torch.randperm(10, { generator: g }).toArray(), ref.randperm);
      assert.deepEqual(torch.rand([3], { generator: g }).toArray(), ref.rand);
      assert.deepEqual(torch.randn([2, 2], { generator: g }).flatten().toArray(), ref.randn);
      assert.deepEqual(torch.randint(3, 9, [5], { generator: g }).toArray(), ref.randint);
    });
    assert.equal(g.initialSeed(), 42);
    g.dispose();
  });

  it("does not touch the default generator, and getState/setState replay draws", () => {
    torch.manualSeed(3);
    const g = new torch.Generator({ seed: 7 });
    torch.tidy(() => {
      const state = g.getState();
      assert.equal(state.numel(), ref.state_len);
      const a = torch.rand([2], { generator: g }).toArray();
      assert.deepEqual(a, ref.after_state);
      g.setState(state);
      assert.deepEqual(torch.rand([2], { generator: g }).toArray(), a);
      assert.deepEqual(torch.rand([2]).toArray(), ref.default_rand, "the default generator's stream is untouched");
      assert.deepEqual((torch.getRngState().slice(0, 0, 16).toArray() as number[]), ref.default_state_head, "same state bytes as Python's");
      const s = torch.getRngState();
      const x = torch.rand([4]).toArray();
      torch.setRngState(s);
      assert.deepEqual(torch.rand([4]).toArray(), x);
    });
    g.dispose();
    assert.throws(() => g.manualSeed(1), /Generator was disposed/);
  });
});
