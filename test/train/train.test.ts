// torchlight/train: the TorchTrainer driver end to end (subprocess drivers that re-run
// themselves as 2 workers), the run folder, faults, Result; configs and storage in-process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as torch from "../../src/torch/index.js";
import {
  TorchTrainer, ScalingConfig, RunConfig, CheckpointConfig, FailureConfig, TorchConfig, Result, Checkpoint, TrainConfigError, report, getContext,
} from "../../src/train/index.js";
import { storageNotShared } from "../../src/train/internal.js";
import { checkpointsToDelete, type CheckpointEntry } from "../../src/train/storage.js";
import { createLauncher, expandSlurmCounts, placeOnNodes, resolveLauncherKind } from "../../src/train/launcher.js";
import { prepareTrainer, RayDDPStrategy } from "../../src/train/lightning/index.js";
import * as pl from "../../src/lightning/index.js";
import { summary } from "./summary.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

interface Run { result: Record<string, any>; stdout: string; stderr: string; status: number | null }  // eslint-disable-line @typescript-eslint/no-explicit-any
function drive(script: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 240_000 });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`no RESULT line (status ${r.status}, signal ${r.signal})\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`);
  return { result: JSON.parse(line.slice(7)), stdout: r.stdout, stderr: r.stderr, status: r.status };
}
const fixture = (mode: string, storage: string, name: string, marker = "") => drive(join(here, "fixture.js"), [mode, storage, name, marker]);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const pidsIn = (out: string) => [...new Set([...out.matchAll(/\(rank \d+ pid=(\d+)\)/g)].map((m) => Number(m[1])))];

test("the seed example with 2 workers: metrics, a checkpoint that loads, the run folder's layout, Result.fromPath", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-seed-"));
  const out = join(storage, "result.json");
  const r = spawnSync(process.execPath, [join(root, "dist", "examples", "fashion-mnist", "train.js"), "--batches", "2", "--epochs", "2", "--storage", storage, "--name", "seed"],
    { encoding: "utf8", env: { ...process.env, DEMO_RESULT_JSON: out }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  const got = JSON.parse(readFileSync(out, "utf8"));
  assert.deepEqual(Object.keys(got.metrics).sort(), ["epoch", "loss", "step"]);
  assert.equal(got.metrics.epoch, 1);
  assert.equal(got.metrics.step, 4);
  assert.ok(Number.isFinite(got.metrics.loss));
  assert.ok(got.accuracy > 0.1, `the loaded model classifies (accuracy ${got.accuracy})`);  // loadFromCheckpoint worked and the model trained
  const run = join(storage, "seed");
  for (const f of ["run.json", "metrics.jsonl", "telemetry.jsonl", "checkpoint_manager.json", "checkpoint_000000/checkpoint.ckpt", "checkpoint_000001/checkpoint.ckpt"]) assert.ok(existsSync(join(run, f)), f);
  assert.equal(got.checkpoint, join(run, "checkpoint_000001"));
  const state = JSON.parse(readFileSync(join(run, "run.json"), "utf8"));
  assert.equal(state.status, "finished");
  assert.equal(state.worldSize, 2);
  const rows = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => [x.rank, x.iteration]).sort(), [[0, 0], [0, 1], [1, 0], [1, 1]]);
  const res = Result.fromPath(run);
  assert.deepEqual(res.metrics, got.metrics);
  assert.equal(res.checkpoint?.path, got.checkpoint);
  assert.match(r.stdout, /\(rank 0 pid=\d+\) /, "worker output is prefixed with its rank");
  assert.match(r.stdout, /Epoch 1: 2\/2/, "the driver draws the group's progress");
});

test("report(): every rank's reports in metrics.jsonl, checkpoints of all ranks merged, metadata, Result.fromPath equals the returned Result, rerun resumes", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-plain-"));
  const { result } = fixture("plain", storage, "p");
  assert.equal(result.ok, true, JSON.stringify(result));
  const run = join(storage, "p");
  assert.deepEqual(result.metrics, { i: 2, rank: 0, acc: 2, resumedFrom: null, world: 2, localWorld: 2, experiment: "p" });
  assert.equal(result.checkpoint, join(run, "checkpoint_000002"));
  assert.deepEqual(readdirSync(join(run, "checkpoint_000001")).sort(), [".metadata.json", "model.json", "rank1.txt"]);
  assert.deepEqual(new Checkpoint(join(run, "checkpoint_000001")).getMetadata(), { i: 1 });
  assert.deepEqual(result.rows.map((x: { i: number; training_iteration: number; checkpoint_dir_name: string }) => [x.i, x.training_iteration, x.checkpoint_dir_name]),
    [[0, 0, "checkpoint_000000"], [1, 1, "checkpoint_000001"], [2, 2, "checkpoint_000002"]]);
  const lines = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(lines.length, 6, "3 reports × 2 ranks");
  assert.deepEqual(result.seen, { reports: 3, checkpoints: 3, failed: 0, ended: run }, "RunConfig callbacks saw each report and the end");
  assert.deepEqual(summary(Result.fromPath(run)), { metrics: result.metrics, checkpoint: result.checkpoint, path: result.path, error: null, rows: result.rows, best: result.best });
  const csv = Result.fromPath(run).metricsDataframe.toCSV().split("\n");
  assert.equal(csv[0], "i,rank,acc,resumedFrom,world,localWorld,experiment,training_iteration,timestamp,checkpoint_dir_name");
  assert.equal(csv.length, 5);
  // the same name again: resumes (getCheckpoint() is the latest), numbering goes on
  const again = fixture("plain", storage, "p").result;
  assert.equal(again.ok, true);
  assert.equal(again.metrics.resumedFrom, join(run, "checkpoint_000002"));
  assert.equal(again.checkpoint, join(run, "checkpoint_000005"));
  // resume: "never" refuses to touch it
  const never = fixture("plain", storage, "p", "never").result;
  assert.equal(never.thrown, true);
  assert.equal(never.code, "TRAIN_RUN_EXISTS");
});

test("RayTrainReportCallback every N steps without checkpoints", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-steps-"));
  const { result } = fixture("lightning-steps", storage, "s");
  assert.equal(result.ok, true, JSON.stringify(result));
  // 6 steps per epoch, 4 epochs: every 4th step, and each epoch's end unless just reported
  assert.deepEqual(result.rows.map((r: { step: number }) => r.step), [4, 6, 8, 12, 16, 18, 20, 24]);
  assert.ok(result.rows.every((r: { checkpoint_dir_name: string | null }) => r.checkpoint_dir_name === null));
  assert.equal(result.checkpoint, null);
  assert.deepEqual(readdirSync(join(storage, "s")).filter((e) => e.startsWith("checkpoint_0")), []);
});

