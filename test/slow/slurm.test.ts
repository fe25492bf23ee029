// torchlight/train through Slurm (launcher "slurm"): the fixture driver runs inside `salloc`
// and starts each worker as a job step with srun. Needs a Slurm cluster that answers `sinfo`
// (`npm run test:slurm` starts a one-node cluster on this machine first); skipped otherwise,
// so CI (no Slurm) never runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as torch from "../../src/torch/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const sinfo = spawnSync("sinfo", ["-h", "-N", "-o", "%t"], { encoding: "utf8", timeout: 10_000 });
const skip = sinfo.status === 0 && /idle|mix/.test(sinfo.stdout) ? false : "no idle Slurm cluster answers `sinfo` (see the README's Slurm section)";
const nodes = (sinfo.stdout.match(/idle|mix/g) ?? []).length;
const skipMulti = skip || (nodes < 2 ? "the Slurm cluster has fewer than 2 idle nodes" : false);

interface Run { result: Record<string, any>; stdout: string; stderr: string }  // eslint-disable-line @typescript-eslint/no-explicit-any
/** The fixture driver, inside a 2-task allocation (salloc) or, with `local`, as a plain process. */
function drive(args: string[], local = false, alloc = ["--ntasks=2", "--cpus-per-task=1"]): Run {
  const fixture = join(here, "..", "train", "fixture.js");
  const r = local ? spawnSync(process.execPath, [fixture, ...args], { encoding: "utf8", timeout: 240_000 })
    : spawnSync("salloc", [...alloc, "--quiet", process.execPath, fixture, ...args], { encoding: "utf8", timeout: 240_000 });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`no RESULT line (status ${r.status})\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`);
  return { result: JSON.parse(line.slice(7)), stdout: r.stdout, stderr: r.stderr };
}

test("inside an allocation each worker is a Slurm step of the job, with its node and local ranks and one thread per allocated CPU", { skip }, () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-slurm-"));
  const { result } = drive(["probe", storage, "p"]);
  assert.equal(result.ok, true, JSON.stringify(result));
  const rows = readFileSync(join(storage, "p", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).metrics);
  assert.equal(rows.length, 2);
  const [a, b] = rows.sort((x, y) => x.rank - y.rank);
  assert.ok(a.slurmJob !== null && a.slurmJob === b.slurmJob, "both workers run in the driver's job");
  assert.ok(a.slurmStep !== null && b.slurmStep !== null && a.slurmStep !== b.slurmStep, "each worker is its own job step");
  // one node of 2 CPUs: local ranks 0 and 1 there; two nodes of 1 (scripts/slurm-local.sh's default): one each
  const expected = a.node === b.node ? [[0, 0, 2], [0, 1, 2]] : [[0, 0, 1], [1, 0, 1]];
  assert.deepEqual([[a.node, a.local, a.localWorld], [b.node, b.local, b.localWorld]], expected);
  assert.deepEqual([a.threads, b.threads], [1, 1]);
});

test("an allocation of 2 nodes: the workers are placed one per node, each node's rank 0 local", { skip: skipMulti }, () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-slurm2-"));
  const { result } = drive(["probe", storage, "p2"], false, ["--nodes=2", "--ntasks=2", "--cpus-per-task=1"]);
  assert.equal(result.ok, true, JSON.stringify(result));
  const rows = readFileSync(join(storage, "p2", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).metrics).sort((x, y) => x.rank - y.rank);
  assert.deepEqual(rows.map((m) => [m.node, m.local, m.localWorld]), [[0, 0, 1], [1, 0, 1]]);
  assert.ok(rows[0].slurmNode && rows[1].slurmNode && rows[0].slurmNode !== rows[1].slurmNode, `steps on two Slurm nodes: ${rows.map((m) => m.slurmNode)}`);
});

