// One rank of a multi-process test (test/distributed/distributed.test.ts):
//   node dist/test/distributed/worker.js <scenario>   with MASTER_ADDR/PORT, WORLD_SIZE, RANK
// Prints one JSON line: { ok: true, ... } or { ok: false, error, code, details, ms }.
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor, type DType } from "../../src/torch/index.js";
import * as dist from "../../src/distributed/index.js";
import { broadcastFlagSync } from "../../src/distributed/internal.js";
import { c10d } from "../../src/torch/internal.js";

const scenario = process.argv[2] ?? "collectives";
const out = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 20000);

function check(cond: boolean, what: string): void {
  if (process.env.TEST_TRACE) console.error(`rank ${process.env.RANK}: ${what}`);
  if (!cond) throw new Error(`check failed: ${what}`);
}
const arr = (t: Tensor) => t.toArray() as number[];
const eq = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-9);

async function collectives(): Promise<Record<string, unknown>> {
  const r = dist.getRank(), n = dist.getWorldSize();
  const ranks = Array.from({ length: n }, (_, i) => i);
  const checks: string[] = [];
  for (const dtype of ["float32", "float64", "int32", "int64"] as DType[]) {
    for (const op of ["sum", "avg", "product", "min", "max"] as const) {
      if (op === "avg" && !dtype.startsWith("float")) continue;
      const mine = [r + 1, 2 * (r + 1) - 5];
      const t = torch.tensor(mine, { dtype });
      await dist.allReduce(t, { op });
      const cols = [0, 1].map((j) => ranks.map((q) => [q + 1, 2 * (q + 1) - 5][j]!));
      const want = cols.map((c) => op === "sum" ? c.reduce((a, b) => a + b) : op === "avg" ? c.reduce((a, b) => a + b) / n
        : op === "product" ? c.reduce((a, b) => a * b) : op === "min" ? Math.min(...c) : Math.max(...c));
      check(eq(arr(t), want), `allReduce ${dtype} ${op}: got ${arr(t)} want ${want}`);
      checks.push(`allReduce/${dtype}/${op}`);
      t.dispose();
    }
    const b = torch.tensor([r * 10, r * 10 + 1], { dtype });
    await dist.broadcast(b, n - 1);
    check(eq(arr(b), [(n - 1) * 10, (n - 1) * 10 + 1]), `broadcast ${dtype}`);
    const list = ranks.map(() => torch.zeros([2], { dtype }));
    await dist.allGather(list, torch.tensor([r, -r], { dtype }));
    check(list.every((t, q) => eq(arr(t), [q, -q])), `allGather ${dtype}`);
    const outT = torch.zeros([2], { dtype });
    await dist.reduceScatter(outT, ranks.map((q) => torch.tensor([q + r, 1], { dtype })));
    check(eq(arr(outT), [n * r + ranks.reduce((a, b) => a + b), n]), `reduceScatter ${dtype}: ${arr(outT)}`);
    const gl = r === 0 ? ranks.map(() => torch.zeros([1], { dtype })) : undefined;
    await dist.gather(torch.tensor([r * 3], { dtype }), { dst: 0, ...(gl ? { gatherList: gl } : {}) });
    if (gl) check(gl.every((t, q) => eq(arr(t), [q * 3])), `gather ${dtype}`);
    const sc = torch.zeros([1], { dtype });
    await dist.scatter(sc, { src: 0, ...(r === 0 ? { scatterList: ranks.map((q) => torch.tensor([q * 7], { dtype })) } : {}) });
    check(eq(arr(sc), [r * 7]), `scatter ${dtype}`);
    checks.push(`broadcast/allGather/reduceScatter/gather/scatter/${dtype}`);
  }
  // point to point around a ring, a barrier, objects, and an async work handle
  const next = (r + 1) % n, prev = (r + n - 1) % n;
  const recvd = torch.zeros([3]);
  const sending = dist.send(torch.full([3], r, { dtype: "float32" }), next, { tag: 5 });
  await dist.recv(recvd, prev, { tag: 5 });
  await sending;
  check(eq(arr(recvd), [prev, prev, prev]), "send/recv");
  await dist.barrier();
  const objs = await dist.allGatherObject({ rank: r, name: `r${r}`, list: Array.from({ length: r }, (_, i) => i) });
  check(objs.every((o, q) => o.rank === q && o.name === `r${q}` && o.list.length === q), "allGatherObject");
  const bo = await dist.broadcastObject(r === 1 ? { msg: "from one", n: [1, 2] } : null, 1);
  check(bo?.msg === "from one", "broadcastObject");
  check(broadcastFlagSync(r === 0) && !broadcastFlagSync(r !== 0), "_broadcastFlagSync: rank 0's flag everywhere");
  const w = dist.allReduce(torch.ones([4]), { async: true }) as dist.Work;
  await w.wait();
  check(w.isCompleted(), "Work.isCompleted");
  const sub = await dist.newGroup([0, n - 1]);
  if (sub) {
    const s = torch.tensor([1]);
    await dist.allReduce(s, { group: sub });
    check(eq(arr(s), [2]) && dist.getWorldSize(sub) === 2, "newGroup allReduce");
    // 20 transfers each way between the pair: every handshake key is taken by its reader
    const me = dist.getRank(sub), other = 1 - me, got = torch.zeros([2]);
    for (let i = 0; i < 20; i++) {
      const out = dist.send(torch.tensor([me, i]), other, { group: sub, tag: 3 });
      await dist.recv(got, other, { group: sub, tag: 3 });
      await out;
      check(eq(arr(got), [other, i]), `send/recv in the pair, #${i}`);
    }
    await dist.barrier({ group: sub });
    const keys = [0, 1].flatMap((src) => Array.from({ length: 20 }, (_, k) => ["send", "recv"].map((side) => `tl_p2p/${sub.id}/${src}->${1 - src}/3/${k}/${side}`)).flat());
    const left = c10d.storeGetNow(sub.id, keys).filter((v) => v !== null).length;
    check(left === 0, `send/recv leave no handshake keys in the store (${left} of ${keys.length} left)`);
  }
  checks.push("p2p/barrier/objects/work/newGroup");
  return { checks };
}

