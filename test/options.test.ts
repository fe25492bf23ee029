// The option rules (util/validate.ts), for every public function and constructor that takes an
// options object (tensor methods, functions and constructors of every layer), in one table: an unknown key is an error that names the accepted keys, a
// snake_case key gets "did you mean <camelCase>?", and where PyTorch's signature has
// positional parameters, they are accepted by name too and refused when given twice.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader, TensorDataset, RandomSampler, DistributedSampler } from "../src/data/index.js";
import { FashionMNIST, ImageFolder, transforms, models } from "../src/vision/index.js";
import * as dist from "../src/distributed/index.js";
import * as pl from "../src/lightning/index.js";
import { ScalingConfig, RunConfig, CheckpointConfig, FailureConfig, TorchConfig, TorchTrainer, report } from "../src/train/index.js";
import { RayTrainReportCallback } from "../src/train/lightning/index.js";
import { prepareModel, prepareDataLoader } from "../src/train/torch/index.js";
import { assertNoLeak, liveTensors } from "./helpers.js";

const S = optim.lrScheduler;
const F = nn.functional;
let param: Tensor;
let ds: TensorDataset;
const opt = () => new optim.SGD([param], { lr: 0.1 });
const dir = mkdtempSync(join(tmpdir(), "torchlight-options-"));
/** Frees what a call made (modules' parameters and buffers, tensors), so the table leaks nothing. */
function free(v: unknown): void {
  if (v instanceof nn.Module) torch.dispose([...v.parameters(), ...v.buffers()]);
  else if (v instanceof torch.Tensor) v.dispose();
}

