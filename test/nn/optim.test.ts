// Optimizers and schedulers against Python PyTorch: 20 steps from the same state give the
// same parameters (bit-exact: the native update runs PyTorch's ops in PyTorch's order) and
// the same learning rates.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { optim, type Tensor } from "../../src/torch/index.js";
import { assertMatches, assertNoLeak, decode, liveTensors, pythonReference, type Encoded } from "../helpers.js";

const S = optim.lrScheduler;
interface Ref {
  init: Record<"W" | "b" | "X" | "Y", Encoded>;
  optimizers: Record<string, { W: Encoded; b: Encoded }[]>;
  schedulers: Record<string, { lr: number; momentum: number | null; beta1: number | null }[]>;
}
type Make = (p: Tensor[]) => optim.Optimizer<object>;

const OPTIMIZERS: Record<string, Make> = {
  sgd: (p) => new optim.SGD(p, { lr: 0.1 }),
  sgd_momentum: (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
  sgd_nesterov: (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }),
  sgd_maximize: (p) => new optim.SGD(p, { lr: 0.01, maximize: true }),
  adam: (p) => new optim.Adam(p, { lr: 0.01 }),
  adam_wd_amsgrad: (p) => new optim.Adam(p, { lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true }),
  adamw: (p) => new optim.AdamW(p, { lr: 0.01 }),
  adamw_amsgrad: (p) => new optim.AdamW(p, { lr: 0.02, weightDecay: 0.05, amsgrad: true, eps: 1e-6 }),
  rmsprop: (p) => new optim.RMSprop(p, { lr: 0.01 }),
  rmsprop_centered_momentum: (p) => new optim.RMSprop(p, { lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.01 }),
  adagrad: (p) => new optim.Adagrad(p, { lr: 0.1, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1 }),
  adam_groups: (p) => new optim.Adam([{ params: [p[0]!] }, { params: [p[1]!], lr: 0.001 }], { lr: 0.02 }),
};

const SCHEDULERS: Record<string, [(o: optim.Optimizer<object>) => { step(m?: number): void }, string]> = {
  step: [(o) => new S.StepLR(o, 3, 0.5), "sgd"],
  multistep: [(o) => new S.MultiStepLR(o, [2, 5, 9], 0.3), "sgd"],
  exponential: [(o) => new S.ExponentialLR(o, 0.9), "sgd"],
  cosine: [(o) => new S.CosineAnnealingLR(o, 7, 0.001), "sgd"],
  linear: [(o) => new S.LinearLR(o, { startFactor: 0.25, totalIters: 6 }), "sgd"],
  lambda: [(o) => new S.LambdaLR(o, (e) => 0.95 ** e), "sgd"],
  onecycle: [(o) => new S.OneCycleLR(o, { maxLr: 0.5, totalSteps: 20 }), "sgd_momentum"],
  onecycle_three_phase_linear: [(o) => new S.OneCycleLR(o, { maxLr: 0.05, totalSteps: 25, threePhase: true, annealStrategy: "linear", pctStart: 0.25 }), "adam"],
  sequential: [(o) => new S.SequentialLR(o, [new S.LinearLR(o, { startFactor: 0.1, totalIters: 4 }), new S.ExponentialLR(o, 0.9)], [4]), "sgd"],
  plateau: [(o) => new S.ReduceLROnPlateau(o, { patience: 2, factor: 0.5, cooldown: 1 }) as { step(m?: number): void }, "sgd"],
};
const PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.9, 0.91, 0.92, 0.7, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77];