test("checkpoint retention: numToKeep by score keeps the best and the latest; getBestCheckpoint", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-keep-"));
  const { result } = fixture("retention", storage, "k");
  assert.equal(result.ok, true, JSON.stringify(result));
  const run = join(storage, "k");
  assert.deepEqual(readdirSync(run).filter((e) => e.startsWith("checkpoint_0")).sort(), ["checkpoint_000001", "checkpoint_000003"]);
  const res = Result.fromPath(run);
  assert.equal(res.getBestCheckpoint("acc", "max")?.path, join(run, "checkpoint_000001"));
  assert.equal(res.getBestCheckpoint("acc", "min")?.path, join(run, "checkpoint_000003"));
  assert.throws(() => res.getBestCheckpoint("nope", "max"), /no kept checkpoint was reported with metric "nope"/);
  assert.equal(res.checkpoint?.path, join(run, "checkpoint_000003"), "the latest is kept");
});

test("kill -9 of a worker mid-epoch with maxFailures 1: the group restarts from the latest checkpoint and ends with an uninterrupted run's parameters", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-kill-"));
  const base = fixture("lightning", storage, "straight").result;
  assert.equal(base.ok, true, JSON.stringify(base));
  const marker = join(storage, "kill-marker");
  const k = fixture("lightning-kill", storage, "killed", marker);
  assert.equal(k.result.ok, true, JSON.stringify(k.result) + k.stderr.slice(-2000));
  assert.ok(existsSync(marker), "a worker was killed");
  assert.match(k.stderr, /rank 1: SIGKILL: the worker process \(pid \d+\) was killed by SIGKILL during training/, k.stderr.slice(-3000));
  assert.match(k.stderr, /killed by SIGKILL[\s\S]*restarting the worker group \(failure 1 of 1\) from checkpoint_000001/);
  const state = JSON.parse(readFileSync(join(storage, "killed", "run.json"), "utf8"));
  assert.equal(state.attempts.length, 2);
  assert.equal(k.result.seen.failed, 1, "onAttemptFailed ran once");
  assert.equal(state.attempts[0].error.kind, "infrastructure", "a killed peer is an infrastructure failure, also on the rank that lost it");
  assert.deepEqual(base.metrics.step, k.result.metrics.step);
  const a = torch.load(join(base.checkpoint, "checkpoint.ckpt")) as { state_dict: Record<string, torch.Tensor> };
  const b = torch.load(join(k.result.checkpoint, "checkpoint.ckpt")) as { state_dict: Record<string, torch.Tensor> };
  assert.deepEqual(Object.keys(a.state_dict), Object.keys(b.state_dict));
  for (const key of Object.keys(a.state_dict)) assert.ok(a.state_dict[key]!.equal(b.state_dict[key]!), `${key} equal after the restart`);
  torch.dispose([...Object.values(a.state_dict), ...Object.values(b.state_dict)]);
});

