// torchlight/data against PyTorch: sampler indices (DistributedSampler shards, RandomSampler,
// randomSplit) equal Python's for the same seeds; DataLoader order equal to Python's after
// torch.manualSeed; collate; worker threads give the same batches, report errors with the
// sample index, and leak neither threads nor tensors.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import type { Tensor } from "../../src/torch/index.js";
import {
  DataLoader, Dataset, TensorDataset, Subset, ConcatDataset, randomSplit, RandomSampler, BatchSampler, DistributedSampler,
  SequentialSampler, defaultCollate, DataLoaderError,
} from "../../src/data/index.js";
import { assertNoLeak, liveTensors, pythonReference } from "../helpers.js";
import { FailingDataset } from "./fixtures.js";

interface Ref {
  distributed: { args: [number, number, number, number, boolean, boolean]; shards: number[][] }[];
  random: Record<"generator" | "replacement" | "num_samples" | "default", number[]> & { batches: number[][] };
  split: { lengths: number[][]; fractions: number[][] };
  loader: number[][][];
  after_loader_rand: number[];
}
const range = (n: number) => ({ length: n });

describe("torchlight/data", () => {
  let ref: Ref;
  let baseline = 0;
  before(() => { baseline = liveTensors(); ref = pythonReference<Ref>("data_reference.py"); });
  after(async () => { await assertNoLeak(baseline); assert.equal(torch.sharing.outstanding(), 0, "no shared tensors left behind"); });

  it("DistributedSampler shards equal PyTorch's for several (size, replicas, seed, epoch)", () => {
    for (const { args: [size, replicas, seed, epoch, shuffle, dropLast], shards } of ref.distributed) {
      const mine = Array.from({ length: replicas }, (_, rank) => {
        const s = new DistributedSampler(range(size), { numReplicas: replicas, rank, shuffle, seed, dropLast });
        s.setEpoch(epoch);
        assert.equal(s.length, shards[rank]!.length);
        return [...s];
      });
      assert.deepEqual(mine, shards, `DistributedSampler(${size}, ${replicas}, seed ${seed}, epoch ${epoch}, shuffle ${shuffle}, dropLast ${dropLast})`);
    }
    assert.throws(() => new DistributedSampler(range(4), { numReplicas: 2, rank: 2 }), /invalid rank 2/);
    assert.throws(() => new DistributedSampler(range(4)), /numReplicas and rank are required/);
  });

  it("RandomSampler, BatchSampler and randomSplit draw PyTorch's indices", () => {
    const g = (s: number) => new torch.Generator({ seed: s });
    assert.deepEqual([...new RandomSampler(range(12), { generator: g(3) })], ref.random.generator);
    assert.deepEqual([...new RandomSampler(range(12), { replacement: true, numSamples: 40, generator: g(4) })], ref.random.replacement);
    assert.deepEqual([...new RandomSampler(range(5), { numSamples: 12, generator: g(5) })], ref.random.num_samples);
    torch.manualSeed(6);
    assert.deepEqual([...new RandomSampler(range(9))], ref.random.default);
    assert.deepEqual([...new BatchSampler(new RandomSampler(range(10), { generator: g(8) }), 3)], ref.random.batches);
    const ds = new TensorDataset(torch.zeros([10]));
    assert.deepEqual(randomSplit(ds, [3, 7], g(42)).map((s) => s.indices), ref.split.lengths);
    const ds11 = new TensorDataset(torch.zeros([11]));
    assert.deepEqual(randomSplit(ds11, [0.3, 0.3, 0.4], g(1)).map((s) => s.indices), ref.split.fractions);
    assert.throws(() => randomSplit(ds, [3, 3]), /does not equal the length of the input dataset/);
    torch.dispose([ds.tensors, ds11.tensors]);
  });

  it("a shuffling DataLoader yields Python's batches after the same manualSeed, pass after pass", () => {
    const ds = new TensorDataset(torch.arange(26).float().view(13, 2), torch.arange(13));
    torch.manualSeed(9);
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true });
    assert.equal(loader.length, 4);
    for (const want of ref.loader) {
      const got = torch.tidy(() => [...loader].map((b) => ((b as Tensor[])[1]!).toArray()));
      assert.deepEqual(got, want);
    }
    assert.deepEqual(torch.tidy(() => torch.rand([2]).toArray()), ref.after_loader_rand, "the default generator advanced as in Python");
    torch.dispose(ds.tensors);
  });

  it("for await over a loader without workers lets the event loop turn during a long epoch (timers, sockets, heartbeats)", async () => {
    class Slow extends Dataset<number> {
      get length() { return 40; }
      getItem(i: number): number { const t = performance.now(); while (performance.now() - t < 10) { /* a slow sample */ } return i; }
    }
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 20);
    let seen = 0;
    try {
      for await (const b of new DataLoader(new Slow(), { batchSize: 2 })) seen += (b as Tensor).size(0);
    } finally { clearInterval(timer); }
    assert.equal(seen, 40);
    assert.ok(ticks >= 2, `a 20 ms timer fired ${ticks} times during a 400 ms epoch`);
  });

  it("defaultCollate stacks tensors and batches numbers, booleans, strings, arrays and objects", () => {
    torch.tidy(() => {
      const b = defaultCollate([
        { x: torch.ones([2]), y: 1, w: 0.5, ok: true, name: "a", pair: [1, torch.zeros([1])] },
        { x: torch.zeros([2]), y: 2, w: 1, ok: false, name: "b", pair: [2, torch.ones([1])] },
      ]) as Record<string, unknown>;
      assert.deepEqual((b.x as Tensor).shape, [2, 2]);
      assert.equal((b.y as Tensor).dtype, "int64");
      assert.equal((b.w as Tensor).dtype, "float64");
      assert.equal((b.ok as Tensor).dtype, "bool");
      assert.deepEqual(b.name, ["a", "b"]);
      assert.deepEqual(((b.pair as unknown[])[0] as Tensor).toArray(), [1, 2]);
      assert.deepEqual(((b.pair as unknown[])[1] as Tensor).shape, [2, 1]);
      assert.throws(() => defaultCollate([torch.zeros([2]), torch.zeros([3])]), /stack expects each tensor to be equal size/);
      assert.throws(() => defaultCollate([new Date(), new Date()]), /Pass a collateFn/);
    });
  });

  it("Subset, ConcatDataset and option errors behave as PyTorch's", () => {
    const a = new TensorDataset(torch.arange(3)), b = new TensorDataset(torch.arange(10, 14));
    const cat = new ConcatDataset([a, b]);
    assert.equal(cat.length, 7);
    torch.tidy(() => {
      assert.equal((cat.getItem(4)[0] as Tensor).item(), 11);
      assert.equal((cat.getItem(-1)[0] as Tensor).item(), 13);
      assert.equal((new Subset(cat, [6, 0]).getItem(0)[0] as Tensor).item(), 13);
    });
    assert.throws(() => cat.getItem(7), (e: Error & { code?: string }) => e.code === "DATA_INDEX_ERROR" && /index 7 is out of range for a dataset of 7/.test(e.message));
    assert.throws(() => new DataLoader(a, { sampler: new SequentialSampler(a), shuffle: true }), /mutually exclusive with shuffle/);
    assert.throws(() => new DataLoader(a, { batchSampler: new BatchSampler(new SequentialSampler(a), 2), batchSize: 4 }), /batchSampler option is mutually exclusive/);
    assert.throws(() => new DataLoader(a, { prefetchFactor: 4 }), /prefetchFactor option could only be specified with numWorkers > 0/);
    class Local extends Dataset<number> { get length() { return 1; } getItem() { return 1; } }
    assert.throws(() => new DataLoader(new Local(), { numWorkers: 2 }), (e: Error & { code?: string }) =>
      e.code === "DATA_LOADER_OPTION" && /has no workerSpec\(\)/.test(e.message) && /numWorkers: 0/.test(e.message));
    assert.throws(() => [...new DataLoader(a, { numWorkers: 1 })], /iterate it with `for await/);
    torch.dispose([a.tensors, b.tensors]);
  });

  it("worker threads give the same batches as the calling thread, in order", async () => {
    const ds = new TensorDataset(torch.randn([37, 3]), torch.arange(37));
    const collect = async (numWorkers: number) => {
      torch.manualSeed(11);
      const out: number[][][] = [];
      for await (const b of new DataLoader(ds, { batchSize: 5, shuffle: true, numWorkers, ...(numWorkers ? { prefetchFactor: 3 } : {}) })) {
        const [x, y] = b as Tensor[];
        out.push([x!.sum(1).toArray() as number[], y!.toArray() as number[]]);
        torch.dispose([x, y]);
      }
      return out;
    };
    const single = await collect(0);
    assert.deepEqual(await collect(3), single);
    assert.deepEqual(await collect(1), single);
    torch.dispose(ds.tensors);
  });

  it("an error in a worker's getItem names the sample index and keeps the worker's stack; workers stop", async () => {
    const loader = new DataLoader(new FailingDataset(20, 13), { batchSize: 4, numWorkers: 2 });
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const b of loader) { seen.push(...((b as Tensor).select(1, 0).toArray() as number[])); torch.dispose(b); }
    }, (e: DataLoaderError) => e.code === "DATA_WORKER_ERROR" && e.index === 13 && /failed on sample index 13: Error: cannot decode sample 13/.test(e.message) &&
      /Original traceback in worker/.test(e.stack ?? ""));
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // persistent workers are reused across passes and closed explicitly
    const persistent = new DataLoader(new FailingDataset(6, -1), { batchSize: 3, numWorkers: 2, persistentWorkers: true });
    for (let pass = 0; pass < 2; pass++) for await (const b of persistent) torch.dispose(b);
    await persistent.close();
  });
});
