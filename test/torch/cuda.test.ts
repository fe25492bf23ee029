// CUDA: runs where libtorch has CUDA and a GPU is visible; skips cleanly elsewhere (CI).
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import type { Tensor } from "../../src/torch/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

const skip = torch.cuda.isAvailable() ? false : "no CUDA device (libtorch without CUDA, or no GPU)";

describe("cuda", { skip }, () => {
  const baseline = liveTensors();
  after(async () => { await assertNoLeak(baseline); });

  it("moves tensors to the GPU and back", () => {
    torch.tidy(() => {
      const x = torch.arange(6, { dtype: "float32" }).view(2, 3);
      const g = x.cuda();
      assert.equal(g.device, "cuda:0");
      assert.equal(torch.zeros([2], { device: "cuda" }).device, "cuda:0");
      assert.deepEqual(g.mul(2).cpu().toArray(), [[0, 2, 4], [6, 8, 10]]);
      assert.match(String(g), /device='cuda:0'/);
    });
  });

  it("computes the same values and gradients as the CPU", () => {
    torch.tidy(() => {
      torch.manualSeed(0);
      const a = torch.randn([64, 32]), b = torch.randn([32, 16]);
      const cpu = a.matmul(b).relu().sum(1);
      const ga = a.cuda().requiresGrad_(true);
      const gpu = ga.matmul(b.cuda()).relu().sum(1);
      assert.ok(gpu.cpu().allclose(cpu, 1e-4, 1e-4));
      gpu.sum().backward();
      const ca = a.clone().requiresGrad_(true);
      ca.matmul(b).relu().sum(1).sum().backward();
      assert.ok(ga.grad!.cpu().allclose(ca.grad!, 1e-4, 1e-4));
    });
  });

  it("reports device errors as TorchError", () => {
    torch.tidy(() => {
      const n = torch.cuda.deviceCount();
      assert.throws(() => torch.ones([1]).to(`cuda:${n + 7}`), torch.TorchError);
      assert.throws(() => torch.ones([2]).cuda().add(torch.ones([2])), /same device|Expected all tensors/);
    });
  });
});

// The NCCL backend: its errors everywhere, its collectives where a CUDA build sees a GPU.
describe("nccl backend", () => {
  it("without a CUDA build of libtorch 2.x (or without a GPU), backend \"nccl\" fails at once naming the fix", async () => {
    if (torch.config().nccl && torch.cuda.isAvailable()) return;  // the GPU test below covers it
    const dist = await import("../../src/distributed/index.js");
    await assert.rejects(dist.initProcessGroup({ backend: "nccl", initMethod: "tcp://127.0.0.1:1", worldSize: 1, rank: 0 }),
      (e: Error & { code?: string }) => e.code === "DIST_BAD_ARGUMENT" && /backend "gloo"/.test(e.message) &&
        (torch.config().nccl ? /CUDA device/.test(e.message) : /CUDA build of libtorch 2\.x.*LIBTORCH_USE_PYTORCH=1/.test(e.message)));
    assert.equal(dist.isInitialized(), false);
  });

  const ncclSkip = torch.config().nccl && torch.cuda.isAvailable() ? false : "needs a CUDA build of libtorch 2.x (NCCL) and a GPU";
  it("a one-rank NCCL group all-reduces and broadcasts CUDA tensors", { skip: ncclSkip }, async () => {
    const dist = await import("../../src/distributed/index.js");
    const net = await import("node:net");
    const port = await new Promise<number>((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
    await dist.initProcessGroup({ backend: "nccl", initMethod: `tcp://127.0.0.1:${port}`, worldSize: 1, rank: 0 });
    try {
      const t = torch.arange(4, { dtype: "float32" }).cuda();
      await dist.allReduce(t, { op: "sum" });
      await dist.broadcast(t, 0);
      assert.deepEqual(t.cpu().toArray(), [0, 1, 2, 3]);
      t.dispose();
    } finally { dist.destroyProcessGroup(); }
  });
});

describe("torch.cuda helpers and pinned memory", () => {
  const gpu = torch.cuda.isAvailable();
  it("without CUDA: synchronize, manualSeed, memoryStats and emptyCache throw naming the fix; pinMemory warns once and loads as usual", { skip: gpu ? "a GPU is visible: the GPU test below covers these" : false }, async () => {
    for (const f of [() => torch.cuda.synchronize(), () => torch.cuda.manualSeed(1), () => torch.cuda.memoryStats(), () => torch.cuda.emptyCache()]) {
      assert.throws(f, (e: Error) => e instanceof torch.TorchError && (torch.config().builtWithCuda ? /no CUDA device is visible/ : /without CUDA; rebuild it against a CUDA libtorch 2\.x \(LIBTORCH_USE_PYTORCH=1/).test(e.message));
    }
    assert.throws(() => torch.cuda.synchronize("gpu0"), /expected a device index or "cuda:N" but received "gpu0"/);
    const { DataLoader, TensorDataset } = await import("../../src/data/index.js");
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const ds = new TensorDataset(torch.arange(6, { dtype: "float32" }));
      const loader = new DataLoader(ds, { batchSize: 4, pinMemory: true });
      new DataLoader(ds, { batchSize: 4, pinMemory: true });  // warned once per process
      assert.equal(loader.pinMemory, false);
      const batches = [...loader] as Tensor[][];
      assert.deepEqual(batches.map((b) => b[0]!.toArray()), [[0, 1, 2, 3], [4, 5]]);
      torch.dispose(batches.flat());
      torch.dispose(ds.tensors);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w.code === "TORCHLIGHT_PIN_MEMORY").length, 1);
    } finally { process.off("warning", onWarning); }
  });

  it("with CUDA: pinned batches, nonBlocking copies, seeds per device, allocator statistics", { skip: gpu ? false : "no CUDA device" }, async () => {
    const { DataLoader, TensorDataset } = await import("../../src/data/index.js");
    const ds = new TensorDataset(torch.arange(8, { dtype: "float32" }).view(4, 2));
    const batches = [...new DataLoader(ds, { batchSize: 2, pinMemory: true })] as Tensor[][];
    assert.ok(batches.every((b) => b[0]!.isPinned()));
    const before = torch.cuda.memoryAllocated();
    const g = batches[0]![0]!.to("cuda", { nonBlocking: true });
    torch.cuda.synchronize();
    assert.deepEqual(g.cpu().toArray(), [[0, 1], [2, 3]]);
    assert.ok(torch.cuda.memoryAllocated() > before);
    assert.ok(torch.cuda.maxMemoryAllocated() >= torch.cuda.memoryAllocated());
    torch.tidy(() => {
      torch.cuda.manualSeed(5);
      const a = torch.randn([4], { device: "cuda" }).cpu().toArray();
      torch.cuda.manualSeed(5);
      assert.deepEqual(torch.randn([4], { device: "cuda" }).cpu().toArray(), a);
    });
    torch.dispose([g, ...batches.flat(), ...ds.tensors]);
    torch.cuda.emptyCache();
  });
});
