/**
 * @module torchlight/train/worker_group: the process implementation of the controller's
 * `WorkerGroup`. It owns a control channel (a WebSocket server on loopback, or on the cluster
 * interface under Slurm; each worker presents the attempt's secret), the c10d rendezvous store
 * (torchlight's private store in this process, which the workers join as clients with the
 * attempt's store secret, as under torchrun's agent store), and `numWorkers` processes started by ./launcher (children of this process, or Slurm
 * steps) that re-run the user's entry script, their output prefixed with their rank. It
 * persists reports and checkpoints through `Storage` as every rank's report arrives, and tells
 * the controller, when polled, who joined, answered, finished, failed or exited.
 */
import { type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { WebSocketServer, type WebSocket } from "ws";
import { ProgressRenderer } from "../util/progress.js";
import { spawnEntryScript } from "../distributed/internal.js";
import * as c10d from "../torch/c10d.js";
import { Checkpoint } from "./checkpoint.js";
import type { Launcher, Placement } from "./launcher.js";
import type { RunConfig, ScalingConfig, TorchConfig } from "./config.js";
import { CallbackError, driverFailure, preemptedFailure, type RankFailure } from "./errors.js";
import { ENV, SECRET_HEADER, type DriverMessage, type WorkerMessage } from "./protocol.js";
import { findHang, parseRecords } from "./hang.js";
import type { MetricsRow, Storage } from "./storage.js";
import type { RankStatus, WorkerGroup, WorkerGroupStatus } from "./controller.js";

export type ReportMsg = Extract<WorkerMessage, { type: "report" }>;

interface Rank {
  rank: number;
  place: Placement;
  child: ChildProcess;
  ws: WebSocket | null;
  hostname: string | null;
  startedAt: number;
  lastSeen: number;
  done: boolean;
  errored: boolean;
  exited: boolean;
  /** The driver stopped it (its death is not a failure of its own). */
  stopping: boolean;
  wsClosed: Promise<void>;
}

/** One attempt's state. */
interface Attempt {
  number: number;
  ranks: Rank[];
  failures: RankFailure[];
  /** Reports by sequence number, until every rank made it. */
  pending: Map<number, Map<number, ReportMsg>>;
  /** Persisting runs one report at a time, in order. */
  persisting: Promise<void>;
  started: boolean;
  /** Why and since when the attempt is being preempted (null: it is not). */
  preempting: { reason: string; since: number; deadline: NodeJS.Timeout } | null;
}

export interface ProcessWorkerGroupOptions {
  scaling: ScalingConfig;
  run: RunConfig;
  torch: TorchConfig;
  fitIndex: number;
  priorRuns: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ProcessWorkerGroup implements WorkerGroup {
  private server: WebSocketServer | null = null;
  private port = 0;
  private secret = "";
  private store: c10d.PrivateStore | null = null;
  private storeSecret = "";
  private attempt: Attempt | null = null;
  private iteration: number;
  private beat: NodeJS.Timeout | null = null;
  private liveness: NodeJS.Timeout | null = null;
  private hangWatch: NodeJS.Timeout | null = null;
  private judging = false;
  private readonly renderer: ProgressRenderer | null;

  constructor(private readonly o: ProcessWorkerGroupOptions, private readonly storage: Storage, private readonly launcher: Launcher) {
    this.iteration = nextIteration(storage);
    this.renderer = o.run.verbose > 0 ? new ProgressRenderer(Boolean(process.stdout.isTTY)) : null;
  }

  describe(): string { return this.launcher.describe(); }

  async start(number: number): Promise<void> {
    const n = this.o.scaling.numWorkers;
    await this.listen();
    this.secret = randomBytes(24).toString("hex");
    // One private store for the run, on the channel's interface (loopback on one machine). Each
    // attempt has its own secret and namespace; the last attempt's is revoked, so a straggler of
    // it can neither read nor write the new one's keys. No one without the secret is served.
    this.store ??= c10d.PrivateStore.serve(this.launcher.listenHost, 0);
    if (number > 0) this.store.revoke(`attempt_${number - 1}`);
    this.storeSecret = randomBytes(24).toString("hex");
    this.store.allow(`attempt_${number}`, this.storeSecret);
    const a: Attempt = { number, ranks: [], failures: [], pending: new Map(), persisting: Promise.resolve(), started: false, preempting: null };
    this.attempt = a;
    for (const place of this.launcher.placements) a.ranks.push(this.spawn(a, place));
    // heartbeats: the controller reads lastSeen
    this.beat = setInterval(() => {
      for (const r of a.ranks) if (r.ws && !r.exited && !r.done) { try { r.ws.ping(); } catch { /* closing */ } }
    }, Math.min(1000, Math.max(100, this.o.torch.timeoutMs / 4)));
    // liveness for the run's telemetry (the dashboard): every rank's state, every 5 s
    this.liveness = setInterval(() => {
      const now = Date.now();
      try { this.storage.appendTelemetry([{ kind: "beat", attempt: a.number, time: now / 1000, ranks: a.ranks.map((r) => ({ rank: r.rank, host: r.hostname, alive: !r.exited, lastSeenS: (now - r.lastSeen) / 1000 })) }]); } catch { /* best effort */ }
    }, 5000);
    this.liveness.unref();
    const hangS = this.o.run.failureConfig.hangTimeoutS;
    if (hangS !== null) this.hangWatch = setInterval(() => this.checkHang(a, hangS * 1000), Math.min(1000, hangS * 250));
  }

  /** Reads the workers' watchdog records; a hang names its culprits, with their JS stacks, as the attempt's failures. */
  private checkHang(a: Attempt, hangMs: number): void {
    if (!a.started || a.failures.length || this.judging || !this.store) return;
    const ns = `attempt_${a.number}`;
    const active = a.ranks.filter((r) => !r.done && !r.exited);
    if (active.length < a.ranks.length) return;  // a rank that finished or died is judged by other means
    const hang = findHang(parseRecords(this.store.read(ns, a.ranks.map((r) => `tl_watch/${r.rank}`))), Date.now(), hangMs);
    if (!hang) return;
    this.judging = true;
    void this.stacksOf(ns, hang.culprits).then((stacks) => {
      this.judging = false;
      if (this.attempt !== a) return;
      for (const rank of hang.culprits) {
        const stack = stacks.get(rank);
        this.fail(a, { rank, pid: a.ranks[rank]?.child.pid ?? null, kind: "infrastructure", type: "Hang", code: "TRAIN_HANG", message: hang.message, ...(stack ? { stack: `JavaScript stack of rank ${rank} when the hang was found:\n${stack}` } : {}) });
      }
    });
  }

  /** Asks the culprits' watchdogs for their JS stacks; waits up to 4 s for them. */
  private async stacksOf(ns: string, ranks: number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const r of ranks) this.store?.write(ns, `tl_watch_cmd/${r}`, "stack");
    for (let waited = 0; waited < 4000 && out.size < ranks.length && this.store; waited += 100) {
      await sleep(100);
      const got = this.store?.read(ns, ranks.map((r) => `tl_watch_stack/${r}`)) ?? [];
      got.forEach((v, i) => { if (v !== null) out.set(ranks[i]!, v); });
    }
    return out;
  }

  poll(): WorkerGroupStatus {
    const a = this.attempt;
    if (!a) return { ranks: [], failures: [] };
    const ranks: RankStatus[] = a.ranks.map((r) => ({ rank: r.rank, pid: r.child.pid ?? null, joined: r.ws !== null, done: r.done, exited: r.exited, startedAt: r.startedAt, lastSeen: r.lastSeen }));
    return { ranks, failures: [...a.failures] };
  }

  preempt(reason: string): void {
    const a = this.attempt;
    if (!a || a.preempting || a.failures.length) return;
    const graceS = this.o.run.failureConfig.preemptionGraceS;
    console.error(`TorchTrainer: preempting the run (${reason}): the ranks stop at their next getContext().shouldStop(), within ${graceS} s`);
    // a rank that does not stop in time (its train function never asks) is stopped; the run resumes from its latest checkpoint
    const deadline = setTimeout(() => {
      const late = a.ranks.find((r) => !r.done && !r.exited);
      if (this.attempt === a && late && !a.failures.length) {
        this.fail(a, preemptedFailure(late.rank, late.child.pid ?? null, `the run was preempted (${reason}), but rank ${late.rank} did not stop within FailureConfig.preemptionGraceS (${graceS} s): its train function does not call getContext().shouldStop(); it was stopped, and the run resumes from its latest checkpoint`));
      }
    }, graceS * 1000);
    deadline.unref();
    a.preempting = { reason, since: Date.now(), deadline };
    for (const r of a.ranks) r.ws?.send(JSON.stringify({ type: "preempt", reason } satisfies DriverMessage));
  }

  stop(signal: "SIGTERM" | "SIGKILL", ranks?: number[]): void {
    for (const r of this.attempt?.ranks ?? []) {
      if (r.exited || (ranks && !ranks.includes(r.rank))) continue;
      if (signal === "SIGTERM") { try { r.ws?.send(JSON.stringify({ type: "stop" } satisfies DriverMessage)); } catch { /* closing */ } }
      r.stopping = true;
      try { r.child.kill(signal); } catch { /* gone */ }
    }
  }

  async settle(): Promise<RankFailure[]> {
    const a = this.attempt!;
    const late: RankFailure[] = [];
    if (a.preempting) clearTimeout(a.preempting.deadline);
    this.stopTimers();
    await a.persisting;  // never rejects: a failure to persist is recorded as the attempt's
    this.renderer?.stop();
    // reports some ranks made before the attempt ended are kept (without a checkpoint)
    const leftover: MetricsRow[] = [];
    for (const [, msgs] of [...a.pending.entries()].sort((x, y) => x[0] - y[0])) {
      for (const [rank, m] of [...msgs.entries()].sort((x, y) => x[0] - y[0])) leftover.push({ rank, attempt: a.number, iteration: this.iteration, time: m.at, metrics: m.metrics, checkpoint: null });
      this.iteration++;
    }
    try {
      this.storage.appendMetrics(leftover);
      this.storage.resetStaging();
    } catch (e) { late.push(driverFailure(e, `settling attempt ${a.number} in ${this.storage.path}`)); }
    for (const r of a.ranks) r.ws?.terminate();
    // an infrastructure failure across nodes: is a host gone? (its ranks cannot come back: the run is not restarted)
    if (a.failures.some((f) => f.kind === "infrastructure") && new Set(a.ranks.map((r) => r.place.nodeRank)).size > 1) {
      for (const node of await this.launcher.nodesLost()) {
        const ranks = a.ranks.filter((r) => this.launcher.nodeName(r.place.nodeRank) === node).map((r) => r.rank);
        late.push({ rank: ranks[0] ?? 0, pid: null, kind: "infrastructure", type: "HostLost", code: "TRAIN_HOST_LOST",
          message: `host ${node} is lost: a short step sent there did not run (its node manager does not answer, or the node is down); rank${ranks.length > 1 ? "s" : ""} ${ranks.join(", ")} ran there. ` +
            `The allocation no longer gives ${a.ranks.length} workers, so the group is not restarted; submit the job again (it resumes from the latest checkpoint)` });
      }
    }
    return late;
  }

  async close(): Promise<void> {
    this.renderer?.stop();
    this.stopTimers();
    this.stop("SIGKILL");
    const srv = this.server;
    this.server = null;
    if (srv) { for (const c of srv.clients) c.terminate(); await new Promise<void>((r) => srv.close(() => r())); }
    if (this.store) { this.store.close(); this.store = null; }
  }

  private stopTimers(): void {
    for (const t of [this.beat, this.hangWatch, this.liveness]) if (t) clearInterval(t);
    this.beat = this.hangWatch = this.liveness = null;
  }

  // ---- the control channel ---------------------------------------------------------------------

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
        let m: WorkerMessage | null = null;
        try { m = JSON.parse(String(data)) as WorkerMessage; } catch { /* not JSON: refused below */ }
        if (m !== null && typeof m === "object" && m.type === "hello" && Number.isInteger(m.rank) && this.attempt) this.onHello(this.attempt, ws, m);
        else { console.error("TorchTrainer: dropped a control connection whose first frame was not a hello"); ws.close(1008, "expected hello"); }
      });
    });
  }

  private fail(a: Attempt, f: RankFailure): void {
    if (!a.failures.some((x) => x.rank === f.rank)) a.failures.push(f);
  }

  private onHello(a: Attempt, ws: WebSocket, m: Extract<WorkerMessage, { type: "hello" }>): void {
    const r = a.ranks[m.rank];
    if (!r || r.ws) { ws.close(1008, "unknown rank"); return; }
    r.ws = ws; r.hostname = m.hostname; r.lastSeen = Date.now();
    let closed!: () => void;
    r.wsClosed = new Promise<void>((res) => { closed = res; });
    ws.on("close", () => {
      closed();
      // a channel that closes while its rank still trains: the process or its host is gone (its
      // exit, which normally follows within a moment, may never come: a lost host's srun waits)
      setTimeout(() => {
        if (this.attempt === a && !r.exited && !r.done && !r.errored && !r.stopping) {
          this.fail(a, { rank: r.rank, pid: r.child.pid ?? null, kind: "infrastructure", type: "ChannelLost", message: `the worker's control channel closed while it was training (host ${r.hostname ?? "?"}): its process or its host went away` });
        }
      }, 2000).unref();
    });
    ws.on("pong", () => { r.lastSeen = Date.now(); });
    ws.on("message", (data) => {
      let m: WorkerMessage;
      try { m = JSON.parse(String(data)) as WorkerMessage; } catch {
        console.error(`TorchTrainer: dropped a malformed control frame from rank ${r.rank} (${String(data).length} bytes, not JSON)`);
        return;
      }
      if (m === null || typeof m !== "object" || typeof (m as { type?: unknown }).type !== "string") {
        console.error(`TorchTrainer: dropped a control frame without a message type from rank ${r.rank}`);
        return;
      }
      this.onMessage(a, r, m);
    });
    if (!a.ranks.every((x) => x.ws)) return;
    a.started = true;
    const latest = this.storage.readManager().latest;
    const n = a.ranks.length;
    for (const x of a.ranks) {
      const start: DriverMessage = {
        type: "start", placement: { worldRank: x.rank, localRank: x.place.localRank, localWorldSize: x.place.localWorldSize, nodeRank: x.place.nodeRank, worldSize: n },
        runPath: this.storage.path, experimentName: this.o.run.name, attempt: a.number, latestCheckpoint: latest ? this.storage.checkpointPath(latest) : null, stagingDir: this.storage.stagingDir,
      };
      x.ws!.send(JSON.stringify(start));
      if (a.preempting) x.ws!.send(JSON.stringify({ type: "preempt", reason: a.preempting.reason } satisfies DriverMessage));
    }
  }

  private onMessage(a: Attempt, r: Rank, m: WorkerMessage): void {
    switch (m.type) {
      case "report": {
        const msgs = a.pending.get(m.seq) ?? new Map<number, ReportMsg>();
        a.pending.set(m.seq, msgs);
        msgs.set(r.rank, m);
        if (msgs.size === a.ranks.length) {
          a.pending.delete(m.seq);
          a.persisting = a.persisting.then(() => this.persist(a, m.seq, msgs)).catch((e: unknown) => {
            // the driver's own failure (a callback, the storage): the attempt ends, named; the ranks stop waiting
            const f = driverFailure(e, `persisting report #${m.seq + 1} in ${this.storage.path}`);
            this.fail(a, f);
            for (const x of a.ranks) x.ws?.send(JSON.stringify({ type: "abort", reason: f.message } satisfies DriverMessage));
          });
        }
        return;
      }
      case "progress":
        if (r.rank === 0) this.renderer?.update({ epoch: m.epoch, done: m.done, total: m.total, postfix: m.postfix, final: m.final, secs: m.secs });
        return;
      case "error":
        r.errored = true;
        this.fail(a, rankFailure(r.rank, r.child.pid ?? null, m));
        return;
      case "preempt":
        this.preempt(m.reason);
        return;
      case "done":
        r.done = true;
        if (a.preempting && a.ranks.every((x) => x.done) && !a.failures.length) {
          const latest = this.storage.readManager().latest;
          this.fail(a, preemptedFailure(0, a.ranks[0]!.child.pid ?? null, `the run was preempted (${a.preempting.reason}): every rank stopped at the same step and returned${latest ? `; it resumes from ${latest}` : ", before any checkpoint"}`));
          return;
        }
        for (const [seq, msgs] of a.pending) {
          if (msgs.has(r.rank)) continue;
          this.fail(a, { rank: r.rank, pid: r.child.pid ?? null, kind: "user", type: "ReportMismatch", message: `the train function returned without calling report() #${seq + 1}, which rank${msgs.size > 1 ? "s" : ""} ${[...msgs.keys()].join(", ")} called; every rank must call report() the same number of times (it is a barrier)` });
          break;
        }
        return;
      default:
        return;
    }
  }

  // ---- processes -------------------------------------------------------------------------------

  private spawn(a: Attempt, place: Placement): Rank {
    const { rank, threads } = place;
    const n = this.o.scaling.numWorkers;
    const host = this.launcher.driverHost;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [ENV.control]: `ws://${host}:${this.port}`, [ENV.secret]: this.secret, [ENV.storeSecret]: this.storeSecret, [ENV.fitIndex]: String(this.o.fitIndex), [ENV.priorRuns]: JSON.stringify(this.o.priorRuns),
      RANK: String(rank), LOCAL_RANK: String(place.localRank), WORLD_SIZE: String(n), LOCAL_WORLD_SIZE: String(place.localWorldSize), NODE_RANK: String(place.nodeRank),
      MASTER_ADDR: host, MASTER_PORT: String(this.store!.port), TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: String(a.number),
      OMP_NUM_THREADS: String(threads), [ENV.numThreads]: String(threads),
      [ENV.device]: place.device, [ENV.spawnedAt]: String(Date.now()),
    };
    const child = spawnEntryScript(env, { stdio: ["ignore", "pipe", "pipe"], wrap: (file, args) => this.launcher.command(place, file, args) });
    const r: Rank = { rank, place, child, ws: null, hostname: null, startedAt: Date.now(), lastSeen: Date.now(), done: false, errored: false, exited: false, stopping: false, wsClosed: Promise.resolve() };
    const prefix = `(rank ${rank} pid=${child.pid ?? "?"}) `;
    createInterface({ input: child.stdout! }).on("line", (l) => process.stdout.write(prefix + l + "\n"));
    createInterface({ input: child.stderr! }).on("line", (l) => process.stderr.write(prefix + l + "\n"));
    child.on("error", (e) => { this.fail(a, { rank, pid: child.pid ?? null, kind: "infrastructure", type: "SpawnError", message: `could not start the worker process: ${e.message}` }); r.exited = true; });
    child.on("exit", (code, signal) => void this.onExit(a, r, code, signal));
    return r;
  }

  private async onExit(a: Attempt, r: Rank, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // the error message (if any) travels on the control channel: let it arrive first
    await Promise.race([r.wsClosed, sleep(500)]);
    r.exited = true;
    const pid = r.child.pid ?? null;
    if (!r.done && !r.errored && !r.stopping) {
      const sig = signal ?? this.launcher.exitSignal(code);
      const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      const what = this.launcher.kind === "slurm" ? `the worker's Slurm step (srun pid ${pid}${r.hostname ? `, on host ${r.hostname}` : ""})` : `the worker process (pid ${pid})`;
      this.fail(a, { rank: r.rank, pid, kind: "infrastructure", type: sig ?? `exit ${code}`, message: `${what} ${how} ${a.started ? "during training" : "before joining the run"}` });
    } else if (r.done && code !== 0 && !a.failures.length) {
      this.fail(a, { rank: r.rank, pid, kind: "infrastructure", type: `exit ${code}`, message: `the worker process exited with code ${code} after its train function returned` });
    }
  }

  // ---- reports and checkpoints -----------------------------------------------------------------

  /** Persists report `seq` of every rank: metrics rows, the checkpoint (commit + retention); then releases the ranks. */
  private async persist(a: Attempt, seq: number, msgs: Map<number, ReportMsg>): Promise<void> {
    const checkpoint = await persistReport(this.storage, this.o.run, a.number, this.iteration++, msgs);
    for (const rank of msgs.keys()) a.ranks[rank]?.ws?.send(JSON.stringify({ type: "reportAck", seq, checkpoint } satisfies DriverMessage));
  }
}

