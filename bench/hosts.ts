// The hosts benchmark: two hosts of scripts/hosts-local.sh (h1, h2: own addresses, a bridge
// between them), as `npm run bench -- hosts` runs it (root; it brings the hosts up and down).
//   node dist/bench/hosts.js <allreduce|start> <rounds>
// allreduce: bench/dist.js's all-reduce of 64 MiB float32 with one rank on each host (the
//            reference: bench/allreduce.cpp between the same hosts, run by bench/dist.py).
// start:     TorchTrainer.fit() to the first training step with 2 workers, one per host
//            (bench/train.js's start workload): through `torchlight launch` (timed from the
//            moment both agents are started) and through Slurm (sbatch across the hosts, timed
//            from the driver's fit(); needs Slurm: scripts/slurm-local.sh with SLURM_LOCAL_HOSTS=2).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const HOSTS = join(ROOT, "scripts", "hosts-local.sh");
const SHARED = process.env.TORCHLIGHT_HOSTS_SHARED ?? "/srv/torchlight-shared";
const [workload = "allreduce", roundsArg = "3"] = process.argv.slice(2);
const rounds = Number(roundsArg);
/** A port free on h1 now (where the store or rank 0 listens). */
function freePortOnH1(): string {
  const r = spawnSync("bash", [HOSTS, "run", "h1", process.execPath, "-e", "const s = require('net').createServer().listen(0, () => { console.log(s.address().port); s.close(); })"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`no free port on h1: ${r.stderr}`);
  return r.stdout.trim();
}

/** Runs `cmd` on each host at once; resolves the outputs (rejects when one fails). */
async function onHosts(cmds: string[][], env: Record<string, string>[]): Promise<string[]> {
  const runs = await Promise.allSettled(cmds.map((cmd, i) => new Promise<string>((resolve, reject) => {
    const vars = Object.entries(env[i]!).map(([k, v]) => `${k}=${v}`);
    const p = spawn("bash", [HOSTS, "run", `h${i + 1}`, "env", ...vars, ...cmd], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    p.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`h${i + 1}: ${cmd.join(" ")} exited ${code}: ${err.slice(-2000)}`))));
  })));
  const failed = runs.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join("\n"));
  return runs.map((r) => (r as PromiseFulfilledResult<string>).value);
}
const json = (out: string) => out.split("\n").map((l) => l.slice(l.indexOf("{"))).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, number>);

if (workload === "allreduce") {
  const p = freePortOnH1();
  const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "h1", MASTER_PORT: p, TORCHLIGHT_NUM_THREADS: "1" });
  const [out] = await onHosts([0, 1].map(() => [process.execPath, join(ROOT, "dist", "bench", "dist.js"), "allreduce", String(rounds)]), [env(0), env(1)]);
  for (const r of json(out!)) console.log(JSON.stringify({ ...r, hosts: "h1,h2" }));
} else if (workload === "start") {
  const storage = join(SHARED, `bench-start-${process.pid}`);
  mkdirSync(storage, { recursive: true });
  const train = join(ROOT, "dist", "bench", "train.js"), cli = join(ROOT, "dist", "src", "cli", "main.js");
  const slurm = spawnSync("sinfo", ["-h", "-N", "-o", "%N %t"], { encoding: "utf8" });
  const haveSlurm = slurm.status === 0 && /^h1 (idle|mix)/m.test(slurm.stdout) && /^h2 (idle|mix)/m.test(slurm.stdout);
  for (let r = 0; r < rounds; r++) {
    const p = freePortOnH1();
    // train.js removes its storage folder when it ends: each run gets its own, beside the job's output
    const env = (_node: number) => ({ BENCH_T0: String(Date.now()), BENCH_T0_FIXED: "1", BENCH_TRAIN_STORAGE: join(storage, `launch-${r}`), TORCHLIGHT_LAUNCH_SECRET: "bench-hosts-secret-0123456789" });
    const launched = await onHosts([0, 1].map((node) => [process.execPath, cli, "launch", "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", String(node), "--master-addr", "h1", "--master-port", p, train, "start", "1"]), [env(0), env(1)]);
    const launchRow = json(launched[0]!)[0]!;
    let slurmMs: number | null = null;
    if (haveSlurm) {
      const out = join(storage, `slurm-${r}.out`);
      const s = spawnSync("sbatch", ["--wait", "-N2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=1", `--output=${out}`, `--wrap=exec ${process.execPath} ${train} start 1`],
        { encoding: "utf8", env: { ...process.env, BENCH_TRAIN_STORAGE: join(storage, `slurm-${r}`), TORCHLIGHT_STORAGE_SHARED: "" } });
      if (s.status !== 0) throw new Error(`sbatch failed: ${s.stderr}${existsSync(out) ? readFileSync(out, "utf8").slice(-2000) : ""}`);
      slurmMs = json(readFileSync(out, "utf8"))[0]!.firstStepMs!;
    }
    console.log(JSON.stringify({ workload, side: "torchlight", round: r, launchFirstStepMs: launchRow.firstStepMs, launchFromFitMs: launchRow.fromFitMs, slurmFirstStepMs: slurmMs }));
  }
  rmSync(storage, { recursive: true, force: true });
}
