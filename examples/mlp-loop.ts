// A bare training loop without Lightning or TorchTrainer (node dist/examples/mlp-loop.js):
// trains an MLP on FashionMNIST (Debian's local copy) with torchlight/vision's dataset and
// transforms, a DataLoader with two worker threads, nn modules, optim.Adam and a OneCycle
// schedule; prints the runtime report, loss and test accuracy, and checkpoints with
// torch.save in PyTorch's format. `npm run demo` runs the TorchTrainer seed program instead
// (examples/fashion-mnist/train.ts).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader } from "../src/data/index.js";
import { FashionMNIST, transforms as T } from "../src/vision/index.js";

const cfg = torch.config();
console.log(`torchlight on libtorch ${cfg.torchVersion}: BLAS ${cfg.blas}, allocator ${cfg.allocator} (${cfg.allocatorTuning}), ${cfg.numThreads} threads, CUDA ${cfg.cuda ? "yes" : "no"}, ${cfg.opCount} ops bound`);
torch.manualSeed(0);
const transform = T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]);
const root = process.env.FASHION_MNIST;  // default: /usr/share/datasets/fashion-mnist
const train = new FashionMNIST({ train: true, transform, ...(root ? { root } : {}) });
const test = new FashionMNIST({ train: false, transform, ...(root ? { root } : {}) });
console.log(`FashionMNIST: ${train.length} training and ${test.length} test images`);

const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
const lossFn = new nn.CrossEntropyLoss();
const epochs = 2;
const loader = new DataLoader(train, { batchSize: 128, shuffle: true, numWorkers: 2, persistentWorkers: true });
const testLoader = new DataLoader(test, { batchSize: 1000 });
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const sched = new optim.lrScheduler.OneCycleLR(opt, { maxLr: 3e-3, epochs, stepsPerEpoch: loader.length });

for (let epoch = 0; epoch < epochs; epoch++) {
  const t0 = performance.now();
  model.train();
  let total = 0, steps = 0;
  for await (const batch of loader) {
    const [x, y] = batch as [Tensor, Tensor];
    total += torch.tidy(() => {
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    });
    torch.dispose([x, y]);
    sched.step();
    steps++;
  }
  const secs = (performance.now() - t0) / 1000;
  model.eval();
  let correct = 0;
  for (const batch of testLoader) {
    const [x, y] = batch as [Tensor, Tensor];
    correct += torch.noGrad(() => torch.tidy(() => (model.forward(x) as Tensor).argmax(1).eq(y).sum().item()));
    torch.dispose([x, y]);
  }
  console.log(`epoch ${epoch + 1}: mean loss ${(total / steps).toFixed(4)}, test accuracy ${(100 * correct / test.length).toFixed(2)}%, ${(steps * 128 / secs).toFixed(0)} images/s`);
}
await loader.close();
const ckpt = join(mkdtempSync(join(tmpdir(), "torchlight-demo-")), "mlp.pt");
torch.tidy(() => torch.save({ model: model.stateDict(), optimizer: opt.stateDict(), epoch: epochs }, ckpt));
console.log(`checkpoint: ${ckpt} (PyTorch's format: python3 -c "import torch; print(torch.load('${ckpt}')['epoch'])")`);
const mem = torch.memory();
console.log(`live tensors at the end: ${mem.numTensors} (parameters, optimizer state and the datasets)`);
