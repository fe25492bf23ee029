// The train benchmark.   node dist/bench/train.js <start|report|e2e> <rounds>
// start:  TorchTrainer.fit() called → every one of 2 workers has run its first training step
//         (a small Lightning module under RayDDPStrategy): process start, libtorch load, the
//         control channel, the c10d rendezvous, DDP's parameter broadcast.
// report: report() inside a worker, without a checkpoint and with a ResNet-18 checkpoint
//         (model + Adam state, Lightning's checkpoint dict, as RayTrainReportCallback writes it).
// e2e:    the seed program's training (ResNet-18, FashionMNIST, batch 128, Adam) as 2 workers × 1
//         thread under TorchTrainer vs the same LightningModule in one process with 2 threads;
//         steady images/s over batches 5..N, and the end-to-end time including start-up.
// The script re-runs itself as the workers; the driver prints one JSON line per round.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader, TensorDataset } from "../src/data/index.js";
import { FashionMNIST, transforms as T, models } from "../src/vision/index.js";
import * as pl from "../src/lightning/index.js";
import { TorchTrainer, ScalingConfig, RunConfig, CheckpointConfig, Checkpoint, report, getContext, isWorkerProcess } from "../src/train/index.js";
import { RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback, prepareTrainer } from "../src/train/lightning/index.js";

const [workload = "start", roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const storagePath = process.env.BENCH_TRAIN_STORAGE ?? mkdtempSync(join(tmpdir(), "torchlight-bench-train-"));
process.env.BENCH_TRAIN_STORAGE = storagePath;  // the workers share the driver's folder
const N = 30, WARM = 5, BATCH = 128;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quietTrainer = { enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false, logger: false as const };
const ddp = () => ({ devices: "auto" as const, accelerator: "auto" as const, strategy: new RayDDPStrategy(), plugins: [new RayLightningEnvironment()] });

class Tiny extends pl.LightningModule {
  net = new nn.Linear(16, 4);
  trainingStep([x, y]: Tensor[], i: number): Tensor {
    if (i === 0) {
      this.log("firstStepMs", Date.now() - Number(process.env.BENCH_T0), { onStep: true });
      this.log("fromFitMs", Date.now() - Number(process.env.BENCH_FIT_T0), { onStep: true });
    }
    return new nn.CrossEntropyLoss().forward(this.net.forward(x!), y!);
  }
  configureOptimizers() { return new optim.SGD(this.parameters(), { lr: 0.1 }); }
}

class ImageClassifier extends pl.LightningModule {
  model = models.resnet18({ numClasses: 10, inChannels: 1 });
  criterion = new nn.CrossEntropyLoss();
  override forward(x: Tensor): Tensor { return this.model.forward(x); }
  trainingStep([x, y]: Tensor[]): Tensor {
    const loss = this.criterion.forward(this.forward(x!), y!);
    this.log("loss", loss, { onStep: true, progBar: true });
    return loss;
  }
  configureOptimizers() { return new optim.Adam(this.parameters(), { lr: 1e-3 }); }
}
/** Times batches WARM..N (rank 0). */
class Clock extends pl.Callback {
  t0 = 0; secs = 0;
  override onTrainBatchEnd(_t: pl.Trainer, _m: pl.LightningModule, _o: unknown, _b: unknown, i: number): void {
    if (i + 1 === WARM) this.t0 = performance.now();
    if (i + 1 === N) this.secs = (performance.now() - this.t0) / 1000;
  }
}
const fashion = () => new FashionMNIST({ train: true, transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });

async function startFunc() {
  torch.manualSeed(0);
  const loader = new DataLoader(new TensorDataset(torch.randn([64, 16]), torch.randint(0, 4, [64])), { batchSize: 8 });
  const trainer = prepareTrainer(new pl.Trainer({ maxSteps: 1, ...quietTrainer, ...ddp(), callbacks: [new RayTrainReportCallback({ checkpoint: false })] }));
  await trainer.fit(new Tiny(), { trainDataloaders: loader });
}

async function reportFunc() {
  const plain: number[] = [];
  for (let i = 0; i < 10; i++) { const t = performance.now(); await report({ i }); plain.push(performance.now() - t); }
  torch.manualSeed(0);
  const m = models.resnet18({ numClasses: 10, inChannels: 1 });
  const opt = new optim.Adam(m.parameters(), { lr: 1e-3 });
  torch.tidy(() => { (m.forward(torch.randn([2, 1, 28, 28])) as Tensor).sum().backward(); opt.step(); });
  const dir = join(storagePath, `ckpt-rank${getContext().getWorldRank()}`);
  mkdirSync(dir, { recursive: true });
  const save: number[] = [], withCk: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (getContext().getWorldRank() === 0) {
      const t = performance.now();
      const bytes = torch.tidy(() => torch.serialize({ epoch: i, global_step: i, state_dict: m.stateDict(), optimizer_states: [opt.stateDict()] } as unknown as torch.Saveable));
      await torch.writeAtomic(bytes, join(dir, "checkpoint.ckpt"));
      save.push(performance.now() - t);
    }
    const t = performance.now();
    await report({ i }, { checkpoint: Checkpoint.fromDirectory(dir) });
    withCk.push(performance.now() - t);
  }
  if (getContext().getWorldRank() === 0) await report({ plainMs: median(plain), checkpointMs: median(withCk), saveMs: median(save) });
  else await report({});
}

