// torchlight/lightning, the parts lightning.test.ts does not cover: LightningDataModule (hooks,
// state in checkpoints), LearningRateMonitor, ModelSummary, the progress bar's plain lines,
// manual optimisation, and several validation loaders (metrics per loader).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, TensorDataset } from "../../src/data/index.js";
import * as pl from "../../src/lightning/index.js";
import { disposeTree } from "../../src/lightning/internal.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

const quiet = { enableProgressBar: false, enableModelSummary: false, logger: false as const, enableCheckpointing: false };
const tmp = () => mkdtempSync(join(tmpdir(), "torchlight-plcb-"));
function data(n = 32, seed = 1): TensorDataset {
  const g = new torch.Generator({ seed });
  return new TensorDataset(torch.randn([n, 8], { generator: g }), torch.randn([n, 2], { generator: g }));
}
const freeData = (ds: TensorDataset) => torch.dispose(ds.tensors);
const freeModel = (m: nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);
const flat = (m: nn.Module) => torch.tidy(() => torch.cat(m.parameters().map((p) => p.flatten())).toArray() as number[]);

class Regressor extends pl.LightningModule {
  net = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 2));
  override forward(x: Tensor): Tensor { return this.net.forward(x); }
  trainingStep([x, y]: Tensor[]): Tensor { return this.forward(x!).sub(y!).pow(2).mean(); }
  validationStep([x, y]: Tensor[]): void { this.log("val_loss", this.forward(x!).sub(y!).pow(2).mean()); }
  configureOptimizers(): pl.OptimizerConfig { return new optim.SGD(this.parameters(), { lr: 0.05 }); }
}