test("a plain training function with Ray's torch helpers (prepareModel, prepareDataLoader) on 2 workers: DDP keeps the ranks equal, each reads half the data, the loss falls", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-torch-"));
  const { result, stderr } = fixture("torch", storage, "t");
  assert.equal(result.ok, true, JSON.stringify(result) + stderr.slice(-2000));
  const rows = readFileSync(join(storage, "t", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { rank: number; iteration: number; metrics: Record<string, unknown> });
  assert.equal(rows.length, 6, "3 reports × 2 ranks");
  for (const epoch of [0, 1, 2]) {
    const [a, b] = [0, 1].map((r) => rows.find((x) => x.rank === r && x.metrics.epoch === epoch)!.metrics);
    assert.equal(a!.checksum, b!.checksum, `epoch ${epoch}: both ranks hold the same parameters (DDP)`);
    assert.equal(a!.samples, 48, "each rank read its half of the 96 samples");
    assert.equal(b!.samples, 48);
    assert.notEqual(a!.loss, b!.loss, "different shards give different losses");
    assert.deepEqual([a!.ddp, a!.world, a!.device, a!.devices], [true, 2, "cpu", ["cpu"]]);
  }
  const loss = (e: number) => rows.filter((x) => x.metrics.epoch === e).reduce((s, x) => s + (x.metrics.loss as number), 0);
  assert.ok(loss(2) < loss(0), `the loss falls: ${loss(0)} → ${loss(2)}`);
  // the run's telemetry: per rank per report, the samples and batches its DataLoader delivered since its last report
  const tel = readFileSync(join(storage, "t", "telemetry.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { kind: string; rank: number; iteration: number; samples: number; batches: number; sinceS: number | null; waitS: number });
  const reports = tel.filter((r) => r.kind === "report");
  assert.deepEqual(reports.map((r) => [r.iteration, r.rank, r.samples, r.batches]), [[0, 0, 48, 6], [0, 1, 48, 6], [1, 0, 48, 6], [1, 1, 48, 6], [2, 0, 48, 6], [2, 1, 48, 6]]);
  assert.deepEqual(reports.map((r) => r.sinceS === null), [true, true, false, false, false, false], "an interval from each rank's second report on");
  for (const r of reports) assert.ok(r.waitS >= 0 && r.waitS < 60 && (r.sinceS ?? 0) >= 0, JSON.stringify(r));
});

test("the seed's model as a plain function fed by TorchTrainer({ datasets }) and getDatasetShard on 2 workers: equal disjoint shards, DDP keeps the ranks equal, the loss falls", { skip: existsSync("/usr/share/datasets/fashion-mnist") ? false : "FashionMNIST not installed" }, () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-shard-"));
  const { result, stderr } = fixture("seed", storage, "s");
  assert.equal(result.ok, true, JSON.stringify(result) + stderr.slice(-2000));
  const rows = readFileSync(join(storage, "s", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { rank: number; metrics: Record<string, any> });  // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(rows.length, 4, "2 epochs × 2 ranks");
  const [r0, r1] = [0, 1].map((r) => rows.find((x) => x.rank === r && x.metrics.epoch === 0)!.metrics);
  assert.equal(r0!.shardLength, 256, "513 samples: 256 per rank, the odd one dropped so both ranks run the same steps");
  assert.equal(r1!.shardLength, 256);
  assert.deepEqual([r0!.indicesHead, r1!.indicesHead], [[0, 2, 4], [1, 3, 5]], "every worldSize-th sample from the rank's own");
  assert.equal(r0!.indicesSum + r1!.indicesSum, (511 * 512) / 2, "together the shards hold samples 0..511 once each");
  for (const e of [0, 1]) {
    const [a, b] = [0, 1].map((r) => rows.find((x) => x.rank === r && x.metrics.epoch === e)!.metrics);
    assert.equal(a!.checksum, b!.checksum, `epoch ${e}: both ranks hold the same parameters (DDP)`);
  }
  const loss = (e: number) => rows.filter((x) => x.metrics.epoch === e).reduce((s, x) => s + (x.metrics.loss as number), 0);
  assert.ok(loss(1) < loss(0), `the loss falls: ${loss(0)} → ${loss(1)}`);
});

test("local mode (numWorkers 0): the train function runs in this process as the only rank; report, getContext, getCheckpoint, getDatasetShard; a restart resumes from its checkpoint", async () => {
  const { getDatasetShard } = await import("../../src/train/torch/index.js");
  const { TensorDataset } = await import("../../src/data/index.js");
  const storage = mkdtempSync(join(tmpdir(), "tl-local-"));
  const data = new TensorDataset(torch.arange(10).keep());
  const seen: Record<string, unknown>[] = [];
  let calls = 0;
  const trainer = new TorchTrainer(async (config: { steps: number }) => {
    calls++;
    const c = getContext();
    const start = (await import("../../src/train/index.js")).getCheckpoint();
    const shard = getDatasetShard("train");
    seen.push({ world: c.getWorldSize(), rank: c.getWorldRank(), attempt: c.getAttempt(), pid: process.pid, shard: shard.length, resumedFrom: start?.path ?? null });
    const { mkdtempSync: mk, writeFileSync: wf } = await import("node:fs");
    for (let i = 0; i < config.steps; i++) {
      const dir = mk(join(tmpdir(), "tl-local-ck-"));
      wf(join(dir, "step.txt"), String(i));
      await report({ step: i, attempt: c.getAttempt() }, { checkpoint: Checkpoint.fromDirectory(dir) });
      if (calls === 1 && i === 1) throw new Error("first attempt fails after two reports");
    }
  }, {
    trainLoopConfig: { steps: 3 }, datasets: { train: data },
    scalingConfig: new ScalingConfig({ numWorkers: 0 }),
    runConfig: new RunConfig({ storagePath: storage, name: "l", verbose: 0, failureConfig: new FailureConfig({ maxFailures: 1 }) }),
  });
  const result = await trainer.fit();
  assert.equal(calls, 2);
  assert.deepEqual(seen.map((x) => [x.world, x.rank, x.attempt, x.pid, x.shard]), [[1, 0, 0, process.pid, 10], [1, 0, 1, process.pid, 10]]);
  assert.equal(seen[0]!.resumedFrom, null);
  assert.equal(seen[1]!.resumedFrom, join(storage, "l", "checkpoint_000001"), "the restart sees the first attempt's last checkpoint");
  assert.deepEqual(result.metrics, { step: 2, attempt: 1 });
  assert.equal(readFileSync(join(result.checkpoint!.path, "step.txt"), "utf8"), "2");
  const state = JSON.parse(readFileSync(join(storage, "l", "run.json"), "utf8"));
  assert.deepEqual([state.status, state.worldSize, state.attempts.length, state.config.scalingConfig.numWorkers], ["finished", 1, 2, 0]);
  assert.match(state.attempts[0].error.message, /first attempt fails after two reports/);
  // outside a run the session is gone again; a missing dataset names the ones there are
  assert.throws(() => getContext(), (e: TrainConfigError) => e.code === "TRAIN_NOT_IN_WORKER");
  const bad = new TorchTrainer(() => getDatasetShard("valid"), { datasets: { train: data }, scalingConfig: new ScalingConfig({ numWorkers: 0 }), runConfig: new RunConfig({ storagePath: storage, name: "m", verbose: 0 }) });
  await assert.rejects(bad.fit(), (e: Error) => /getDatasetShard\("valid"\): the TorchTrainer has no dataset of that name; it has "train"/.test(e.message));
  assert.throws(() => new ScalingConfig({ numWorkers: 0, launcher: "slurm" }), /local mode/);
  assert.throws(() => new ScalingConfig({ numWorkers: -1 }), /or 0 to train in this process \(local mode\)/);
  assert.throws(() => new TorchTrainer(() => undefined, { datasets: { train: [1, 2] as never } }), /datasets.train must be a map-style Dataset/);
  data.tensors[0]!.dispose();
});

test("a program that cannot be re-run as the workers (node -e, standard input) gets an error naming the fix, before anything is written; isDriver/isWorker", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-entry-"));
  const train = JSON.stringify(join(here, "..", "..", "src", "train", "index.js"));
  const program = `const t = await import(${train});
    console.log("ROLE", t.isDriver(), t.isWorker());
    try { await new t.TorchTrainer(() => undefined, { scalingConfig: new t.ScalingConfig({ numWorkers: 2 }), runConfig: new t.RunConfig({ storagePath: ${JSON.stringify(storage)}, name: "e" }) }).fit(); }
    catch (e) { console.log("ERROR", e.code, e.message); }`;
  const viaEval = spawnSync(process.execPath, ["--input-type=module", "-e", program], { encoding: "utf8" });
  assert.match(viaEval.stdout, /ROLE true false/);
  assert.match(viaEval.stdout, /ERROR TRAIN_ENTRY_SCRIPT .*the program came from `node -e`, which cannot be re-run\. Save the program to a file and run it with `node file\.js`/);
  const viaStdin = spawnSync(process.execPath, ["--input-type=module"], { encoding: "utf8", input: program });
  assert.match(viaStdin.stdout, /ERROR TRAIN_ENTRY_SCRIPT .*the program came from standard input.*or train in this process with new ScalingConfig\(\{ numWorkers: 0 \}\) \(local mode\)/);
  assert.deepEqual(readdirSync(storage), [], "no run folder was made");
  // the second fix: the same program from standard input in local mode trains and returns its Result
  const local = `const t = await import(${train});
    const r = await new t.TorchTrainer(async () => { await t.report({ world: t.getContext().getWorldSize() }); }, { scalingConfig: new t.ScalingConfig({ numWorkers: 0 }), runConfig: new t.RunConfig({ storagePath: ${JSON.stringify(storage)}, name: "stdin", verbose: 0 }) }).fit();
    console.log("METRICS", JSON.stringify(r.metrics));`;
  const viaStdinLocal = spawnSync(process.execPath, ["--input-type=module"], { encoding: "utf8", input: local });
  assert.match(viaStdinLocal.stdout, /METRICS \{"world":1\}/, viaStdinLocal.stderr);
});

test("entry scripts as users run them: TypeScript through tsx and CommonJS (require) re-run as 2 workers; a .ts entry without loader flags gets tsx's", async () => {
  const { entryScriptCommand } = await import("../../src/distributed/internal.js");
  const dir = mkdtempSync(join(tmpdir(), "tl-entry-kinds-"));
  const train = join(here, "..", "..", "src", "train", "index.js");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "train.ts"), `import { TorchTrainer, ScalingConfig, RunConfig, report, getContext } from ${JSON.stringify(train)};
interface Cfg { lr: number }
const trainFunc = async (config: Cfg): Promise<void> => { await report({ world: getContext().getWorldSize(), lr: config.lr }); };
const r = await new TorchTrainer<Cfg>(trainFunc, { trainLoopConfig: { lr: 0.5 }, scalingConfig: new ScalingConfig({ numWorkers: 2 }),
  runConfig: new RunConfig({ storagePath: ${JSON.stringify(dir)}, name: "ts", verbose: 0 }) }).fit();
console.log("METRICS", JSON.stringify(r.metrics));`);
  const viaTsx = spawnSync(join(root, "node_modules", ".bin", "tsx"), ["train.ts"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  assert.match(viaTsx.stdout, /METRICS \{"world":2,"lr":0\.5\}/, viaTsx.stderr.slice(-2000));
  writeFileSync(join(dir, "train.cjs"), `const t = require(${JSON.stringify(train)});
async function main() {
  const r = await new t.TorchTrainer(async () => { await t.report({ world: t.getContext().getWorldSize() }); },
    { scalingConfig: new t.ScalingConfig({ numWorkers: 2 }), runConfig: new t.RunConfig({ storagePath: ${JSON.stringify(dir)}, name: "cjs", verbose: 0 }) }).fit();
  console.log("METRICS", JSON.stringify(r.metrics));
}
main();`);
  const viaCjs = spawnSync(process.execPath, ["train.cjs"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  assert.match(viaCjs.stdout, /METRICS \{"world":2\}/, viaCjs.stderr.slice(-2000));
  // a .ts entry whose runner left no flag to copy (ts-node's CLI registers in-process): tsx's loader is added
  const bare = entryScriptCommand(["node", join(dir, "train.ts"), "--x"], []);
  assert.deepEqual([bare.args[0], bare.args.slice(2)], ["--import", [join(dir, "train.ts"), "--x"]]);
  assert.match(bare.args[1]!, /^file:.*\/tsx\/dist\/loader\.mjs$/);
  assert.deepEqual(entryScriptCommand(["node", "/a/train.ts"], ["--import", "tsx"]).args, ["--import", "tsx", "/a/train.ts"], "flags that load TypeScript are copied as they are");
  assert.deepEqual(entryScriptCommand(["node", "/a/train.js"], ["--expose-gc"]).args, ["--expose-gc", "/a/train.js"]);
});

test("the driver never dies of its own errors: a throwing onReport callback, a full disk, a malformed control frame", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-driver-faults-"));
  const cb = fixture("callback-throws", storage, "cb");
  assert.equal(cb.result.ok, false, JSON.stringify(cb.result));
  assert.match(cb.result.message, /the RunConfig callback onReport threw: callback boom/);
  assert.equal(cb.result.kind, "user", "a callback is the user's code");
  assert.equal(JSON.parse(readFileSync(join(storage, "cb", "run.json"), "utf8")).status, "failed", "run.json ends in a terminal status");
  assert.equal(cb.result.seen.failed, 1, "no restart: restarting cannot fix a callback (maxFailures 2 left)");
  // an onAttemptFailed that throws after the policy chose a restart: no second attempt, both errors told
  const af = fixture("attempt-callback-throws", storage, "af");
  assert.equal(af.result.ok, false);
  assert.match(af.result.message, /boom on rank 1[^]*Then the driver's own step failed: the RunConfig callback onAttemptFailed threw: failure callback boom/);
  assert.equal(JSON.parse(readFileSync(join(storage, "af", "run.json"), "utf8")).attempts.length, 1);
  const junk = fixture("junk-frame", storage, "junk");
  assert.equal(junk.result.ok, true, JSON.stringify(junk.result) + junk.stderr.slice(-1500));
  assert.match(junk.stderr, /dropped a control connection whose first frame was not a hello/);
  // a full disk: the run folder on a 64 KiB tmpfs (where this machine lets a test mount one)
  const tiny = mkdtempSync(join(tmpdir(), "tl-tinyfs-"));
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", tiny]).status !== 0) return;  // not root, or no mount here
  try {
    const full = fixture("disk-full", tiny, "full");
    assert.equal(full.result.ok, false, `the run should fail of a full disk; it ended with ${full.result.metrics?.step} reports`);
    assert.match(full.result.message, /storage full at .*(ENOSPC|no space left)/i);
    assert.equal(full.result.kind, "infrastructure");
    assert.equal(full.status, 0, "the driver script ran to its end: a TrainingFailedError, not a crash");
  } finally { spawnSync("umount", [tiny]); }
});

test("one driver per run folder: a live lease refuses a second driver naming the holder; a stale or dead one is taken over; racers cannot both win", async () => {
  const { RunLease, LEASE_FILE } = await import("../../src/train/lease.js");
  const { hostname } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "tl-lease-"));
  const locked = (e: unknown) => e instanceof TrainConfigError && e.code === "TRAIN_RUN_LOCKED";
  const first = RunLease.acquire(dir);
  assert.throws(() => RunLease.acquire(dir), (e: Error) => locked(e) && new RegExp(`host ${hostname()}, pid ${process.pid}`).test(e.message) && /choose another RunConfig.name/.test(e.message));
  first.release();
  const lease = (h: object) => writeFileSync(join(dir, LEASE_FILE), JSON.stringify({ id: "old", host: hostname(), pid: process.pid, startedAt: "then", heartbeat: Date.now(), ...h }));
  lease({ heartbeat: Date.now() - 60_000 });                        // stale heartbeat
  const a = RunLease.acquire(dir);
  assert.equal(a.tookOver?.id, "old");
  a.release();
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  lease({ pid: Number(gone.stdout.trim()) });                          // fresh, but its pid is dead on this host
  const b = RunLease.acquire(dir);
  assert.equal(b.tookOver?.id, "old");
  b.release();
  lease({ host: "another-host", pid: Number(gone.stdout.trim()) });  // fresh on another host: its pid cannot be checked from here
  assert.throws(() => RunLease.acquire(dir), (e: Error) => locked(e) && /host another-host/.test(e.message));
  // 6 drivers race for one stale lease at once: exactly one wins
  lease({ heartbeat: Date.now() - 60_000 });
  const racer = `const { RunLease } = await import(${JSON.stringify(join(here, "..", "..", "src", "train", "lease.js"))});
    try { RunLease.acquire(${JSON.stringify(dir)}); console.log("WIN"); await new Promise((r) => setTimeout(r, 2000)); } catch (e) { console.log(e.code); }`;  // a winner holds its lease while the others try
  const outs = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((res) => {
    const c = spawn(process.execPath, ["--input-type=module", "-e", racer]);
    let out = ""; c.stdout.on("data", (d) => { out += d; }); c.on("close", () => res(out.trim()));
  })));
  assert.equal(outs.filter((o) => o === "WIN").length, 1, outs.join(", "));
  assert.ok(outs.every((o) => o === "WIN" || o === "TRAIN_RUN_LOCKED"), outs.join(", "));
});

