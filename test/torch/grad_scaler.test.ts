// torch.amp.GradScaler: loss scaling, unscale before clipping, skipped steps on inf/NaN,
// backoff and growth, state dicts; against Python's torch.amp.GradScaler("cpu") where the
// Python torch has one (2.3 and later: the Debian 13 line), and on its own semantics everywhere.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { nn, optim } from "../../src/torch/index.js";
import { assertNoLeak, liveTensors, pythonReference } from "../helpers.js";

interface Ref { skip?: string; scales: number[]; params: number[][]; skipped: boolean[]; state: Record<string, number> }

/** The reference's program: 8 SGD steps, an inf at step 3, a NaN at step 6, unscale_ + clipping at step 5. */
function run(scaler: torch.amp.GradScaler) {
  torch.manualSeed(3);
  const w = torch.randn([4, 3]).requiresGrad_(true), b = torch.randn([4]).requiresGrad_(true);
  const opt = new optim.SGD([w, b], { lr: 0.1 });
  const x = torch.linspace(-1, 1, 15).reshape(5, 3);
  const scales: number[] = [], params: number[][] = [], skipped: boolean[] = [];
  for (let step = 0; step < 8; step++) {
    torch.tidy(() => {
      opt.zeroGrad();
      const loss = x.matmul(w.t()).add(b).pow(2).mean().mul(step + 1);
      scaler.scale(loss).backward();
      if (step === 3 || step === 6) torch.noGrad(() => w.grad!.select(0, 1).select(0, 2).fill_(step === 3 ? Infinity : NaN));
      if (step === 5) { scaler.unscale_(opt); nn.utils.clipGradNorm_([w, b], 0.5); }
      const before = w.detach().clone();
      scaler.step(opt);
      skipped.push(before.equal(w.detach()));
      scaler.update();
      scales.push(scaler.getScale());
      params.push([...(w.detach().flatten().toArray() as number[]), ...(b.detach().toArray() as number[])]);
    });
  }
  torch.dispose([w, b, x]);
  return { scales, params, skipped };
}

describe("torch.amp.GradScaler", () => {
  const baseline = liveTensors();
  after(async () => { await assertNoLeak(baseline); });

  it("matches Python's torch.amp.GradScaler('cpu'): scales, skipped steps, parameters, state dict", (t) => {
    const ref = pythonReference<Ref>("grad_scaler_reference.py");
    if (ref.skip) { t.skip(ref.skip); return; }
    const scaler = new torch.amp.GradScaler("cpu", { initScale: 2 ** 10, growthInterval: 2 });
    const got = run(scaler);
    assert.deepEqual(got.scales, ref.scales);
    assert.deepEqual(got.skipped, ref.skipped);
    got.params.forEach((p, i) => p.forEach((v, j) => assert.ok(Math.abs(v - ref.params[i]![j]!) <= 1e-6 + 1e-6 * Math.abs(ref.params[i]![j]!), `step ${i} param ${j}: got ${v}, expected ${ref.params[i]![j]}`)));
    assert.deepEqual(scaler.stateDict(), ref.state);
  });

  it("skips steps with inf/NaN and backs off, grows after growthInterval clean steps, and a power-of-two scale leaves the clean steps exact", () => {
    const scaled = run(new torch.amp.GradScaler("cpu", { initScale: 2 ** 10, growthInterval: 2 }));
    assert.deepEqual(scaled.scales, [1024, 2048, 2048, 1024, 1024, 2048, 1024, 1024]);
    assert.deepEqual(scaled.skipped, [false, false, false, true, false, false, true, false]);
    // disabled: every method passes through, so an inf step is taken (and poisons w)
    const plain = run(new torch.amp.GradScaler("cpu", { enabled: false }));
    assert.deepEqual(plain.scales, [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(scaled.params.slice(0, 3), plain.params.slice(0, 3));  // scaling by 2^k and back is exact
    assert.ok(plain.params[3]!.some((v) => !Number.isFinite(v)));
  });

  it("misuse is a clear error; state round-trips with Python's keys", () => {
    assert.throws(() => new torch.amp.GradScaler("cpu", { initScale: -1 }), /expected initScale to be a positive number but received -1/);
    assert.throws(() => new torch.amp.GradScaler("cpu", { growth_factor: 2 } as never), /unknown option "growth_factor"/);
    assert.throws(() => new torch.amp.GradScaler("cpu", { backoffFactor: 1.5 }), /backoffFactor to be a positive number below 1/);
    const w = torch.ones([2]).requiresGrad_(true);
    const opt = new optim.SGD([w], { lr: 0.1 });
    const scaler = new torch.amp.GradScaler("cpu");
    assert.throws(() => scaler.update(), /no inf checks were recorded/);
    torch.tidy(() => scaler.scale(w.sum()).backward());
    scaler.unscale_(opt);
    assert.throws(() => scaler.unscale_(opt), /already been called on this optimizer since the last update/);
    scaler.step(opt);
    assert.throws(() => scaler.step(opt), /step\(\) has already been called since the last update/);
    scaler.update();
    assert.deepEqual(Object.keys(scaler.stateDict()).sort(), ["_growth_tracker", "backoff_factor", "growth_factor", "growth_interval", "scale"]);
    const other = new torch.amp.GradScaler("cpu", { initScale: 8 });
    other.loadStateDict(scaler.stateDict() as torch.amp.GradScalerState);
    assert.deepEqual(other.stateDict(), scaler.stateDict());
    assert.throws(() => other.loadStateDict({}), /no numeric 'scale'/);
    torch.dispose([w, ...(w.grad ? [w.grad] : [])]);
  });
});
