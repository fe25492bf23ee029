// torch.autocast: the dtypes autocast chooses and a few training steps match Python's
// `with torch.autocast("cpu")` on the same libtorch; the per-thread state is restored on every exit.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { nn, optim } from "../../src/torch/index.js";
import { assertMatches, assertNoLeak, liveTensors, pythonReference, type Encoded } from "../helpers.js";

interface Ref { logitsDtype: string; lossDtype: string; logits: Encoded; loss: number; grads: Record<string, Encoded>; params: Record<string, Encoded> }

describe("torch.autocast", () => {
  let ref: Ref;
  let baseline = 0;
  before(() => { baseline = liveTensors(); ref = pythonReference<Ref>("amp_reference.py"); });
  after(async () => { await assertNoLeak(baseline); });

  it("trains a conv net under CPU autocast exactly as Python does (dtypes, loss, gradients, parameters)", () => {
    torch.manualSeed(7);
    const net = new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 6 * 6, 10));
    const g = new torch.Generator().manualSeed(11);
    const x = torch.randn([8, 1, 8, 8], { generator: g });
    const y = torch.randint(0, 10, [8], { generator: g });
    const opt = new optim.SGD(net.parameters(), { lr: 0.1 });
    const crit = new nn.CrossEntropyLoss();
    for (let step = 0; step < 3; step++) {
      torch.tidy(() => {
        opt.zeroGrad();
        const [logits, loss] = torch.autocast("cpu", () => {
          const l = net.forward(x);
          return [l, crit.forward(l, y)] as const;
        });
        assert.equal(torch.isAutocastEnabled("cpu"), false);
        loss.backward();
        if (step === 0) {
          assert.equal(logits.dtype, ref.logitsDtype);
          assert.equal(loss.dtype, ref.lossDtype);
          assertMatches(logits.float(), ref.logits, "logits", 0, 0);
          assert.equal(loss.item(), ref.loss);
          for (const [k, p] of net.namedParameters()) assertMatches(p.grad!, ref.grads[k]!, `grad ${k}`, 0, 0);
        }
        opt.step();
      });
    }
    for (const [k, p] of net.namedParameters()) assertMatches(p, ref.params[k]!, `param ${k}`, 0, 0);
    // without autocast the same forward stays float32
    torch.tidy(() => assert.equal(net.forward(x).dtype, "float32"));
    torch.dispose([x, y, ...net.parameters()]);
  });

  it("nests, can be switched off, and restores the state after a throw", () => {
    const a = torch.randn([4, 4]);
    torch.tidy(() => {
      assert.equal(torch.isAutocastEnabled("cpu"), false);
      torch.autocast("cpu", () => {
        assert.equal(torch.isAutocastEnabled("cpu"), true);
        assert.equal(a.matmul(a).dtype, "bfloat16");
        torch.autocast("cpu", () => {
          assert.equal(torch.isAutocastEnabled("cpu"), false);
          assert.equal(a.matmul(a).dtype, "float32");
        }, { enabled: false });
        assert.equal(a.matmul(a).dtype, "bfloat16", "the outer region is back on after the inner one");
      });
      assert.throws(() => torch.autocast("cpu", () => { throw new Error("boom"); }), /boom/);
      assert.equal(torch.isAutocastEnabled("cpu"), false);
      assert.equal(a.matmul(a).dtype, "float32");
    });
    a.dispose();
  });

  it("rejects what it cannot do with errors that name the fix", () => {
    assert.throws(() => torch.autocast("cpu", () => 1, { dtype: "float16" }),
      (e: Error) => e instanceof torch.TorchArgumentError && /supports dtype bfloat16 but received 'float16'/.test(e.message));
    assert.throws(() => torch.autocast("mps" as never, () => 1), /expected deviceType 'cpu' or 'cuda'/);
    assert.throws(() => torch.autocast("cpu", async () => 1), /expected a synchronous function/);
    assert.equal(torch.isAutocastEnabled("cpu"), false, "state restored after the rejected async function");
  });
});