test("two drivers on one run folder started 0.7 s apart: the second is refused before it writes anything; the first finishes with its own Result", async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-two-drivers-"));
  const first = spawn(process.execPath, [join(here, "fixture.js"), "slow", storage, "shared"], { stdio: ["ignore", "pipe", "pipe"] });
  let out1 = ""; first.stdout.on("data", (d) => { out1 += d; });
  const done = new Promise<number | null>((r) => first.on("close", r));
  await new Promise((r) => setTimeout(r, 700));
  const second = spawnSync(process.execPath, [join(here, "fixture.js"), "slow", storage, "shared"], { encoding: "utf8", timeout: 60_000 });
  const refused = JSON.parse(second.stdout.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
  assert.equal(refused.code, "TRAIN_RUN_LOCKED");
  assert.match(refused.message, new RegExp(`in use by another driver \\(host [^,]+, pid ${first.pid}, since`));
  assert.equal(await done, 0);
  const line = out1.split("\n").find((l) => l.startsWith("RESULT "))!;
  const r = JSON.parse(line.slice(7));
  assert.equal(r.ok, true);
  assert.equal(r.metrics.step, 3);
  assert.equal(r.metrics.pid, first.pid, "the first driver's Result holds its own run's reports");
  assert.deepEqual(readdirSync(join(storage, "shared")).filter((f) => f.startsWith(".lease")), [], "the lease is released at the end");
});

