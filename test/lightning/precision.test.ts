// Precision plugins in the Trainer: MixedPrecision's loss scaling path ("16-mixed" on CUDA)
// against a hand-written torch.amp.GradScaler loop, its state in checkpoints, and the
// plugin/option rules. The scaling path is tested on CPU with a forward in float32 (CPU
// autocast has no float16 on libtorch 1.13); test/torch/cuda.test.ts and scripts/gpu-check.sh
// run "16-mixed" for real on a GPU.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, TensorDataset } from "../../src/data/index.js";
import * as pl from "../../src/lightning/index.js";
import { disposeTree } from "../../src/lightning/internal.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

const quiet = { enableProgressBar: false, enableModelSummary: false, logger: false as const, enableCheckpointing: false };
const flat = (m: nn.Module) => torch.tidy(() => torch.cat(m.parameters().map((p) => p.flatten())).toArray() as number[]);
const free = (m: nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);
const INF_AT = 2;  // the batch whose loss is made infinite: its step must be skipped

/** MixedPrecision's scaler path with the forward left in float32, so it runs on any CPU. */
class ScaledFloat32 extends pl.MixedPrecision {
  override forwardContext<T>(fn: () => T): T { return fn(); }
}

class Net extends pl.LightningModule {
  net = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 2));
  override forward(x: Tensor): Tensor { return this.net.forward(x); }
  trainingStep([x, y]: Tensor[], i: number): Tensor {
    const loss = this.forward(x!).sub(y!).pow(2).mean();
    return i === INF_AT ? loss.mul(Infinity) : loss;
  }
  configureOptimizers(): pl.OptimizerConfig { return new optim.SGD(this.parameters(), { lr: 0.1 }); }
}

