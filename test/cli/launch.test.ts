// `torchlight launch` (src/cli): its arguments and PET_* variables, and real agents on this
// machine: two "nodes" (two agents on loopback) rendezvous, restarts after a failure, the root
// cause named, a wrong secret refused, SIGTERM forwarded; a TorchTrainer script under it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { ROOT } from "../helpers.js";
import { LaunchError, parseLaunchArgs, parseEndpoint, normaliseFlags } from "../../src/cli/launch_config.js";
import { rootCause, type FailureRecord } from "../../src/cli/agent.js";
import * as c10d from "../../src/torch/c10d.js";

const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const SECRET = "s3cret-s3cret-s3cret-0123";

const code = (f: () => unknown): string => {
  try { f(); } catch (e) { assert.ok(e instanceof LaunchError, String(e)); return `${e.code}: ${e.message}`; }
  return "no error";
};

test("arguments: torchrun's flags with - or _, PET_* variables in their place, defaults; the script's own arguments untouched", () => {
  const c = parseLaunchArgs(["--nnodes=2", "--nproc_per_node", "3", "--node-rank", "1", "--master_addr", "h1", "--master-port=29611", "--max-restarts", "2", "train.js", "--lr", "0.1", "--nnodes", "9"], { TORCHLIGHT_LAUNCH_SECRET: SECRET });
  assert.deepEqual([c.nnodes, c.nprocPerNode, c.nodeRank, c.rdzvBackend, c.rdzvHost, c.rdzvPort, c.maxRestarts, c.monitorIntervalS, c.secret], [2, 3, 1, "static", "h1", 29611, 2, 0.1, SECRET]);
  assert.equal(c.script, "train.js");
  assert.deepEqual(c.scriptArgs, ["--lr", "0.1", "--nnodes", "9"]);
  // a Kubeflow PyTorchJob's pod: no flags, PET_* variables
  const pod = parseLaunchArgs(["train.js"], { PET_NNODES: "2", PET_NPROC_PER_NODE: "1", PET_NODE_RANK: "1", PET_MASTER_ADDR: "job-master-0", PET_MASTER_PORT: "23456", TORCHLIGHT_LAUNCH_SECRET: SECRET });
  assert.deepEqual([pod.nnodes, pod.nprocPerNode, pod.nodeRank, pod.rdzvHost, pod.rdzvPort], [2, 1, 1, "job-master-0", 23456]);
  // a flag wins over its variable
  assert.equal(parseLaunchArgs(["--nproc-per-node", "4", "t.js"], { PET_NPROC_PER_NODE: "2" }).nprocPerNode, 4);
  const c10d = parseLaunchArgs(["--rdzv-backend", "c10d", "--rdzv-endpoint", "[::1]", "--nnodes", "2:2", "--rdzv-id", "job7", "--rdzv-conf", "join_timeout=30", "t.js"], { TORCHLIGHT_LAUNCH_SECRET: SECRET });
  assert.deepEqual([c10d.rdzvBackend, c10d.rdzvHost, c10d.rdzvPort, c10d.nodeRank, c10d.rdzvId, c10d.joinTimeoutS, c10d.nnodes], ["c10d", "::1", 29400, null, "job7", 30, 2]);
  const alone = parseLaunchArgs(["--standalone", "--nproc-per-node", "cpu", "--no-python", "./a.sh"], {});
  assert.deepEqual([alone.standalone, alone.rdzvHost, alone.rdzvPort, alone.noNode, alone.secret.length >= 16, alone.nprocPerNode > 0], [true, "127.0.0.1", 0, true, true, true]);
  assert.equal(parseLaunchArgs(["--nproc-per-node", "auto", "t.js"], {}, () => 4).nprocPerNode, 4);
  assert.deepEqual(parseEndpoint("h:1", 5), { host: "h", port: 1 });
  assert.deepEqual(normaliseFlags(["--nproc_per_node", "2", "x_y.js", "--a_b"]), ["--nproc-per-node", "2", "x_y.js", "--a_b"]);
});