test("a run whose driver died while it ran is marked interrupted by the next driver, which resumes it", async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-dead-driver-"));
  const run = () => new TorchTrainer(async () => { await report({ ok: 1 }); }, { scalingConfig: new ScalingConfig({ numWorkers: 0 }), runConfig: new RunConfig({ storagePath: storage, name: "d", verbose: 0 }) }).fit();
  await run();
  const file = join(storage, "d", "run.json");
  const state = JSON.parse(readFileSync(file, "utf8"));
  state.status = "running"; state.endedAt = null; state.attempts[0].endedAt = null;  // as a SIGKILLed driver leaves it
  writeFileSync(file, JSON.stringify(state));
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  const { hostname } = await import("node:os");
  writeFileSync(join(storage, "d", ".lease.json"), JSON.stringify({ id: "dead", host: hostname(), pid: Number(gone.stdout.trim()), startedAt: "then", heartbeat: Date.now() }));
  await run();
  const after = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(after.status, "finished");
  assert.match(after.attempts[0].error.message, /the driver went away while the run was running/);
  assert.equal(after.attempts.length, 2);
});

test("kill -9 of the driver while a rank spins and the other waits in report(): the kernel ends both workers (PR_SET_PDEATHSIG)", { skip: process.platform === "linux" ? false : "Linux only" }, async () => {
  const { pidAlive } = await import("../../src/train/lease.js");
  const storage = mkdtempSync(join(tmpdir(), "tl-orphans-"));
  const driver = spawn(process.execPath, [join(here, "fixture.js"), "spin", storage, "o"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  driver.stdout.on("data", (d) => { out += d; });
  const pids = await new Promise<number[]>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const found = [...out.matchAll(/spinning rank \d pid (\d+)/g)].map((m) => Number(m[1]));
      if (found.length === 2) { clearInterval(poll); resolve(found); }
      else if (Date.now() - t0 > 60_000) { clearInterval(poll); reject(new Error(`workers did not start: ${out}`)); }
    }, 50);
  });
  await new Promise((r) => setTimeout(r, 300));  // rank 1 is in its loop, rank 0 waits for the report's ack
  assert.ok(pids.every(pidAlive), "both workers run before the driver dies");
  driver.kill("SIGKILL");
  const t0 = Date.now();
  while (pids.some(pidAlive) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(pids.filter(pidAlive), [], "no worker outlives its driver");
});

test("a torn last line of metrics.jsonl is cut when the run resumes (it no longer swallows the next row)", async () => {
  const { FileStorage } = await import("../../src/train/storage.js");
  const dir = mkdtempSync(join(tmpdir(), "tl-torn-"));
  const st = new FileStorage(dir, "r");
  st.create();
  st.appendMetrics([{ rank: 0, attempt: 0, iteration: 0, time: 1, metrics: { a: 1 }, checkpoint: null }]);
  writeFileSync(st.metricsFile, readFileSync(st.metricsFile, "utf8") + '{"rank":0,"attempt":0,"iter');  // a crash mid-append
  assert.equal(st.repairMetrics(), true);
  st.appendMetrics([{ rank: 0, attempt: 1, iteration: 1, time: 2, metrics: { a: 2 }, checkpoint: null }]);
  assert.deepEqual(st.readMetrics().map((r) => r.iteration), [0, 1], "both whole rows are read");
  assert.equal(st.repairMetrics(), false, "nothing to cut the second time");
});

test("a crash while a checkpoint is being written leaves the previous one intact and listed", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-crash-"));
  const { result } = fixture("crash", storage, "c");
  assert.equal(result.ok, false);
  const run = join(storage, "c");
  assert.equal(result.checkpoint, join(run, "checkpoint_000000"));
  assert.deepEqual(readdirSync(run).filter((e) => e.startsWith("checkpoint_0")), ["checkpoint_000000"]);
  const manager = JSON.parse(readFileSync(join(run, "checkpoint_manager.json"), "utf8"));
  assert.deepEqual(manager.checkpoints.map((c: { name: string }) => c.name), ["checkpoint_000000"]);
  const bin = readFileSync(join(run, "checkpoint_000000", "model.bin"));
  assert.equal(bin.length, 1 << 20);
  assert.ok(bin.every((b) => b === 1), "the earlier checkpoint's bytes are untouched");
  assert.match(result.error, /rank 0: SIGKILL/);
  // the reports made before the crash are kept (rank 1's second report had no barrier to pass)
  const rows = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(rows.some((x) => x.rank === 1 && x.metrics.i === 1 && x.checkpoint === null));
});

