// The lightning benchmark.   node dist/bench/lightning.js trainer <rounds>
// Trainer overhead: the same ResNet-18 FashionMNIST training steps (batch 64, Adam) run by
// `Trainer.fit` (progress bar, logging to CSV every 50 steps, no checkpoint) and by a bare
// loop, alternating blocks of 100 steps (BENCH_PL_STEPS; one fit() each, so its set-up is
// included), sharing one Adam so machine noise hits both alike. Both read the same shuffled
// 0-worker DataLoader over FashionMNIST.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader } from "../src/data/index.js";
import { FashionMNIST, transforms as T, models } from "../src/vision/index.js";
import * as pl from "../src/lightning/index.js";

const [, roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const STEPS = Number(process.env.BENCH_PL_STEPS ?? 100);  // steps per block (one fit each)
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);
const data = new FashionMNIST({ train: true, transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });
const loader = new DataLoader(data, { batchSize: 64, shuffle: true });

class Classifier extends pl.LightningModule {
  model = models.resnet18({ numClasses: 10, inChannels: 1 });
  criterion = new nn.CrossEntropyLoss();
  override forward(x: Tensor): Tensor { return this.model.forward(x); }
  trainingStep([x, y]: Tensor[]): Tensor {
    const loss = this.criterion.forward(this.forward(x!), y!);
    this.log("loss", loss, { progBar: true });
    return loss;
  }
  // one Adam for both sides, so neither pays for allocating its state inside the timing
  configureOptimizers(): optim.Optimizer<object> { return bareOpt; }
}
const module = new Classifier();
const bareOpt = new optim.Adam(module.parameters(), { lr: 1e-3 });
const dir = mkdtempSync(join(tmpdir(), "torchlight-bench-"));

async function bare(): Promise<number> {
  module.train();
  const t0 = performance.now();
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
  return (performance.now() - t0) / STEPS;
}
async function trainer(): Promise<number> {
  const t = new pl.Trainer({ maxEpochs: 1, limitTrainBatches: STEPS, logEveryNSteps: 50, enableCheckpointing: false, enableModelSummary: false,
    logger: new pl.CSVLogger(dir), defaultRootDir: dir, numSanityValSteps: 0 });
  const t0 = performance.now();
  await t.fit(module, { trainDataloaders: loader });
  return (performance.now() - t0) / STEPS;
}

await bare(); await trainer();  // warm-up
for (let r = 0; r < rounds; r++) {
  const b = r % 2 === 0 ? await bare() : 0;
  const t = await trainer();
  const b2 = r % 2 === 1 ? await bare() : b;
  console.log(JSON.stringify({ workload: "trainer", side: "torchlight", round: r, bareMs: b2, trainerMs: t, overhead: t / b2 - 1 }));
}
