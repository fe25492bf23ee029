/**
 * @module torchlight/train/driver: the driver side of a run. It owns the run folder, a control
 * channel (a WebSocket server on loopback, or on the cluster interface under Slurm; each worker
 * presents the attempt's secret), the c10d rendezvous store (a TCPStore server in this process,
 * which the workers join as clients, as under torchrun's agent), and the worker group:
 * `numWorkers` processes, started by ./launcher (children of this process, or Slurm steps),
 * that re-run the user's entry script with the same Node flags, their output prefixed with
 * their rank. It persists reports and checkpoints, watches for deaths, errors and hangs (heartbeats),
 * restarts the group per `FailureConfig`, and builds the `Result`. Never imports the worker
 * runtime; both speak through ./protocol.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { WebSocketServer, type WebSocket } from "ws";
import { ProgressRenderer } from "../util/progress.js";
import * as c10d from "../torch/c10d.js";
import { Checkpoint } from "./checkpoint.js";
import { createLauncher, type Launcher, type Placement } from "./launcher.js";
import type { RunConfig, ScalingConfig, TorchConfig } from "./config.js";
import { TrainConfigError, TrainingFailedError, WorkerGroupError, type RankFailure } from "./errors.js";
import { ENV, SECRET_HEADER, type DriverMessage, type WorkerMessage } from "./protocol.js";
import { Result } from "./result.js";
import { RunStorage, checkStorageForHosts, checkpointDirName, checkpointsToDelete, type MetricsRow, type RunState } from "./storage.js";

export interface DriverOptions {
  scaling: ScalingConfig;
  run: RunConfig;
  torch: TorchConfig;
  trainLoopConfig: unknown;
  fitIndex: number;
  priorRuns: string[];
  version: string;
}

type ReportMsg = Extract<WorkerMessage, { type: "report" }>;

interface RankState {
  rank: number;
  place: Placement;
  child: ChildProcess;
  ws: WebSocket | null;
  hostname: string | null;
  spawnedAt: number;
  lastPong: number;
  done: boolean;
  errored: boolean;
  exited: boolean;
  /** The driver signalled it to stop (its death is not a failure of its own). */
  stopping: boolean;
  wsClosed: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => Date.now() / 1000;