/** One row: `call(options)` passes an options object where the API takes one; `snake` is a PyTorch keyword in snake_case whose camelCase the API accepts. */
interface Row { name: string; call: (o: Record<string, unknown>) => unknown; snake?: string; async?: boolean }
const rows = (): Row[] => [
  // tensor methods and functions
  { name: "Tensor.to", call: (o) => param.to("float32", o), snake: "non_blocking" },
  { name: "Tensor.sum", call: (o) => param.sum(0, o) },
  { name: "Tensor.mean", call: (o) => param.mean(0, o) },
  { name: "Tensor.prod", call: (o) => param.prod(0, o) },
  { name: "Tensor.std", call: (o) => param.std(0, o) },
  { name: "Tensor.var", call: (o) => param.var(0, o) },
  { name: "torch.useDeterministicAlgorithms", call: (o) => torch.useDeterministicAlgorithms(false, o), snake: "warn_only" },
  { name: "torch.sharing.share", call: (o) => torch.sharing.share(param, o) },
  { name: "F.conv1d", call: (o) => F.conv1d(param, param, null, o) },
  { name: "F.conv2d", call: (o) => F.conv2d(param, param, null, o) },
  { name: "F.convTranspose2d", call: (o) => F.convTranspose2d(param, param, null, o), snake: "output_padding" },
  { name: "F.batchNorm", call: (o) => F.batchNorm(param, null, null, o) },
  { name: "F.maxPool2d", call: (o) => F.maxPool2d(param, 2, o), snake: "ceil_mode" },
  { name: "F.avgPool2d", call: (o) => F.avgPool2d(param, 2, o), snake: "count_include_pad" },
  { name: "F.embedding", call: (o) => F.embedding(param, param, o), snake: "padding_idx" },
  { name: "F.interpolate", call: (o) => F.interpolate(param, { size: 2, ...o }), snake: "align_corners" },
  { name: "F.crossEntropy", call: (o) => F.crossEntropy(param, param, o), snake: "label_smoothing" },
  { name: "F.nllLoss", call: (o) => F.nllLoss(param, param, o), snake: "ignore_index" },
  { name: "F.mseLoss", call: (o) => F.mseLoss(param, param, o) },
  { name: "F.l1Loss", call: (o) => F.l1Loss(param, param, o) },
  { name: "F.smoothL1Loss", call: (o) => F.smoothL1Loss(param, param, o) },
  { name: "F.huberLoss", call: (o) => F.huberLoss(param, param, o) },
  { name: "F.binaryCrossEntropy", call: (o) => F.binaryCrossEntropy(param, param, o) },
  { name: "F.binaryCrossEntropyWithLogits", call: (o) => F.binaryCrossEntropyWithLogits(param, param, o), snake: "pos_weight" },
  { name: "F.klDiv", call: (o) => F.klDiv(param, param, o), snake: "log_target" },
  { name: "nn.init.kaimingUniform_", call: (o) => nn.init.kaimingUniform_(param, o) },
  { name: "nn.init.kaimingNormal_", call: (o) => nn.init.kaimingNormal_(param, o) },
  { name: "nn.utils.clipGradNorm_", call: (o) => nn.utils.clipGradNorm_([param], 1, 2, o), snake: "error_if_nonfinite" },
  { name: "Module.namedParameters", call: (o) => [...new nn.Identity().namedParameters(o)] },
  { name: "Module.namedBuffers", call: (o) => [...new nn.Identity().namedBuffers(o)] },
  { name: "Module.stateDict", call: (o) => new nn.Identity().stateDict(o), snake: "keep_vars" },
  { name: "Module.loadStateDict", call: (o) => new nn.Identity().loadStateDict({}, o) },
  { name: "Module.zeroGrad", call: (o) => new nn.Identity().zeroGrad(o), snake: "set_to_none" },
  { name: "Optimizer.zeroGrad", call: (o) => opt().zeroGrad(o), snake: "set_to_none" },
  { name: "pl.seedEverything", call: (o) => pl.seedEverything(1, o) },
  { name: "LightningModule.log", call: (o) => new (class extends pl.LightningModule {})().log("x", 1, o), snake: "prog_bar" },
  { name: "LightningModule.saveHyperparameters", call: (o) => new (class extends pl.LightningModule {})().saveHyperparameters({}, o) },
  { name: "LightningModule.clipGradients", call: (o) => new (class extends pl.LightningModule {})().clipGradients(opt(), o), snake: "gradient_clip_val" },
  { name: "train.report", call: (o) => report({ a: 1 }, o), async: true },
  { name: "train.torch.prepareModel", call: (o) => prepareModel(new nn.Identity(), o), snake: "move_to_device", async: true },
  { name: "train.torch.prepareDataLoader", call: (o) => prepareDataLoader(new DataLoader(ds), o), snake: "add_dist_sampler" },
  // torch
  { name: "torch.tensor", call: (o) => torch.tensor([1], o), snake: "requires_grad" },
  { name: "torch.zeros", call: (o) => torch.zeros([1], o), snake: "requires_grad" },
  { name: "torch.randn", call: (o) => torch.randn([1], o), snake: "requires_grad" },
  { name: "torch.arange", call: (o) => torch.arange(0, 3, 1, o), snake: "requires_grad" },
  { name: "torch.autocast", call: (o) => torch.autocast("cpu", () => 0, o), snake: "cache_enabled" },
  { name: "torch.amp.GradScaler", call: (o) => new torch.amp.GradScaler("cpu", o), snake: "init_scale" },
  { name: "torch.deserialize", call: (o) => { const b = torch.serialize({ a: 1 }); return torch.deserialize(b, o); }, snake: "map_location" },
  // nn
  { name: "nn.Linear", call: (o) => new nn.Linear(2, 3, o) },
  { name: "nn.Bilinear", call: (o) => new nn.Bilinear(2, 2, 3, o) },
  { name: "nn.Flatten", call: (o) => new nn.Flatten(o), snake: "start_dim" },
  { name: "nn.Conv1d", call: (o) => new nn.Conv1d(1, 2, 3, o) },
  { name: "nn.Conv2d", call: (o) => new nn.Conv2d(1, 2, 3, o) },
  { name: "nn.ConvTranspose2d", call: (o) => new nn.ConvTranspose2d(1, 2, 3, o), snake: "output_padding" },
  { name: "nn.BatchNorm1d", call: (o) => new nn.BatchNorm1d(4, o), snake: "track_running_stats" },
  { name: "nn.BatchNorm2d", call: (o) => new nn.BatchNorm2d(4, o), snake: "track_running_stats" },
  { name: "nn.LayerNorm", call: (o) => new nn.LayerNorm(4, o), snake: "elementwise_affine" },
  { name: "nn.GroupNorm", call: (o) => new nn.GroupNorm(2, 4, o) },
  { name: "nn.Dropout", call: (o) => new nn.Dropout(o) },
  { name: "nn.Embedding", call: (o) => new nn.Embedding(10, 3, o), snake: "padding_idx" },
  { name: "nn.LeakyReLU", call: (o) => new nn.LeakyReLU(o), snake: "negative_slope" },
  { name: "nn.GELU", call: (o) => new nn.GELU(o) },
  { name: "nn.Softmax", call: (o) => new nn.Softmax({ dim: 1, ...o }) },
  { name: "nn.LogSoftmax", call: (o) => new nn.LogSoftmax({ dim: 1, ...o }) },
  { name: "nn.MaxPool2d", call: (o) => new nn.MaxPool2d(2, o), snake: "ceil_mode" },
  { name: "nn.AvgPool2d", call: (o) => new nn.AvgPool2d(2, o), snake: "count_include_pad" },
  { name: "nn.AdaptiveAvgPool2d", call: (o) => new nn.AdaptiveAvgPool2d({ outputSize: 1, ...o }), snake: "output_size" },
  { name: "nn.MultiheadAttention", call: (o) => new nn.MultiheadAttention(4, 2, o), snake: "batch_first" },
  { name: "nn.TransformerEncoderLayer", call: (o) => new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8, ...o }), snake: "layer_norm_eps" },
  { name: "nn.CrossEntropyLoss", call: (o) => new nn.CrossEntropyLoss(o), snake: "label_smoothing" },
  { name: "nn.NLLLoss", call: (o) => new nn.NLLLoss(o), snake: "ignore_index" },
  { name: "nn.MSELoss", call: (o) => new nn.MSELoss(o) },
  { name: "nn.L1Loss", call: (o) => new nn.L1Loss(o) },
  { name: "nn.SmoothL1Loss", call: (o) => new nn.SmoothL1Loss(o) },
  { name: "nn.HuberLoss", call: (o) => new nn.HuberLoss(o) },
  { name: "nn.BCELoss", call: (o) => new nn.BCELoss(o) },
  { name: "nn.BCEWithLogitsLoss", call: (o) => new nn.BCEWithLogitsLoss(o), snake: "pos_weight" },
  { name: "nn.KLDivLoss", call: (o) => new nn.KLDivLoss(o), snake: "log_target" },
  // optim
  { name: "optim.SGD", call: (o) => new optim.SGD([param], o), snake: "weight_decay" },
  { name: "optim.Adam", call: (o) => new optim.Adam([param], o), snake: "weight_decay" },
  { name: "optim.AdamW", call: (o) => new optim.AdamW([param], o), snake: "weight_decay" },
  { name: "optim.RMSprop", call: (o) => new optim.RMSprop([param], o), snake: "weight_decay" },
  { name: "optim.Adagrad", call: (o) => new optim.Adagrad([param], o), snake: "lr_decay" },
  { name: "lrScheduler.StepLR", call: (o) => new S.StepLR(opt(), 1, o), snake: "last_epoch" },
  { name: "lrScheduler.MultiStepLR", call: (o) => new S.MultiStepLR(opt(), [1], o), snake: "last_epoch" },
  { name: "lrScheduler.ExponentialLR", call: (o) => new S.ExponentialLR(opt(), { gamma: 0.9, ...o }), snake: "last_epoch" },
  { name: "lrScheduler.CosineAnnealingLR", call: (o) => new S.CosineAnnealingLR(opt(), 5, o), snake: "eta_min" },
  { name: "lrScheduler.LinearLR", call: (o) => new S.LinearLR(opt(), o), snake: "start_factor" },
  { name: "lrScheduler.LambdaLR", call: (o) => new S.LambdaLR(opt(), { lrLambda: () => 1, ...o }), snake: "last_epoch" },
  { name: "lrScheduler.OneCycleLR", call: (o) => new S.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 5, ...o }), snake: "pct_start" },
  { name: "lrScheduler.SequentialLR", call: (o) => { const p = opt(); return new S.SequentialLR(p, { schedulers: [new S.LinearLR(p), new S.ExponentialLR(p, 0.9)], milestones: [2], ...o }); }, snake: "last_epoch" },
  { name: "lrScheduler.ReduceLROnPlateau", call: (o) => new S.ReduceLROnPlateau(opt(), o), snake: "min_lr" },
  // data and vision
  { name: "DataLoader", call: (o) => new DataLoader(ds, o), snake: "batch_size" },
  { name: "RandomSampler", call: (o) => new RandomSampler(ds, o), snake: "num_samples" },
  { name: "DistributedSampler", call: (o) => new DistributedSampler(ds, { numReplicas: 2, rank: 0, ...o }), snake: "drop_last" },
  { name: "FashionMNIST", call: (o) => new FashionMNIST(o), snake: "target_transform" },
  { name: "ImageFolder", call: (o) => new ImageFolder(dir, o), snake: "target_transform" },
  { name: "transforms.resize", call: (o) => transforms.resize(8, o), snake: "max_size" },
  { name: "transforms.randomCrop", call: (o) => transforms.randomCrop(8, o), snake: "pad_if_needed" },
  { name: "transforms.randomResizedCrop", call: (o) => transforms.randomResizedCrop(8, o) },
  { name: "models.resnet18", call: (o) => models.resnet18(o), snake: "num_classes" },
  { name: "models.SimpleCNN", call: (o) => new models.SimpleCNN(o), snake: "num_classes" },
  // distributed
  { name: "dist.initProcessGroup", call: (o) => dist.initProcessGroup(o), snake: "init_method", async: true },
  { name: "dist.allReduce", call: (o) => dist.allReduce(param, o) },
  { name: "dist.broadcast", call: (o) => dist.broadcast(param, 0, o) },
  { name: "dist.allGather", call: (o) => dist.allGather([param], param, o) },
  { name: "dist.reduceScatter", call: (o) => dist.reduceScatter(param, [param], o) },
  { name: "dist.gather", call: (o) => dist.gather(param, o), snake: "gather_list" },
  { name: "dist.scatter", call: (o) => dist.scatter(param, o), snake: "scatter_list" },
  { name: "dist.barrier", call: (o) => dist.barrier(o) },
  { name: "dist.DistributedDataParallel", call: (o) => dist.DistributedDataParallel.create(new nn.Linear(2, 2), o), snake: "bucket_cap_mb", async: true },
  { name: "dist.SyncBatchNorm", call: (o) => new dist.SyncBatchNorm(4, o), snake: "process_group" },
  // lightning
  { name: "pl.Trainer", call: (o) => new pl.Trainer(o), snake: "max_epochs" },
  { name: "pl.Trainer.fit", call: (o) => new pl.Trainer({ logger: false }).fit(null as never, o), snake: "train_dataloaders", async: true },
  { name: "pl.Trainer.validate", call: (o) => new pl.Trainer({ logger: false }).validate(null as never, o), snake: "ckpt_path", async: true },
  { name: "pl.Trainer.test", call: (o) => new pl.Trainer({ logger: false }).test(null as never, o), snake: "ckpt_path", async: true },
  { name: "pl.Trainer.predict", call: (o) => new pl.Trainer({ logger: false }).predict(null as never, o), snake: "ckpt_path", async: true },
  { name: "pl.ModelCheckpoint", call: (o) => new pl.ModelCheckpoint(o), snake: "save_top_k" },
  { name: "pl.EarlyStopping", call: (o) => new pl.EarlyStopping({ monitor: "x", ...o }), snake: "min_delta" },
  { name: "pl.LearningRateMonitor", call: (o) => new pl.LearningRateMonitor(o), snake: "logging_interval" },
  { name: "pl.TQDMProgressBar", call: (o) => new pl.TQDMProgressBar(o), snake: "refresh_rate" },
  { name: "pl.ModelSummary", call: (o) => new pl.ModelSummary(o), snake: "max_depth" },
  { name: "pl.CSVLogger", call: (o) => new pl.CSVLogger(dir, o), snake: "flush_logs_every_n_steps" },
  { name: "pl.TensorBoardLogger", call: (o) => new pl.TensorBoardLogger(dir, o) },
  { name: "pl.DDPStrategy", call: (o) => new pl.DDPStrategy(o), snake: "find_unused_parameters" },
  // train
  { name: "ScalingConfig", call: (o) => new ScalingConfig(o), snake: "num_workers" },
  { name: "RunConfig", call: (o) => new RunConfig(o), snake: "storage_path" },
  { name: "CheckpointConfig", call: (o) => new CheckpointConfig(o), snake: "num_to_keep" },
  { name: "FailureConfig", call: (o) => new FailureConfig(o), snake: "max_failures" },
  { name: "TorchConfig", call: (o) => new TorchConfig(o), snake: "timeout_s" },
  { name: "TorchTrainer", call: (o) => new TorchTrainer(() => undefined, o), snake: "scaling_config" },
  { name: "RayTrainReportCallback", call: (o) => new RayTrainReportCallback(o), snake: "every_n_steps" },
];