describe("torchlight/lightning callbacks and data modules", () => {
  let baseline = 0;
  before(() => { baseline = liveTensors(); });
  after(async () => { await assertNoLeak(baseline); });

  it("LightningDataModule: prepareData/setup/teardown per stage, its loaders, and its state in checkpoints", async () => {
    const ds = data(16);
    const calls: string[] = [];
    class DM extends pl.LightningDataModule {
      seen = 0;
      constructor() { super(); this.saveHyperparameters({ batchSize: 4 }); }
      override prepareData(): void { calls.push("prepareData"); }
      override setup(stage: pl.Stage): void { calls.push(`setup:${stage}`); }
      override teardown(stage: pl.Stage): void { calls.push(`teardown:${stage}`); }
      override trainDataloader() { this.seen++; return new DataLoader(ds, { batchSize: this.hparams.batchSize as number }); }
      override valDataloader() { return new DataLoader(ds, { batchSize: 8 }); }
      override stateDict() { return { seen: this.seen }; }
      override loadStateDict(s: Record<string, unknown>) { this.seen = s.seen as number; }
    }
    const dir = tmp();
    const dm = new DM();
    const model = new Regressor();
    const t = new pl.Trainer({ ...quiet, maxEpochs: 2, numSanityValSteps: 0 });
    await t.fit(model, { datamodule: dm });
    assert.deepEqual(calls, ["prepareData", "setup:fit", "teardown:fit"]);
    assert.equal(t.globalStep, 8, "2 epochs of 16/4 batches from trainDataloader()");
    assert.ok("val_loss" in t.callbackMetrics, "valDataloader() was used");
    await t.saveCheckpoint(join(dir, "dm.ckpt"));
    const ck = await pl.readCheckpoint(join(dir, "dm.ckpt"));
    assert.deepEqual(ck.DM, { seen: 1 });
    assert.deepEqual(ck.datamodule_hyper_parameters, { batchSize: 4 });
    disposeTree(ck);
    const dm2 = new DM();
    const t2 = new pl.Trainer({ ...quiet, maxEpochs: 3, numSanityValSteps: 0 });
    const model2 = new Regressor();
    await t2.fit(model2, { datamodule: dm2, ckptPath: join(dir, "dm.ckpt") });
    assert.equal(dm2.seen, 2, "the state came back from the checkpoint (1), then fit asked for the loader once more");
    await assert.rejects(t2.fit(model2, { datamodule: dm2, trainDataloaders: new DataLoader(ds) }), /either a datamodule or dataloaders/);
    freeModel(model); freeModel(model2); freeData(ds);
  });

  it("ModelCheckpoint trainTimeIntervalMs saves after the batch that ends the interval; it excludes the other triggers", async () => {
    const ds = data(16);
    const run = async (ms: number, strategy?: pl.Strategy) => {
      const dir = tmp();
      const ck = new pl.ModelCheckpoint({ dirpath: dir, trainTimeIntervalMs: ms, saveTopK: -1, filename: "{step}" });
      const model = new Regressor();
      class Slow extends pl.Callback {  // each batch takes >= 3 ms
        override onTrainBatchStart(): void { const t = performance.now(); while (performance.now() - t < 3); }
      }
      await new pl.Trainer({ ...quiet, enableCheckpointing: true, maxEpochs: 1, callbacks: [new Slow(), ck], ...(strategy ? { strategy } : {}) }).fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }) });
      freeModel(model);
      return readdirSync(dir).sort();
    };
    assert.deepEqual(await run(1), ["step=1.ckpt", "step=2.ckpt", "step=3.ckpt", "step=4.ckpt"], "a 1 ms interval: every 3 ms batch saves");
    assert.deepEqual(await run(3_600_000), [], "an hour: no batch saves, and no epoch save either (everyNEpochs defaults to 0)");
    // the decision is the strategy's (rank 0's under DDP): a strategy that says "save" wins over this rank's clock
    class RankZeroSaysSave extends pl.SingleDeviceStrategy { override _broadcastDecision(): boolean { return false; } }
    assert.deepEqual(await run(3_600_000, new RankZeroSaysSave()), ["step=1.ckpt", "step=2.ckpt", "step=3.ckpt", "step=4.ckpt"]);
    assert.throws(() => new pl.ModelCheckpoint({ trainTimeIntervalMs: 1000, everyNTrainSteps: 5 }),
      (e: pl.LightningError) => e.code === "PL_MISCONFIGURATION" && /mutually exclusive/.test(e.message));
    assert.throws(() => new pl.ModelCheckpoint({ trainTimeIntervalMs: -1 }), /positive number of milliseconds/);
    freeData(ds);
  });

  it("LearningRateMonitor logs each step's or epoch's learning rate as the scheduler sets it", async () => {
    const ds = data(16);
    class Scheduled extends Regressor {
      constructor(readonly interval: "step" | "epoch") { super(); }
      override configureOptimizers() {
        const opt = new optim.SGD(this.parameters(), { lr: 0.1, momentum: 0.5 });
        return { optimizer: opt, lrScheduler: { scheduler: new optim.lrScheduler.StepLR(opt, 1, 0.5), interval: this.interval } };
      }
    }
    for (const interval of ["step", "epoch"] as const) {
      const mon = new pl.LearningRateMonitor({ logMomentum: true });
      const m = new Scheduled(interval);
      const t = new pl.Trainer({ ...quiet, logger: new pl.CSVLogger(tmp()), maxEpochs: 2, logEveryNSteps: 1, callbacks: [mon] });
      await t.fit(m, { trainDataloaders: new DataLoader(ds, { batchSize: 8 }) });
      // StepLR(1, 0.5): the lr halves at each scheduler step; the monitor records the value in force
      const expect = interval === "step" ? [0.1, 0.05, 0.025, 0.0125] : [0.1, 0.05];
      assert.deepEqual(mon.lrs["lr-SGD"], expect, interval);
      assert.deepEqual(mon.lrs["lr-SGD-momentum"], expect.map(() => 0.5));
      freeModel(m);
    }
    assert.throws(() => new pl.LearningRateMonitor({ loggingInterval: "batch" as never }), /"step", "epoch" or null/);
    freeData(ds);
  });

  it("ModelSummary: names, types and parameter counts of the top-level modules", () => {
    const m = new Regressor();
    const frozen = m.net.at(2) as nn.Linear;
    frozen.weight.requiresGrad = false;
    const lines = pl.summarize(m).split("\n");
    assert.match(lines[0]!, /Name\s*\|\s*Type\s*\|\s*Params/);
    assert.match(lines[2]!, /^0\s*\| net\s*\| Sequential\s*\| 178\s*$/);  // 8*16+16 + 16*2+2
    assert.equal(lines.at(-4), "146       Trainable params");
    assert.equal(lines.at(-3), "32        Non-trainable params");
    assert.equal(lines.at(-2), "178       Total params");
    assert.equal(lines.at(-1), "0.001     Total estimated model params size (MB)");
    const deep = pl.summarize(m, 2);
    assert.match(deep, /net\.0\s*\| Linear\s*\| 144/);
    freeModel(m);
  });

  it("the progress bar writes plain lines every tenth of the epoch with its metrics when not on a terminal", async () => {
    const ds = data(40);
    class Logged extends Regressor {
      override trainingStep(b: Tensor[]): Tensor { const l = super.trainingStep(b); this.log("loss", l, { progBar: true }); return l; }
    }
    const bar = new pl.TQDMProgressBar({ live: false });
    const m = new Logged();
    const t = new pl.Trainer({ ...quiet, enableProgressBar: true, maxEpochs: 1, callbacks: [bar] });
    const orig = console.log;
    const printed: string[] = [];
    console.log = (...a: unknown[]) => { printed.push(a.join(" ")); };
    try { await t.fit(m, { trainDataloaders: new DataLoader(ds, { batchSize: 2 }) }); } finally { console.log = orig; }
    assert.equal(bar.lines.length, 10, bar.lines.join("\n"));
    assert.match(bar.lines[0]!, /^Epoch 0: 2\/20 \[\d\d:\d\d<\d\d:\d\d, [\d.]+it\/s, loss=-?\d/);
    assert.match(bar.lines.at(-1)!, /^Epoch 0: 20\/20 /);
    assert.deepEqual(printed, bar.lines);
    freeModel(m); freeData(ds);
  });

  it("manual optimisation: manualBackward + optimizers() gives automatic optimisation's parameters; misuse is an error", async () => {
    const ds = data(24);
    class Manual extends pl.LightningModule {
      net = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 2));
      constructor() { super(); this.automaticOptimization = false; }
      override forward(x: Tensor): Tensor { return this.net.forward(x); }
      configureOptimizers(): pl.OptimizerConfig { return new optim.SGD(this.parameters(), { lr: 0.05 }); }
      trainingStep([x, y]: Tensor[]): void {
        const opt = this.optimizers() as pl.LightningOptimizer;
        opt.zeroGrad();
        const loss = this.forward(x!).sub(y!).pow(2).mean();
        this.manualBackward(loss);
        opt.step();
        this.log("loss", loss);
      }
    }
    const fit = async (m: pl.LightningModule) => {
      torch.manualSeed(3);
      const init = new Regressor();
      m.loadStateDict(init.stateDict());
      freeModel(init);
      const t = new pl.Trainer({ ...quiet, maxEpochs: 2 });
      await t.fit(m, { trainDataloaders: new DataLoader(ds, { batchSize: 6 }) });
      return t;
    };
    const auto = new Regressor(), manual = new Manual();
    await fit(auto);
    const t = await fit(manual);
    assert.deepEqual(flat(manual), flat(auto));
    assert.equal(t.globalStep, 8, "each opt.step() counts as a step");
    const m2 = new Regressor();
    await assert.rejects(new pl.Trainer({ ...quiet, maxEpochs: 1 }).fit(new (class extends Regressor {
      override trainingStep(b: Tensor[]): Tensor { const l = super.trainingStep(b); this.manualBackward(l); return l; }
    })(), { trainDataloaders: new DataLoader(ds, { batchSize: 6 }) }), /automaticOptimization = false/);
    freeModel(auto); freeModel(manual); freeModel(m2); freeData(ds);
  });

  it("fit/validate/test/predict take Lightning's arguments positionally too, with the same result as by name", async () => {
    const ds = data(16);
    class WithTest extends Regressor {
      testStep([x, y]: Tensor[]): void { this.log("test_loss", this.forward(x!).sub(y!).pow(2).mean()); }
      override predictStep([x]: Tensor[]): Tensor { return this.forward(x!); }
    }
    const run = async (positional: boolean) => {
      torch.manualSeed(4);
      const m = new WithTest();
      const t = new pl.Trainer({ ...quiet, maxEpochs: 1, numSanityValSteps: 0 });
      const train = new DataLoader(ds, { batchSize: 4 }), val = new DataLoader(ds, { batchSize: 8 });
      if (positional) await t.fit(m, train, val); else await t.fit(m, { trainDataloaders: train, valDataloaders: val });
      const v = positional ? await t.validate(m, val, null, false) : await t.validate(m, { dataloaders: val, verbose: false });
      const te = positional ? await t.test(null, val, null, false) : await t.test(undefined, { dataloaders: val, verbose: false });
      const p = positional ? await t.predict(m, new DataLoader(ds, { batchSize: 8 })) : await t.predict(m, { dataloaders: new DataLoader(ds, { batchSize: 8 }) });
      const none = await t.predict(m, new DataLoader(ds, { batchSize: 8 }), null, false);
      const out = { params: flat(m), v, te, p: (p as Tensor[][]).flat().map((x) => (x as unknown as Tensor).toArray()), none };
      disposeTree(p); freeModel(m);
      return out;
    };
    const a = await run(true), b = await run(false);
    assert.deepEqual(a, b);
    assert.equal(a.none, undefined, "returnPredictions: false returns nothing");
    assert.ok("val_loss" in a.v[0]! && "test_loss" in a.te[0]!);
    await assert.rejects(new pl.Trainer(quiet).fit(new Regressor(), new DataLoader(ds), { trainDataloaders: new DataLoader(ds) } as never), /trainDataloaders was given both positionally/);
    freeData(ds);
  });

  it("several validation loaders: names get /dataloader_idx_N and validate() returns one dict per loader", async () => {
    const a = data(8, 1), b = data(8, 2);
    const m = new Regressor();
    const t = new pl.Trainer({ ...quiet, maxEpochs: 1 });
    const res = await t.validate(m, { dataloaders: [new DataLoader(a, { batchSize: 4 }), new DataLoader(b, { batchSize: 4 })], verbose: false });
    assert.equal(res.length, 2);
    assert.deepEqual(Object.keys(res[0]!), ["val_loss/dataloader_idx_0"]);
    assert.deepEqual(Object.keys(res[1]!), ["val_loss/dataloader_idx_1"]);
    const one = await t.validate(m, { dataloaders: new DataLoader(b, { batchSize: 4 }), verbose: false });
    assert.ok(Math.abs(one[0]!.val_loss! - res[1]!["val_loss/dataloader_idx_1"]!) < 1e-7, "the second loader's value is that loader's alone");
    assert.ok(Math.abs(one[0]!.val_loss! - res[0]!["val_loss/dataloader_idx_0"]!) > 1e-6);
    freeModel(m); freeData(a); freeData(b);
  });
});
