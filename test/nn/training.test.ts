// An MLP trained by torchlight follows the same loss curve as the same PyTorch program:
// same initial weights and data (written by Python with torch.save), same minibatches,
// Adam with weight decay, 100 steps, losses equal to 1e-5.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { assertNoLeak, liveTensors, pythonReference } from "../helpers.js";

describe("training matches PyTorch", () => {
  const baseline = liveTensors();
  const dir = mkdtempSync(join(tmpdir(), "torchlight-mlp-"));
  after(async () => { rmSync(dir, { recursive: true, force: true }); await assertNoLeak(baseline); });

  it("MLP + Adam + CrossEntropyLoss: 100 steps within 1e-5 of Python's losses", () => {
    const ref = pythonReference<{ losses: number[] }>("mlp_curve.py", [dir]);
    const model = new nn.Sequential(new nn.Linear(20, 64), new nn.ReLU(), new nn.Linear(64, 64), new nn.ReLU(), new nn.Linear(64, 3));
    const { X, Y } = torch.tidy(() => {
      const init = torch.load(join(dir, "mlp_init.pt")) as { model: Record<string, Tensor>; X: Tensor; Y: Tensor };
      model.loadStateDict(init.model);
      return { X: init.X.keep(), Y: init.Y.keep() };
    });
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2, weightDecay: 1e-4 });
    const lossFn = new nn.CrossEntropyLoss();
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) {
      const i = (step * 32) % 256;
      losses.push(torch.tidy(() => {
        opt.zeroGrad();
        const loss = lossFn.forward(model.forward(X.slice(0, i, i + 32)), Y.slice(0, i, i + 32));
        loss.backward();
        opt.step();
        return loss.item();
      }));
    }
    losses.forEach((l, i) => assert.ok(Math.abs(l - ref.losses[i]!) <= 1e-5, `step ${i}: loss ${l} vs Python ${ref.losses[i]}`));
    assert.ok(losses[99]! < losses[0]! * 0.5, `the model learns (loss ${losses[0]} -> ${losses[99]})`);
    opt.dispose();
    torch.dispose([X, Y, ...model.parameters()]);
  });
});