test("bad arguments: a clear error with a stable code that names the fix", () => {
  assert.match(code(() => parseLaunchArgs(["--nnodes", "1:4", "t.js"], {})), /^LAUNCH_USAGE: --nnodes 1:4: elastic node ranges .* give a fixed count/);
  assert.match(code(() => parseLaunchArgs(["--nnodes", "2", "t.js"], {})), /^LAUNCH_NO_SECRET: 2 nodes rendezvous .* TORCHLIGHT_LAUNCH_SECRET=\$\(openssl rand -hex 24\)/);
  assert.match(code(() => parseLaunchArgs(["--nnodes", "2", "t.js"], { TORCHLIGHT_LAUNCH_SECRET: "short" })), /^LAUNCH_NO_SECRET: the run's secret must have 16 to 512 characters, got 5/);
  assert.match(code(() => parseLaunchArgs(["--nnodes", "2", "--secret-file", "/nonexistent/s", "t.js"], {})), /^LAUNCH_NO_SECRET: could not read the secret file \/nonexistent\/s/);
  assert.match(code(() => parseLaunchArgs(["--rdzv-backend", "etcd", "t.js"], {})), /^LAUNCH_USAGE: --rdzv-backend must be "static" or "c10d", got "etcd"/);
  assert.match(code(() => parseLaunchArgs(["--rdzv-backend", "c10d", "t.js"], {})), /^LAUNCH_USAGE: --rdzv-backend c10d needs --rdzv-endpoint/);
  assert.match(code(() => parseLaunchArgs(["--nnodes", "2", "--node-rank", "2", "t.js"], { TORCHLIGHT_LAUNCH_SECRET: SECRET })), /^LAUNCH_USAGE: --node-rank 2 must be below --nnodes 2/);
  assert.match(code(() => parseLaunchArgs(["--nproc-per-node", "0", "t.js"], {})), /^LAUNCH_USAGE: --nproc-per-node must be an integer ≥ 1, got "0"/);
  assert.match(code(() => parseLaunchArgs(["--nproc-per-node", "gpu", "t.js"], {}, () => 0)), /^LAUNCH_USAGE: --nproc-per-node gpu: this machine has no CUDA device/);
  assert.match(code(() => parseLaunchArgs(["--monitor-interval", "0", "t.js"], {})), /^LAUNCH_USAGE: --monitor-interval must be a number of seconds in \(0, 60\]/);
  assert.match(code(() => parseLaunchArgs(["--rdzv-conf", "timeout=3", "t.js"], {})), /^LAUNCH_USAGE: --rdzv-conf: unknown setting "timeout"/);
  assert.match(code(() => parseLaunchArgs(["--bogus", "t.js"], {})), /^LAUNCH_USAGE: unknown option '--bogus' \(see torchlight launch --help\)/);
  assert.match(code(() => parseLaunchArgs([], {})), /^LAUNCH_USAGE: missing required argument 'script'/);
  assert.match(code(() => parseLaunchArgs(["--standalone", "--nnodes", "2", "t.js"], { TORCHLIGHT_LAUNCH_SECRET: SECRET })), /^LAUNCH_USAGE: --standalone runs one node/);
});

test("the root cause of a failed round is the first failure that is not a peer's consequence", () => {
  const f = (rank: number, time: number, peer: boolean): FailureRecord => ({ rank, localRank: 0, node: rank, host: `h${rank}`, pid: 1, exitCode: 1, signal: null, message: `m${rank}`, stack: null, peer, time });
  assert.equal(rootCause([f(0, 1, true), f(1, 2, false), f(2, 3, false)])?.rank, 1);
  assert.equal(rootCause([f(2, 5, true), f(0, 1, true)])?.rank, 0);
  assert.equal(rootCause([]), null);
});

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
}

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }
/** Starts `torchlight launch args` with env; resolves when it exits (killed after `ms`). */
function launch(args: string[], env: Record<string, string>, ms = 60_000, onStart?: (p: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, "launch", ...args], { env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout!.on("data", (d) => { out += d; });
    p.stderr!.on("data", (d) => { err += d; });
    const t = setTimeout(() => p.kill("SIGKILL"), ms);
    onStart?.(p);
    p.on("exit", (code, signal) => { clearTimeout(t); resolve({ code, signal, out, err }); });
  });
}

