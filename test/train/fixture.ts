// A driver script for the train tests: `node fixture.js <mode> <storagePath> <name> [marker]`.
// The test runs it as a subprocess (it re-runs itself as the workers) and reads the line
// `RESULT {json}` it prints at the end.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostname } from "node:os";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, Subset, TensorDataset, type Dataset, type DistributedSampler } from "../../src/data/index.js";
import { FashionMNIST, transforms, models } from "../../src/vision/index.js";
import { DistributedDataParallel, allReduce } from "../../src/distributed/index.js";
import { prepareModel, prepareDataLoader, getDevice, getDevices, enableReproducibility, getDatasetShard } from "../../src/train/torch/index.js";
import * as pl from "../../src/lightning/index.js";
import { TorchTrainer, ScalingConfig, RunConfig, CheckpointConfig, FailureConfig, TorchConfig, Checkpoint, report, getContext, getCheckpoint, Result, TrainingFailedError, WorkerGroupError } from "../../src/train/index.js";
import { RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback, prepareTrainer } from "../../src/train/lightning/index.js";
import { summary } from "./summary.js";

const [mode = "plain", storagePath = "/tmp/torchlight-train-fixture", name = "run", marker = ""] = process.argv.slice(2);


class Net extends pl.LightningModule {
  net = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(16, 3));
  lossFn = new nn.CrossEntropyLoss();
  constructor(readonly killAt: { epoch: number; batch: number } | null = null) { super(); }
  override forward(x: Tensor): Tensor { return this.net.forward(x) as Tensor; }
  trainingStep([x, y]: Tensor[], batchIdx: number): Tensor {
    const ctx = getContext();
    if (this.killAt && ctx.getWorldRank() === 1 && this.currentEpoch === this.killAt.epoch && batchIdx === this.killAt.batch && marker && !existsSync(marker)) {
      writeFileSync(marker, String(process.pid));
      process.kill(process.pid, "SIGKILL");  // kill -9, mid-epoch
    }
    const loss = this.lossFn.forward(this.forward(x!), y!);
    this.log("loss", loss, { onStep: true, progBar: true });
    return loss;
  }
  configureOptimizers() { return new optim.SGD(this.parameters(), { lr: 0.1, momentum: 0.9 }); }
}

async function lightningFunc(config: { kill: boolean; everyNSteps?: number }) {
  pl.seedEverything(7);
  torch.manualSeed(123);
  const x = torch.randn([96, 8]), y = torch.randint(0, 3, [96]);
  torch.manualSeed(7);
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true });
  let trainer = new pl.Trainer({
    maxEpochs: 4, devices: "auto", accelerator: "auto", strategy: new RayDDPStrategy(), plugins: [new RayLightningEnvironment()],
    callbacks: [config.everyNSteps ? new RayTrainReportCallback({ everyNSteps: config.everyNSteps, checkpoint: false }) : new RayTrainReportCallback()],
    enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false, logger: false,
  });
  trainer = prepareTrainer(trainer);
  await trainer.fit(new Net(config.kill ? { epoch: 2, batch: 3 } : null), { trainDataloaders: loader });
}

async function plainFunc(config: { reports: number; scores?: number[] }) {
  const ctx = getContext();
  const start = getCheckpoint();
  for (let i = 0; i < config.reports; i++) {
    const dir = join(storagePath, `scratch-${name}-${ctx.getWorldRank()}-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, ctx.getWorldRank() === 0 ? "model.json" : `rank${ctx.getWorldRank()}.txt`), JSON.stringify({ rank: ctx.getWorldRank(), i }));
    const ck = Checkpoint.fromDirectory(dir);
    if (ctx.getWorldRank() === 0) ck.setMetadata({ i });
    await report({ i, rank: ctx.getWorldRank(), acc: config.scores?.[i] ?? i, resumedFrom: start?.path ?? null, world: ctx.getWorldSize(), localWorld: ctx.getLocalWorldSize(), experiment: ctx.getExperimentName() }, { checkpoint: ck });
    if (getCheckpoint()?.path === undefined) throw new Error("getCheckpoint() is null after a report with a checkpoint");
  }
}

async function crashFunc() {
  const ctx = getContext();
  const dir = join(storagePath, `scratch-${name}-${ctx.getWorldRank()}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "model.bin"), Buffer.alloc(1 << 20, 1));
  await report({ i: 0 }, { checkpoint: Checkpoint.fromDirectory(dir) });
  writeFileSync(join(dir, "model.bin"), Buffer.alloc(64 << 20, 2));
  if (ctx.getWorldRank() === 0) {
    void report({ i: 1 }, { checkpoint: Checkpoint.fromDirectory(dir) });
    setTimeout(() => process.kill(process.pid, "SIGKILL"), 5);  // dies while its checkpoint is being copied
    await new Promise(() => undefined);
  }
  await report({ i: 1 }, { checkpoint: Checkpoint.fromDirectory(dir) });
}