async function e2eFunc() {
  const clock = new Clock();
  const trainer = prepareTrainer(new pl.Trainer({ maxEpochs: 1, limitTrainBatches: N, ...quietTrainer, ...ddp(), callbacks: [new RayTrainReportCallback({ checkpoint: false }), clock] }));
  await trainer.fit(new ImageClassifier(), { trainDataloaders: new DataLoader(fashion(), { batchSize: BATCH, shuffle: true }) }, );
  await report({ steadySecs: clock.secs });
}

const funcs: Record<string, () => Promise<void>> = { start: startFunc, report: reportFunc, e2e: e2eFunc };
const run = (name: string, numWorkers: number, threads?: number) => new TorchTrainer(funcs[workload]!, {
  scalingConfig: new ScalingConfig({ numWorkers, ...(threads ? { resourcesPerWorker: { CPU: threads } } : {}) }),
  runConfig: new RunConfig({ storagePath, name, verbose: 0, checkpointConfig: new CheckpointConfig({ numToKeep: 1 }) }),
});

for (let r = 0; r < rounds; r++) {
  if (workload === "start") {
    // a worker keeps the driver's; BENCH_T0_FIXED: the caller set it (when it started the launcher)
    if (!isWorkerProcess() && process.env.BENCH_T0_FIXED !== "1") process.env.BENCH_T0 = String(Date.now());
    // fit() called (under a launcher: this rank's own call)
    if (!isWorkerProcess()) process.env.BENCH_FIT_T0 = String(Date.now());
    const t0 = performance.now();
    const res = await run(`start-${r}`, 2).fit();
    const rows = readFileSync(join(res.path, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { metrics: { firstStepMs: number; fromFitMs: number } });
    if (!isWorkerProcess()) console.log(JSON.stringify({ firstStepMs: Math.max(...rows.map((x) => x.metrics.firstStepMs)), fromFitMs: Math.max(...rows.map((x) => x.metrics.fromFitMs)), fitMs: performance.now() - t0 }));
  } else if (workload === "report") {
    const res = await run(`report-${r}`, 2).fit();
    if (!isWorkerProcess()) console.log(JSON.stringify(res.metrics));
  } else {
    const t0 = performance.now();
    const res = await run(`e2e-${r}`, 2, 1).fit();
    const ddpWall = (performance.now() - t0) / 1000;
    if (isWorkerProcess()) continue;  // a worker of a later round passes through here: no single-process run there
    const ddpSteady = Number(res.metrics!.steadySecs);
    // the same module, one process, 2 threads (the driver process: its threads are set here)
    torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
    const clock = new Clock();
    const t1 = performance.now();
    const single = new pl.Trainer({ maxEpochs: 1, limitTrainBatches: N, ...quietTrainer, callbacks: [clock] });
    await single.fit(new ImageClassifier(), { trainDataloaders: new DataLoader(fashion(), { batchSize: BATCH, shuffle: true }) });
    const singleWall = (performance.now() - t1) / 1000;
    console.log(JSON.stringify({
      ddpImagesPerSecond: (N - WARM) * BATCH * 2 / ddpSteady, singleImagesPerSecond: (N - WARM) * BATCH / clock.secs,
      ddpWallImagesPerSecond: N * BATCH * 2 / ddpWall, singleWallImagesPerSecond: N * BATCH / singleWall,
    }));
  }
}
if (!process.env.BENCH_KEEP) rmSync(storagePath, { recursive: true, force: true });
