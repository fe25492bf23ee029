// npm run demo: what torchlight runs today. Trains a 784-256-10 MLP (nn modules, optim.Adam,
// a OneCycle schedule) on FashionMNIST (the local Debian dataset) for two epochs, prints the
// runtime report, loss and test accuracy, and checkpoints with torch.save in PyTorch's format.
// The full TorchTrainer program of ARCHITECTURE.md comes with the later layers (data,
// distributed, lightning, train).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";

const ROOT = process.env.FASHION_MNIST ?? "/usr/share/datasets/fashion-mnist";

function idx(file: string): { dims: number[]; bytes: Uint8Array } {
  const buf = gunzipSync(readFileSync(`${ROOT}/${file}`));
  const n = buf[3]!;
  const dims = Array.from({ length: n }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return { dims, bytes: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * n, dims.reduce((a, b) => a * b, 1)) };
}

function load(split: "train" | "t10k"): { x: Tensor; y: Tensor } {
  const img = idx(`${split}-images-idx3-ubyte.gz`), lab = idx(`${split}-labels-idx1-ubyte.gz`);
  return torch.tidy(() => ({
    // (N, 784) in [0, 1], normalised with FashionMNIST's mean and std as in the target program
    x: torch.tensor(img.bytes, { shape: [img.dims[0]!, 784] }).float().div(255).sub(0.28604).div(0.32025),
    y: torch.tensor(lab.bytes).long(),
  }));
}

const cfg = torch.config();
console.log(`torchlight on libtorch ${cfg.torchVersion}: BLAS ${cfg.blas}, allocator ${cfg.allocator} (${cfg.allocatorTuning}), ${cfg.numThreads} threads, CUDA ${cfg.cuda ? "yes" : "no"}, ${cfg.opCount} ops bound`);
torch.manualSeed(0);
const train = load("train"), test = load("t10k");
console.log(`FashionMNIST: ${train.x.shape[0]} training and ${test.x.shape[0]} test images from ${ROOT}`);

const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
const lossFn = new nn.CrossEntropyLoss();
const batch = 128, epochs = 2, stepsPerEpoch = Math.floor(train.x.shape[0]! / batch);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const sched = new optim.lrScheduler.OneCycleLR(opt, { maxLr: 3e-3, epochs, stepsPerEpoch });

const n = train.x.shape[0]!;
for (let epoch = 0; epoch < epochs; epoch++) {
  model.train();
  const t0 = performance.now();
  const perm = torch.randperm(n);
  let total = 0, steps = 0;
  for (let s = 0; s + batch <= n; s += batch) {
    total += torch.tidy(() => {
      const i = perm.narrow(0, s, batch);
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(train.x.indexSelect(0, i)), train.y.indexSelect(0, i));
      loss.backward();
      opt.step();
      return loss.item();
    });
    sched.step();
    steps++;
  }
  perm.dispose();
  model.eval();
  const acc = torch.noGrad(() => torch.tidy(() => (model.forward(test.x) as Tensor).argmax(1).eq(test.y).float().mean().item()));
  const secs = (performance.now() - t0) / 1000;
  console.log(`epoch ${epoch + 1}: mean loss ${(total / steps).toFixed(4)}, test accuracy ${(acc * 100).toFixed(2)}%, ${(steps * batch / secs).toFixed(0)} images/s`);
}
const ckpt = join(mkdtempSync(join(tmpdir(), "torchlight-demo-")), "mlp.pt");
torch.tidy(() => torch.save({ model: model.stateDict(), optimizer: opt.stateDict(), epoch: epochs }, ckpt));
console.log(`checkpoint: ${ckpt} (PyTorch's format: python3 -c "import torch; print(torch.load('${ckpt}')['epoch'])")`);
const mem = torch.memory();
console.log(`live tensors at the end: ${mem.numTensors} (parameters, optimizer state and the dataset)`);
