// Lightning DDP under MPI launchers (slow suite; skipped without `mpirun`): MPIEnvironment gives
// the ranks, also when mpirun runs inside a Slurm allocation, where the SLURM_* variables each
// process sees describe mpirun's daemons, not the ranks (MPI is detected first for that reason).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, "..", "lightning", "ddp_fit.js");
const hasMpi = spawnSync("mpirun", ["--version"], { encoding: "utf8" }).status === 0;
const sinfo = spawnSync("sinfo", ["-h", "-N", "-o", "%t"], { encoding: "utf8", timeout: 10_000 });
const skip = hasMpi ? false : "no mpirun (Debian's openmpi-bin)";
const skipSlurm = skip || (sinfo.status === 0 && /idle|mix/.test(sinfo.stdout) ? false : "no idle Slurm cluster answers `sinfo`");
// Open MPI refuses root unless told; the machines here run as root
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };

type Out = { weights: number[]; worldSize: number; rank: number } | null;
const rank0 = (stdout: string): Out => JSON.parse(stdout.split("\n").find((l) => l.startsWith("{")) ?? "null") as Out;
let reference: Out = null;
function trainersOwnLaunch(): Out {
  reference ??= rank0(spawnSync(process.execPath, [script, "2"], { encoding: "utf8", timeout: 120_000 }).stdout);
  return reference;
}

test("mpirun -n 2: MPIEnvironment gives the ranks and the DDP fit equals the Trainer's own 2-process launch", { skip }, () => {
  const r = spawnSync("mpirun", ["--oversubscribe", "-n", "2", process.execPath, script, "2"], { encoding: "utf8", env, timeout: 120_000 });
  const out = rank0(r.stdout);
  assert.ok(out, r.stderr.slice(-2000));
  assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("{")).length, 1, "one rank 0: the Trainer started no processes of its own");
  assert.deepEqual([out.worldSize, out.rank], [2, 0]);
  assert.deepEqual(out.weights, trainersOwnLaunch()!.weights);
});

test("mpirun inside a Slurm allocation: MPI wins over the daemons' SLURM_* variables; over 2 nodes MASTER_ADDR is required and named", { skip: skipSlurm }, () => {
  const run = (extra: string[]) => spawnSync("salloc", ["--ntasks=2", "--cpus-per-task=1", "--quiet", "mpirun", ...extra, "-n", "2", process.execPath, script, "2"], { encoding: "utf8", env, timeout: 120_000 });
  const nodes = (sinfo.stdout.match(/idle|mix/g) ?? []).length;
  if (nodes >= 2) {
    const bare = run([]);
    assert.match(bare.stderr, /MPIEnvironment: the job spans several nodes; export MASTER_ADDR/, "the error names the fix");
  }
  const r = run(["-x", `MASTER_ADDR=${hostname()}`]);
  const out = rank0(r.stdout);
  assert.ok(out, r.stderr.slice(-2000));
  assert.deepEqual([out.worldSize, out.rank], [2, 0]);
  assert.deepEqual(out.weights, trainersOwnLaunch()!.weights);
});