test("a worker throwing on rank 1 only: fit() throws TrainingFailedError naming rank 1, user error, no orphan processes", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-throw-"));
  const r = fixture("throw", storage, "t");
  assert.equal(r.result.ok, false);
  assert.equal(r.result.code, "TRAIN_FAILED");
  assert.equal(r.result.kind, "user");
  assert.equal(r.result.groups[0].message, "boom on rank 1");
  assert.deepEqual(r.result.groups[0].ranks, [1]);
  assert.match(r.result.error, /rank 1: Error: boom on rank 1/);
  const pids = pidsIn(r.stdout + r.stderr);
  assert.equal(pids.length, 2, "both workers wrote output");
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  assert.equal(JSON.parse(readFileSync(join(storage, "t", "run.json"), "utf8")).status, "failed");
  assert.equal(Result.fromPath(join(storage, "t")).error?.message, r.result.error);
});

test("a hung worker (blocked event loop) is killed at the timeout: an infrastructure error naming it", () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-hang-"));
  const t0 = Date.now();
  const r = fixture("hang", storage, "h");
  assert.ok(Date.now() - t0 < 30_000);
  assert.equal(r.result.ok, false);
  assert.equal(r.result.kind, "infrastructure");
  const g = r.result.groups.find((x: { ranks: number[] }) => x.ranks.includes(1));
  assert.equal(g.type, "hang");
  assert.match(g.message, /stopped answering heartbeats/);
  for (const pid of pidsIn(r.stdout + r.stderr)) assert.equal(alive(pid), false);
});

test("a rank that never reaches a collective is named within FailureConfig.hangTimeoutS, with its JS stack, and the group restarts (all-reduce, and DDP's backward)", async () => {
  for (const [mode, op] of [["hung-rank", /rank 1 has not reached allReduce #4 for \d+ s; rank 0 waits in it \(called at hungRankFunc \(.*fixture\.js:\d+:\d+\)\); rank 1 is in its own code/],
    ["hung-rank-ddp", /rank 1 has not reached DDP backward \(gradient all-reduce\) #4 \(DDP of world\) for \d+ s; rank 0 waits in it; rank 1 is in its own code/]] as const) {
    const storage = mkdtempSync(join(tmpdir(), "tl-hung-"));
    const t0 = Date.now();
    const r = fixture(mode, storage, "h", join(storage, "spun"));
    assert.equal(r.result.ok, true, `${mode}: ${r.result.message ?? r.stderr}`);
    assert.ok(Date.now() - t0 < 45_000, `${mode} took ${Date.now() - t0} ms`);
    assert.equal(r.result.seen.failed, 1);
    const run = JSON.parse(readFileSync(join(storage, "h", "run.json"), "utf8"));
    const hung = run.attempts[0].error.failures.find((f: { rank: number }) => f.rank === 1);
    assert.equal(hung.type, "Hang");
    assert.equal(hung.code, "TRAIN_HANG");
    assert.match(hung.message, op);
    assert.match(hung.stack, /JavaScript stack of rank 1[^]*at spinForever \(.*fixture\.js:\d+:\d+\)[^]*at hungRankFunc/, "the spinning rank's stack, taken while it spun");
    assert.equal(run.attempts.length, 2);
    assert.equal(run.status, "finished");
    for (const pid of pidsIn(r.stdout + r.stderr)) assert.equal(alive(pid), false);
  }
});

/** Starts a fixture driver without waiting; resolves `seen(re)` when its output matches, and `exit` with how it ended. */
function startDriver(mode: string, storage: string, name: string) {
  const p = spawn(process.execPath, [join(here, "fixture.js"), mode, storage, name], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d) => { out += d; });
  p.stderr.on("data", (d) => { out += d; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.on("exit", (code, signal) => resolve({ code, signal })));
  const seen = (re: RegExp, ms = 60_000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const m = out.match(re);
      if (m) { clearInterval(poll); resolve(m); } else if (Date.now() - t0 > ms) { clearInterval(poll); p.kill("SIGKILL"); reject(new Error(`no ${re} in: ${out}`)); }
    }, 50);
  });
  return { p, exit, seen, out: () => out };
}
/** Rank 0's metrics rows of a run folder, in order. */
const rank0Rows = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { rank: number; attempt: number; metrics: { step: number; stopped: boolean }; checkpoint: string | null }).filter((r) => r.rank === 0);

test("SIGTERM to the driver preempts the run: the ranks stop at one step, checkpoint it, the run is \"preempted\", the driver ends by SIGTERM; the rerun resumes exactly after that step", async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-preempt-"));
  const d = startDriver("preempt", storage, "p");
  await d.seen(/preempt rank 0 pid \d+ from 0/);
  await d.seen(/preempt rank 1 pid \d+ from 0/);
  await new Promise((r) => setTimeout(r, 1200));  // some steps in
  d.p.kill("SIGTERM");
  const ended = await d.exit;
  assert.equal(ended.signal, "SIGTERM", d.out());
  const run = JSON.parse(readFileSync(join(storage, "p", "run.json"), "utf8"));
  assert.equal(run.status, "preempted");
  assert.equal(run.attempts.length, 1);
  assert.equal(run.attempts[0].error.failures[0].code, "TRAIN_PREEMPTED");
  assert.match(run.attempts[0].error.failures[0].message, /preempted \(the driver received SIGTERM\): every rank stopped at the same step and returned; it resumes from checkpoint_/);
  const rows = rank0Rows(join(storage, "p"));
  const last = rows.at(-1)!;
  assert.equal(last.metrics.stopped, true);
  assert.ok(last.checkpoint, "the stopping step carries a checkpoint");
  assert.ok(last.metrics.step >= 3 && last.metrics.step < 39, `stopped at step ${last.metrics.step}`);
  assert.deepEqual(rows.map((r) => r.metrics.step), Array.from({ length: last.metrics.step + 1 }, (_, i) => i));
  for (const pid of pidsIn(d.out())) assert.equal(alive(pid), false);

  const again = fixture("preempt", storage, "p");
  assert.equal(again.result.ok, true, again.stderr);
  assert.match(again.stdout, new RegExp(`preempt rank 0 pid \\d+ from ${last.metrics.step + 1}`));
  const all = rank0Rows(join(storage, "p"));
  assert.deepEqual(all.map((r) => r.metrics.step), Array.from({ length: 40 }, (_, i) => i), "every step once: resumed exactly after the preempted one");
  assert.equal(JSON.parse(readFileSync(join(storage, "p", "run.json"), "utf8")).status, "finished");
});

