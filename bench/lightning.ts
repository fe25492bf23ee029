// The lightning benchmark.   node dist/bench/lightning.js trainer|loop <rounds>
// Trainer overhead, two ways. Both alternate a bare loop with one `Trainer.fit` (progress bar,
// `log("loss", {progBar})`, CSVLogger every 50 steps, no checkpoint, no summary; the fit's
// set-up and tear-down inside its timing), share one Adam so neither pays for allocating its
// state inside the timing, and read the same shuffled 0-worker DataLoader.
// - trainer: ResNet-18 FashionMNIST steps (batch 64), blocks of 100 steps (BENCH_PL_STEPS).
// - loop: a 8-16-2 MLP on in-memory batches of 64, blocks of 2000 steps: the step costs ~0.3 ms,
//   so the difference is the Trainer's own per-step cost (loops, hooks, scopes, logging, bar),
//   measured free of the ResNet step's noise.
// Each block also records the process's CPU time per step (user + system), which other
// tenants of a shared machine disturb less than wall time.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader, TensorDataset } from "../src/data/index.js";
import { FashionMNIST, transforms as T, models } from "../src/vision/index.js";
import * as pl from "../src/lightning/index.js";

const [workload = "trainer", roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const resnet = workload === "trainer";
const STEPS = resnet ? Number(process.env.BENCH_PL_STEPS ?? 100) : 2000;
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);
const loader = resnet
  ? new DataLoader(new FashionMNIST({ train: true, transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) }), { batchSize: 64, shuffle: true })
  : new DataLoader(new TensorDataset(torch.randn([64 * STEPS, 8]), torch.randint(0, 2, [64 * STEPS])), { batchSize: 64, shuffle: true });

class Classifier extends pl.LightningModule {
  model: nn.Module = resnet ? models.resnet18({ numClasses: 10, inChannels: 1 }) : new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 2));
  criterion = new nn.CrossEntropyLoss();
  override forward(x: Tensor): Tensor { return this.model.forward(x) as Tensor; }
  trainingStep([x, y]: Tensor[]): Tensor {
    const loss = this.criterion.forward(this.forward(x!), y!);
    this.log("loss", loss, { progBar: true });
    return loss;
  }
  configureOptimizers(): optim.Optimizer<object> { return bareOpt; }
}
const module = new Classifier();
const bareOpt = new optim.Adam(module.parameters(), { lr: 1e-3 });
const dir = mkdtempSync(join(tmpdir(), "torchlight-bench-"));

/** Wall and CPU milliseconds per step of `fn`'s STEPS steps. */
async function timed(fn: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage(), t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { ms: (performance.now() - t0) / STEPS, cpuMs: (c.user + c.system) / 1000 / STEPS };
}
const bare = () => timed(async () => {
  module.train();
  let k = 0;
  for await (const b of loader) {
    const [x, y] = b as Tensor[];
    torch.tidy(() => {
      bareOpt.zeroGrad();
      const loss = module.criterion.forward(module.forward(x!), y!);
      loss.backward();
      bareOpt.step();
      loss.item();
    });
    torch.dispose([x, y]);
    if (++k === STEPS) break;
  }
});
const trainer = () => timed(async () => {
  const t = new pl.Trainer({ maxEpochs: 1, limitTrainBatches: STEPS, logEveryNSteps: 50, enableCheckpointing: false, enableModelSummary: false,
    logger: new pl.CSVLogger(dir), defaultRootDir: dir, numSanityValSteps: 0 });
  await t.fit(module, { trainDataloaders: loader });
});

await bare(); await trainer();  // warm-up
for (let r = 0; r < rounds; r++) {
  const b = r % 2 === 0 ? await bare() : null;
  const t = await trainer();
  const b2 = b ?? await bare();
  console.log(JSON.stringify({ workload, side: "torchlight", round: r, bareMs: b2.ms, trainerMs: t.ms, overhead: t.ms / b2.ms - 1,
    bareCpuMs: b2.cpuMs, trainerCpuMs: t.cpuMs, cpuOverhead: t.cpuMs / b2.cpuMs - 1, perStepUs: (t.ms - b2.ms) * 1000 }));
}