/** Runs the group until it finishes or fails for good; returns the Result or throws TrainingFailedError. */
export async function runDriver(o: DriverOptions): Promise<Result> {
  const { run, scaling } = o;
  const launcher = createLauncher(scaling);  // before anything is written: a bad allocation fails here
  const storage = new RunStorage(run.storagePath, run.name);
  const existing = storage.readRun();
  const manager = storage.readManager();
  if (existing && run.resume === "never") {
    throw new TrainConfigError("TRAIN_RUN_EXISTS", `RunConfig: ${storage.path} already holds a run (status ${existing.status}) and resume is "never"; choose another RunConfig.name, delete the folder, or use resume: "auto" to continue it`);
  }
  if (run.resume === "require" && !manager.latest) {
    throw new TrainConfigError("TRAIN_NOTHING_TO_RESUME", `RunConfig: resume is "require" but ${storage.path} has no persisted checkpoint to resume from; run once with resume: "auto" (the default) first`);
  }
  storage.create();
  if (existing) storage.cleanIncomplete();
  const log = (s: string) => { if (run.verbose > 0) console.log(`TorchTrainer: ${s}`); };
  const state: RunState = existing
    ? { ...existing, status: "running", endedAt: null, error: null, worldSize: scaling.numWorkers }
    : {
      version: 1, name: run.name, storagePath: run.storagePath, status: "running", worldSize: scaling.numWorkers,
      config: { scalingConfig: scaling.toJSON(), runConfig: run.toJSON(), torchConfig: o.torch.toJSON(), trainLoopConfig: jsonOrNote(o.trainLoopConfig) },
      startedAt: new Date().toISOString(), endedAt: null, attempts: [], error: null, torchlightVersion: o.version,
    };
  storage.writeRun(state);
  log(`${existing ? "resuming" : "starting"} run ${JSON.stringify(run.name)} in ${storage.path}: ${launcher.describe()}${manager.latest ? `, from ${manager.latest}` : ""}`);

  const group = new WorkerGroup(o, storage, launcher);
  const onSignal = (sig: NodeJS.Signals) => {
    group.killAll("SIGKILL");
    state.status = "failed"; state.endedAt = new Date().toISOString(); state.error = { message: `the driver received ${sig}` };
    try { storage.writeRun(state); } catch { /* leaving anyway */ }
    process.off("SIGINT", onSignal); process.off("SIGTERM", onSignal);
    process.kill(process.pid, sig);
  };
  const onExit = () => group.killAll("SIGKILL");
  process.on("SIGINT", onSignal); process.on("SIGTERM", onSignal); process.on("exit", onExit);
  let failures = 0;
  try {
    for (;;) {
      const attempt = state.attempts.length;
      state.attempts.push({ attempt, startedAt: new Date().toISOString(), endedAt: null, error: null });
      storage.writeRun(state);
      const failed = await group.run(attempt);
      const rec = state.attempts[state.attempts.length - 1]!;
      rec.endedAt = new Date().toISOString();
      if (!failed) {
        state.status = "finished"; state.endedAt = rec.endedAt;
        storage.writeRun(state);
        const result = Result.fromPath(storage.path);
        log(`run ${JSON.stringify(run.name)} finished`);
        for (const c of run.callbacks) await c.onRunEnd?.(result);
        return result;
      }
      const err = new WorkerGroupError(failed, attempt);
      rec.error = err.toJSON();
      failures++;
      const willRetry = run.failureConfig.maxFailures === -1 || failures <= run.failureConfig.maxFailures;
      for (const c of run.callbacks) await c.onAttemptFailed?.(err, { attempt, willRetry });
      if (willRetry) {
        storage.writeRun(state);
        const latest = storage.readManager().latest;
        console.error(`TorchTrainer: ${err.message}\nTorchTrainer: restarting the worker group (failure ${failures} of ${run.failureConfig.maxFailures === -1 ? "unlimited" : run.failureConfig.maxFailures}) ${latest ? `from ${latest}` : "from the start (no checkpoint yet)"}`);
        continue;
      }
      state.status = "failed"; state.endedAt = rec.endedAt; state.error = err.toJSON();
      storage.writeRun(state);
      const result = Result.fromPath(storage.path);
      for (const c of run.callbacks) await c.onRunEnd?.(result);
      throw new TrainingFailedError(`Training failed${failures > 1 ? ` after ${failures} attempts` : ""}: ${err.message}\nThe run folder is ${storage.path}; the Result is on this error's \`result\`.`, result, { cause: err });
    }
  } finally {
    process.off("SIGINT", onSignal); process.off("SIGTERM", onSignal); process.off("exit", onExit);
    await group.close();
  }
}

function jsonOrNote(v: unknown): unknown {
  try { return v === undefined ? null : JSON.parse(JSON.stringify(v)); } catch { return "(not JSON-serialisable)"; }
}

/** The worker processes of one run and the control server they talk to. */
class WorkerGroup {
  private server: WebSocketServer | null = null;
  private port = 0;
  private secret = "";
  /** The c10d rendezvous store (a TCPStore server in this process), as torchrun's agent hosts it. */
  private store: { id: number; port: number } | null = null;
  private ranks: RankState[] = [];
  private iteration: number;
  private onHello: ((ws: WebSocket, m: Extract<WorkerMessage, { type: "hello" }>) => void) | null = null;
  private readonly renderer: ProgressRenderer | null;

  constructor(private readonly o: DriverOptions, private readonly storage: RunStorage, private readonly launcher: Launcher) {
    const rows = storage.readMetrics().filter((r) => r.rank === 0);
    this.iteration = rows.length ? Math.max(...rows.map((r) => r.iteration)) + 1 : 0;
    this.renderer = o.run.verbose > 0 ? new ProgressRenderer(Boolean(process.stdout.isTTY)) : null;
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    this.server = new WebSocketServer({
      host: this.launcher.listenHost, port: 0, maxPayload: 64 * 1024 * 1024,
      verifyClient: (info: { req: { headers: Record<string, string | string[] | undefined> } }) => info.req.headers[SECRET_HEADER] === this.secret,
    });
    await new Promise<void>((resolve, reject) => { this.server!.once("listening", resolve); this.server!.once("error", reject); });
    this.port = (this.server.address() as AddressInfo).port;
    this.server.on("connection", (ws) => {
      ws.once("message", (data) => {
        const m = JSON.parse(String(data)) as WorkerMessage;
        if (m.type === "hello" && this.onHello) this.onHello(ws, m); else ws.close(1008, "expected hello");
      });
    });
  }