describe("torchlight/lightning precision plugins", () => {
  let baseline = 0;
  let ds: TensorDataset;
  before(() => {
    baseline = liveTensors();
    const g = new torch.Generator({ seed: 5 });
    ds = new TensorDataset(torch.randn([24, 8], { generator: g }).mul(3), torch.randn([24, 2], { generator: g }));
  });
  after(async () => { torch.dispose(ds.tensors); await assertNoLeak(baseline); });

  it("MixedPrecision with a GradScaler: the Trainer scales, unscales before clipping, skips the inf step and backs off, as the hand-written loop", async () => {
    const scalerOpts = { initScale: 2 ** 10, growthInterval: 2 };
    torch.manualSeed(0);
    const model = new Net();
    const ref = new Net();
    ref.loadStateDict(model.stateDict());
    // the reference: torch.amp.GradScaler's documented loop, with clipping between unscale_ and step
    const opt = new optim.SGD(ref.parameters(), { lr: 0.1 });
    const scaler = new torch.amp.GradScaler("cpu", scalerOpts);
    const scales: number[] = [];
    let i = 0;
    for await (const [x, y] of new DataLoader(ds, { batchSize: 4 }) as AsyncIterable<Tensor[]>) {
      torch.tidy(() => {
        opt.zeroGrad();
        let loss = ref.forward(x!).sub(y!).pow(2).mean();
        if (i === INF_AT) loss = loss.mul(Infinity);
        scaler.scale(loss).backward();
        scaler.unscale_(opt);
        nn.utils.clipGradNorm_(ref.parameters(), 0.5).dispose();
        scaler.step(opt);
        scaler.update();
      });
      torch.dispose([x!, y!]);
      scales.push(scaler.getScale());
      i++;
    }
    const seen: number[] = [];
    const plugin = new ScaledFloat32("16-mixed", "cpu", new torch.amp.GradScaler("cpu", scalerOpts));
    const t = new pl.Trainer({ ...quiet, maxEpochs: 1, plugins: [plugin], gradientClipVal: 0.5, callbacks: [new (class extends pl.Callback {
      override onTrainBatchEnd(): void { seen.push(plugin.scaler!.getScale()); }
    })()] });
    assert.equal(t.precision, "16-mixed");
    await t.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }) });
    assert.deepEqual(seen, scales, "the scale after each step (backed off at the inf step, grown every 2 clean ones)");
    assert.equal(scales[INF_AT], scales[INF_AT - 1]! / 2, "backed off at the inf step");
    assert.deepEqual(scales.slice(0, 2), [2 ** 10, 2 ** 11], "grown after 2 clean steps");
    assert.deepEqual(flat(model), flat(ref), "the same parameters, bit for bit");
    assert.equal(t.globalStep, 6, "a skipped step still counts as an optimizer step, as in Lightning");
    // the scaler's state travels in checkpoints under the plugin's class name, as Lightning's
    const ckpt = t.dumpCheckpoint();
    assert.equal((ckpt.ScaledFloat32 as { scale: number }).scale, scales.at(-1));
    disposeTree(ckpt);
    const dir = mkdtempSync(join(tmpdir(), "torchlight-prec-"));
    await t.saveCheckpoint(join(dir, "a.ckpt"));
    const plugin2 = new ScaledFloat32("16-mixed", "cpu", new torch.amp.GradScaler("cpu", scalerOpts));
    const resumed = new Net();
    await new pl.Trainer({ ...quiet, maxEpochs: 1, plugins: [plugin2] }).fit(resumed, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }), ckptPath: join(dir, "a.ckpt") });
    assert.equal(plugin2.scaler!.getScale(), scales.at(-1), "restored from the checkpoint (nothing left to train)");
    free(model); free(ref); free(resumed); opt.dispose();
  });

  it("manual optimisation steps through the plugin too: this.optimizers() scales nothing itself but steps via the scaler", async () => {
    const plugin = new ScaledFloat32("16-mixed", "cpu", new torch.amp.GradScaler("cpu", { initScale: 2 ** 8, growthInterval: 1 }));
    class Manual extends Net {
      constructor() { super(); this.automaticOptimization = false; }
      override trainingStep([x, y]: Tensor[]): Tensor {
        const o = this.optimizers() as pl.LightningOptimizer;
        o.zeroGrad();
        const loss = this.forward(x!).sub(y!).pow(2).mean();
        this.manualBackward(loss);
        o.step();
        return loss;
      }
    }
    const m = new Manual();
    const t = new pl.Trainer({ ...quiet, maxEpochs: 1, plugins: [plugin] });
    await t.fit(m, { trainDataloaders: new DataLoader(ds, { batchSize: 8 }) });
    assert.equal(t.globalStep, 3);
    assert.equal(plugin.scaler!.getScale(), 2 ** 11, "three clean steps, each growing the scale (growthInterval 1)");
    free(m);
  });

  it("rules: one precision source, no scaler for bf16, plugins of known kinds, 16-mixed on CPU falls back to bf16-mixed", () => {
    assert.throws(() => new pl.Trainer({ ...quiet, precision: "bf16-mixed", plugins: [new pl.MixedPrecision("bf16-mixed", "cpu")] }), /both precision "bf16-mixed" and a precision plugin/);
    assert.throws(() => new pl.MixedPrecision("bf16-mixed", "cpu", new torch.amp.GradScaler("cpu")), /needs no GradScaler/);
    assert.throws(() => new pl.Trainer({ ...quiet, plugins: [{ hello: 1 }] }), /plugins may hold cluster environments .* and precision plugins .*; got Object/);
    const warn = console.warn;
    const warned: string[] = [];
    console.warn = (m: string) => { warned.push(m); };
    try { assert.equal(new pl.Trainer({ ...quiet, precision: "16-mixed" }).precision, "bf16-mixed"); } finally { console.warn = warn; }
    assert.match(warned[0]!, /AMP with fp16 is not supported on CPU/);
    assert.equal(new pl.Trainer({ ...quiet, precision: 64 }).precisionPlugin.constructor.name, "TruePrecision");
  });
});