async function throwFunc() {
  const ctx = getContext();
  console.log(`rank ${ctx.getWorldRank()} started`);
  await report({ step: 0 });
  if (ctx.getWorldRank() === 1) throw new Error("boom on rank 1");
  await report({ step: 1 });
}

// the driver's own failures: a throwing onReport callback, a full disk, a malformed control frame
async function driverFaultFunc(config: { reports: number; junkFrame?: boolean }) {
  const ctx = getContext();
  if (config.junkFrame && ctx.getWorldRank() === 0) {
    // someone with the secret opens a control connection and sends a frame that is not JSON
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(process.env.TORCHLIGHT_TRAIN_CONTROL!, { headers: { "x-torchlight-secret": process.env.TORCHLIGHT_TRAIN_SECRET ?? "" } });
    await new Promise<void>((r) => ws.once("open", () => { ws.send("this is {not json"); r(); }));
    await new Promise<void>((r) => { ws.once("close", () => r()); setTimeout(r, 2000); });
  }
  for (let i = 0; i < config.reports; i++) await report({ step: i, pad: "x".repeat(200) });
}

async function hangFunc() {
  const ctx = getContext();
  console.log(`rank ${ctx.getWorldRank()} started`);
  await report({ step: 0 });
  if (ctx.getWorldRank() === 1) { const t = Date.now(); while (Date.now() - t < 60_000) { /* a blocked event loop */ } }
  await report({ step: 1 });
}

// rank 1 spins forever at step 3 of the first attempt (a marker file says it did), while rank 0
// waits for it in a collective: an all-reduce, or DDP's gradient all-reduce in backward
function spinForever(): never { for (;;) { /* the hung rank is here */ } }
async function hungRankFunc(config: { ddp: boolean }) {
  const rank = getContext().getWorldRank();
  torch.manualSeed(1);
  const model = new nn.Linear(4, 2);
  const ddp = config.ddp ? await DistributedDataParallel.create(model) : null;
  const t = torch.ones([4]);
  for (let i = 0; i < 6; i++) {
    if (i === 3 && rank === 1 && marker && !existsSync(marker)) { writeFileSync(marker, String(process.pid)); spinForever(); }
    if (ddp) torch.tidy(() => ddp.forward(torch.ones([2, 4])).sum().backward());
    else await allReduce(t);
  }
  await report({ sum: torch.tidy(() => t.sum().item()) });
}

