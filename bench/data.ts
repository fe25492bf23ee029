// The data benchmark, torchlight side.   node dist/bench/data.js <workload> <rounds>
// Workloads: loader0 / loader2 (FashionMNIST, toTensor + normalize, batch 128, shuffled,
// 0 or 2 worker threads: images/s over 100 batches), epoch (ResNet-18 training steps fed
// by a 2-worker DataLoader vs the same steps on pre-built batches: the loader's overhead).
import * as torch from "../src/torch/index.js";
import { nn, optim, type Tensor } from "../src/torch/index.js";
import { DataLoader } from "../src/data/index.js";
import { FashionMNIST, transforms as T, models } from "../src/vision/index.js";

const [workload = "loader0", roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);
const emit = (extra: Record<string, number>, r: number) => console.log(JSON.stringify({ workload, side: "torchlight", round: r, ...extra }));

const data = new FashionMNIST({ train: true, transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });

async function pass(loader: DataLoader<[unknown, unknown]>, batches: number, step?: (x: Tensor, y: Tensor) => void): Promise<number> {
  let k = 0;
  const t0 = performance.now();
  for await (const b of loader) {
    const [x, y] = b as [Tensor, Tensor];
    step?.(x, y);
    torch.dispose([x, y]);
    if (++k === batches) break;
  }
  return (performance.now() - t0) / 1000;
}

if (workload === "loader0" || workload === "loader2") {
  const numWorkers = workload === "loader2" ? 2 : 0;
  const loader = new DataLoader(data, { batchSize: 128, shuffle: true, numWorkers, ...(numWorkers ? { persistentWorkers: true } : {}) });
  await pass(loader, 10);
  for (let r = 0; r < rounds; r++) emit({ imagesPerSecond: (100 * 128) / (await pass(loader, 100)) }, r);
  await loader.close();
} else {
  // Blocks of 5 steps on pre-built batches and 5 steps fed by the loader, alternating, so
  // that machine noise (which drifts over seconds) hits both alike; the workers refill their
  // prefetch queue during the loader blocks only, when the step must share the cores.
  const model = models.resnet18({ numClasses: 10, inChannels: 1 });
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const step = (x: Tensor, y: Tensor) => torch.tidy(() => { opt.zeroGrad(); lossFn.forward(model.forward(x), y).backward(); opt.step(); });
  const block = 5;
  const workers = Number(process.env.BENCH_LOADER_WORKERS ?? 2);
  const loader = new DataLoader(data, { batchSize: 128, shuffle: true, numWorkers: workers, ...(workers ? { persistentWorkers: true } : {}) });
  let it = loader[Symbol.asyncIterator]();
  const next = async (): Promise<[Tensor, Tensor]> => {
    let r = await it.next();
    if (r.done) { it = loader[Symbol.asyncIterator](); r = await it.next(); }
    return r.value as [Tensor, Tensor];
  };
  const prebuilt: [Tensor, Tensor][] = [];
  for (let i = 0; i < block; i++) prebuilt.push(await next());
  step(prebuilt[0]![0], prebuilt[0]![1]);
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    for (const [x, y] of prebuilt) step(x, y);
    const pre = (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (let i = 0; i < block; i++) { const [x, y] = await next(); step(x, y); torch.dispose([x, y]); }
    const withLoader = (performance.now() - t0) / 1000;
    emit({ prebuiltSeconds: pre, loaderSeconds: withLoader, overhead: withLoader / pre - 1 }, r);
  }
  await it.return?.();
  await loader.close();
}