  killAll(sig: NodeJS.Signals, ranks = this.ranks): void {
    for (const r of ranks) if (!r.exited) { r.stopping = true; try { r.child.kill(sig); } catch { /* gone */ } }
  }

  async close(): Promise<void> {
    this.renderer?.stop();
    this.killAll("SIGKILL");
    const srv = this.server;
    this.server = null;
    if (srv) { for (const c of srv.clients) c.terminate(); await new Promise<void>((r) => srv.close(() => r())); }
    if (this.store) { c10d.closeStore(this.store.id); this.store = null; }
  }

  /** Runs one attempt; resolves null when every rank finished, else the failures. */
  async run(attempt: number): Promise<RankFailure[] | null> {
    const { scaling, run } = this.o;
    const n = scaling.numWorkers;
    await this.listen();
    this.secret = randomBytes(24).toString("hex");
    // one store for the run; each attempt's keys live under its own prefix (TORCHELASTIC_RESTART_COUNT)
    this.store ??= await c10d.serveStore(this.launcher.driverHost, 0, n, Math.max(this.o.torch.timeoutMs, 60_000));
    const failures: RankFailure[] = [];
    const pending = new Map<number, Map<number, ReportMsg>>();
    let persisting: Promise<void> = Promise.resolve();
    let failing = false;
    let started = false;
    let settle!: () => void;
    const ended = new Promise<void>((r) => { settle = r; });
    const timeoutMs = this.o.torch.timeoutMs;
    const startupMs = Math.max(timeoutMs, 60_000);

    const ranks: RankState[] = [];
    const fail = (f: RankFailure) => {
      if (!failures.some((x) => x.rank === f.rank)) failures.push(f);
      if (failing) return;
      failing = true;
      // give the other ranks a moment to report what they saw, then stop them
      void (async () => {
        const deadline = Date.now() + 1500;
        while (Date.now() < deadline && ranks.some((r) => !r.exited)) await sleep(50);
        this.killAll("SIGTERM", ranks);
        const hard = Date.now() + 3000;
        while (Date.now() < hard && ranks.some((r) => !r.exited)) await sleep(50);
        this.killAll("SIGKILL", ranks);
      })();
    };
    const checkEnd = () => { if (ranks.every((r) => r.exited)) settle(); };

    const latest = this.storage.readManager().latest;
    this.onHello = (ws, m) => {
      const r = this.ranks[m.rank];
      if (!r || r.ws) { ws.close(1008, "unknown rank"); return; }
      r.ws = ws; r.hostname = m.hostname; r.lastPong = Date.now();
      let closed!: () => void;
      r.wsClosed = new Promise<void>((res) => { closed = res; });
      ws.on("close", () => closed());
      ws.on("pong", () => { r.lastPong = Date.now(); });
      ws.on("message", (data) => this.onMessage(r, JSON.parse(String(data)) as WorkerMessage, { fail, pending, attempt, persist: (seq, msgs) => { persisting = persisting.then(() => this.persist(seq, msgs, attempt)); } }));
      if (this.ranks.every((x) => x.ws)) {
        try { checkStorageForHosts(this.storage.storagePath, this.ranks.map((x) => x.hostname!)); } catch (e) {
          fail({ rank: 0, pid: null, kind: "infrastructure", type: (e as Error).name, message: (e as Error).message, code: "TRAIN_STORAGE_NOT_SHARED" });
          return;
        }
        started = true;
        for (const x of this.ranks) {
          const start: DriverMessage = {
            type: "start", placement: { worldRank: x.rank, localRank: x.place.localRank, localWorldSize: x.place.localWorldSize, nodeRank: x.place.nodeRank, worldSize: n },
            runPath: this.storage.path, experimentName: run.name, attempt, latestCheckpoint: latest ? this.storage.checkpointPath(latest) : null, stagingDir: this.storage.stagingDir,
          };
          x.ws!.send(JSON.stringify(start));
        }
      }
    };

    const args = [...process.execArgv, ...process.argv.slice(1)];
    this.ranks = ranks;
    const host = this.launcher.driverHost;
    for (const place of this.launcher.placements) {
      const { rank, threads } = place;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        [ENV.control]: `ws://${host}:${this.port}`, [ENV.secret]: this.secret, [ENV.fitIndex]: String(this.o.fitIndex), [ENV.priorRuns]: JSON.stringify(this.o.priorRuns),
        RANK: String(rank), LOCAL_RANK: String(place.localRank), WORLD_SIZE: String(n), LOCAL_WORLD_SIZE: String(place.localWorldSize), NODE_RANK: String(place.nodeRank),
        MASTER_ADDR: host, MASTER_PORT: String(this.store.port), TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: String(attempt),
        OMP_NUM_THREADS: String(threads), [ENV.numThreads]: String(threads),
        [ENV.device]: place.device, [ENV.spawnedAt]: String(Date.now()),
      };
      const cmd = this.launcher.command(place, args);
      const child = spawn(cmd.file, cmd.args, { env, stdio: ["ignore", "pipe", "pipe"] });
      const r: RankState = { rank, place, child, ws: null, hostname: null, spawnedAt: Date.now(), lastPong: Date.now(), done: false, errored: false, exited: false, stopping: false, wsClosed: Promise.resolve() };
      ranks.push(r);
      const prefix = `(rank ${rank} pid=${child.pid ?? "?"}) `;
      createInterface({ input: child.stdout! }).on("line", (l) => process.stdout.write(prefix + l + "\n"));
      createInterface({ input: child.stderr! }).on("line", (l) => process.stderr.write(prefix + l + "\n"));
      child.on("error", (e) => { fail({ rank, pid: child.pid ?? null, kind: "infrastructure", type: "SpawnError", message: `could not start the worker process: ${e.message}` }); r.exited = true; checkEnd(); });
      child.on("exit", (code, signal) => {
        void (async () => {
          // the error message (if any) travels on the control channel: let it arrive first
          await Promise.race([r.wsClosed, sleep(500)]);
          r.exited = true;
          if (!r.done && !r.errored && !r.stopping) {
            const sig = signal ?? this.launcher.exitSignal(code);
            const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
            const what = this.launcher.kind === "slurm" ? `the worker's Slurm step (srun pid ${child.pid})` : `the worker process (pid ${child.pid})`;
            fail({ rank, pid: child.pid ?? null, kind: "infrastructure", type: sig ?? `exit ${code}`, message: `${what} ${how} ${started ? "during training" : "before joining the run"}` });
          } else if (r.done && code !== 0 && !failing) {
            fail({ rank, pid: child.pid ?? null, kind: "infrastructure", type: `exit ${code}`, message: `the worker process exited with code ${code} after its train function returned` });
          }
          checkEnd();
        })();
      });
    }