// a worker that prints its environment as one JSON line, and fails (once, or every time) where told
const dir = mkdtempSync(join(tmpdir(), "tl-launch-"));
const WORKER = join(dir, "worker.mjs");
writeFileSync(WORKER, `
const keys = ["RANK","LOCAL_RANK","GROUP_RANK","WORLD_SIZE","LOCAL_WORLD_SIZE","GROUP_WORLD_SIZE","MASTER_ADDR","MASTER_PORT","TORCHELASTIC_RESTART_COUNT","TORCHELASTIC_MAX_RESTARTS","TORCHELASTIC_RUN_ID","TORCHELASTIC_USE_AGENT_STORE","TORCHLIGHT_LAUNCH_SECRET","TORCHLIGHT_STORE_SECRET","OMP_NUM_THREADS"];
const e = Object.fromEntries(keys.map((k) => [k, process.env[k] ?? null]));
e.errorFile = process.env.TORCHELASTIC_ERROR_FILE ? true : false;
console.log("ENV " + JSON.stringify(e) + " ARGS " + JSON.stringify(process.argv.slice(2)));
const round = Number(process.env.TORCHELASTIC_RESTART_COUNT);
// SLEEP_MS: wait (until SIGTERM) in the rounds where a failure comes (FAIL_ROUNDS), so the failure stops this rank
if (process.env.SLEEP_MS && round < Number(process.env.FAIL_ROUNDS ?? 99)) { process.on("SIGTERM", () => { console.log("TERM " + process.env.RANK); process.exit(0); }); setTimeout(() => {}, Number(process.env.SLEEP_MS)); }
// MARK_DIR: each rank says it started (its SIGTERM handler is in place); a failing rank waits for all of them
const fs = await import("node:fs");
const mark = (r) => process.env.MARK_DIR + "/started-" + round + "-" + r;
if (process.env.MARK_DIR) fs.writeFileSync(mark(process.env.RANK), "");
const allStarted = () => !process.env.MARK_DIR || Array.from({ length: Number(process.env.WORLD_SIZE) }, (_, r) => fs.existsSync(mark(r))).every(Boolean);
if (process.env.FAIL_RANK === process.env.RANK && round < Number(process.env.FAIL_ROUNDS ?? 99)) {
  const fail = () => {
    if (!allStarted()) { setTimeout(fail, 50); return; }
    if (process.env.FAIL_HOW === "kill") process.kill(process.pid, "SIGKILL");
    throw new Error("boom on rank " + process.env.RANK + " in round " + round);
  };
  setTimeout(fail, 300);
}
`);
const envLines = (out: string): Record<string, string | null>[] => out.split("\n").filter((l) => l.includes("ENV ")).map((l) => ({ prefix: l.slice(0, l.indexOf("ENV ")), ...JSON.parse(l.slice(l.indexOf("ENV ") + 4, l.indexOf(" ARGS "))) as Record<string, string | null> }));

