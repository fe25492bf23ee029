// The seed program (ARCHITECTURE.md): a ResNet-18 LightningModule trained on FashionMNIST by
// a TorchTrainer with 2 data-parallel workers, Adam, batch 128 — the Python original in
// TypeScript, line for line. `npm run demo` runs it briefly; `npm run demo -- --full` runs
// the ten full epochs. Options (all optional):
//   --full            10 full epochs (default: 2 epochs of 100 batches per worker)
//   --workers N       worker processes (default 2)
//   --batches N       batches per worker per epoch (default 100; ignored with --full)
//   --epochs N        epochs (default 2, or 10 with --full)
//   --storage DIR     RunConfig.storagePath (default: /tmp/runs)
//   --name NAME       RunConfig.name (default: fashion-<timestamp>, so each demo is a new run)
import { nn, optim } from "torchlight/torch";
import * as torch from "torchlight/torch";
import { DataLoader } from "torchlight/data";
import { FashionMNIST, transforms, models } from "torchlight/vision";
import * as pl from "torchlight/lightning";
import { ScalingConfig, RunConfig } from "torchlight/train";
import { TorchTrainer } from "torchlight/train/torch";      // as ray.train.torch
import { RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback, prepareTrainer }
  from "torchlight/train/lightning";

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const full = process.argv.includes("--full");
const root = process.env.FASHION_MNIST ?? "/usr/share/datasets/fashion-mnist";

class ImageClassifier extends pl.LightningModule {
  model = models.resnet18({ numClasses: 10, inChannels: 1 });
  criterion = new nn.CrossEntropyLoss();
  forward(x) { return this.model.forward(x); }
  trainingStep([x, y]) {
    const loss = this.criterion.forward(this.forward(x), y);
    this.log("loss", loss, { onStep: true, progBar: true });
    return loss;
  }
  configureOptimizers() { return new optim.Adam(this.parameters(), { lr: 1e-3 }); }
}

async function trainFunc(config) {
  const data = new FashionMNIST({ root, train: true,
    transform: new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize([0.28604], [0.32025])]) });
  const loader = new DataLoader(data, { batchSize: 128, shuffle: true });
  let trainer = new pl.Trainer({ maxEpochs: config.maxEpochs, devices: "auto", accelerator: "auto",
    strategy: new RayDDPStrategy(), plugins: [new RayLightningEnvironment()],
    callbacks: [new RayTrainReportCallback()], enableCheckpointing: false,
    limitTrainBatches: config.limitTrainBatches });
  trainer = prepareTrainer(trainer);
  await trainer.fit(new ImageClassifier(), { trainDataloaders: loader });
}

// Everything at the top level runs in this process (the driver) and again in each worker, which
// re-runs this script: there `trainer.fit()` trains as that rank and exits. One-time work (a
// download, deleting a folder) goes under `if (isDriver())` from torchlight/train.
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
const trainer = new TorchTrainer(trainFunc, {
  trainLoopConfig: { maxEpochs: Number(arg("epochs", full ? "10" : "2")), limitTrainBatches: full ? null : Number(arg("batches", "100")) },
  scalingConfig: new ScalingConfig({ numWorkers: Number(arg("workers", "2")), useGpu: false }),
  runConfig: new RunConfig({ storagePath: arg("storage", "/tmp/runs"), name: arg("name", `fashion-${stamp}`) }),
});
const t0 = performance.now();
const result = await trainer.fit();
const secs = (performance.now() - t0) / 1000;
console.log(result.metrics, result.path);
const model = await result.checkpoint.asDirectory((dir) =>
  ImageClassifier.loadFromCheckpoint(`${dir}/checkpoint.ckpt`));

// What the run gave: throughput, then the model loaded back from its checkpoint on the test set.
const steps = Number(result.metrics.step), workers = trainer.scalingConfig.numWorkers;
console.log(`trained ${steps} steps × ${workers} workers × 128 images in ${secs.toFixed(1)} s (${(steps * workers * 128 / secs).toFixed(0)} images/s end to end, start-up included)`);
const test = new FashionMNIST({ root, train: false,
  transform: new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize([0.28604], [0.32025])]) });
model.eval();
let correct = 0;
for (const batch of new DataLoader(test, { batchSize: 1000 })) {
  const [x, y] = batch as torch.Tensor[];
  correct += torch.noGrad(() => torch.tidy(() => model.forward(x).argmax(1).eq(y).sum().item()));
  torch.dispose([x, y]);
}
console.log(`test accuracy of ${result.checkpoint.path}/checkpoint.ckpt: ${(100 * correct / test.length).toFixed(2)}% on ${test.length} images`);
if (process.env.DEMO_RESULT_JSON) (await import("node:fs")).writeFileSync(process.env.DEMO_RESULT_JSON, JSON.stringify({ metrics: result.metrics, path: result.path, checkpoint: result.checkpoint.path, accuracy: correct / test.length }));
