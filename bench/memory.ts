// The memory benchmark.   node dist/bench/memory.js <eval|train> <rounds>   (npm run bench -- memory)
//                         node dist/bench/memory.js <eval|train> <tidy|plain> [steps]   (one process)
// eval:  ResNet-18 (1 input channel, 10 classes) over the FashionMNIST test set, batch 1000, in
//        noGrad: with `tidy` around each batch, or written plainly (no tidy, no dispose), as a
//        user who has not read about memory writes it.
// train: an MLP (784-256-10, Adam, batch 128) trained for `steps` steps (default 1000), with a
//        tidy per step or plainly; RSS is sampled every 100 steps to show whether it stays flat.
// One process prints one JSON line: peak RSS (VmHWM), RSS samples, live tensors at the end. With
// a number of rounds, the script runs both modes in their own processes (a peak is per
// process), alternating, and prints one JSON line per round with both.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader } from "../src/data/index.js";
import { FashionMNIST, transforms, models } from "../src/vision/index.js";

const [workload = "eval", mode = "plain", stepsArg = "1000"] = process.argv.slice(2);
if (mode !== "tidy" && mode !== "plain") {
  const once = (m: string) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), workload, m], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  };
  for (let round = 0; round < Number(mode); round++) {
    const t = once("tidy"), p = once("plain");
    const after = (x: { rssMb: number[] }) => x.rssMb[x.rssMb.length - 1]! - x.rssMb[Math.min(2, x.rssMb.length - 1)]!;
    console.log(JSON.stringify({ workload, side: "torchlight", round, tidyPeakMb: t.peakRssMb, plainPeakMb: p.peakRssMb, ratio: p.peakRssMb / t.peakRssMb,
      plainGrowthMb: after(p), tidyGrowthMb: after(t), plainSecs: p.seconds, tidySecs: t.seconds, plainLive: p.liveTensors }));
  }
  process.exit(0);
}
const tidy = mode === "tidy";
const status = (key: string) => Number(/(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(key))!)![1]) / 1024;
const rssMb = () => status("VmRSS:");
const samples: number[] = [];
const t0 = performance.now();
let extra: Record<string, unknown> = {};

if (workload === "eval") {
  torch.manualSeed(0);
  const model = models.resnet18({ numClasses: 10, inChannels: 1 });
  model.eval();
  const test = new FashionMNIST({ train: false,
    transform: new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize([0.28604], [0.32025])]) });
  let correct = 0;
  for (const batch of new DataLoader(test, { batchSize: 1000 })) {
    const [x, y] = batch as Tensor[];
    if (tidy) {
      correct += torch.noGrad(() => torch.tidy(() => model.forward(x!).argmax(1).eq(y!).sum().item()));
      torch.dispose([x, y]);
    } else {
      correct += torch.noGrad(() => model.forward(x!).argmax(1).eq(y!).sum().item());
    }
    samples.push(rssMb());
  }
  extra = { correct };
} else {
  torch.manualSeed(0);
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const steps = Number(stepsArg);
  let last = 0;
  for (let i = 0; i < steps; i++) {
    const x = torch.randn([128, 1, 28, 28]), y = torch.randint(0, 10, [128]);
    const step = () => {
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    };
    last = tidy ? torch.tidy(step) : step();
    if (tidy) torch.dispose([x, y]);
    if ((i + 1) % 100 === 0) samples.push(rssMb());
  }
  extra = { lastLoss: last };
}
console.log(JSON.stringify({ workload, mode, side: "torchlight", peakRssMb: status("VmHWM:"), rssMb: samples.map((r) => Math.round(r)),
  liveTensors: torch.memory().numTensors, seconds: (performance.now() - t0) / 1000, ...extra }));