test("from an sbatch script: the driver runs in the batch step and its workers are steps of the same job", { skip }, () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-sbatch-"));
  const out = join(storage, "job.out");
  const r = spawnSync("sbatch", ["--wait", "--ntasks=2", "--cpus-per-task=1", `--output=${out}`, `--wrap=${process.execPath} ${join(here, "..", "train", "fixture.js")} probe ${storage} b`], { encoding: "utf8", timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = readFileSync(out, "utf8").split("\n").reverse().find((l) => l.startsWith("RESULT "));
  assert.ok(line, readFileSync(out, "utf8").slice(-2000));
  assert.equal(JSON.parse(line.slice(7)).ok, true);
  const rows = readFileSync(join(storage, "b", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).metrics);
  assert.equal(new Set(rows.map((m) => m.slurmStep)).size, 2, "two steps");
  assert.ok(rows.every((m) => m.slurmJob === rows[0].slurmJob && m.slurmJob !== null));
});

test("kill -9 of a worker in a Slurm step: the group restarts from the latest checkpoint and ends with the parameters of an uninterrupted local run", { skip }, () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-slurm-kill-"));
  const base = drive(["lightning", storage, "straight"], true).result;
  assert.equal(base.ok, true, JSON.stringify(base));
  const marker = join(storage, "kill-marker");
  const k = drive(["lightning-kill", storage, "killed", marker]);
  assert.equal(k.result.ok, true, JSON.stringify(k.result) + k.stderr.slice(-2000));
  assert.ok(existsSync(marker), "a worker was killed");
  assert.match(k.stderr, /rank 1: SIGKILL: the worker's Slurm step \(srun pid \d+, on host [^)]+\) was killed by SIGKILL during training/, k.stderr.slice(-3000));
  assert.match(k.stderr, /restarting the worker group \(failure 1 of 1\) from checkpoint_000001/);
  const a = torch.load(join(base.checkpoint, "checkpoint.ckpt")) as { state_dict: Record<string, torch.Tensor> };
  const b = torch.load(join(k.result.checkpoint, "checkpoint.ckpt")) as { state_dict: Record<string, torch.Tensor> };
  for (const key of Object.keys(a.state_dict)) assert.ok(a.state_dict[key]!.equal(b.state_dict[key]!), `${key} equal after the restart`);
  torch.dispose([...Object.values(a.state_dict), ...Object.values(b.state_dict)]);
});

test("Lightning under `srun -n 2`: SLURMEnvironment gives the ranks (no process spawned) and the DDP fit equals the Trainer's own 2-process launch", { skip }, () => {
  const script = join(here, "..", "lightning", "ddp_fit.js");
  const json = (out: string) => JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? "null") as { weights: number[]; worldSize: number } | null;
  const local = spawnSync(process.execPath, [script, "2"], { encoding: "utf8", timeout: 120_000 });
  const slurm = spawnSync("srun", ["--ntasks=2", "--cpus-per-task=1", "--quiet", process.execPath, script, "2"], { encoding: "utf8", timeout: 120_000 });
  const a = json(local.stdout), b = json(slurm.stdout);
  assert.ok(a && b, `local: ${local.stderr.slice(-1000)}\nslurm: ${slurm.stderr.slice(-1000)}`);
  assert.equal(b.worldSize, 2);
  assert.equal(slurm.stdout.split("\n").filter((l) => l.startsWith("{")).length, 1, "one rank 0 across the two tasks: the Trainer started no processes of its own");
  assert.deepEqual(b.weights, a.weights);
});

