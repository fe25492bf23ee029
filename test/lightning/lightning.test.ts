// torchlight/lightning: hook order, logging semantics, exact resume, ModelCheckpoint top-k,
// EarlyStopping, gradient accumulation and clipping, DDP with 2 processes, TensorBoard event
// files (parsed by an independent reader in Python), and checkpoints opened by Python torch.load.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, TensorDataset } from "../../src/data/index.js";
import * as pl from "../../src/lightning/index.js";
import { crc32c } from "../../src/lightning/internal.js";
import { ROOT, PYTHON, assertNoLeak, liveTensors } from "../helpers.js";

const tmp = () => mkdtempSync(join(tmpdir(), "torchlight-pl-"));
const quiet = { enableProgressBar: false, enableModelSummary: false, logger: false as const, enableCheckpointing: false };

function data(n = 32, seed = 1): TensorDataset {
  const g = new torch.Generator({ seed });
  return new TensorDataset(torch.randn([n, 8], { generator: g }), torch.randn([n, 2], { generator: g }));
}
const freeData = (ds: TensorDataset) => torch.dispose(ds.tensors);

class Regressor extends pl.LightningModule {
  net: nn.Sequential;
  constructor(hp: { hidden?: number; dropout?: number; lr?: number } = {}) {
    super();
    this.saveHyperparameters(hp);
    const h = hp.hidden ?? 16;
    this.net = new nn.Sequential(new nn.Linear(8, h), new nn.Tanh(), new nn.Dropout(hp.dropout ?? 0), new nn.Linear(h, 2));
  }
  override forward(x: Tensor): Tensor { return this.net.forward(x); }
  trainingStep([x, y]: Tensor[]): Tensor {
    const loss = this.forward(x!).sub(y!).pow(2).mean();
    this.log("train_loss", loss, { progBar: true });
    return loss;
  }
  validationStep([x, y]: Tensor[]): void { this.log("val_loss", this.forward(x!).sub(y!).pow(2).mean()); }
  configureOptimizers(): optim.Optimizer<object> { return new optim.SGD(this.parameters(), { lr: (this.hparams.lr as number) ?? 0.1, momentum: 0.9 }); }
}

const flat = (m: nn.Module) => torch.tidy(() => torch.cat(m.parameters().map((p) => p.flatten())).toArray() as number[]);
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
const freeModel = (m: nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);