    const beat = setInterval(() => {
      const t = Date.now();
      for (const r of this.ranks) {
        if (r.exited || r.done) continue;
        if (!r.ws) {
          if (t - r.spawnedAt > startupMs && !failing) { fail({ rank: r.rank, pid: r.child.pid ?? null, kind: "infrastructure", type: "hang", message: `the worker did not join the run within ${startupMs / 1000} s of starting` }); r.stopping = true; r.child.kill("SIGKILL"); }
          continue;
        }
        if (t - r.lastPong > timeoutMs && !failing) {
          fail({ rank: r.rank, pid: r.child.pid ?? null, kind: "infrastructure", type: "hang", message: `the worker stopped answering heartbeats for ${((t - r.lastPong) / 1000).toFixed(1)} s (TorchConfig.timeoutMs ${timeoutMs} ms): its event loop is blocked; it was killed` });
          r.stopping = true;
          r.child.kill("SIGKILL");
        }
        try { r.ws.ping(); } catch { /* closing */ }
      }
    }, Math.min(1000, Math.max(100, timeoutMs / 4)));

    await ended;
    clearInterval(beat);
    await persisting.catch((e: unknown) => { failures.push({ rank: 0, pid: null, kind: "infrastructure", type: "StorageError", message: `persisting a report failed: ${(e as Error).message}` }); });
    this.renderer?.stop();
    // reports some ranks made before the attempt ended are kept (without a checkpoint)
    const leftover: MetricsRow[] = [];
    for (const [, msgs] of [...pending.entries()].sort((a, b) => a[0] - b[0])) {
      for (const [rank, m] of [...msgs.entries()].sort((a, b) => a[0] - b[0])) leftover.push({ rank, attempt, iteration: this.iteration, time: m.at, metrics: m.metrics, checkpoint: null });
      this.iteration++;
    }
    this.storage.appendMetrics(leftover);
    rmSync(this.storage.stagingDir, { recursive: true, force: true });
    mkdirSync(this.storage.stagingDir, { recursive: true });
    this.onHello = null;
    for (const r of this.ranks) r.ws?.terminate();
    return failures.length || this.ranks.some((r) => !r.done) ? (failures.length ? failures : [{ rank: 0, pid: null, kind: "infrastructure", type: "Unknown", message: "the worker group ended without finishing" }]) : null;
  }

  private onMessage(r: RankState, m: WorkerMessage, a: { fail: (f: RankFailure) => void; pending: Map<number, Map<number, ReportMsg>>; attempt: number; persist: (seq: number, msgs: Map<number, ReportMsg>) => void }): void {
    const n = this.o.scaling.numWorkers;
    switch (m.type) {
      case "report": {
        const msgs = a.pending.get(m.seq) ?? new Map<number, ReportMsg>();
        a.pending.set(m.seq, msgs);
        msgs.set(r.rank, m);
        if (msgs.size === n) { a.pending.delete(m.seq); a.persist(m.seq, msgs); }
        return;
      }
      case "progress":
        if (r.rank === 0) this.renderer?.update({ epoch: m.epoch, done: m.done, total: m.total, postfix: m.postfix, final: m.final, secs: m.secs });
        return;
      case "error":
        r.errored = true;
        a.fail({ rank: r.rank, pid: r.child.pid ?? null, kind: m.user ? "user" : "infrastructure", type: m.error.type, message: m.error.message, ...(m.error.stack ? { stack: m.error.stack } : {}), ...(m.error.code ? { code: m.error.code } : {}) });
        return;
      case "done": {
        r.done = true;
        for (const [seq, msgs] of a.pending) {
          if (!msgs.has(r.rank)) {
            a.fail({ rank: r.rank, pid: r.child.pid ?? null, kind: "user", type: "ReportMismatch", message: `the train function returned without calling report() #${seq + 1}, which rank${msgs.size > 1 ? "s" : ""} ${[...msgs.keys()].join(", ")} called; every rank must call report() the same number of times (it is a barrier)` });
            break;
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /** Persists report `seq` of every rank: metrics rows, the merged checkpoint folder, the manager, retention; then releases the ranks. */
  private async persist(seq: number, msgs: Map<number, ReportMsg>, attempt: number): Promise<void> {
    const ranks = [...msgs.keys()].sort((a, b) => a - b);
    const staged = ranks.map((r) => msgs.get(r)!.staged).filter((p): p is string => p !== null);
    const iteration = this.iteration++;
    let name: string | null = null;
    const rank0 = msgs.get(0)!;
    if (staged.length) {
      const manager = this.storage.readManager();
      const index = manager.nextIndex;
      name = checkpointDirName(index);
      const merged = join(this.storage.stagingDir, `merge-${name}`);
      rmSync(merged, { recursive: true, force: true });
      mkdirSync(merged, { recursive: true });
      for (const dir of staged) {
        if (!existsSync(dir)) continue;
        for (const e of readdirSync(dir)) if (!existsSync(join(merged, e))) renameSync(join(dir, e), join(merged, e));
      }
      const final = this.storage.checkpointPath(name);
      rmSync(final, { recursive: true, force: true });
      renameSync(merged, final);
      manager.checkpoints.push({ name, index, iteration, metrics: rank0.metrics, time: rank0.at });
      manager.latest = name;
      manager.nextIndex = index + 1;
      const drop = checkpointsToDelete(manager.checkpoints, this.o.run.checkpointConfig);
      manager.checkpoints = manager.checkpoints.filter((c) => !drop.includes(c));
      this.storage.writeManager(manager);
      await Promise.all(drop.map((c) => rm(this.storage.checkpointPath(c.name), { recursive: true, force: true })));
      rmSync(join(this.storage.stagingDir, `a${attempt}-r${seq}`), { recursive: true, force: true });
    }
    this.storage.appendMetrics(ranks.map((rank) => ({ rank, attempt, iteration, time: msgs.get(rank)!.at, metrics: msgs.get(rank)!.metrics, checkpoint: name })));
    const checkpoint = name ? this.storage.checkpointPath(name) : null;
    for (const rank of ranks) this.ranks[rank]?.ws?.send(JSON.stringify({ type: "reportAck", seq, checkpoint } satisfies DriverMessage));
    if (this.o.run.verbose > 1) console.log(`TorchTrainer: report ${iteration}: ${JSON.stringify(rank0.metrics)}${name ? ` (${name})` : ""}`);
    for (const c of this.o.run.callbacks) await c.onReport?.({ metrics: rank0.metrics, iteration, checkpoint: checkpoint ? new Checkpoint(checkpoint) : null });
  }
}