// a loop that honours preemption: one report per step (a checkpoint every 5 steps and when it
// stops), getContext().shouldStop() after each step; a resumed run starts after its checkpoint
async function preemptFunc(config: { steps: number }) {
  const ctx = getContext(), rank = ctx.getWorldRank();
  const start = getCheckpoint();
  let step = start ? (JSON.parse(readFileSync(join(start.path, "state.json"), "utf8")) as { step: number }).step + 1 : 0;
  console.log(`preempt rank ${rank} pid ${process.pid} from ${step}`);
  for (; step < config.steps; step++) {
    await new Promise((r) => setTimeout(r, 100));  // a training step
    const stop = ctx.shouldStop();
    let checkpoint: Checkpoint | null = null;
    if (step % 5 === 4 || stop) {
      const dir = join(storagePath, `scratch-${name}-${rank}-${step}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, rank === 0 ? "state.json" : `rank${rank}.json`), JSON.stringify({ step }));
      checkpoint = Checkpoint.fromDirectory(dir);
    }
    await report({ step, stopped: stop }, { checkpoint });
    if (stop) return;
  }
}

// the seed's training as a plain function with Ray's torch helpers (no Lightning)
async function torchFunc(config: { epochs: number }) {
  enableReproducibility(7);
  torch.manualSeed(123);
  const x = torch.randn([96, 8]), y = torch.randint(0, 3, [96]);
  torch.manualSeed(7);
  const model = await prepareModel(new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 3)));
  const loader = prepareDataLoader(new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true }));
  const opt = new optim.SGD(model.parameters(), 0.1);
  const lossFn = new nn.CrossEntropyLoss();
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    (loader.sampler as DistributedSampler).setEpoch(epoch);
    let total = 0, batches = 0, samples = 0;
    for await (const b of loader) {
      const [xb, yb] = b as Tensor[];
      total += torch.tidy(() => { opt.zeroGrad(); const loss = lossFn.forward(model.forward(xb!) as Tensor, yb!); loss.backward(); opt.step(); return loss.item(); });
      batches++; samples += xb!.size(0);
      torch.dispose([xb!, yb!]);
    }
    const checksum = torch.tidy(() => model.parameters().reduce((s, p) => s + p.abs().sum().item(), 0));
    await report({ epoch, loss: total / batches, samples, checksum, device: getDevice(), devices: getDevices(), ddp: model instanceof DistributedDataParallel, world: getContext().getWorldSize() });
  }
}

// the seed's model (ResNet-18, FashionMNIST, Adam) as a plain function fed by Ray's datasets:
// TorchTrainer({ datasets: { train } }) and getDatasetShard("train") in each worker
async function seedFunc(config: { epochs: number; batchSize: number }) {
  enableReproducibility(7);
  const shard = getDatasetShard("train");
  const model = await prepareModel(models.resnet18({ numClasses: 10, inChannels: 1 }));
  const loader = new DataLoader(shard, { batchSize: config.batchSize, shuffle: true });
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const indices = (shard as Subset<unknown>).indices;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    let total = 0, batches = 0;
    for await (const b of loader) {
      const [xb, yb] = b as Tensor[];
      total += torch.tidy(() => { opt.zeroGrad(); const loss = lossFn.forward(model.forward(xb!) as Tensor, yb!); loss.backward(); opt.step(); return loss.item(); });
      batches++;
      torch.dispose([xb!, yb!]);
    }
    const checksum = torch.tidy(() => model.parameters().reduce((s, p) => s + p.abs().sum().item(), 0));
    await report({ epoch, loss: total / batches, checksum, shardLength: shard.length, indicesHead: indices.slice(0, 3), indicesSum: indices.reduce((a, b) => a + b, 0) });
  }
}
const seedData = (): Record<string, Dataset> => ({
  train: new Subset(new FashionMNIST({ train: true, transform: new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize([0.28604], [0.32025])]) }), Array.from({ length: 513 }, (_, i) => i)),
});

// where a worker runs: its ranks, threads, host and Slurm step (when launched through srun)
async function probeFunc() {
  const c = getContext();
  await report({ rank: c.getWorldRank(), local: c.getLocalRank(), node: c.getNodeRank(), localWorld: c.getLocalWorldSize(), threads: torch.getNumThreads(), host: hostname(),
    slurmJob: process.env.SLURM_JOB_ID ?? null, slurmStep: process.env.SLURM_STEP_ID ?? null, slurmNode: process.env.SLURMD_NODENAME ?? null, pid: process.pid });
}

const funcs: Record<string, { f: (c: never) => unknown; config: object; run?: object; torch?: object }> = {
  lightning: { f: lightningFunc, config: { kill: false }, run: { failureConfig: new FailureConfig({ maxFailures: 1 }) } },
  "lightning-kill": { f: lightningFunc, config: { kill: true }, run: { failureConfig: new FailureConfig({ maxFailures: 1 }) } },
  "lightning-steps": { f: lightningFunc, config: { kill: false, everyNSteps: 4 } },
  plain: { f: plainFunc, config: { reports: 3 } },
  probe: { f: probeFunc, config: {} },
  retention: { f: plainFunc, config: { reports: 4, scores: [0.1, 0.5, 0.3, 0.2] }, run: { checkpointConfig: new CheckpointConfig({ numToKeep: 1, checkpointScoreAttribute: "acc", checkpointScoreOrder: "max" }) } },
  crash: { f: crashFunc, config: {} },
  throw: { f: throwFunc, config: {} },
  hang: { f: hangFunc, config: {}, torch: { timeoutS: 2 } },
  preempt: { f: preemptFunc, config: { steps: 40 }, run: { failureConfig: new FailureConfig({ maxFailures: 0, preemptionGraceS: 20 }) } },
  "hung-rank": { f: hungRankFunc, config: { ddp: false }, run: { failureConfig: new FailureConfig({ maxFailures: 1, hangTimeoutS: 2 }) } },
  "hung-rank-ddp": { f: hungRankFunc, config: { ddp: true }, run: { failureConfig: new FailureConfig({ maxFailures: 1, hangTimeoutS: 2 }) } },
  torch: { f: torchFunc, config: { epochs: 3 } },
  seed: { f: seedFunc, config: { epochs: 2, batchSize: 64 } },
  "callback-throws": { f: driverFaultFunc, config: { reports: 3 }, run: { failureConfig: new FailureConfig({ maxFailures: 2 }), callbacks: [{ onReport: (r: { iteration: number }) => { if (r.iteration === 1) throw new Error("callback boom"); } }] } },
  "attempt-callback-throws": { f: throwFunc, config: {}, run: { failureConfig: new FailureConfig({ maxFailures: 2 }), callbacks: [{ onAttemptFailed: () => { throw new Error("failure callback boom"); } }] } },
  "disk-full": { f: driverFaultFunc, config: { reports: 400 } },
  "junk-frame": { f: driverFaultFunc, config: { reports: 2, junkFrame: true } },
  spin: { f: async () => { const r = getContext().getWorldRank(); console.log(`spinning rank ${r} pid ${process.pid}`); if (r === 1) for (;;) { /* a hung rank */ } await report({ waiting: 1 }); }, config: {} },
  // rank 1 says where it runs (marker file), then the ranks report every 200 ms for 40 s: a host can be taken away mid-run
  long: { f: async () => { const r = getContext().getWorldRank(); if (r === 1 && marker) writeFileSync(marker, hostname()); for (let i = 0; i < 200; i++) { await new Promise((res) => setTimeout(res, 200)); await report({ step: i }); } }, config: {}, run: { failureConfig: new FailureConfig({ maxFailures: 1 }) } },
  slow: { f: async () => { for (let i = 0; i < 4; i++) { await new Promise((r) => setTimeout(r, 700)); await report({ step: i, pid: process.ppid }); } }, config: {} },
};
const m = funcs[mode]!;
// RunConfig callbacks: what the driver told them
const seen = { reports: 0, checkpoints: 0, failed: 0, ended: "" };
const recorder = {
  onReport: (r: { checkpoint: Checkpoint | null }) => { seen.reports++; if (r.checkpoint) seen.checkpoints++; },
  onAttemptFailed: () => { seen.failed++; },
  onRunEnd: (r: Result) => { seen.ended = r.path; },
};
// under a launcher (torchlight launch, torchrun) its processes are the workers and restarts are its own
const launched = process.env.TORCHELASTIC_RUN_ID !== undefined;
const runOpts = { ...(m.run ?? {}) } as { failureConfig?: FailureConfig };
if (launched && process.env.FIXTURE_KEEP_FAILURE_CONFIG !== "1") delete runOpts.failureConfig;
const trainer = new TorchTrainer(m.f as (c: object) => unknown, {
  trainLoopConfig: m.config,
  scalingConfig: new ScalingConfig(launched ? { numWorkers: 2 } : { numWorkers: 2, resourcesPerWorker: { CPU: 1 } }),
  runConfig: new RunConfig({ storagePath, name, verbose: 0, ...runOpts, callbacks: [recorder, ...((m.run as { callbacks?: object[] } | undefined)?.callbacks ?? [])], ...(mode === "plain" && marker === "never" ? { resume: "never" } : {}) }),
  torchConfig: new TorchConfig(m.torch ?? {}),
  ...(mode === "seed" ? { datasets: seedData() } : {}),
});
try {
  const result = await trainer.fit();
  console.log(`RESULT ${JSON.stringify({ ok: true, ...summary(result), seen })}`);
} catch (e) {
  if (launched) process.exitCode = 1;  // the launcher restarts (or reports) a failed rank by its exit code
  if (e instanceof TrainingFailedError) {
    const err = e.result.error as WorkerGroupError;
    console.log(`RESULT ${JSON.stringify({ ok: false, message: e.message, code: e.code, kind: err.kind, groups: err.groups?.map((g) => ({ ...g, stack: undefined })), ...summary(e.result), seen })}`);
  } else {
    console.log(`RESULT ${JSON.stringify({ ok: false, thrown: true, code: (e as { code?: string }).code, message: (e as Error).message })}`);
  }
}