/** The error `row.call(o)` raises (sync or async), or null. */
async function errorOf(row: Row, o: Record<string, unknown>): Promise<Error | null> {
  try {
    const r = row.call(o);
    if (row.async || r instanceof Promise) await r; else free(r);
    return null;
  } catch (e) { return e as Error; }
}

describe("options: one rule for every public options object", () => {
  let baseline = 0;
  before(() => {
    baseline = liveTensors();
    param = torch.zeros([2], { requiresGrad: true });
    ds = new TensorDataset(torch.zeros([8, 2]), torch.zeros([8]));
  });
  after(async () => { param.dispose(); torch.dispose(ds.tensors); await assertNoLeak(baseline); });

  it("an unknown key is an error naming the API, the key and the accepted keys", async () => {
    const problems: string[] = [];
    for (const row of rows()) {
      const e = await errorOf(row, { bogusOption: 1 });
      if (!e) { problems.push(`${row.name}: accepted { bogusOption }`); continue; }
      if (!/unknown option "bogusOption"/.test(e.message) || !/\(accepted: \w+/.test(e.message)) problems.push(`${row.name}: ${e.message}`);
      if (typeof (e as { code?: unknown }).code !== "string") problems.push(`${row.name}: ${e.name} has no code`);
    }
    assert.deepEqual(problems, []);
  });

  it("a snake_case keyword (Python's spelling) gets \"did you mean <camelCase>?\"", async () => {
    const problems: string[] = [];
    for (const row of rows().filter((r) => r.snake)) {
      const e = await errorOf(row, { [row.snake!]: 1 });
      const camel = row.snake!.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      if (!e || !e.message.includes(`did you mean ${camel}?`)) problems.push(`${row.name}: ${e?.message ?? "accepted"}`);
    }
    assert.deepEqual(problems, []);
  });

  it("positional parameters by name, as PyTorch's keywords; a value given both ways is an error", () => {
    const conv = new nn.Conv2d(1, 64, { kernelSize: [7, 7], stride: [2, 2] });
    assert.deepEqual([conv.kernelSize, conv.stride, conv.weight.shape], [[7, 7], [2, 2], [64, 1, 7, 7]]);
    const all = new nn.Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1, bias: false });
    assert.deepEqual([all.weight.shape, all.padding, all.bias], [[4, 1, 3, 3], [1, 1], null]);
    assert.throws(() => new nn.Conv2d(1, 4, 3, { kernelSize: 5 } as never), /Conv2d: kernelSize was given both positionally \(3\) and as an option \(5\); give it once/);
    assert.throws(() => new nn.Conv2d(1, 4, { kernelSize: [7] } as never), /Conv2d: expected a positive integer or a list of 2 such integers for kernelSize but received \[7\] of type array/);
    assert.throws(() => new (nn.Conv2d as unknown as new (...a: unknown[]) => nn.Conv2d)(1, 4), /Conv2d: missing the required argument kernelSize/);
    const lin = new nn.Linear({ inFeatures: 3, outFeatures: 2, bias: false });
    assert.deepEqual([lin.weight.shape, lin.bias], [[2, 3], null]);
    assert.throws(() => new nn.Linear(3, 2, { use_bias: false } as never), /Linear: unknown option "use_bias" \(accepted: inFeatures, outFeatures, bias, dtype, device\)/);
    assert.throws(() => new nn.Linear(3, 2, { bias: "no" } as never), /Linear: expected a boolean for bias but received "no" of type string/);
    // StepLR's gamma as an option (was: trained on lr NaN)
    const o = opt();
    const s = new S.StepLR(o, 1, { gamma: 0.5 });
    o.step(); s.step();
    assert.equal(o.paramGroups[0]!.lr, 0.05);
    assert.throws(() => new S.StepLR(opt(), 1, 0.5, { gamma: 0.1 } as never), /StepLR: gamma was given both positionally/);
    assert.throws(() => new S.StepLR(opt(), { gamma: 0.5 } as never), /StepLR: expected a positive integer for stepSize but received undefined/);
    // lr positionally, as torch.optim.SGD(params, 0.1)
    assert.equal(new optim.SGD([param], 0.1).paramGroups[0]!.lr, 0.1);
    assert.throws(() => new optim.SGD([param], 0.1, { lr: 0.2 } as never), /SGD: lr was given both positionally/);
    assert.equal(new DataLoader(ds, 4).batchSize, 4);
    assert.equal(new pl.EarlyStopping("val_loss", { patience: 1 }).monitor, "val_loss");
    const mha = new nn.MultiheadAttention({ embedDim: 4, numHeads: 2 });
    assert.deepEqual([mha.embedDim, mha.numHeads], [4, 2]);
    assert.throws(() => new nn.Embedding(10, 3, { sparse: true }), /sparse gradients are not supported/);
    assert.throws(() => new nn.Linear(3, { inFeatures: 3, outFeatures: 2 } as never), /inFeatures was given both positionally/);
    // tensor methods and functions: optional positional parameters by name
    torch.tidy(() => {
      const t = torch.arange(0, 6, 1, { dtype: "float32" }).view(2, 3);
      assert.deepEqual(t.sum({ dim: 1, keepdim: true }).toArray(), t.sum(1, { keepdim: true }).toArray());
      assert.deepEqual(t.std({ dim: 0 }).toArray(), t.std(0).toArray());
      assert.throws(() => t.sum(0, { dim: 1 } as never), /sum: dim was given both positionally and as an option/);
      assert.equal(t.to({ dtype: "float64" }).dtype, "float64");
      assert.equal(t.to({ device: "cpu", dtype: "int32" }).dtype, "int32");
      assert.equal(t.to({ copy: true }).dtype, "float32", "neither dtype nor device: the same dtype, copied");
      const x = torch.randn([1, 1, 4, 4]), w = torch.randn([2, 1, 3, 3]), b = torch.randn([2]);
      assert.ok(F.conv2d(x, w, { bias: b, padding: 1 }).equal(F.conv2d(x, w, b, { padding: 1 })));
      const g = torch.zeros([3, 4]), h = torch.zeros([3, 4]);
      torch.manualSeed(1); nn.init.kaimingUniform_(g, Math.sqrt(5));
      torch.manualSeed(1); nn.init.kaimingUniform_(h, { a: Math.sqrt(5) });
      assert.ok(g.equal(h), "kaimingUniform_(w, a) = kaimingUniform_(w, { a })");
    });
    for (const m of [conv, all, lin, mha]) free(m);
  });
});