async function ddp(): Promise<Record<string, unknown>> {
  const ws = dist.isInitialized() ? dist.getWorldSize() : 1, r = dist.isInitialized() ? dist.getRank() : 0;
  const g = new torch.Generator({ seed: 1 });
  const X = torch.randn([64, 8], { generator: g }), Y = torch.randn([64, 2], { generator: g });
  torch.manualSeed(100 + r);  // different init per rank: DDP must broadcast rank 0's
  const syncBn = process.env.TEST_SYNCBN === "1";
  let model: nn.Module = syncBn
    ? new nn.Sequential(new nn.Linear(8, 16), new nn.BatchNorm1d(16), new nn.Tanh(), new nn.Linear(16, 2))
    : new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 2));
  if (syncBn && ws > 1) model = dist.SyncBatchNorm.convertSyncBatchnorm(model);
  const net = ws > 1 ? await dist.DistributedDataParallel.create(model, { bucketCapMb: 0.0002 }) : model;
  const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const B = 16, per = B / ws;
  const accumulate = process.env.TEST_ACCUMULATE === "1";
  for (let step = 0; step < 50; step++) {
    const i = (step * B) % 64;
    opt.zeroGrad();
    const micro = (k: number, parts: number) => torch.tidy(() => {
      const lo = i + r * per + k * (per / parts), hi = lo + per / parts;
      net.forward(X.slice(0, lo, hi)).sub(Y.slice(0, lo, hi)).pow(2).mean().div(parts).backward();
    });
    if (accumulate) {
      // two micro-batches: the first without synchronising, the second averages everything
      if (net instanceof dist.DistributedDataParallel) net.noSync(() => micro(0, 2)); else micro(0, 2);
      micro(1, 2);
    } else micro(0, 1);
    opt.step();
  }
  const state = [...model.parameters(), ...model.buffers().filter((b) => b.dtype === "float32")];
  const w = torch.cat(state.map((p) => p.flatten()));
  return { weights: w.toArray() };
}

/** SyncBatchNorm with a different batch size on each rank (`TEST_COUNTS`, zero allowed): its
 * output, input gradient and running statistics equal BatchNorm's over the concatenated batch. */
