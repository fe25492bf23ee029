// The engine benchmark, torchlight side. Run through `npm run bench -- engine`, which runs
// bench/engine.py (Python PyTorch, same libtorch) side by side and prints the ratios.
//   node dist/bench/engine.js <workload> <rounds>   → one JSON line per round
// Workloads: resnet18 (1-channel 7×7/2 conv1, 28×28, batch 128, Adam, cross-entropy; model
// written op by op), mlp (784-256-10, batch 128, Adam), add (tiny tensor add, per-op cost).
import * as torch from "../src/torch/index.js";
import type { Tensor } from "../src/torch/index.js";

const F = torch.nn.functional;
const [workload = "add", roundsArg = "5"] = process.argv.slice(2);
const rounds = Number(roundsArg);
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);

function param(shape: number[], fanIn: number): Tensor {
  return torch.tidy(() => torch.randn(shape).mul(Math.sqrt(2 / fanIn)).requiresGrad_(true));
}

interface BN { w: Tensor; b: Tensor; rm: Tensor; rv: Tensor }
const bn = (c: number): BN => ({ w: torch.ones([c], { requiresGrad: true }), b: torch.zeros([c], { requiresGrad: true }), rm: torch.zeros([c]), rv: torch.ones([c]) });
const bnf = (x: Tensor, p: BN) => F.batchNorm(x, p.rm, p.rv, { weight: p.w, bias: p.b, training: true });

interface Block { c1: Tensor; b1: BN; c2: Tensor; b2: BN; down?: { c: Tensor; b: BN }; stride: number }
function block(cin: number, cout: number, stride: number): Block {
  const b: Block = { c1: param([cout, cin, 3, 3], cin * 9), b1: bn(cout), c2: param([cout, cout, 3, 3], cout * 9), b2: bn(cout), stride };
  if (stride !== 1 || cin !== cout) b.down = { c: param([cout, cin, 1, 1], cin), b: bn(cout) };
  return b;
}
function blockForward(x: Tensor, b: Block): Tensor {
  let out = bnf(F.conv2d(x, b.c1, null, { stride: b.stride, padding: 1 }), b.b1).relu_();
  out = bnf(F.conv2d(out, b.c2, null, { padding: 1 }), b.b2);
  const idn = b.down ? bnf(F.conv2d(x, b.down.c, null, { stride: b.stride }), b.down.b) : x;
  return out.add_(idn).relu_();
}

function resnet18() {
  const conv1 = param([64, 1, 7, 7], 49), bn1 = bn(64);
  const layers: Block[] = [];
  let cin = 64;
  for (const [cout, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]] as const) {
    layers.push(block(cin, cout, stride), block(cout, cout, 1));
    cin = cout;
  }
  const fcW = param([10, 512], 512), fcB = torch.zeros([10], { requiresGrad: true });
  const params: Tensor[] = [conv1, bn1.w, bn1.b, fcW, fcB];
  for (const l of layers) {
    params.push(l.c1, l.b1.w, l.b1.b, l.c2, l.b2.w, l.b2.b);
    if (l.down) params.push(l.down.c, l.down.b.w, l.down.b.b);
  }
  const forward = (x: Tensor): Tensor => {
    let y = F.maxPool2d(bnf(F.conv2d(x, conv1, null, { stride: 2, padding: 3 }), bn1).relu_(), 3, { stride: 2, padding: 1 });
    for (const l of layers) y = blockForward(y, l);
    return F.linear(F.adaptiveAvgPool2d(y, 1).flatten(1), fcW, fcB);
  };
  return { params, forward };
}

function mlp() {
  const w1 = param([256, 784], 784), b1 = torch.zeros([256], { requiresGrad: true });
  const w2 = param([10, 256], 256), b2 = torch.zeros([10], { requiresGrad: true });
  return { params: [w1, b1, w2, b2], forward: (x: Tensor) => F.linear(F.linear(x.flatten(1), w1, b1).relu_(), w2, b2) };
}

/** torch.optim.Adam's single-tensor update (PyTorch 1.13 default on CPU), op by op. */
function adam(params: Tensor[], lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8) {
  const m = params.map((p) => torch.zerosLike(p)), v = params.map((p) => torch.zerosLike(p));
  let t = 0;
  return () => torch.noGrad(() => torch.tidy(() => {
    t++;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    params.forEach((p, i) => {
      const g = p.grad!;
      m[i]!.mul_(b1).add_(g, 1 - b1);
      v[i]!.mul_(b2).addcmul_(g, g, 1 - b2);
      const denom = v[i]!.sqrt().div_(Math.sqrt(bc2)).add_(eps);
      p.addcdiv_(m[i]!, denom, -lr / bc1);
      p.grad = null;  // zero_grad(set_to_none=True)
    });
  }));
}


function trainBench(model: { params: Tensor[]; forward: (x: Tensor) => Tensor }, x: Tensor, y: Tensor, steps: number) {
  const step = adam(model.params);
  const one = () => { torch.tidy(() => { const loss = F.crossEntropy(model.forward(x), y); loss.backward(); }); step(); };
  for (let i = 0; i < 2; i++) one();
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) one();
    const s = (performance.now() - t0) / 1000 / steps;
    console.log(JSON.stringify({ workload, side: "torchlight", round: r, stepSeconds: s, imagesPerSecond: x.shape[0]! / s }));
  }
}

if (workload === "add") {
  const a = torch.ones([2, 2]), b = torch.ones([2, 2]);
  const n = 200_000;
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) a.add(b).dispose();
    const ns = ((performance.now() - t0) * 1e6) / n;
    const t1 = performance.now();
    for (let i = 0; i < n / 100; i++) torch.tidy(() => { for (let k = 0; k < 100; k++) a.add(b); });
    const nsTidy = ((performance.now() - t1) * 1e6) / n;
    if (r > 0) console.log(JSON.stringify({ workload, side: "torchlight", round: r - 1, nsPerOp: ns, nsPerOpTidy: nsTidy }));
  }
} else {
  const x = torch.randn([128, 1, 28, 28]);
  const y = torch.randint(0, 10, [128]);
  trainBench(workload === "mlp" ? mlp() : resnet18(), x, y, workload === "mlp" ? 100 : 10);
}