describe("optimizers and schedulers match PyTorch", () => {
  let ref: Ref;
  let baseline = 0;
  let X: Tensor, Y: Tensor;
  const params = () => [decode(ref.init.W).requiresGrad_(), decode(ref.init.b).requiresGrad_()];
  const lossOf = (W: Tensor, b: Tensor) => W.matmul(X).add(b.unsqueeze(1)).sub(Y).pow(2).mean();
  const trainStep = (o: optim.Optimizer<object>, p: Tensor[]) => torch.tidy(() => { o.zeroGrad(); lossOf(p[0]!, p[1]!).backward(); o.step(); });

  before(() => {
    baseline = liveTensors();
    ref = pythonReference("optim_reference.py");
    X = decode(ref.init.X).keep(); Y = decode(ref.init.Y).keep();
  });
  after(async () => { X.dispose(); Y.dispose(); await assertNoLeak(baseline); });

  for (const [name, make] of Object.entries(OPTIMIZERS)) {
    it(`${name}: 20 steps bit-exact`, () => {
      const p = torch.tidy(() => params().map((t) => t.keep()));
      const o = make(p);
      ref.optimizers[name]!.forEach((want, i) => {
        trainStep(o, p);
        assertMatches(p[0]!, want.W, `${name} step ${i + 1} W`, 0, 0);
        assertMatches(p[1]!, want.b, `${name} step ${i + 1} b`, 0, 0);
      });
      o.dispose(); torch.dispose(p);
    });
  }

  for (const [name, [make, optName]] of Object.entries(SCHEDULERS)) {
    it(`${name} scheduler: same rates`, () => {
      const p = torch.tidy(() => params().map((t) => t.keep()));
      const o = OPTIMIZERS[optName]!(p);
      const s = make(o);
      const want = ref.schedulers[name]!;
      want.forEach((w, i) => {
        trainStep(o, p);
        if (name === "plateau") s.step(PLATEAU_METRICS[i]!);
        else if (i < want.length - 1) s.step();
        const g = o.paramGroups[0] as Record<string, unknown>;
        assert.ok(Math.abs((g.lr as number) - w.lr) <= 1e-15 * Math.abs(w.lr) + 1e-18, `${name} step ${i}: lr ${String(g.lr)} vs ${w.lr}`);
        if (w.momentum !== null && "momentum" in g) assert.ok(Math.abs((g.momentum as number) - w.momentum) < 1e-15, `${name} step ${i}: momentum`);
        if (w.beta1 !== null) assert.ok(Math.abs((g.betas as number[])[0]! - w.beta1) < 1e-15, `${name} step ${i}: beta1`);
      });
      o.dispose(); torch.dispose(p);
    });
  }

  it("stateDict has PyTorch's structure and loadStateDict restores the trajectory", () => {
    const p = torch.tidy(() => params().map((t) => t.keep()));
    const o = new optim.Adam(p, { lr: 0.01, amsgrad: true });
    for (let i = 0; i < 3; i++) trainStep(o, p);
    const sd = o.stateDict();
    assert.deepEqual([...sd.state.keys()], [0, 1]);
    assert.deepEqual(Object.keys(sd.state.get(0)!).sort(), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]);
    assert.equal((sd.state.get(0)!.step as Tensor).item(), 3);
    assert.deepEqual(sd.param_groups[0]!.params, [0, 1]);
    assert.equal(sd.param_groups[0]!.weight_decay, 0);
    // a fresh optimizer loaded from the dict continues exactly as the original
    const q = torch.tidy(() => p.map((t) => t.detach().clone().requiresGrad_().keep()));
    const o2 = new optim.Adam(q, { lr: 0.5 });
    o2.loadStateDict(sd);
    assert.equal(o2.paramGroups[0]!.lr, 0.01);
    assert.equal(o2.paramGroups[0]!.amsgrad, true);
    for (let i = 0; i < 2; i++) { trainStep(o, p); trainStep(o2, q); }
    assert.ok(p[0]!.equal(q[0]!) && p[1]!.equal(q[1]!), "same parameters after resuming");
    o.dispose(); o2.dispose(); torch.dispose([...p, ...q]);
  });

  it("bad options are coded errors naming the fix", () => {
    const p = torch.tidy(() => params().map((t) => t.keep()));
    assert.throws(() => new optim.Adam(p, { lr: 0.01, weight_decay: 0.1 } as never), (e: Error & { code?: string }) =>
      e.code === "TORCH_OPTIMIZER_OPTION" && /unknown option "weight_decay"; did you mean weightDecay\?/.test(e.message));
    assert.throws(() => new optim.SGD(p, { lr: -1 }), /Invalid learning rate: -1/);
    assert.throws(() => new optim.Adam(p, { betas: [1.5, 0.9] }), /beta parameter at index 0/);
    assert.throws(() => new optim.SGD(p, { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum/);
    assert.throws(() => new optim.SGD([], {}), /empty parameter list/);
    assert.throws(() => new optim.SGD([{ params: [p[0]!] }, { params: [p[0]!] }]), /more than one parameter group/);
    assert.throws(() => new optim.Adam(p, { fused: true }), /fused=true is not supported/);
    const o = new optim.Adam(p);
    assert.throws(() => o.loadStateDict({ state: new Map(), param_groups: [] }), /has 0 parameter groups but the optimizer has 1/);
    torch.dispose(p);
  });
});