test("two nodes (two agents on loopback, static rendezvous): torchrun's environment on every worker, ranks by node, the run's secret kept from the workers", async () => {
  const port = await freePort();
  const args = (node: number) => ["--nnodes", "2", "--nproc-per-node", "2", "--node-rank", String(node), "--master-addr", "127.0.0.1", "--master-port", String(port), "--rdzv-id", "j1", WORKER, "a", "--b"];
  const [n0, n1] = await Promise.all([launch(args(0), { TORCHLIGHT_LAUNCH_SECRET: SECRET }), launch(args(1), { TORCHLIGHT_LAUNCH_SECRET: SECRET })]);
  assert.equal(n0.code, 0, n0.err);
  assert.equal(n1.code, 0, n1.err);
  const all = [...envLines(n0.out), ...envLines(n1.out)].sort((a, b) => Number(a.RANK) - Number(b.RANK));
  assert.deepEqual(all.map((e) => [e.prefix, e.RANK, e.LOCAL_RANK, e.GROUP_RANK, e.WORLD_SIZE, e.LOCAL_WORLD_SIZE, e.GROUP_WORLD_SIZE]),
    [["[rank0]:", "0", "0", "0", "4", "2", "2"], ["[rank1]:", "1", "1", "0", "4", "2", "2"], ["[rank2]:", "2", "0", "1", "4", "2", "2"], ["[rank3]:", "3", "1", "1", "4", "2", "2"]]);
  for (const e of all) {
    assert.deepEqual([e.MASTER_ADDR, e.MASTER_PORT, e.TORCHELASTIC_RESTART_COUNT, e.TORCHELASTIC_MAX_RESTARTS, e.TORCHELASTIC_RUN_ID, e.TORCHELASTIC_USE_AGENT_STORE, e.errorFile], ["127.0.0.1", String(port), "0", "0", "j1", "True", true]);
    assert.equal(e.TORCHLIGHT_LAUNCH_SECRET, null, "the run's secret does not reach the workers");
    assert.ok(e.TORCHLIGHT_STORE_SECRET && e.TORCHLIGHT_STORE_SECRET !== SECRET, "the workers get a secret of their round");
  }
  assert.equal(new Set(all.map((e) => e.TORCHLIGHT_STORE_SECRET)).size, 1, "one round secret for every worker");
  assert.match(n0.out, /ARGS \["a","--b"\]/);
});

test("c10d rendezvous: node ranks by arrival, the endpoint's machine hosts the store (the second agent there joins it as a client)", async () => {
  const port = await freePort();
  const args = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", `127.0.0.1:${port}`, "--rdzv-id", "c1", WORKER];
  const runs = await Promise.all([0, 1].map(() => launch(args, { TORCHLIGHT_LAUNCH_SECRET: SECRET })));
  for (const r of runs) assert.equal(r.code, 0, r.err);
  const all = runs.flatMap((r) => envLines(r.out)).sort((a, b) => Number(a.RANK) - Number(b.RANK));
  assert.deepEqual(all.map((e) => [e.RANK, e.GROUP_RANK, e.WORLD_SIZE, e.MASTER_PORT, e.TORCHELASTIC_RUN_ID]), [["0", "0", "2", String(port), "c1"], ["1", "1", "2", String(port), "c1"]]);
});

