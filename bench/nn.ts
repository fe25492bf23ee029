// The nn benchmark, torchlight side: models from nn modules, optim.Adam, nn.CrossEntropyLoss.
//   node dist/bench/nn.js <workload> <rounds>   → one JSON line per round
// Workloads: resnet18 (train step, batch 128 of 1×28×28), mlp (784-256-10, batch 128),
// adam (optimizer step alone over ResNet-18's 11.2 M parameters with fixed gradients).
import * as torch from "../src/torch/index.js";
import { nn, optim } from "../src/torch/index.js";
import { models } from "../src/vision/index.js";

const [workload = "mlp", roundsArg = "5"] = process.argv.slice(2);
const rounds = Number(roundsArg);
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);

const emit = (extra: Record<string, number>, r: number) => console.log(JSON.stringify({ workload, side: "torchlight", round: r, ...extra }));

if (workload === "adam") {
  const model = models.resnet18({ numClasses: 10, inChannels: 1 });
  const params = model.parameters();
  for (const p of params) { const g = torch.randnLike(p); p.grad = g; g.dispose(); }
  const opt = new optim.Adam(params, { lr: 1e-3 });
  for (let i = 0; i < 2; i++) opt.step();
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) opt.step();
    emit({ msPerStep: (performance.now() - t0) / 20 }, r);
  }
} else {
  const model: nn.Module = workload === "mlp"
    ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10))
    : models.resnet18({ numClasses: 10, inChannels: 1 });
  model.train();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const x = torch.randn([128, 1, 28, 28]), y = torch.randint(0, 10, [128]);
  const steps = workload === "mlp" ? 100 : 10;
  const one = () => torch.tidy(() => {
    lossFn.forward(model.forward(x), y).backward();
    opt.step();
    opt.zeroGrad();
  });
  for (let i = 0; i < 2; i++) one();
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) one();
    const s = (performance.now() - t0) / 1000 / steps;
    emit({ stepSeconds: s, imagesPerSecond: 128 / s }, r);
  }
}