describe("torchlight/lightning", () => {
  let baseline = 0;
  before(() => { baseline = liveTensors(); });
  after(async () => { await assertNoLeak(baseline); });

  it("calls the hooks in Lightning's documented order", async () => {
    const calls: string[] = [];
    class Recorder extends Regressor {
      constructor() {
        super();
        const proto = pl.LightningModule.prototype as unknown as Record<string, unknown>;
        for (const name of Object.getOwnPropertyNames(pl.LightningModule.prototype)) {
          if (!/^(on[A-Z]|setup|teardown|prepareData|configureOptimizers|optimizerZeroGrad|backward|configureGradientClipping)/.test(name)) continue;
          if (typeof proto[name] !== "function" || Object.getOwnPropertyDescriptor(pl.LightningModule.prototype, name)?.get) continue;
          const orig = (this as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
          (this as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => { calls.push(name); return orig.apply(this, a); };
        }
      }
      override trainingStep(b: Tensor[]): Tensor { calls.push("trainingStep"); return super.trainingStep(b); }
      override validationStep(b: Tensor[]): void { calls.push("validationStep"); super.validationStep(b); }
      override configureOptimizers(): optim.Optimizer<object> { calls.push("configureOptimizers"); return super.configureOptimizers(); }
      override optimizerStep(e: number, i: number, o: optim.Optimizer<object>, c: () => unknown): void { super.optimizerStep(e, i, o, c); calls.push("optimizerStep"); }
    }
    class CallbackRecorder extends pl.Callback {
      override onTrainBatchStart(): void { calls.push("Callback.onTrainBatchStart"); }
      override onTrainEpochEnd(): void { calls.push("Callback.onTrainEpochEnd"); }
    }
    const ds = data(8);
    const model = new Recorder();
    const trainer = new pl.Trainer({ ...quiet, maxEpochs: 1, limitTrainBatches: 1, limitValBatches: 1, numSanityValSteps: 1, callbacks: [new CallbackRecorder()] });
    await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }), valDataloaders: new DataLoader(ds, { batchSize: 4 }) });
    const val = ["onValidationModelEval", "onValidationStart", "onValidationEpochStart", "onValidationBatchStart", "validationStep", "onValidationBatchEnd",
      "onValidationEpochEnd", "onValidationEnd", "onValidationModelTrain"];
    assert.deepEqual(calls, [
      "prepareData", "setup", "configureOptimizers", "onFitStart",
      ...val,  // sanity check
      "onTrainStart", "onTrainEpochStart",
      "Callback.onTrainBatchStart", "onTrainBatchStart", "trainingStep", "onBeforeZeroGrad", "optimizerZeroGrad", "onBeforeBackward", "backward", "onAfterBackward",
      "onBeforeOptimizerStep", "configureGradientClipping", "optimizerStep", "onTrainBatchEnd",
      ...val,  // validation at the end of the epoch, before its end hooks
      "Callback.onTrainEpochEnd", "onTrainEpochEnd", "onTrainEnd", "onFitEnd", "teardown",
    ]);
    freeModel(model); freeData(ds);
  });

  it("log(): step values in training, batch-size-weighted epoch means, _step/_epoch suffixes, reduceFx, misuse errors", async () => {
    const dir = tmp();
    class Logging extends Regressor {
      override trainingStep([x, y]: Tensor[]): Tensor {
        const loss = this.forward(x!).sub(y!).pow(2).mean();
        const i = this.trainer.fitLoop.epochLoop.batchesDone;
        this.log("plain", i);                                   // onStep only (training default)
        this.log("both", 10 * (i + 1), { onStep: true, onEpoch: true, progBar: true });
        this.log("peak", i, { onEpoch: true, onStep: false, reduceFx: "max" });
        this.log("count", 1, { onEpoch: true, onStep: false, reduceFx: "sum" });
        return loss;
      }
      override validationStep([x]: Tensor[]): void { this.log("v", x!.shape[0]!); }
    }
    const ds = data(10);
    const model = new Logging();
    const csv = new pl.CSVLogger(dir, { name: "exp" });
    const trainer = new pl.Trainer({ ...quiet, logger: csv, maxEpochs: 1, logEveryNSteps: 1, numSanityValSteps: 0 });
    // batches of 4, 4, 2: "both" = 10, 20, 30 → epoch mean (4·10 + 4·20 + 2·30) / 10 = 18
    await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }), valDataloaders: new DataLoader(ds, { batchSize: 4 }) });
    const m = trainer.callbackMetrics;
    assert.equal(m.plain, 2);
    assert.equal(m.both_step, 30);
    assert.equal(m.both_epoch, 18);
    assert.equal(m.both, 18, "after the epoch, the plain name holds the epoch value");
    assert.equal(m.peak, 2);
    assert.equal(m.count, 3);
    assert.equal(m.v, (4 * 4 + 4 * 4 + 2 * 2) / 10, "validation values are weighted by batch size");
    assert.ok(!("both" in trainer.loggedMetrics) && "both_step" in trainer.loggedMetrics && "both_epoch" in trainer.loggedMetrics);
    assert.deepEqual(Object.keys(trainer.progressBarMetrics).sort(), ["both_epoch", "both_step"]);
    const rows = readFileSync(join(csv.logDir, "metrics.csv"), "utf8").trim().split("\n");
    assert.deepEqual(rows[0]!.split(","), ["both_epoch", "both_step", "count", "epoch", "peak", "plain", "step", "v"]);
    assert.equal(rows.length, 1 + 3 + 1 + 1, "3 step rows, 1 validation row, 1 training-epoch row");
    assert.ok(existsSync(join(csv.logDir, "hparams.yaml")));
    // misuse
    class BadLog extends Regressor {
      override configureOptimizers(): optim.Optimizer<object> { this.log("x", 1); return super.configureOptimizers(); }
    }
    const bad = new BadLog();
    await assert.rejects(new pl.Trainer({ ...quiet, maxEpochs: 1 }).fit(bad, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }) }),
      (e: pl.LightningError) => e.code === "PL_BAD_LOG" && /configureOptimizers/.test(e.message));
    class BadValue extends Regressor {
      override trainingStep([x]: Tensor[]): Tensor { const out = this.forward(x!); this.log("vec", out); return out.mean(); }
    }
    const bv = new BadValue();
    await assert.rejects(new pl.Trainer({ ...quiet, maxEpochs: 1 }).fit(bv, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }) }),
      (e: pl.LightningError) => e.code === "PL_BAD_LOG" && /one-element tensor/.test(e.message));
    freeModel(model); freeModel(bad); freeModel(bv); freeData(ds);
  });

  it("DDP's process-group backend: NCCL on a CUDA root device, Gloo on the CPU, a given one kept (Lightning's rule)", () => {
    const ddp = new pl.DDPStrategy();
    assert.equal(ddp.resolvedProcessGroupBackend(), "gloo");
    ddp.rootDevice = "cuda:1";
    assert.equal(ddp.resolvedProcessGroupBackend(), "nccl");
    const gloo = new pl.DDPStrategy({ processGroupBackend: "gloo" });
    gloo.rootDevice = "cuda:0";
    assert.equal(gloo.resolvedProcessGroupBackend(), "gloo");
  });

  it("configuration errors name the fix", async () => {
    assert.throws(() => new pl.Trainer({ maxEpoch: 3 } as never), (e: pl.LightningError) => e.code === "PL_MISCONFIGURATION" && /maxEpoch/.test(e.message));
    assert.throws(() => new pl.Trainer({ precision: "8-mixed" as never }), (e: pl.LightningError) => e.code === "PL_MISCONFIGURATION" && /"bf16-mixed"/.test(e.message));
    assert.equal(torch.areDeterministicAlgorithmsEnabled(), false);
    new pl.Trainer({ ...quiet, deterministic: "warn" });
    assert.ok(torch.areDeterministicAlgorithmsEnabled() && torch.isDeterministicAlgorithmsWarnOnlyEnabled(), "deterministic: \"warn\" sets libtorch's flag in warn-only mode");
    new pl.Trainer({ ...quiet });
    assert.equal(torch.areDeterministicAlgorithmsEnabled(), true, "an unset deterministic leaves the flag alone, as Lightning's None");
    new pl.Trainer({ ...quiet, deterministic: false });
    assert.equal(torch.areDeterministicAlgorithmsEnabled(), false);
    assert.throws(() => new pl.Trainer({ deterministic: "yes" as never }), /deterministic must be true, false, "warn" or null/);
    assert.equal(new pl.Trainer({ ...quiet, limitTrainBatches: null }).limitTrainBatches, null, "null is Lightning's None: every batch");
    assert.throws(() => new pl.Trainer({ limitTrainBatches: 1.5 }), /limitTrainBatches must be an integer number of batches/);
    class NoStep extends pl.LightningModule {}
    const ds = data(8);
    await assert.rejects(new pl.Trainer(quiet).fit(new NoStep(), { trainDataloaders: new DataLoader(ds) }), /No `trainingStep\(\)` method defined/);
    freeData(ds);
  });

  it("precision: bf16-mixed autocasts each step's forward (= a hand-written autocast loop), bf16-true converts the model, 16-mixed on CPU becomes bf16-mixed", async () => {
    const ds = data(32);
    const fitWith = async (precision: NonNullable<pl.TrainerOptions["precision"]>) => {
      torch.manualSeed(3);
      const m = new Regressor();
      const trainer = new pl.Trainer({ ...quiet, maxEpochs: 1, precision });
      await trainer.fit(m, { trainDataloaders: new DataLoader(ds, { batchSize: 8 }) });
      return { m, trainer };
    };
    const mixed = await fitWith("bf16-mixed");
    assert.equal(mixed.trainer.precision, "bf16-mixed");
    torch.manualSeed(3);
    const hand = new Regressor();
    const opt = hand.configureOptimizers();
    for await (const b of new DataLoader(ds, { batchSize: 8 })) {
      const [x, y] = b as Tensor[];
      torch.tidy(() => {
        opt.zeroGrad();
        const loss = torch.autocast("cpu", () => {
          const out = hand.forward(x!);
          assert.equal(out.dtype, "bfloat16");
          return out.sub(y!).pow(2).mean();
        });
        loss.backward();
        opt.step();
      });
      torch.dispose([x!, y!]);
    }
    assert.equal(maxDiff(flat(mixed.m), flat(hand)), 0, "Trainer bf16-mixed = the autocast loop, bit for bit");
    assert.ok(hand.parameters().every((p) => p.dtype === "float32"), "mixed precision keeps float32 weights");
    const full = await fitWith("32-true");
    assert.ok(maxDiff(flat(full.m), flat(hand)) > 1e-5, "bf16-mixed really ran in lower precision");
    const half = await fitWith("bf16-true");
    assert.ok(half.m.parameters().every((p) => p.dtype === "bfloat16"), "bf16-true converts the weights");
    assert.ok(maxDiff(flat(half.m), flat(full.m)) < 0.1, "bf16-true trains to nearby weights");
    const warn = console.warn;
    const warned: string[] = [];
    console.warn = (m: string) => { warned.push(m); };
    try { assert.equal(new pl.Trainer({ ...quiet, precision: "16-mixed" }).precision, "bf16-mixed"); } finally { console.warn = warn; }
    assert.match(warned.join(), /AMP with fp16 is not supported on CPU/);
    assert.equal(new pl.Trainer({ ...quiet, precision: 64 }).precision, "64-true");
    for (const m of [mixed.m, hand, full.m, half.m]) freeModel(m);
    opt.dispose();
    freeData(ds);
  });

  it("resumes exactly: a run stopped after step k and resumed from its checkpoint ends with the uninterrupted run's parameters", async () => {
    const dir = tmp();
    const ds = data(32, 3);
    const loader = () => new DataLoader(ds, { batchSize: 8, shuffle: true });
    const fit = async (opts: pl.TrainerOptions, fitOpts: pl.FitOptions = {}, seed = 5) => {
      torch.manualSeed(seed);
      const model = new Regressor({ dropout: 0.3 });
      const t = new pl.Trainer({ ...quiet, maxEpochs: 3, ...opts });
      await t.fit(model, { trainDataloaders: loader(), ...fitOpts });
      return model;
    };
    torch.manualSeed(11);
    const full = await fit({});
    const reference = flat(full);
    for (const k of [2, 4, 7]) {  // mid-epoch, the end of an epoch, another epoch's middle
      const path = join(dir, `step${k}.ckpt`);
      class SaveAt extends pl.Callback {
        override onTrainBatchEnd(t: pl.Trainer): void { if (t.globalStep === k) void t.saveCheckpoint(path); }
      }
      torch.manualSeed(11);
      const first = await fit({ maxSteps: k, callbacks: [new SaveAt()] });
      torch.manualSeed(999);  // the resumed run must not depend on the RNG state it starts with
      const resumed = await fit({}, { ckptPath: path }, 77);
      assert.equal(maxDiff(flat(resumed), reference), 0, `resumed after step ${k}: parameters differ from the uninterrupted run`);
      freeModel(first); freeModel(resumed);
    }
    // a checkpoint written by a callback at a training epoch's end (RayTrainReportCallback's moment)
    const path = join(dir, "epoch-end.ckpt");
    class SaveAtEpochEnd extends pl.Callback {
      override onTrainEpochEnd(t: pl.Trainer): void { if (t.currentEpoch === 0) void t.saveCheckpoint(path); }
    }
    torch.manualSeed(11);
    const first = await fit({ maxEpochs: 1, callbacks: [new SaveAtEpochEnd()] });
    torch.manualSeed(999);
    const resumed = await fit({}, { ckptPath: path }, 77);
    assert.equal(maxDiff(flat(resumed), reference), 0, "resumed from an epoch-end checkpoint: parameters differ from the uninterrupted run");
    freeModel(first); freeModel(resumed);
    freeModel(full); freeData(ds);
  });

  it("ModelCheckpoint keeps the top k by the monitored metric (files, best, kth), and last.ckpt", async () => {
    const dir = tmp();
    const script = [5, 3, 4, 1, 2];
    class Scripted extends Regressor {
      override validationStep(): void { this.log("score", script[this.currentEpoch]!); }
    }
    const ds = data(8);
    const model = new Scripted();
    const ckpt = new pl.ModelCheckpoint({ dirpath: dir, monitor: "score", saveTopK: 2, saveLast: true, filename: "{epoch}-{score:.1f}" });
    const trainer = new pl.Trainer({ ...quiet, enableCheckpointing: true, callbacks: [ckpt], maxEpochs: 5, numSanityValSteps: 0 });
    await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }), valDataloaders: new DataLoader(ds, { batchSize: 8 }) });
    assert.deepEqual(readdirSync(dir).sort(), ["epoch=3-score=1.0.ckpt", "epoch=4-score=2.0.ckpt", "last.ckpt"]);
    assert.equal(basename(ckpt.bestModelPath), "epoch=3-score=1.0.ckpt");
    assert.equal(ckpt.bestModelScore, 1);
    assert.equal(basename(ckpt.kthBestModelPath), "epoch=4-score=2.0.ckpt");
    assert.deepEqual(Object.values(ckpt.bestKModels).sort(), [1, 2]);
    // the bookkeeping travels in the checkpoint, under Lightning's state key
    const saved = await pl.readCheckpoint(join(dir, "last.ckpt"));
    const state = (saved.callbacks as Record<string, Record<string, unknown>>)[ckpt.stateKey]!;
    assert.equal(basename(state.best_model_path as string), "epoch=3-score=1.0.ckpt");
    assert.equal(saved.epoch, 4);
    assert.equal(saved.global_step, 10);
    const { disposeTree } = await import("../../src/lightning/checkpoint.js");
    disposeTree(saved);
    freeModel(model); freeData(ds);
  });

  it("EarlyStopping stops after `patience` checks without improvement", async () => {
    const script = [5, 4, 4.5, 4.2, 4.1, 0, 0];
    class Scripted extends Regressor {
      override validationStep(): void { this.log("score", script[this.currentEpoch]!); }
    }
    const ds = data(8);
    const model = new Scripted();
    const es = new pl.EarlyStopping({ monitor: "score", patience: 3 });
    const trainer = new pl.Trainer({ ...quiet, callbacks: [es], maxEpochs: 7, numSanityValSteps: 0 });
    await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 8 }), valDataloaders: new DataLoader(ds, { batchSize: 8 }) });
    assert.equal(es.stoppedEpoch, 4, "best at epoch 1; epochs 2, 3, 4 do not improve");
    assert.equal(trainer.currentEpoch, 5);
    assert.equal(es.bestScore, 4);
    await assert.rejects(new pl.Trainer({ ...quiet, callbacks: [new pl.EarlyStopping({ monitor: "nope" })], maxEpochs: 1, numSanityValSteps: 0 })
      .fit(new Scripted(), { trainDataloaders: new DataLoader(ds, { batchSize: 8 }), valDataloaders: new DataLoader(ds, { batchSize: 8 }) }),
    (e: pl.LightningError) => e.code === "PL_MONITOR" && /score/.test(e.message));
    freeModel(model); freeData(ds);
  });

  it("gradient accumulation over 2 batches of 8 equals batches of 16; clipping bounds the update", async () => {
    const ds = data(32, 4);
    const run = async (batch: number, acc: number, clip: Partial<pl.TrainerOptions> = {}) => {
      torch.manualSeed(3);
      const model = new Regressor({ lr: 0.05 });
      await new pl.Trainer({ ...quiet, maxEpochs: 2, accumulateGradBatches: acc, ...clip }).fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: batch }) });
      return model;
    };
    const a = await run(8, 2), b = await run(16, 1);
    assert.ok(maxDiff(flat(a), flat(b)) < 1e-6, `accumulated ${maxDiff(flat(a), flat(b))}`);
    torch.manualSeed(3);
    const init = flat(new Regressor());
    const c = await run(32, 1, { gradientClipVal: 1e-3, gradientClipAlgorithm: "value", maxEpochs: 1 } as never);
    // one SGD step (momentum buffer starts at the gradient): |Δw| = lr · |clipped g| ≤ 0.05 · 1e-3
    const moved = maxDiff(flat(c), init);
    assert.ok(moved <= 0.05 * 1e-3 * 1.01 && moved >= 0.05 * 1e-3 * 0.99, `largest update ${moved}, expected lr · clip = 5e-5 (float32 rounding aside)`);
    freeModel(a); freeModel(b); freeModel(c); freeData(ds);
  });

  it("DDP with 2 processes at batch b gives the single-process parameters at batch 2b", () => {
    const script = join(ROOT, "dist", "test", "lightning", "ddp_fit.js");
    const run = (devices: number) => {
      const r = spawnSync(process.execPath, [script, String(devices)], { encoding: "utf8", timeout: 120000, env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1" } });
      const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line, `devices=${devices}: no result (exit ${r.status}): ${r.stderr}`);
      return JSON.parse(line) as { weights: number[]; worldSize: number; rank: number };
    };
    const single = run(1), ddp = run(2);
    assert.equal(ddp.worldSize, 2);
    assert.ok(maxDiff(ddp.weights, single.weights) < 1e-6, `max difference ${maxDiff(ddp.weights, single.weights)}`);
  });

  it("TensorBoardLogger writes event files an independent reader parses (CRC-32C checked)", async () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283, "CRC-32C check value");
    const dir = tmp();
    const ds = data(16);
    const model = new Regressor();
    const tb = new pl.TensorBoardLogger(dir);
    await new pl.Trainer({ ...quiet, logger: tb, maxEpochs: 2, logEveryNSteps: 1, numSanityValSteps: 0 })
      .fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }), valDataloaders: new DataLoader(ds, { batchSize: 8 }) });
    const file = readdirSync(tb.logDir).find((f) => f.startsWith("events.out.tfevents."))!;
    const out = execFileSync(PYTHON, [join(ROOT, "test", "parity", "tfevents_reader.py"), join(tb.logDir, file)], { encoding: "utf8" });
    const events = JSON.parse(out) as { version?: string; step?: number; scalars?: Record<string, number> }[];
    assert.equal(events[0]!.version, "brain.Event:2");
    const losses = events.filter((e) => e.scalars && "train_loss" in e.scalars);
    assert.deepEqual(losses.map((e) => e.step), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(events.some((e) => e.scalars && "val_loss" in e.scalars));
    freeModel(model); freeData(ds);
  });

  it("a checkpoint opens in Python torch.load and its state_dict loads into the equivalent Python module; loadFromCheckpoint rebuilds the module", async () => {
    const dir = tmp();
    const ds = data(16);
    torch.manualSeed(2);
    const model = new Regressor({ hidden: 12, lr: 0.07 });
    const trainer = new pl.Trainer({ ...quiet, maxEpochs: 1 });
    await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 4 }) });
    const path = join(dir, "model.ckpt");
    await trainer.saveCheckpoint(path);
    const x = torch.randn([3, 8]);
    const y = torch.tidy(() => { model.eval(); return model.forward(x).toArray() as number[][]; });
    const out = execFileSync(PYTHON, [join(ROOT, "test", "parity", "lightning_ckpt.py"), path, JSON.stringify(x.toArray())], { encoding: "utf8" });
    const py = JSON.parse(out) as { keys: string[]; hparams: Record<string, number>; y: number[][]; epoch: number; global_step: number; optimizer_states: number };
    for (const k of ["epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks", "hyper_parameters", "torchlight_version"]) assert.ok(py.keys.includes(k), k);
    assert.deepEqual(py.hparams, { hidden: 12, lr: 0.07 });
    assert.equal(py.global_step, 4);
    assert.equal(py.optimizer_states, 1);
    assert.ok(maxDiff(py.y.flat(), y.flat()) < 1e-6);
    const back = await Regressor.loadFromCheckpoint(path);
    assert.equal((back.net as unknown as { 0: nn.Linear })[0].outFeatures, 12, "constructed with the saved hyperparameters");
    const y2 = torch.tidy(() => { back.eval(); return back.forward(x).toArray() as number[][]; });
    assert.deepEqual(y2, y);
    x.dispose(); freeModel(model); freeModel(back); freeData(ds);
  });
});