test("a failure on one node stops the group on every node, which restarts (--max-restarts) with a new round; out of restarts, every node names the root cause from its error file", async () => {
  const port = await freePort();
  const args = (node: number, restarts: number) => ["--nnodes", "2", "--nproc-per-node", "1", "--node-rank", String(node), "--master-port", String(port), "--max-restarts", String(restarts), "--monitor-interval", "0.05", WORKER];
  // rank 1 fails in round 0 only: one restart, then success
  const marks = () => mkdtempSync(join(tmpdir(), "tl-launch-marks-"));
  const m1 = marks();
  const once = await Promise.all([0, 1].map((n) => launch(args(n, 1), { TORCHLIGHT_LAUNCH_SECRET: SECRET, FAIL_RANK: "1", FAIL_ROUNDS: "1", SLEEP_MS: "30000", MARK_DIR: m1 })));
  for (const r of once) assert.equal(r.code, 0, r.err);
  assert.match(once[0]!.err, /rank 1 \(local rank 0 on node 1, host [^,]+, pid \d+\) exited with code 1: Error: boom on rank 1 in round 0\ntorchlight launch: restarting the worker group on every node \(restart 1 of 1\)/);
  const rounds = envLines(once[0]!.out).map((e) => [e.TORCHELASTIC_RESTART_COUNT, e.TORCHLIGHT_STORE_SECRET]);
  assert.deepEqual(rounds.map((r) => r[0]), ["0", "1"], "rank 0 ran in round 0 (stopped) and round 1");
  assert.notEqual(rounds[0]![1], rounds[1]![1], "each round has its own secret");
  assert.match(once[0]!.out, /TERM 0/, "rank 0 was stopped with SIGTERM when rank 1 failed");
  // rank 1 fails every time: out of restarts, both nodes exit 1 naming rank 1 with its stack
  const m2 = marks();
  const always = await Promise.all([0, 1].map((n) => launch(args(n, 1), { TORCHLIGHT_LAUNCH_SECRET: SECRET, FAIL_RANK: "1", SLEEP_MS: "30000", MARK_DIR: m2 })));
  for (const r of always) {
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /the worker group failed after 1 restart \(--max-restarts 1\)\.\nRoot cause: rank 1 \(local rank 0 on node 1, host [^)]+\) exited with code 1: Error: boom on rank 1 in round 1\n {4}Error: boom on rank 1 in round 1\n {8}at /);
    assert.match(r.err, /\[LAUNCH_WORKERS_FAILED\]/);
  }
  // killed by SIGKILL: no error file, the signal named
  const killed = await launch(["--standalone", "--nproc-per-node", "2", WORKER], { FAIL_RANK: "0", FAIL_HOW: "kill", SLEEP_MS: "30000", MARK_DIR: marks() });
  assert.equal(killed.code, 1);
  assert.match(killed.err, /Root cause: rank 0 \(local rank 0 on node 0, host [^)]+\) was killed by SIGKILL/);
});

test("the cause is recorded even when its consequence exits first: a rank whose peer died exits at once, the dying rank a moment later", async () => {
  // rank 1 records its error (the cause) and exits 600 ms later; rank 0 sees the lost peer and
  // exits at once: the agent, polling every 100 ms, must not stop rank 1 before recording it
  const script = join(dir, "late-cause.mjs");
  writeFileSync(script, `
import { writeFileSync } from "node:fs";
const rank = process.env.RANK;
const errorFile = (message) => writeFileSync(process.env.TORCHELASTIC_ERROR_FILE, JSON.stringify({ message: { message, extraInfo: { js_callstack: message, timestamp: String(Math.floor(Date.now() / 1000)) } } }));
setTimeout(() => {
  if (rank === "1") { errorFile("Error: the cause on rank 1"); setTimeout(() => process.exit(1), 600); }
  else { errorFile("Error: allGather failed: [gloo/transport/tcp/pair.cc:598] Connection closed by peer"); process.exit(1); }
}, 300);
`);
  const r = await launch(["--standalone", "--nproc-per-node", "2", "--monitor-interval", "0.1", script], {});
  assert.equal(r.code, 1);
  assert.match(r.err, /Root cause: rank 1 [^\n]*the cause on rank 1/);
  assert.match(r.err, /Also failed: rank 0 \(a consequence: [^\n]*Connection closed by peer/);
});

test("an agent with another secret is refused by the store; SIGTERM to one node's agent stops every node's workers", async () => {
  const port = await freePort();
  const args = (node: number) => ["--nnodes", "2", "--nproc-per-node", "1", "--node-rank", String(node), "--master-port", String(port), "--rdzv-conf", "join_timeout=4", WORKER];
  const [host, intruder] = await Promise.all([launch(args(0), { TORCHLIGHT_LAUNCH_SECRET: SECRET }, 30_000), launch(args(1), { TORCHLIGHT_LAUNCH_SECRET: "another-secret-0123456789" }, 30_000)]);
  assert.equal(intruder.code, 1);
  assert.match(intruder.err, /could not join the rendezvous store at 127\.0\.0\.1:\d+ .*wrong secret.*every node has the same secret \[LAUNCH_RENDEZVOUS\]/s);
  assert.match(host.err, /rendezvous "none" round 0: node 1 did not join within 4 s .* \[LAUNCH_RENDEZVOUS\]/);
  // SIGTERM to node 1's agent: both nodes' workers get SIGTERM, both agents exit 143
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, `${SECRET}\n`);
  let n1: ReturnType<typeof spawn> | null = null;
  const marks = mkdtempSync(join(tmpdir(), "tl-launch-marks-"));
  const runs = Promise.all([0, 1].map((n) => launch(args(n), { TORCHLIGHT_LAUNCH_SECRET_FILE: secretFile, SLEEP_MS: "30000", MARK_DIR: marks }, 60_000, (p) => { if (n === 1) n1 = p; })));
  // both workers run (their SIGTERM handlers in place) before node 1's agent gets SIGTERM
  for (let i = 0; i < 300 && !(existsSync(join(marks, "started-0-0")) && existsSync(join(marks, "started-0-1"))); i++) await new Promise((r) => setTimeout(r, 100));
  n1!.kill("SIGTERM");
  const [a, b] = await runs;
  assert.equal(b!.code, 143, b!.err);
  assert.equal(a!.code, 143, a!.err);
  assert.match(a!.out, /TERM 0/);
  assert.match(b!.out, /TERM 1/);
  assert.match(a!.err, /stopped: the agent on node 1 \([^)]+\) received SIGTERM/);
});