test("sbatch --requeue of a Lightning fit: SIGUSR1 saves hpc_ckpt_1.ckpt and `scontrol requeue`s the job, which runs again, resumes there and ends with an uninterrupted fit's parameters", { skip }, async () => {
  const script = join(here, "..", "lightning", "requeue_fit.js");
  const dir = mkdtempSync(join(tmpdir(), "tl-requeue-"));
  const last = (out: string) => JSON.parse(out.split("\n").filter((l) => l.startsWith("{")).at(-1) ?? "null") as { globalStep: number; params: number[][] } | null;
  const whole = last(spawnSync(process.execPath, [script, join(dir, "whole"), "-1"], { encoding: "utf8", timeout: 120_000 }).stdout);
  const out = join(dir, "job.out");
  // the script sends itself SIGUSR1 at step 10, as `--signal=USR1@90` would near the time limit
  const sub = spawnSync("sbatch", ["--parsable", "--requeue", "--open-mode=append", "--ntasks=1", "--cpus-per-task=1", `--output=${out}`, `--job-name=requeue-test`,
    `--wrap=${process.execPath} ${script} ${join(dir, "job")} 10`], { encoding: "utf8", timeout: 30_000 });
  assert.equal(sub.status, 0, sub.stderr);
  const job = sub.stdout.trim().split(";")[0]!;
  let state = "", restarts = "0";
  for (let t0 = Date.now(); Date.now() - t0 < 300_000; await new Promise((r) => setTimeout(r, 1000))) {
    const s = spawnSync("scontrol", ["show", "job", job], { encoding: "utf8" }).stdout;
    state = /JobState=(\S+)/.exec(s)?.[1] ?? state;
    restarts = /Restarts=(\d+)/.exec(s)?.[1] ?? restarts;
    if (["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].includes(state) && restarts !== "0") break;
  }
  const text = readFileSync(out, "utf8");
  assert.equal(state, "COMPLETED", text.slice(-3000));
  assert.equal(restarts, "1", "the job ran twice");
  assert.match(text, /Requeued SLURM job \d+; saved .*hpc_ckpt_1\.ckpt/);
  assert.ok(existsSync(join(dir, "job", "hpc_ckpt_1.ckpt")));
  const resumed = last(text);
  assert.equal(resumed?.globalStep, 24);
  assert.deepEqual(resumed?.params, whole?.params, "the requeued run resumed from the hpc checkpoint and ends as an uninterrupted fit");
});

test("a TorchTrainer job signalled by Slurm (scancel --signal=TERM --batch, as --signal=B:TERM@90 near the limit; the batch script execs the driver): its steps stop at one step with a checkpoint, the run is \"preempted\", and the rerun finishes it with every step once", { skip }, async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-slurm-preempt-"));
  const out = join(storage, "job.out");
  const fixture = join(here, "..", "train", "fixture.js");
  const sub = spawnSync("sbatch", ["--parsable", "--ntasks=2", "--cpus-per-task=1", `--output=${out}`, `--wrap=exec ${process.execPath} ${fixture} preempt ${storage} sp`], { encoding: "utf8", timeout: 30_000 });
  assert.equal(sub.status, 0, sub.stderr);
  const job = sub.stdout.trim().split(";")[0]!;
  const text = () => (existsSync(out) ? readFileSync(out, "utf8") : "");
  for (let t0 = Date.now(); !/preempt rank 1 pid \d+ from 0/.test(text()) && Date.now() - t0 < 120_000;) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(spawnSync("scancel", ["--signal=TERM", "--batch", job]).status, 0);
  for (let t0 = Date.now(); spawnSync("squeue", ["-h", "-j", job], { encoding: "utf8" }).stdout.trim() !== "" && Date.now() - t0 < 120_000;) await new Promise((r) => setTimeout(r, 500));
  const run = JSON.parse(readFileSync(join(storage, "sp", "run.json"), "utf8"));
  assert.equal(run.status, "preempted", text().slice(-3000));
  const rows = readFileSync(join(storage, "sp", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.rank === 0);
  assert.equal(rows.at(-1).metrics.stopped, true);
  assert.ok(rows.at(-1).checkpoint);
  const again = drive(["preempt", storage, "sp"]);
  assert.equal(again.result.ok, true, JSON.stringify(again.result));
  const all = readFileSync(join(storage, "sp", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.rank === 0).map((r) => r.metrics.step);
  assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i));
});
