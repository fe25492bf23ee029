// The distributed benchmark, torchlight side. Run as `node dist/bench/dist.js <workload> <rounds>`:
// it starts 2 ranks of itself (1 intra-op thread each) and relays rank 0's JSON lines.
// Workloads: rendezvous (below), allreduce (64 MiB float32 between 2 processes, ms per all-reduce), ddp
// (ResNet-18 DistributedDataParallel training step, batch 128 per rank, images/s over both).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import * as torch from "../src/torch/index.js";
import { nn, optim } from "../src/torch/index.js";
import * as dist from "../src/distributed/index.js";
import { models } from "../src/vision/index.js";

const [workload = "allreduce", roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const WORLD = 2;

// rendezvous: 4 ranks join a group over PyTorch's TCPStore (rank 0 hosts it) and over
// torchlight's private store (rank 0 hosts it, every rank presents the secret), alternately;
// rank 0 reports the time initProcessGroup took and the latency of a 1-float all-reduce (which
// includes the collective's bookkeeping in the store: one set and one multi-key read).
const RDV_WORLD = 4;
if (workload === "rendezvous" && process.env.RANK === undefined) {
  const one = async (secret: string): Promise<{ initMs: number; allReduceUs: number }> => {
    const port = await new Promise<number>((res) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
    const kids = Array.from({ length: RDV_WORLD }, (_, rank) => spawn(process.execPath, [fileURLToPath(import.meta.url), workload, "1"], {
      env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(RDV_WORLD), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), TORCHLIGHT_NUM_THREADS: "1", TORCHLIGHT_STORE_SECRET: secret },
      stdio: ["ignore", rank === 0 ? "pipe" : "ignore", "inherit"],
    }));
    let out = "";
    kids[0]!.stdout!.on("data", (d) => { out += d; });
    const codes = await Promise.all(kids.map((k) => new Promise<number>((res) => k.on("exit", (c) => res(c ?? 1)))));
    if (codes.some((c) => c !== 0)) throw new Error(`rendezvous bench ranks exited with ${codes.join(", ")}`);
    return JSON.parse(out.trim().split("\n").at(-1)!) as { initMs: number; allReduceUs: number };
  };
  for (let r = 0; r < rounds; r++) {
    const tcp = await one(""), priv = await one("bench-secret-".padEnd(48, "0"));
    console.log(JSON.stringify({ workload, side: "torchlight", round: r, initMsTcp: tcp.initMs, initMsPrivate: priv.initMs, allReduceUsTcp: tcp.allReduceUs, allReduceUsPrivate: priv.allReduceUs }));
  }
  process.exit(0);
}

if (process.env.RANK === undefined) {
  const port = await new Promise<number>((res) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const kids = Array.from({ length: WORLD }, (_, rank) => spawn(process.execPath, [fileURLToPath(import.meta.url), workload, roundsArg], {
    env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(WORLD), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), TORCHLIGHT_NUM_THREADS: "1" },
    stdio: ["ignore", rank === 0 ? "inherit" : "ignore", "inherit"],
  }));
  const codes = await Promise.all(kids.map((k) => new Promise<number>((res) => k.on("exit", (c) => res(c ?? 1)))));
  process.exit(codes.some((c) => c !== 0) ? 1 : 0);
}

const tInit = performance.now();
await dist.initProcessGroup({ backend: "gloo" });
const initMs = performance.now() - tInit;
const rank = dist.getRank();
const emit = (extra: Record<string, number>, r: number) => { if (rank === 0) console.log(JSON.stringify({ workload, side: "torchlight", round: r, ...extra })); };

if (workload === "rendezvous") {
  const t = torch.ones([1]);
  for (let w = 0; w < 50; w++) await dist.allReduce(t);
  const n = 500, t0 = performance.now();
  for (let i = 0; i < n; i++) await dist.allReduce(t);
  if (rank === 0) console.log(JSON.stringify({ initMs, allReduceUs: ((performance.now() - t0) * 1000) / n }));
} else if (workload === "allreduce") {
  const t = torch.ones([16 * 1024 * 1024]);
  for (let w = 0; w < 2; w++) await dist.allReduce(t);
  for (let r = 0; r < rounds; r++) {
    const n = 10, t0 = performance.now();
    for (let i = 0; i < n; i++) await dist.allReduce(t);
    emit({ msPerAllReduce: (performance.now() - t0) / n }, r);
  }
} else {
  torch.manualSeed(0);
  const model = models.resnet18({ numClasses: 10, inChannels: 1 });
  const ddp = await dist.DistributedDataParallel.create(model);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const x = torch.randn([128, 1, 28, 28]), y = torch.randint(0, 10, [128]);
  const step = () => torch.tidy(() => { opt.zeroGrad(); lossFn.forward(ddp.forward(x), y).backward(); opt.step(); });
  step();
  for (let r = 0; r < rounds; r++) {
    const n = 3, t0 = performance.now();
    for (let i = 0; i < n; i++) step();
    const s = (performance.now() - t0) / 1000 / n;
    emit({ stepSeconds: s, imagesPerSecond: (WORLD * 128) / s }, r);
  }
}
await dist.barrier();
dist.destroyProcessGroup();