test("a TorchTrainer script under torchlight launch runs trainFunc in each launched process: reports persisted by rank 0, the same Result on every rank; a failing rank makes the launcher restart the group, and run.json records each attempt with its error; options the launcher decides are refused", async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-launched-"));
  const fixture = join(ROOT, "dist", "test", "train", "fixture.js");
  const r = await launch(["--standalone", "--nproc-per-node", "2", fixture, "plain", storage, "p"], {}, 90_000);
  assert.equal(r.code, 0, r.err);
  const results = r.out.split("\n").filter((l) => l.includes("RESULT ")).map((l) => JSON.parse(l.slice(l.indexOf("RESULT ") + 7)) as { ok: boolean; path: string; checkpoint: string; metrics: Record<string, unknown>; rows: unknown[]; seen?: { reports: number; ended: string } });
  assert.equal(results.length, 2, "fit() returned on both ranks");
  // RunConfig's callbacks run once, on rank 0 (as in the driver)
  const seen = results.map((x) => { const s = x.seen!; delete x.seen; return s; }).sort((a, b) => b.reports - a.reports);
  assert.deepEqual(seen.map((s) => [s.reports, s.ended]), [[3, join(storage, "p")], [0, ""]]);
  assert.deepEqual(results[0], results[1], "the same Result on every rank");
  assert.equal(results[0]!.ok, true);
  assert.deepEqual(results[0]!.metrics, { i: 2, rank: 0, acc: 2, resumedFrom: null, world: 2, localWorld: 2, experiment: "p" });
  const rows = readFileSync(join(storage, "p", "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(rows.length, 6, "3 reports × 2 ranks");
  assert.deepEqual(spawnSync("ls", [results[0]!.checkpoint], { encoding: "utf8" }).stdout.split("\n").filter(Boolean), ["model.json", "rank1.txt"], "both ranks' checkpoint files merged");
  const state = JSON.parse(readFileSync(join(storage, "p", "run.json"), "utf8"));
  assert.deepEqual([state.status, state.worldSize, state.attempts.length], ["finished", 2, 1]);
  // a rank that throws: the launcher restarts the group, whose attempt 1 is recorded with attempt 0's error
  const t = await launch(["--standalone", "--nproc-per-node", "2", "--max-restarts", "1", fixture, "throw", storage, "t"], {}, 90_000);
  assert.equal(t.code, 1, "rank 1 throws in every attempt");
  assert.match(t.err, /restarting the worker group on every node \(restart 1 of 1\)/);
  assert.match(t.err, /Root cause: rank 1 .*boom on rank 1/);
  // fit() raised TrainingFailedError on every rank of both attempts, its Result's error the group's, as under the driver
  const raised = t.out.split("\n").filter((l) => l.includes("RESULT ")).map((l) => JSON.parse(l.slice(l.indexOf("RESULT ") + 7)) as { ok: boolean; code: string; kind: string; groups: { ranks: number[]; message: string }[] });
  assert.equal(raised.length, 4, "2 ranks × 2 attempts");
  for (const x of raised) {
    assert.deepEqual([x.ok, x.code, x.kind], [false, "TRAIN_FAILED", "user"]);
    assert.ok(x.groups.some((g) => g.ranks.includes(1) && g.message === "boom on rank 1"), JSON.stringify(x.groups));
  }
  const failed = JSON.parse(readFileSync(join(storage, "t", "run.json"), "utf8"));
  assert.equal(failed.status, "failed");
  assert.equal(failed.attempts.length, 2);
  for (const a of failed.attempts) {
    assert.equal(a.error.kind, "user", JSON.stringify(a.error));
    assert.match(a.error.message, /rank 1: Error: boom on rank 1/);
  }
  // numWorkers that disagrees with the launcher: refused on every rank
  const bad = await launch(["--standalone", "--nproc-per-node", "3", fixture, "plain", storage, "q"], {}, 60_000);
  assert.equal(bad.code, 1);
  assert.match(bad.err + bad.out, /ScalingConfig: numWorkers is 2, but this script runs under a launcher .* \(WORLD_SIZE 3\)/);
  // FailureConfig's restarts and hang watch are the driver's: refused under a launcher
  const failureConfig = await launch(["--standalone", "--nproc-per-node", "2", fixture, "hung-rank", storage, "h"], { FIXTURE_KEEP_FAILURE_CONFIG: "1" }, 60_000);
  assert.equal(failureConfig.code, 1);
  assert.match(failureConfig.out, /FailureConfig: maxFailures 1 restarts the worker group, but under a launcher .* give --max-restarts 1 to it/);
});

test("a TorchTrainer script under real torchrun's environment (its agent's TCPStore, no torchlight secret) runs in-process as under torchlight launch", async () => {
  // torchrun itself cannot run here (Debian 12's fails parsing its own defaults on Python 3.11;
  // Debian 13's 2.6 was built without libuv, which its rendezvous asks for): this test hosts the
  // agent's TCPStore as torchrun does and starts the ranks with the environment it gives them
  const store = await c10d.serveStore("127.0.0.1", 0, 2, 60_000);
  try {
    const storage = mkdtempSync(join(tmpdir(), "tl-torchrun-"));
    const fixture = join(ROOT, "dist", "test", "train", "fixture.js");
    const ranks = await Promise.all([0, 1].map((rank) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const env = { ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), GROUP_RANK: "0", ROLE_RANK: String(rank), WORLD_SIZE: "2", LOCAL_WORLD_SIZE: "2", GROUP_WORLD_SIZE: "1",
        MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(store.port), TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: "0", TORCHELASTIC_MAX_RESTARTS: "0",
        TORCHELASTIC_RUN_ID: "torchrun-job", TORCHLIGHT_NUM_THREADS: "1" };
      delete (env as Record<string, string | undefined>).TORCHLIGHT_STORE_SECRET;
      const p = spawn(process.execPath, [fixture, "plain", storage, "tr"], { env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      p.stdout.on("data", (d) => { out += d; });
      p.stderr.on("data", (d) => { err += d; });
      const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
      p.on("exit", (code) => { clearTimeout(t); resolve({ code, out, err }); });
    })));
    for (const r of ranks) assert.equal(r.code, 0, r.err);
    const [a, b] = ranks.map((r) => ({ ...JSON.parse(r.out.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7)) as Record<string, unknown>, seen: undefined }));
    assert.deepEqual(a, b, "the same Result on both ranks");
    assert.equal(JSON.parse(readFileSync(join(storage, "tr", "run.json"), "utf8")).status, "finished");
    assert.equal(readFileSync(join(storage, "tr", "metrics.jsonl"), "utf8").trim().split("\n").length, 6);
  } finally { c10d.closeStore(store.id); }
});
