// Slurm's auto-requeue, as Lightning's SLURMEnvironment({ autoRequeue }): on SIGUSR1 the
// Trainer saves hpc_ckpt_N.ckpt at the next step, runs `scontrol requeue <job>` (a stand-in
// scontrol on PATH records it) and fit returns; the requeued job's fit, given no ckptPath,
// resumes from that checkpoint and ends with the parameters of an uninterrupted fit, bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SLURMEnvironment } from "../../src/distributed/index.js";

const here = dirname(fileURLToPath(import.meta.url));

function fit(root: string, at: number, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(here, "requeue_fit.js"), root, String(at)], { encoding: "utf8", env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1", ...env }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!;
  return { ...(JSON.parse(line) as { globalStep: number; params: number[][] }), stdout: r.stdout };
}

test("SIGUSR1 under Slurm saves hpc_ckpt_1.ckpt at the next step and requeues the job; the requeued fit resumes there and equals an uninterrupted fit", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-requeue-"));
  const bin = join(dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  const log = join(dir, "scontrol.log");
  writeFileSync(join(bin, "scontrol"), `#!/bin/sh\necho "$@" >> "${log}"\n`);
  chmodSync(join(bin, "scontrol"), 0o755);
  const slurm = { SLURM_NTASKS: "1", SLURM_PROCID: "0", SLURM_LOCALID: "0", SLURM_NODEID: "0", SLURM_JOB_ID: "4242", SLURM_JOB_NAME: "train", SLURM_NODELIST: "localhost", PATH: `${bin}:${process.env.PATH}` };

  const whole = fit(join(dir, "whole"), -1, slurm);
  assert.equal(whole.globalStep, 24);

  const root = join(dir, "job");
  const first = fit(root, 10, slurm);
  assert.match(first.stdout, /Handling auto-requeue signal: SIGUSR1/);
  assert.match(first.stdout, /Requeued SLURM job 4242/);
  assert.ok(first.globalStep > 10 && first.globalStep < 24, `fit stopped at step ${first.globalStep}`);
  assert.ok(existsSync(join(root, "hpc_ckpt_1.ckpt")));
  assert.equal(readFileSync(log, "utf8").trim(), "requeue 4242");

  const requeued = fit(root, 10, slurm);  // the same command, as the requeued job runs it
  assert.equal(requeued.globalStep, 24);
  assert.deepEqual(requeued.params, whole.params, "resumed from hpc_ckpt_1.ckpt, it ends where an uninterrupted fit ends");
  assert.equal(readFileSync(log, "utf8").trim(), "requeue 4242", "no second requeue");
});

test("SLURMEnvironment's options: autoRequeue (default true) and requeueSignal are checked", () => {
  assert.equal(new SLURMEnvironment().autoRequeue, true);
  assert.equal(new SLURMEnvironment({ autoRequeue: false, requeueSignal: "SIGUSR2" }).requeueSignal, "SIGUSR2");
  assert.throws(() => new SLURMEnvironment({ auto_requeue: true } as never), /unknown option "auto_requeue"; it takes autoRequeue and requeueSignal/);
  assert.throws(() => new SLURMEnvironment({ requeueSignal: "SIGKILL" }), /a signal name that can be handled/);
});
