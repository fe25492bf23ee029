/**
 * @module torchlight/lightning/connectors/signal_connector: Lightning's `_SignalConnector` for
 * Slurm's auto-requeue. Under Slurm with `SLURMEnvironment({ autoRequeue: true })` (the
 * default, as in Lightning) the requeue signal (SIGUSR1; `sbatch --signal=USR1@90`) is noted
 * by a handler; at the next training step the ranks agree on it (rank 0's, broadcast), save
 * `hpc_ckpt_N.ckpt` in the defaultRootDir, rank 0 runs `scontrol requeue` for the job, and fit
 * returns. Lightning saves inside the signal handler; here the handler only notes the signal,
 * so the checkpoint is taken at a step boundary (an exact resume) and never while a collective
 * of the step is in flight. A requeued job's `fit()` without `ckptPath` resumes from the newest
 * `hpc_ckpt_*.ckpt`, as Lightning's.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SLURMEnvironment, type ClusterEnvironment } from "../../distributed/index.js";
import type { Trainer } from "../trainer.js";

const HPC = /^hpc_ckpt_(\d+)\.ckpt$/;

/** The highest N of `hpc_ckpt_N.ckpt` in `dir` (null: none). */
function maxHpcVersion(dir: string): number | null {
  if (!existsSync(dir)) return null;
  const ns = readdirSync(dir).map((f) => HPC.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  return ns.length ? Math.max(...ns) : null;
}

export class SignalConnector {
  private received: NodeJS.Signals | null = null;
  private listening: { signal: NodeJS.Signals; fn: () => void } | null = null;
  /** fit was stopped for a requeue: the loops end now, whatever minEpochs says. */
  stopped = false;

  constructor(private readonly trainer: Trainer) {}

  /** The SLURMEnvironment that asks for auto-requeue, under Slurm; else null. */
  private environment(): SLURMEnvironment | null {
    if (!SLURMEnvironment.detect()) return null;
    const s = this.trainer.strategy as { clusterEnvironment?: ClusterEnvironment | null };
    const env = s.clusterEnvironment ?? new SLURMEnvironment();
    return env instanceof SLURMEnvironment && env.autoRequeue ? env : null;
  }

  /** At fit's start: listens for the requeue signal when auto-requeue applies. */
  register(): void {
    this.received = null;
    this.stopped = false;
    const env = this.environment();
    if (!env || this.listening) return;
    const fn = () => {
      if (this.received === null && this.trainer.isGlobalZero) console.log(`Handling auto-requeue signal: ${env.requeueSignal}`);
      this.received = env.requeueSignal;
    };
    process.on(env.requeueSignal, fn);
    this.listening = { signal: env.requeueSignal, fn };
  }

  /** At the run's end. */
  teardown(): void {
    if (this.listening) process.off(this.listening.signal, this.listening.fn);
    this.listening = null;
  }

  /**
   * After each training step: when the requeue signal came (on rank 0, broadcast: one small
   * collective per step, only while auto-requeue applies), saves the HPC checkpoint, requeues
   * the job from rank 0 and stops fit; returns whether it did.
   */
  async afterStep(): Promise<boolean> {
    if (!this.listening) return false;
    const t = this.trainer;
    // a signal is delivered when the event loop turns: let it turn once per step (a few µs)
    await new Promise<void>((r) => setImmediate(r));
    if (!t.strategy._broadcastDecision(this.received !== null)) return false;
    const path = join(t.defaultRootDir, `hpc_ckpt_${(maxHpcVersion(t.defaultRootDir) ?? 0) + 1}.ckpt`);
    await t.saveCheckpoint(path);
    if (t.isGlobalZero) {
      const e = process.env;
      const job = e.SLURM_ARRAY_JOB_ID ? `${e.SLURM_ARRAY_JOB_ID}_${e.SLURM_ARRAY_TASK_ID}` : e.SLURM_JOB_ID ?? "";
      const r = spawnSync("scontrol", ["requeue", job], { encoding: "utf8" });
      if (r.status === 0) console.log(`Requeued SLURM job ${job}; saved ${path}`);
      else console.warn(`Requeuing SLURM job ${job} failed (${r.error?.message ?? `scontrol exited with ${r.status}: ${(r.stderr ?? "").trim()}`}); ${path} was saved, resume from it with fit(..., { ckptPath })`);
    }
    this.stopped = true;
    return true;
  }

  /** The newest `hpc_ckpt_N.ckpt` in the defaultRootDir, under Slurm (fit's default ckptPath there, as Lightning). */
  hpcResumePath(): string | null {
    if (!SLURMEnvironment.detect()) return null;
    const n = maxHpcVersion(this.trainer.defaultRootDir);
    return n === null ? null : join(this.trainer.defaultRootDir, `hpc_ckpt_${n}.ckpt`);
  }
}
