// torchlight/distributed with real processes on this machine (CPU, Gloo): collectives with 2
// and 3 ranks for each dtype and op, DDP equal to single-process training, failures that
// are reported (dead peer, absent peer, mismatched collectives) instead of hanging, and the
// cluster environments parsed from launchers' environment variables.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { c10d } from "../../src/torch/internal.js";
import { join } from "node:path";
import { ROOT, assertNoLeak, liveTensors } from "../helpers.js";
import * as torch from "../../src/torch/index.js";
import { nn } from "../../src/torch/index.js";
import { resnet18 } from "../../src/vision/models.js";
import { SyncBatchNorm, detectClusterEnvironment, firstSlurmHost, LightningEnvironment, MPIEnvironment, SLURMEnvironment, TorchElasticEnvironment, KubeflowEnvironment } from "../../src/distributed/index.js";

interface Report { ok: boolean; rank: number; error?: string; code?: string; details?: { missingRanks?: number[]; seq?: number; op?: string }; ms: number; caughtAfterMs?: number; weights?: number[]; checks?: string[]; idle?: boolean }

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

/** Runs `worldSize` ranks of a scenario; returns each rank's report (null for a rank that died). */
async function launch(scenario: string, worldSize: number, env: Record<string, string> = {}, limitMs = 60000): Promise<(Report | null)[]> {
  const port = await freePort();
  const script = join(ROOT, "dist", "test", "distributed", "worker.js");
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => new Promise<Report | null>((resolve, reject) => {
    const p = spawn(process.execPath, [script, scenario], {
      env: { ...process.env, MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), WORLD_SIZE: String(worldSize), RANK: String(rank), TORCHLIGHT_NUM_THREADS: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => { stdout += d; });
    p.stderr.on("data", (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`rank ${rank} of ${scenario} did not finish in ${limitMs} ms: ${stderr}`)); }, limitMs);
    p.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (signal === "SIGKILL" && !line) return resolve(null);
      if (!line) return reject(new Error(`rank ${rank} of ${scenario} printed no report (exit ${code}): ${stderr}`));
      resolve(JSON.parse(line) as Report);
    });
  })));
}

