/**
 * @module torchlight/train/local_group: local mode's `WorkerGroup` (`numWorkers: 0`, as Ray
 * Train V2's local mode): one rank, the train function in the driver's own process, started
 * through a `LocalRunner` (the TorchTrainer makes it from the worker runtime). Reports are
 * persisted as the process group persists them (metrics rows, checkpoints, callbacks), so the
 * run folder and the `Result` are the same as with workers. Nothing to spawn or kill: stopping
 * cannot interrupt a function running in this process, so a failure simply ends the attempt.
 */
import type { RunConfig } from "./config.js";
import { driverFailure, preemptedFailure, type RankFailure } from "./errors.js";
import type { DriverMessage, LocalRunner, WorkerMessage } from "./protocol.js";
import type { Storage } from "./storage.js";
import type { WorkerGroup, WorkerGroupStatus } from "./controller.js";
import { nextIteration, persistReport, rankFailure, type ReportMsg } from "./worker_group.js";

export class LocalWorkerGroup implements WorkerGroup {
  private iteration: number;
  private state = { done: false, exited: true, startedAt: 0, failures: [] as RankFailure[] };
  private persisting: Promise<void> = Promise.resolve();
  private toWorker: ((m: DriverMessage) => void) | null = null;
  private preempting: string | null = null;

  constructor(private readonly run: RunConfig, private readonly storage: Storage, private readonly runner: LocalRunner, private readonly device: string) {
    this.iteration = nextIteration(storage);
  }

  describe(): string { return `local mode (numWorkers 0): the train function runs in this process (pid ${process.pid}) on ${this.device}`; }

  async start(attempt: number): Promise<void> {
    const st = { done: false, exited: false, startedAt: Date.now(), failures: [] as RankFailure[] };
    this.state = st;
    this.storage.resetStaging();
    const latest = this.storage.readManager().latest;
    const start = {
      type: "start" as const, placement: { worldRank: 0, localRank: 0, localWorldSize: 1, nodeRank: 0, worldSize: 1 },
      runPath: this.storage.path, experimentName: this.run.name, attempt, latestCheckpoint: latest ? this.storage.checkpointPath(latest) : null, stagingDir: this.storage.stagingDir,
    };
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === "report") {
        const msgs = new Map<number, ReportMsg>([[0, m]]);
        this.persisting = this.persisting.then(async () => {
          const checkpoint = await persistReport(this.storage, this.run, attempt, this.iteration++, msgs);
          handle.toWorker({ type: "reportAck", seq: m.seq, checkpoint });
        }).catch((e: unknown) => {
          const f = driverFailure(e, `persisting report #${m.seq + 1} in ${this.storage.path}`);
          st.failures.push(f);
          handle.toWorker({ type: "abort", reason: f.message });
        });
      } else if (m.type === "done") {
        st.done = true;
        if (this.preempting) st.failures.push(preemptedFailure(0, process.pid, `the run was preempted (${this.preempting}): the train function stopped and returned`));
      }
      else if (m.type === "error") st.failures.push(rankFailure(0, process.pid, m));
    };
    this.preempting = null;
    const handle = this.runner(start, onMessage);
    this.toWorker = handle.toWorker;
    void handle.finished.then(async () => { await this.persisting; st.exited = true; });
  }

  poll(): WorkerGroupStatus {
    const st = this.state;
    // In-process: a blocked train function blocks this poll too, so there is no silent rank to find.
    return { ranks: [{ rank: 0, pid: process.pid, joined: true, done: st.done, exited: st.exited, startedAt: st.startedAt, lastSeen: Date.now() }], failures: [...st.failures] };
  }

  preempt(reason: string): void {
    if (this.preempting || this.state.exited) return;
    this.preempting = reason;
    this.toWorker?.({ type: "preempt", reason });
  }

  stop(): void { /* a function running in this process cannot be stopped from outside; it ends the attempt itself */ }

  async settle(): Promise<RankFailure[]> {
    await this.persisting;
    return [];
  }

  async close(): Promise<void> { await this.persisting; }
}