async function syncBnUneven(): Promise<Record<string, unknown>> {
  const r = dist.getRank();
  const counts = (process.env.TEST_COUNTS ?? "3,5").split(",").map(Number);
  const total = counts.reduce((a, b) => a + b, 0), lo = counts.slice(0, r).reduce((a, b) => a + b, 0);
  const g = new torch.Generator({ seed: 7 });
  const X = torch.randn([total, 3, 4, 4], { generator: g }).mul(2).add(1), R = torch.randn([total, 3, 4, 4], { generator: g });
  const ref = new nn.BatchNorm2d(3), sync = dist.SyncBatchNorm.convertSyncBatchnorm(new nn.BatchNorm2d(3));
  check(sync instanceof dist.SyncBatchNorm, "convert returns a SyncBatchNorm");
  torch.noGrad(() => {
    ref.weight!.uniform_(0.5, 1.5, g); ref.bias!.uniform_(-0.5, 0.5, g);
    sync.weight!.copy_(ref.weight!); sync.bias!.copy_(ref.bias!);
  });
  const diffs: number[] = [];
  const maxDiff = (a: Tensor, b: Tensor) => a.sub(b).abs().max().item();
  for (let step = 0; step < 3; step++) {
    torch.tidy(() => {
      const xr = X.clone().requiresGrad_(true);
      const yr = ref.forward(xr);
      yr.mul(R).sum().backward();
      const xs = X.slice(0, lo, lo + counts[r]!).clone().requiresGrad_(true);
      const ys = sync.forward(xs);
      ys.mul(R.slice(0, lo, lo + counts[r]!)).sum().backward();
      if (counts[r]! > 0) {
        diffs.push(maxDiff(ys, yr.slice(0, lo, lo + counts[r]!)));
        diffs.push(maxDiff(xs.grad!, xr.grad!.slice(0, lo, lo + counts[r]!)));
      }
      diffs.push(maxDiff(sync.runningMean!, ref.runningMean!), maxDiff(sync.runningVar!, ref.runningVar!));
    });
  }
  check(sync.numBatchesTracked!.item() === 3, "num_batches_tracked counts steps");
  return { checks: [`max difference ${Math.max(...diffs)}`], weights: [Math.max(...diffs)] };
}

const extra: Record<string, unknown> = {};
async function main(): Promise<void> {
  const t0 = performance.now();
  try {
    if (process.env.TEST_SECRET_OF_RANK_1 && process.env.RANK === "1") process.env.TORCHLIGHT_STORE_SECRET = process.env.TEST_SECRET_OF_RANK_1;
    if (scenario !== "ddp-single") await dist.initProcessGroup({ timeoutMs });
    const r = scenario === "ddp-single" ? 0 : dist.getRank();
    let res: Record<string, unknown> = {};
    if (scenario === "collectives") res = await collectives();
    else if (scenario === "ddp" || scenario === "ddp-single") res = await ddp();
    else if (scenario === "syncbn-uneven") res = await syncBnUneven();
    else if (scenario === "peer-dies") {
      await dist.barrier();
      if (r === 1) { process.kill(process.pid, "SIGKILL"); }
      await new Promise((res2) => setTimeout(res2, 200));
      const t1 = performance.now();
      try { await dist.allReduce(torch.ones([1000])); } catch (e) { extra.caughtAfterMs = performance.now() - t1; throw e; }
    } else if (scenario === "peer-absent") {
      await dist.barrier();
      if (r === 1) { await new Promise((res2) => setTimeout(res2, Number(process.env.TEST_TIMEOUT_MS) * 3)); return out({ ok: true, rank: r, idle: true }); }
      await dist.allReduce(torch.ones([4]));
    } else if (scenario === "p2p-mismatch") {
      if (r === 0) await dist.send(torch.zeros([3], { dtype: "int64" }), 1);
      else await dist.recv(torch.zeros([3]), 0);
    } else if (scenario === "mismatch") {
      // TEST_WARMUP collectives first: the bookkeeping's slots wrap around after 64
      for (let i = Number(process.env.TEST_WARMUP ?? 0); i > 0; i--) await dist.allReduce(torch.ones([1]));
      await dist.barrier();
      if (r === 0) await dist.allReduce(torch.ones([4]));
      else { await new Promise((res2) => setTimeout(res2, 300)); await dist.broadcast(torch.ones([2]), 0); }
    }
    out({ ok: true, rank: r, ms: performance.now() - t0, ...res });
    if (dist.isInitialized()) dist.destroyProcessGroup();
  } catch (e) {
    const err = e as dist.DistributedError;
    out({ ok: false, rank: dist.isInitialized() ? dist.getRank() : -1, error: err.message, code: err.code, details: err.details, ms: performance.now() - t0, ...extra });
  }
}
await main();
process.exit(0);