/** The iteration the run's next report gets: one past rank 0's last persisted row (0 for a new run). */
export function nextIteration(storage: Storage): number {
  const rows = storage.readMetrics().filter((r) => r.rank === 0);
  return rows.length ? Math.max(...rows.map((r) => r.iteration)) + 1 : 0;
}

/** A rank's "error" message as the attempt's failure of that rank. */
export function rankFailure(rank: number, pid: number | null, m: Extract<WorkerMessage, { type: "error" }>): RankFailure {
  return { rank, pid, kind: m.user ? "user" : "infrastructure", type: m.error.type, message: m.error.message, ...(m.error.stack ? { stack: m.error.stack } : {}), ...(m.error.code ? { code: m.error.code } : {}) };
}

/**
 * Persists one report of every rank (`msgs` by rank) as iteration `iteration`: the staged
 * checkpoint folders merged and committed (with retention), a metrics row per rank, then
 * RunConfig's `onReport` callbacks. Returns the persisted checkpoint's path, or null.
 * Shared by the process group and local mode's in-process group.
 */
export async function persistReport(storage: Storage, run: RunConfig, attempt: number, iteration: number, msgs: Map<number, ReportMsg>): Promise<string | null> {
  const ranks = [...msgs.keys()].sort((x, y) => x - y);
  const staged = ranks.map((r) => msgs.get(r)!.staged).filter((p): p is string => p !== null);
  const rank0 = msgs.get(0)!;
  const name = staged.length
    ? await storage.commitCheckpoint(staged, { iteration, metrics: rank0.metrics, time: rank0.at }, run.checkpointConfig)
    : null;
  storage.appendMetrics(ranks.map((rank) => ({ rank, attempt, iteration, time: msgs.get(rank)!.at, metrics: msgs.get(rank)!.metrics, checkpoint: name })));
  // telemetry: each rank's work since its last report, and how long it waited for the slowest
  const now = Date.now() / 1000;
  try {
    storage.appendTelemetry(ranks.map((rank) => {
      const m = msgs.get(rank)!, t = m.telemetry ?? { samples: 0, batches: 0, sinceS: null };
      return { kind: "report" as const, rank, attempt, iteration, time: m.at, samples: t.samples, batches: t.batches, sinceS: t.sinceS, waitS: Math.max(0, now - m.at) };
    }));
  } catch { /* telemetry is best effort: a run never fails for it */ }
  const checkpoint = name ? storage.checkpointPath(name) : null;
  if (run.verbose > 1) console.log(`TorchTrainer: report ${iteration}: ${JSON.stringify(rank0.metrics)}${name ? ` (${name})` : ""}`);
  for (const c of run.callbacks) {
    try { await c.onReport?.({ metrics: rank0.metrics, iteration, checkpoint: checkpoint ? new Checkpoint(checkpoint) : null }); } catch (e) { throw new CallbackError("onReport", e); }
  }
  return checkpoint;
}
