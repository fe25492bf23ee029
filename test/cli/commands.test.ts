// The `torchlight` commands on real run folders made by short runs (test/train/fixture.ts):
// run, runs, show (text, --csv, --json), doctor; and bad input: a corrupt or half-written
// metrics line, a missing run, a run folder of an older version, a run whose driver was killed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers.js";

const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const FIXTURE = join(ROOT, "dist", "test", "train", "fixture.js");
const storage = mkdtempSync(join(tmpdir(), "tl-cli-"));
const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1", ...env }, timeout: 120_000 });

test("torchlight run: runs a TorchTrainer script (TypeScript too), its output as it comes, then its run folder; the script's exit code", () => {
  const ok = cli(["run", FIXTURE, "plain", storage, "done"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /RESULT \{"ok":true/);
  assert.equal(ok.stdout.trim().split("\n").at(-1), `run folder: ${join(storage, "done")}`);
  const failed = cli(["run", FIXTURE, "throw", storage, "failed"]);
  assert.match(failed.stdout, /run folder: .*failed/);
  // TypeScript, through tsx (a folder whose package.json says "type": "module", as a TS project's)
  const ts = join(storage, "ts-project");
  mkdirSync(ts);
  writeFileSync(join(ts, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(ts, "train.ts"), `import { TorchTrainer, ScalingConfig, RunConfig, report, getContext } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist", "src", "train", "index.js")).href)};
const workers: number = 2;
const trainer = new TorchTrainer(async () => { await report({ rank: getContext().getWorldRank() as number }); }, {
  scalingConfig: new ScalingConfig({ numWorkers: workers }), runConfig: new RunConfig({ storagePath: ${JSON.stringify(storage)}, name: "typescript", verbose: 0 }),
});
console.log("metrics", JSON.stringify((await trainer.fit()).metrics));
`);
  const typed = cli(["run", join(ts, "train.ts")]);
  assert.equal(typed.status, 0, typed.stderr);
  assert.match(typed.stdout, /metrics \{"rank":0\}\nrun folder: .*typescript\n$/);
  const none = cli(["run", join(ROOT, "dist", "test", "helpers.js")]);
  assert.equal(none.status, 0);
  assert.match(none.stderr, /the script made no TorchTrainer run/);
  const missing = cli(["run", "/nonexistent/train.js"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no script "\/nonexistent\/train\.js" .* \[CLI_USAGE\]/);
});

test("torchlight runs: one line per run with its status, attempts, workers, last metrics, best checkpoint; a run in progress reads running, a killed driver's interrupted", async () => {
  // in progress: the slow fixture reports 4 times, 0.7 s apart
  const slow = spawn(process.execPath, [FIXTURE, "slow", storage, "live"], { stdio: "ignore", env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1" } });
  const exited = new Promise((r) => slow.on("exit", r));
  try {
    for (let i = 0; i < 100 && !existsSync(join(storage, "live", "metrics.jsonl")); i++) await new Promise((r) => setTimeout(r, 100));
    const live = cli(["runs", storage, "--json"]);
    assert.equal(live.status, 0, live.stderr);
    const runs = JSON.parse(live.stdout) as { name: string; status: string; attempts: number; workers: number; lastMetrics: Record<string, unknown> | null; best: { name: string } | null }[];
    const byName = Object.fromEntries(runs.map((r) => [r.name, r]));
    assert.equal(byName.live?.status, "running");
    assert.deepEqual([byName.done?.status, byName.done?.attempts, byName.done?.workers, byName.done?.lastMetrics?.i, byName.done?.best?.name], ["finished", 1, 2, 2, "checkpoint_000002"]);
    assert.equal(byName.failed?.status, "failed");
    // kill -9 of the driver (and its workers): run.json still says running, but no one holds it
    slow.kill("SIGKILL");
    await exited;
    spawnSync("pkill", ["-9", "-f", `${FIXTURE} slow ${storage} live`]);
    const text = cli(["runs", storage]);
    assert.equal(text.status, 0);
    const lines = text.stdout.trim().split("\n");
    assert.match(lines[0]!, /^NAME\s+STATUS\s+ATTEMPTS\s+WORKERS\s+LAST METRICS\s+BEST CHECKPOINT\s+STARTED\s+DURATION$/);
    assert.match(text.stdout, /^live\s+interrupted\s+1\s+2\s/m);
    assert.match(text.stdout, /^done\s+finished\s+1\s+2\s+i=2 rank=0 acc=2 resumedFrom=null\s+checkpoint_000002 i=2 rank=0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\.\ds$/m);
  } finally { slow.kill("SIGKILL"); }
  const none = cli(["runs", join(storage, "nope")]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /\/nope is not a folder; give the storage path your runs use .* \[CLI_NO_STORAGE\]/);
});

test("torchlight show: config, errors by rank with stacks, the metrics table (--csv, --json), kept checkpoints with their scores", () => {
  const t = cli(["show", "failed", "--storage-path", storage]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /^run failed {2}\(.*failed\)\nstatus failed, 2 workers, 1 attempt/);
  assert.match(t.stdout, /errors by rank:\n {2}attempt 0, rank 1 \(user\): Error: boom on rank 1\n {6}Error: boom on rank 1\n {10}at throwFunc/);
  assert.match(t.stdout, /config:\n {2}\{\n {4}"scalingConfig": \{\n {6}"numWorkers": 2/);
  const d = cli(["show", join(storage, "done")]);
  assert.match(d.stdout, /metrics \(6 reports over all ranks\):\nRANK\s+ATTEMPT\s+ITER\s+I\s+RANK\s+ACC/);
  assert.match(d.stdout, /checkpoints kept:\nNAME\s+ITER\s+METRICS\s+ON DISK\ncheckpoint_000000\s+0\s+i=0 rank=0 acc=0 .*yes/);
  const csv = cli(["show", "done", "--storage-path", storage, "--csv"]).stdout.trim().split("\n");
  assert.equal(csv[0], "rank,attempt,iteration,time,checkpoint,i,rank,acc,resumedFrom,world,localWorld,experiment");
  assert.equal(csv.length, 7);
  assert.match(csv[1]!, /^0,0,0,[\d.]+,checkpoint_000000,0,0,0,,2,2,done$/);
  const json = JSON.parse(cli(["show", "done", "--storage-path", storage, "--json"]).stdout) as { status: string; rows: unknown[]; checkpoints: { name: string; exists: boolean }[] };
  assert.deepEqual([json.status, json.rows.length, json.checkpoints.map((c) => [c.name, c.exists])], ["finished", 6, [["checkpoint_000000", true], ["checkpoint_000001", true], ["checkpoint_000002", true]]]);
  const both = cli(["show", "done", "--storage-path", storage, "--csv", "--json"]);
  assert.match(both.stderr, /give --csv or --json, not both \[CLI_USAGE\]/);
  const typo = cli(["show", "done", "--storage", storage]);
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /unknown option '--storage'[^]*\(see torchlight show --help\)/);
});

test("bad input: a missing run, a corrupt and a half-written metrics line, run.json of an older version or not JSON: a clear message, never a crash", () => {
  const missing = cli(["show", "nope", "--storage-path", storage]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^torchlight: no run "nope": it is not a run folder, and .* has no run of that name; `torchlight runs .*` lists the runs there .* \[CLI_NO_RUN\]\n$/);
  const bad = join(storage, "bad");
  cpSync(join(storage, "done"), bad, { recursive: true });
  const metrics = readFileSync(join(bad, "metrics.jsonl"), "utf8").split("\n");
  writeFileSync(join(bad, "metrics.jsonl"), [...metrics.slice(0, 2), "{this is not json", ...metrics.slice(2)].join("\n"));
  appendFileSync(join(bad, "metrics.jsonl"), '{"rank":0,"attempt":0,"iter');  // a write cut short
  const run = JSON.parse(readFileSync(join(bad, "run.json"), "utf8"));
  writeFileSync(join(bad, "run.json"), JSON.stringify({ ...run, version: 1, torchlightVersion: "0.0.1" }));
  const s = cli(["show", bad]);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /problems:\n {2}- run\.json is version 1 \(written by torchlight 0\.0\.1\); this torchlight reads version 2/);
  assert.match(s.stdout, /- metrics\.jsonl line 3 is not a metrics row \(corrupted\); it was skipped/);
  assert.match(s.stdout, /- metrics\.jsonl line 8 is not a metrics row \(the last line, half-written/);
  assert.match(s.stdout, /metrics \(6 reports over all ranks\)/);
  writeFileSync(join(bad, "run.json"), "{\"version\": 2, \"na");
  const broken = cli(["runs", storage, "--json"]);
  assert.equal(broken.status, 0, broken.stderr);
  const b = (JSON.parse(broken.stdout) as { name: string; status: string; problems: string[] }[]).find((r) => r.problems.some((p) => p.startsWith("run.json is not JSON")));
  assert.equal(b?.status, "unknown");
});

test("torchlight doctor: libtorch, BLAS, allocator, threads, CUDA, Python torch, Slurm/MPI, the storage path; a problem fails with its fix", () => {
  const r = cli(["doctor", "--storage-path", storage, "--json"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const checks = JSON.parse(r.stdout) as { name: string; level: string; detail: string; fix?: string }[];
  const by = Object.fromEntries(checks.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(by), ["node", "libtorch", "blas", "allocator", "threads", "onednn", "cuda", "python-torch", "slurm", "mpi", "storage", "storage-shared"]);
  assert.equal(by.libtorch!.level, "ok");
  assert.match(by.libtorch!.detail, /^\d+\.\d+\.\d+.* from \/\S*libtorch_cpu\.so/);
  assert.equal(by.storage!.level, "ok");
  // a storage path under a file cannot be made
  const file = join(storage, "a-file");
  writeFileSync(file, "");
  const bad = cli(["doctor", "--storage-path", join(file, "runs")]);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /^FAIL {2}storage {9}.*a-file\/runs is not writable: .*\n {22}fix: choose a writable folder/m);
});
