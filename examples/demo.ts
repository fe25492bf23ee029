// npm run demo: what torchlight runs today. Trains a 784-256-10 MLP on FashionMNIST (the
// local Debian dataset) for two epochs with the tensor engine, prints the runtime report,
// loss and test accuracy. The full TorchTrainer program of ARCHITECTURE.md comes with the
// later layers (nn, data, distributed, lightning, train).
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import * as torch from "../src/torch/index.js";
import type { Tensor } from "../src/torch/index.js";

const ROOT = process.env.FASHION_MNIST ?? "/usr/share/datasets/fashion-mnist";
const F = torch.nn.functional;

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

const init = (shape: number[], fanIn: number) => torch.tidy(() => torch.rand(shape).mul(2).sub(1).mul(1 / Math.sqrt(fanIn)).requiresGrad_(true));
const params = [init([256, 784], 784), init([256], 784), init([10, 256], 256), init([10], 256)];
const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
const forward = (x: Tensor) => F.linear(F.linear(x, w1, b1).relu(), w2, b2);
const m = params.map((p) => torch.zerosLike(p)), v = params.map((p) => torch.zerosLike(p));
let t = 0;
function adamStep(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
  t++;
  torch.noGrad(() => torch.tidy(() => params.forEach((p, i) => {
    const g = p.grad!;
    m[i]!.mul_(beta1).add_(g, 1 - beta1);
    v[i]!.mul_(beta2).addcmul_(g, g, 1 - beta2);
    p.addcdiv_(m[i]!, v[i]!.sqrt().div_(Math.sqrt(1 - beta2 ** t)).add_(eps), -lr / (1 - beta1 ** t));
    p.grad = null;
  })));
}

const batch = 128, n = train.x.shape[0]!;
for (let epoch = 0; epoch < 2; epoch++) {
  const t0 = performance.now();
  const perm = torch.randperm(n);
  let total = 0, steps = 0;
  for (let s = 0; s + batch <= n; s += batch) {
    total += torch.tidy(() => {
      const i = perm.narrow(0, s, batch);
      const loss = F.crossEntropy(forward(train.x.indexSelect(0, i)), train.y.indexSelect(0, i));
      loss.backward();
      return loss.item();
    });
    adamStep();
    steps++;
  }
  perm.dispose();
  const acc = torch.noGrad(() => torch.tidy(() => forward(test.x).argmax(1).eq(test.y).float().mean().item()));
  const secs = (performance.now() - t0) / 1000;
  console.log(`epoch ${epoch + 1}: mean loss ${(total / steps).toFixed(4)}, test accuracy ${(acc * 100).toFixed(2)}%, ${(steps * batch / secs).toFixed(0)} images/s`);
}
const mem = torch.memory();
console.log(`live tensors at the end: ${mem.numTensors} (parameters, optimizer state and the dataset)`);