test("SIGTERM to a worker (a scheduler signalling the job's steps) preempts the group, which restarts from the agreed step on a budget apart from maxFailures (0 here)", async () => {
  const storage = mkdtempSync(join(tmpdir(), "tl-preempt-w-"));
  const d = startDriver("preempt", storage, "w");
  const [, pid] = await d.seen(/preempt rank 1 pid (\d+) from 0/);
  await d.seen(/preempt rank 0 pid \d+ from 0/);
  await new Promise((r) => setTimeout(r, 1200));
  process.kill(Number(pid), "SIGTERM");
  await d.exit;
  const result = JSON.parse(d.out().split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
  assert.equal(result.ok, true, d.out());
  assert.equal(result.seen.failed, 1);
  const run = JSON.parse(readFileSync(join(storage, "w", "run.json"), "utf8"));
  assert.equal(run.status, "finished");
  assert.equal(run.attempts.length, 2);
  assert.match(run.attempts[0].error.failures[0].message, new RegExp(`preempted \\(rank 1 \\(pid ${pid}\\) received SIGTERM\\)`));
  assert.match(d.out(), /restarting the worker group \(preemption 1 of unlimited\)/);
  assert.deepEqual(rank0Rows(join(storage, "w")).map((r) => r.metrics.step), Array.from({ length: 40 }, (_, i) => i));
});

test("configuration errors are coded and name the fix", async () => {
  const code = (fn: () => unknown, c: string, re?: RegExp) => assert.throws(fn, (e: unknown) => { assert.ok(e instanceof TrainConfigError); assert.equal(e.code, c); if (re) assert.match(e.message, re); return true; });
  code(() => new ScalingConfig({ numWorkers: 1.5 }), "TRAIN_CONFIG", /numWorkers must be an integer ≥ 0.*or 0 to train in this process/);
  code(() => new ScalingConfig({ useGpu: true }), "TRAIN_NO_CUDA", /useGpu: false/);
  code(() => new ScalingConfig({ numworkers: 2 } as never), "TRAIN_UNKNOWN_OPTION", /did you mean numWorkers\?/);
  code(() => new ScalingConfig({ resourcesPerWorker: { CPU: 0.5 } }), "TRAIN_CONFIG", /whole number of cores/);
  code(() => new RunConfig({ name: "a/b" }), "TRAIN_CONFIG", /name "a\/b" contains "\/"; a run name is 1 to 128 letters, digits/);
  // one rule (issue 17): NUL, 300 characters, newline, " ", "...", "-rf" and "" are refused, each with what is wrong
  for (const [bad, why] of [["a\0b", /contains "\\u0000"/], ["x".repeat(300), /has 300 characters \(at most 128\)/], ["a\nb", /contains "\\n"/], [" ", /contains " "/],
    ["...", /starts with "\."/], ["-rf", /starts with "-"/], ["", /is empty/], [3, /must be a string/]] as const) {
    code(() => new RunConfig({ name: bad as string }), "TRAIN_CONFIG", why);
  }
  for (const good of ["fashion-2", "exp_01.b", "A", "x".repeat(128), "TorchTrainer_2026-11-30_20-00-00"]) assert.equal(new RunConfig({ name: good }).name, good);
  code(() => new RunConfig({ storagePath: "s3://bucket/x" }), "TRAIN_CONFIG", /local or shared/);
  code(() => new RunConfig({ resume: "sometimes" as never }), "TRAIN_CONFIG");
  code(() => new RunConfig({ failureConfig: { maxFailures: 1 } as never }), "TRAIN_CONFIG", /new FailureConfig/);
  code(() => new CheckpointConfig({ numToKeep: 0 }), "TRAIN_CONFIG");
  code(() => new CheckpointConfig({ checkpointScoreOrder: "up" as never }), "TRAIN_CONFIG");
  code(() => new FailureConfig({ maxFailures: -2 }), "TRAIN_CONFIG", /-1 \(no limit\)/);
  code(() => new TorchConfig({ backend: "mpi" as never }), "TRAIN_CONFIG");
  code(() => new TorchConfig({ backend: "nccl" }), "TRAIN_NO_CUDA");
  // Ray's name and unit for the timeout: the old timeoutMs names it
  code(() => new TorchConfig({ timeoutMs: 2000 } as never), "TRAIN_UNKNOWN_OPTION", /the timeout is Ray's timeoutS, in seconds; pass \{ timeoutS: 2 \}/);
  assert.equal(new TorchConfig({ timeoutS: 2.5 }).timeoutMs, 2500);
  assert.equal(new TorchConfig().timeoutS, 1800);
  // Ray's default backend: NCCL with GPUs, Gloo without; a given one is kept
  assert.equal(new TorchConfig().backendFor(true), "nccl");
  assert.equal(new TorchConfig().backendFor(false), "gloo");
  assert.equal(new TorchConfig({ backend: "gloo" }).backendFor(true), "gloo");
  code(() => new TorchTrainer(undefined as never), "TRAIN_NO_TRAIN_FUNC", /train function/);
  code(() => new TorchTrainer((() => 1) as never, { scaling: 1 } as never), "TRAIN_UNKNOWN_OPTION");
  code(() => new TorchTrainer(() => 1, { scalingConfig: { numWorkers: 2 } as never }), "TRAIN_CONFIG", /new ScalingConfig/);
  assert.equal(new FailureConfig({ maxFailures: -1 }).maxFailures, -1);
  assert.match(new RunConfig().name, /^TorchTrainer_\d{8}_\d{6}$/);
  await assert.rejects(report({ a: 1 }), /only inside the train function/);
  assert.throws(() => getContext(), (e: unknown) => (e as { code: string }).code === "TRAIN_NOT_IN_WORKER");
  assert.throws(() => prepareTrainer(new pl.Trainer({ logger: false, enableProgressBar: false })), /Invalid strategy class: SingleDeviceStrategy[\s\S]*RayDDPStrategy/);
  assert.throws(() => new RayDDPStrategy(), /only inside the train function/);
});

test("launchers: auto picks Slurm inside an allocation; Slurm count lists; ranks placed on nodes in blocks or round-robin", async () => {
  const env = (e: Record<string, string>) => e;
  assert.equal(resolveLauncherKind({ launcher: "auto" }, env({})), "local");
  assert.equal(resolveLauncherKind({ launcher: "auto" }, env({ SLURM_JOB_ID: "7" })), "slurm", "in an sbatch script or salloc shell");
  assert.equal(resolveLauncherKind({ launcher: "auto" }, env({ SLURM_JOB_ID: "7", SLURM_STEP_ID: "0" })), "local", "inside a job step (srun node script.js): this process is the whole run");
  assert.equal(resolveLauncherKind({ launcher: "local" }, env({ SLURM_JOB_ID: "7" })), "local");
  assert.deepEqual(expandSlurmCounts("4(x2),2"), [4, 4, 2]);
  assert.throws(() => expandSlurmCounts("4(2)"), (e: unknown) => (e as TrainConfigError).code === "TRAIN_SLURM");
  const place = (n: number, nodes: number, s: "PACK" | "SPREAD") => placeOnNodes(n, nodes, s).map((p) => `${p.nodeRank}.${p.localRank}/${p.localWorldSize}`);
  assert.deepEqual(place(5, 2, "PACK"), ["0.0/3", "0.1/3", "0.2/3", "1.0/2", "1.1/2"]);
  assert.deepEqual(place(5, 2, "SPREAD"), ["0.0/3", "1.0/2", "0.1/3", "1.1/2", "0.2/3"]);
  assert.deepEqual(place(2, 4, "PACK"), ["0.0/1", "1.0/1"], "never more nodes than workers");
  // a 2-node allocation with 4 and 2 CPUs: steps on their nodes, threads from each node's CPUs
  const slurmEnv = env({ SLURM_JOB_ID: "9", SLURM_JOB_NODELIST: "n[1-2]", SLURM_JOB_CPUS_PER_NODE: "4,2" });
  const l = createLauncher(new ScalingConfig({ numWorkers: 4, launcher: "slurm" }), slurmEnv, (list) => (list === "n[1-2]" ? ["n1", "n2"] : []));
  assert.equal(l.kind, "slurm");
  assert.deepEqual(l.placements.map((p) => [p.nodeRank, p.localRank, p.threads, p.device]), [[0, 0, 2, "cpu"], [0, 1, 2, "cpu"], [1, 0, 1, "cpu"], [1, 1, 1, "cpu"]]);
  const cmd = l.command(l.placements[2]!, process.execPath, ["script.js"]);
  assert.equal(cmd.file, "srun");
  assert.deepEqual(cmd.args.filter((a) => /^--(relative|cpus-per-task|ntasks|nodes)=/.test(a)), ["--nodes=1", "--ntasks=1", "--relative=1", "--cpus-per-task=1"]);
  assert.deepEqual(cmd.args.slice(-2), [process.execPath, "script.js"]);
  assert.equal(l.exitSignal(137), "SIGKILL");
  assert.match(l.describe(), /4 workers as Slurm steps of job 9 on 2 nodes \(n1, n2\)/);
  assert.throws(() => createLauncher(new ScalingConfig({ numWorkers: 3, launcher: "slurm", placementStrategy: "STRICT_SPREAD" }), slurmEnv, () => ["n1", "n2"]), /allocate 3 nodes/);
  const saved = { job: process.env.SLURM_JOB_ID, list: process.env.SLURM_JOB_NODELIST };
  delete process.env.SLURM_JOB_ID; delete process.env.SLURM_JOB_NODELIST;
  try {
    const storagePath = mkdtempSync(join(tmpdir(), "tl-launcher-"));
    await assert.rejects(new TorchTrainer(() => 1, { scalingConfig: new ScalingConfig({ launcher: "slurm" }), runConfig: new RunConfig({ storagePath, name: "x", verbose: 0 }) }).fit(),
      (e: unknown) => (e as TrainConfigError).code === "TRAIN_SLURM" && /inside `sbatch` or `salloc`/.test((e as Error).message));
    assert.equal(existsSync(join(storagePath, "x")), false, "nothing written before the launcher is known");
  } finally {
    if (saved.job !== undefined) process.env.SLURM_JOB_ID = saved.job;
    if (saved.list !== undefined) process.env.SLURM_JOB_NODELIST = saved.list;
  }
  assert.throws(() => new ScalingConfig({ launcher: "pbs" as never }), (e: unknown) => (e as TrainConfigError).code === "TRAIN_CONFIG" && /"auto", "local" or "slurm"/.test((e as Error).message));
});

test("storage: retention ranking and the wording of Ray's multi-node guard", () => {
  const e = (index: number, acc?: number): CheckpointEntry => ({ name: `c${index}`, index, iteration: index, metrics: acc === undefined ? {} : { acc }, time: index });
  const cfg = new CheckpointConfig({ numToKeep: 2, checkpointScoreAttribute: "acc", checkpointScoreOrder: "min" });
  assert.deepEqual(checkpointsToDelete([e(0, 0.3), e(1, 0.1), e(2, 0.2), e(3, 0.9)], cfg).map((x) => x.name), ["c0"]);
  assert.deepEqual(checkpointsToDelete([e(0, 0.3), e(1), e(2, 0.2)], new CheckpointConfig({ numToKeep: 1, checkpointScoreAttribute: "acc" })).map((x) => x.name), ["c1"]);
  assert.deepEqual(checkpointsToDelete([e(0), e(1), e(2)], new CheckpointConfig({ numToKeep: 2 })).map((x) => x.name), ["c0"]);
  assert.deepEqual(checkpointsToDelete([e(0), e(1)], new CheckpointConfig()), []);
  // the guard's one wording, for the driver (Slurm) and for launched ranks
  const one = storageNotShared("/tmp/x", ["h2"], 2, "rank 0's host");
  assert.equal(one.code, "TRAIN_STORAGE_NOT_SHARED");
  assert.equal(one.message, "TorchTrainer: the workers run on 2 hosts, but host h2 does not see RunConfig.storagePath \"/tmp/x\" as rank 0's host does (a file written there was not found from it), so its checkpoints and results would not be persisted. " +
    "Set RunConfig({ storagePath }) to a folder every host mounts at the same path (NFS, Lustre, a Kubernetes ReadWriteMany volume...); TORCHLIGHT_STORAGE_SHARED=1 skips this check");
  assert.match(storageNotShared("/s", ["h2", "h3"], 3, "the driver's node").message, /on 3 hosts, but hosts h2, h3 do not see .* as the driver's node does \(a file written there was not found from them\), so their checkpoints/);
});
