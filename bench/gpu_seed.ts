// The seed program on one GPU, for scripts/gpu-check.sh (beside bench/gpu_seed.py, the same
// program in Python Lightning):
//   node dist/bench/gpu_seed.js [--steps N] [--split train|test] [--cpu]   (--cpu: a dry run without a GPU)
// A ResNet-18 LightningModule on FashionMNIST (batch 128, Adam 1e-3) under a TorchTrainer with
// ScalingConfig({ numWorkers: 1, useGpu: true }). Steady images/s over steps WARM..N (each
// timed step ends by reading the loss, which waits for the GPU, on both sides), and the end
// to end time including start-up. Prints one JSON line: {"torchlight": {...}}.
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader } from "../src/data/index.js";
import { FashionMNIST, transforms as T, models } from "../src/vision/index.js";
import * as pl from "../src/lightning/index.js";
import { TorchTrainer, ScalingConfig, RunConfig, report } from "../src/train/index.js";
import { RayDDPStrategy, RayLightningEnvironment, prepareTrainer } from "../src/train/lightning/index.js";

const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1]! : fallback; };
const STEPS = Number(arg("steps", "60")), WARM = 10, BATCH = 128;
const split = arg("split", "test");
const root = process.env.FASHION_MNIST ?? "/usr/share/datasets/fashion-mnist";

class ImageClassifier extends pl.LightningModule {
  model = models.resnet18({ numClasses: 10, inChannels: 1 });
  criterion = new nn.CrossEntropyLoss();
  times: number[] = [];
  override forward(x: Tensor) { return this.model.forward(x); }
  trainingStep([x, y]: Tensor[]) { return this.criterion.forward(this.forward(x!), y!); }
  configureOptimizers() { return new optim.Adam(this.parameters(), { lr: 1e-3 }); }
  override onTrainBatchEnd(outputs: unknown) {
    const loss = (outputs as { loss?: Tensor }).loss ?? (outputs as Tensor);
    loss.item();  // waits for the GPU
    this.times.push(performance.now());
  }
}

async function trainFunc() {
  const data = new FashionMNIST({ root, train: split === "train", transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });
  const loader = new DataLoader(data, { batchSize: BATCH, shuffle: true, dropLast: true });
  const trainer = prepareTrainer(new pl.Trainer({ maxSteps: STEPS, devices: "auto", accelerator: "auto", strategy: new RayDDPStrategy(),
    plugins: [new RayLightningEnvironment()], enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false, logger: false }));
  const module = new ImageClassifier();
  await trainer.fit(module, { trainDataloaders: loader });
  const t = module.times;
  await report({ imagesPerSecond: ((t.length - WARM) * BATCH) / ((t[t.length - 1]! - t[WARM - 1]!) / 1000), steps: t.length, device: String(module.device) });
}

const t0 = performance.now();
const result = await new TorchTrainer(trainFunc, {
  scalingConfig: new ScalingConfig({ numWorkers: 1, useGpu: !process.argv.includes("--cpu") }),
  runConfig: new RunConfig({ storagePath: process.env.GPU_CHECK_RUNS ?? "/tmp/torchlight-gpu-check", name: `seed-${Date.now()}` }),
}).fit();
console.log(JSON.stringify({ torchlight: { ...result.metrics, endToEndSeconds: (performance.now() - t0) / 1000, torch: torch.config().torchVersion } }));