describe("torchlight/distributed across processes", () => {
  for (const n of [2, 3]) {
    it(`every collective with ${n} processes, for float32/float64/int32/int64 and sum/avg/product/min/max`, async () => {
      const reports = await launch("collectives", n);
      for (const rep of reports) assert.ok(rep?.ok, `rank ${rep?.rank}: ${rep?.error}`);
      assert.ok(reports[0]!.checks!.length >= 20);
    });
  }

  it("a store hosted by the launcher (torchrun's agent store, TorchTrainer's driver): every rank joins as a client, each restart under its own prefix", async () => {
    const store = await c10d.serveStore("127.0.0.1", 0, 2, 30000);
    try {
      for (const attempt of ["0", "1"]) {
        const reports = await launch("collectives", 2, { MASTER_PORT: String(store.port), TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: attempt });
        for (const rep of reports) assert.ok(rep?.ok, `attempt ${attempt} rank ${rep?.rank}: ${rep?.error}`);
      }
      // without the flag rank 0 would host a second store on the same port: the rendezvous fails
      const clash = await launch("collectives", 1, { MASTER_PORT: String(store.port), TEST_TIMEOUT_MS: "5000" });
      assert.ok(clash[0] && !clash[0].ok && /rendezvous|address|bind|use/i.test(clash[0].error ?? ""), `expected a bind failure, got ${JSON.stringify(clash[0])}`);
    } finally {
      c10d.closeStore(store.id);
    }
  });

  it("the private store (TORCHLIGHT_STORE_SECRET): every collective over a store the launcher hosts (each attempt's secret in its own namespace) and over one rank 0 hosts", async () => {
    const store = c10d.PrivateStore.serve("127.0.0.1");
    try {
      for (const attempt of [0, 1]) {
        const secret = `attempt-${attempt}-`.padEnd(40, "x");
        store.allow(`attempt_${attempt}`, secret);
        if (attempt > 0) store.revoke(`attempt_${attempt - 1}`);
        const reports = await launch("collectives", 2, { MASTER_PORT: String(store.port), TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: String(attempt), TORCHLIGHT_STORE_SECRET: secret });
        for (const rep of reports) assert.ok(rep?.ok, `attempt ${attempt} rank ${rep?.rank}: ${rep?.error}`);
      }
    } finally {
      store.close();
    }
    const hosted = await launch("collectives", 3, { TORCHLIGHT_STORE_SECRET: "rank-zero-hosts-".padEnd(40, "y") });
    for (const rep of hosted) assert.ok(rep?.ok, `rank ${rep?.rank}: ${rep?.error}`);
    // a rank with another secret is refused by rank 0's store, with the reason
    const split = await launch("collectives", 2, { TORCHLIGHT_STORE_SECRET: "one-secret-for-all".padEnd(40, "z"), TEST_TIMEOUT_MS: "5000", TEST_SECRET_OF_RANK_1: "another-secret".padEnd(40, "w") });
    assert.ok(split[1] && !split[1].ok && /wrong secret/.test(split[1].error ?? ""), `expected rank 1 to be refused, got ${JSON.stringify(split[1])}`);
  });

  it("DDP with 2 processes at batch b gives the parameters of 1 process at batch 2b (50 steps, 1e-6), noSync accumulation too", async () => {
    for (const accumulate of ["0", "1"]) {
      const [single] = await launch("ddp-single", 1, { TEST_ACCUMULATE: accumulate });
      const ranks = await launch("ddp", 2, { TEST_ACCUMULATE: accumulate });
      for (const rep of ranks) assert.ok(rep?.ok, rep?.error);
      const w0 = ranks[0]!.weights!, w1 = ranks[1]!.weights!, ws = single!.weights!;
      assert.deepEqual(w0, w1, "ranks hold identical parameters");
      const diff = Math.max(...w0.map((x, i) => Math.abs(x - ws[i]!)));
      assert.ok(diff <= 1e-6, `accumulate=${accumulate}: max difference ${diff} from the single-process run`);
    }
  });

  it("SyncBatchNorm + DDP with 2 processes at batch b gives the parameters and running statistics of BatchNorm at batch 2b", async () => {
    const [single] = await launch("ddp-single", 1, { TEST_SYNCBN: "1" });
    const ranks = await launch("ddp", 2, { TEST_SYNCBN: "1" });
    for (const rep of [single, ...ranks]) assert.ok(rep?.ok, rep?.error);
    const w0 = ranks[0]!.weights!, ws = single!.weights!;
    assert.deepEqual(w0, ranks[1]!.weights!, "ranks hold identical parameters and statistics");
    const diff = Math.max(...w0.map((x, i) => Math.abs(x - ws[i]!)));
    assert.ok(diff <= 1e-5, `max difference ${diff} from the single-process run`);
  });

  for (const counts of ["3,5", "4,0,2"]) {
    it(`SyncBatchNorm with batches of ${counts} per rank: output, input gradient and running statistics of BatchNorm over all of them`, async () => {
      const reports = await launch("syncbn-uneven", counts.split(",").length, { TEST_COUNTS: counts });
      for (const rep of reports) {
        assert.ok(rep?.ok, `rank ${rep?.rank}: ${rep?.error}`);
        assert.ok(rep.weights![0]! < 1e-5, `rank ${rep.rank}: ${rep.checks}`);
      }
    });
  }

  it("a peer that dies mid-run: the others get an error within a second", async () => {
    const [r0, r1] = await launch("peer-dies", 2, { TEST_TIMEOUT_MS: "20000" });
    assert.equal(r1, null, "rank 1 was killed");
    assert.equal(r0!.ok, false);
    assert.equal(r0!.code, "DIST_PEER_FAILED", r0!.error);
    assert.match(r0!.error!, /allReduce \(collective #\d+ of group \d+, rank 0, called at .*worker\.js/);
    assert.ok(r0!.caughtAfterMs! < 1000, `error after ${r0!.caughtAfterMs} ms`);
  });

  it("a peer that never arrives: an error at the timeout naming the operation, its number and the missing rank", async () => {
    const [r0] = await launch("peer-absent", 2, { TEST_TIMEOUT_MS: "1500" });
    assert.equal(r0!.ok, false);
    assert.equal(r0!.code, "DIST_TIMEOUT", r0!.error);
    assert.deepEqual(r0!.details!.missingRanks, [1]);
    assert.match(r0!.error!, /allReduce \(collective #2 .*Ranks that never reached it: 1/);
    assert.ok(r0!.ms < 15000);
  });

  it("send/recv of different sizes: an error on both sides, not Gloo's process abort", async () => {
    const [r0, r1] = await launch("p2p-mismatch", 2);
    assert.equal(r0!.code, "DIST_MISMATCH", r0!.error);
    assert.match(r0!.error!, /send to rank 1 \(tag 0\): this rank moves int64\[3\] but the peer's recv is float32\[3\]/);
    assert.equal(r1!.code, "DIST_MISMATCH", r1!.error);
  });

  it("ranks calling different collectives: a mismatch error, not a hang", async () => {
    const [r0, r1] = await launch("mismatch", 2, { TEST_TIMEOUT_MS: "2000" });
    assert.equal(r1!.code, "DIST_MISMATCH", r1!.error);
    assert.match(r1!.error!, /collective #2 does not match across ranks: rank 1 called broadcast\(float32\[2\], src 0\).* rank 0 called allReduce\(float32\[4\], sum\)/);
    assert.equal(r0!.ok, false);
    assert.match(r0!.code!, /DIST_MISMATCH|DIST_PEER_FAILED|DIST_TIMEOUT/);
    // the same after 150 collectives, past the bookkeeping slots' wrap-around
    const [, w1] = await launch("mismatch", 2, { TEST_TIMEOUT_MS: "2000", TEST_WARMUP: "150" });
    assert.equal(w1!.code, "DIST_MISMATCH", w1!.error);
    assert.match(w1!.error!, /collective #152 does not match across ranks: rank 1 called broadcast\(float32\[2\], src 0\).* rank 0 called allReduce\(float32\[4\], sum\)/);
  });
});

describe("SyncBatchNorm in one process", () => {
  it("convertSyncBatchnorm swaps every BatchNorm, keeps names, parameters and statistics; without a group it is BatchNorm", async () => {
    const baseline = liveTensors();
    const model = resnet18({ numClasses: 10 });
    model.eval();
    const before = torch.tidy(() => model.stateDict());
    const bn1Weight = model.bn1.weight;
    const x = torch.randn([2, 3, 32, 32]);
    const y0 = torch.tidy(() => torch.noGrad(() => model.forward(x)));
    const converted = SyncBatchNorm.convertSyncBatchnorm(model);
    assert.equal(converted, model, "a model that is not itself a BatchNorm is converted in place");
    const kinds = [...model.modules()].map((m) => m.constructor.name);
    assert.equal(kinds.filter((k) => k === "BatchNorm2d").length, 0);
    assert.equal(kinds.filter((k) => k === "SyncBatchNorm").length, 20);
    assert.equal(model.bn1.weight, bn1Weight, "parameters are shared, not copied");
    assert.ok(!model.bn1.training, "the training flag is carried over");
    const after = torch.tidy(() => model.stateDict());
    assert.deepEqual(Object.keys(after), Object.keys(before));
    const y1 = torch.tidy(() => torch.noGrad(() => model.forward(x)));
    assert.equal(torch.tidy(() => y1.sub(y0).abs().max().item()), 0);
    // training without an initialised process group: ordinary batch norm
    const bn = new nn.BatchNorm2d(3), sync = SyncBatchNorm.convertSyncBatchnorm(new nn.BatchNorm2d(3));
    const z = torch.randn([4, 3, 5, 5]);
    assert.equal(torch.tidy(() => bn.forward(z).sub(sync.forward(z)).abs().max().item()), 0);
    assert.deepEqual(sync.runningMean!.toArray(), bn.runningMean!.toArray());
    assert.throws(() => torch.tidy(() => sync.forward(torch.randn([4, 5, 5, 5]))), /numFeatures=3/);
    torch.dispose([x, y0, y1, z, ...Object.values(before), ...Object.values(after), ...model.parameters(), ...model.buffers(),
      ...bn.parameters(), ...bn.buffers(), ...sync.parameters(), ...sync.buffers()]);
    await assertNoLeak(baseline);
  });
});

describe("cluster environments from launchers' variables", () => {
  // Variables as the launchers set them (recorded from srun, mpirun, torchrun and a Kubeflow pod).
  const SRUN = { SLURM_NTASKS: "8", SLURM_PROCID: "5", SLURM_LOCALID: "1", SLURM_NODEID: "1", SLURM_JOB_ID: "1234567", SLURM_JOB_NAME: "train", SLURM_NODELIST: "gpu-node[012-015]", SLURM_JOB_NODELIST: "gpu-node[012-015]", SLURM_TASKS_PER_NODE: "4(x2)" };
  const MPIRUN = { OMPI_COMM_WORLD_SIZE: "8", OMPI_COMM_WORLD_RANK: "6", OMPI_COMM_WORLD_LOCAL_RANK: "2", OMPI_COMM_WORLD_LOCAL_SIZE: "4", OMPI_COMM_WORLD_NODE_RANK: "2", MASTER_ADDR: "n0" };
  const TORCHRUN = { TORCHELASTIC_RUN_ID: "none", RANK: "3", WORLD_SIZE: "4", LOCAL_RANK: "1", LOCAL_WORLD_SIZE: "2", GROUP_RANK: "1", MASTER_ADDR: "10.0.0.2", MASTER_PORT: "29400" };
  const KUBEFLOW = { KUBERNETES_PORT: "tcp://10.96.0.1:443", MASTER_ADDR: "job-master-0", MASTER_PORT: "23456", WORLD_SIZE: "3", RANK: "2" };

  it("srun", () => {
    const e = detectClusterEnvironment(SRUN);
    assert.ok(e instanceof SLURMEnvironment);
    assert.deepEqual([e.worldSize(), e.globalRank(), e.localRank(), e.nodeRank(), e.mainAddress, e.mainPort, e.creatorsProcesses], [8, 5, 1, 1, "gpu-node012", 19567, true]);
    assert.equal(firstSlurmHost("a1,b[2-3]"), "a1");
    assert.ok(!SLURMEnvironment.detect({ ...SRUN, SLURM_JOB_NAME: "bash" }), "an interactive allocation is not a Slurm launch");
  });
  it("mpirun, and mpirun inside a Slurm allocation (MPI wins: SLURM_* describe the daemons)", () => {
    for (const env of [MPIRUN, { ...SRUN, SLURM_NTASKS: "2", SLURM_PROCID: "0", ...MPIRUN }]) {
      const e = detectClusterEnvironment(env);
      assert.ok(e instanceof MPIEnvironment);
      assert.deepEqual([e.worldSize(), e.globalRank(), e.localRank(), e.nodeRank(), e.mainAddress], [8, 6, 2, 1, "n0"], "node rank is rank / local size, not OMPI_COMM_WORLD_NODE_RANK");
    }
    const mpich = detectClusterEnvironment({ PMI_SIZE: "2", PMI_RANK: "1", MPI_LOCALRANKID: "1", MPI_LOCALNRANKS: "2" });
    assert.deepEqual([mpich.worldSize(), mpich.globalRank(), mpich.localRank(), mpich.nodeRank(), mpich.mainAddress], [2, 1, 1, 0, "127.0.0.1"]);
    assert.throws(() => new MPIEnvironment({ OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_RANK: "0", OMPI_COMM_WORLD_LOCAL_SIZE: "2" }).mainAddress, /export MASTER_ADDR/);
  });
  it("torchrun, Kubeflow, and a plain local run", () => {
    const t = detectClusterEnvironment(TORCHRUN);
    assert.ok(t instanceof TorchElasticEnvironment);
    assert.deepEqual([t.worldSize(), t.globalRank(), t.localRank(), t.nodeRank(), t.mainAddress, t.mainPort], [4, 3, 1, 1, "10.0.0.2", 29400]);
    const k = detectClusterEnvironment(KUBEFLOW);
    assert.ok(k instanceof KubeflowEnvironment);
    assert.deepEqual([k.worldSize(), k.globalRank(), k.localRank(), k.nodeRank(), k.mainAddress, k.mainPort], [3, 2, 0, 2, "job-master-0", 23456]);
    const l = detectClusterEnvironment({});
    assert.ok(l instanceof LightningEnvironment);
    assert.deepEqual([l.worldSize(), l.globalRank(), l.localRank(), l.mainAddress, l.creatorsProcesses], [1, 0, 0, "127.0.0.1", false]);
  });
});
