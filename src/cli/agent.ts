/**
 * @module torchlight/cli/agent: `torchlight launch`'s agent, one per node, as torchrun's
 * (TorchElastic's LocalElasticAgent with the c10d rendezvous), on torchlight's private store.
 *
 * - Rendezvous: one agent hosts the store at the endpoint (static: node 0; c10d: the endpoint's
 *   machine), which serves only agents presenting the run's secret. Each round r, every agent
 *   says it joined (`r<r>/joined/<node>`: its host and workers); the host gives the round's
 *   workers a namespace with a secret of their own (`w<r>`: the previous round's is revoked, so a
 *   straggler of it can neither read nor write the new one's keys) and publishes it to the agents.
 * - Workers: `--nproc-per-node` processes of the script with torchrun's environment (RANK,
 *   LOCAL_RANK, GROUP_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR/PORT of the store,
 *   TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_ERROR_FILE, the agent-store variables), their
 *   output prefixed `[rank<R>]:`.
 * - Monitoring, every --monitor-interval: a worker that exits non-zero is recorded in the store
 *   (`r<r>/failure/<n>`, with its error file or its last lines of stderr); every agent then
 *   stops its workers and, with restarts left, rejoins at round r + 1; else each reports the
 *   root cause (the first failure that is not a peer's consequence) and exits 1. When every
 *   node's workers exited 0, the agents exit 0.
 * - Signals: SIGTERM/SIGINT are forwarded to the workers and told to every node (`r<r>/stop`),
 *   whose agents forward SIGTERM too; the agents exit once their workers did (SIGKILL after 30 s).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { mkdirSync, rmSync } from "node:fs";
import { constants, cpus, hostname, networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as c10d from "../torch/c10d.js";
import { entryScriptCommand } from "../distributed/launch.js";
import { readErrorFile } from "../distributed/error_file.js";
import { isPeerFailure } from "../train/protocol.js";
import { ENV } from "../util/env.js";
import { isLoopback } from "../util/net.js";
import { LaunchError, type LaunchConfig } from "./launch_config.js";

/** One worker's failure, as recorded in the store. */
export interface FailureRecord {
  rank: number;
  localRank: number;
  node: number;
  host: string;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  message: string;
  stack: string | null;
  /** Its error says a peer died or hung: a consequence, not the cause. */
  peer: boolean;
  time: number;
}

interface Worker {
  rank: number;
  localRank: number;
  child: ChildProcess;
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
  closed: Promise<void>;
  tail: string[];
  errorFile: string;
}

export type RoundOutcome = { kind: "succeeded" } | { kind: "failed"; failures: FailureRecord[] } | { kind: "stopped"; signal: NodeJS.Signals; by: string };

const STOP_GRACE_MS = 30_000, FAILURE_GRACE_MS = 5_000, FAILURE_SETTLE_MS = 1_000, EXIT_WAIT_MS = 30_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether `host` names this machine (its hostname, or an address of one of its interfaces). */
export async function isThisMachine(host: string): Promise<boolean> {
  if (host === hostname() || host === "localhost") return true;
  const mine = new Set(Object.values(networkInterfaces()).flat().map((a) => a?.address));
  try { return (await lookup(host, { all: true })).some((a) => mine.has(a.address)); } catch { return false; }
}

/** The failure that caused the others: the first one that is not a peer's consequence (else the first). */
export function rootCause(failures: FailureRecord[]): FailureRecord | null {
  const byTime = [...failures].sort((a, b) => a.time - b.time);
  return byTime.find((f) => !f.peer) ?? byTime[0] ?? null;
}

/** One line naming a failed worker and how it ended. */
export function describeFailure(f: FailureRecord): string {
  const how = f.signal ? `was killed by ${f.signal}` : `exited with code ${f.exitCode}`;
  return `rank ${f.rank} (local rank ${f.localRank} on node ${f.node}, host ${f.host}, pid ${f.pid ?? "?"}) ${how}: ${f.message}`;
}

export class Agent {
  private server: c10d.PrivateStore | null = null;
  private store: c10d.StoreClient | null = null;
  private nodeRank = -1;
  private workers: Worker[] = [];
  private signal: NodeJS.Signals | null = null;
  /** How many nodes joined the last round (the host waits for them to leave before closing the store). */
  private joined = 0;
  private readonly prefix: string;
  private readonly errorDir: string;
  private readonly log: (s: string) => void;

  constructor(private readonly cfg: LaunchConfig, opts: { log?: (s: string) => void } = {}) {
    this.prefix = `${cfg.rdzvId}/`;
    this.errorDir = join(tmpdir(), `torchlight-launch-${cfg.rdzvId}-${process.pid}`);
    this.log = opts.log ?? ((s) => console.error(`torchlight launch: ${s}`));
  }

  /** Runs rounds until the workers succeed, fail with no restart left, or a signal stops them; resolves the exit code. */
  async run(): Promise<number> {
    const onSignal = (sig: NodeJS.Signals) => {
      if (this.signal) { for (const w of this.workers) if (!w.exited) w.child.kill("SIGKILL"); return; }
      this.signal = sig;
      try { this.store?.set(this.key(`stop`), JSON.stringify({ node: this.nodeRank, host: hostname(), signal: sig })); } catch { /* the store is gone: stop locally */ }
    };
    process.on("SIGTERM", onSignal); process.on("SIGINT", onSignal);
    try {
      await this.join();
      for (let round = 0; ; round++) {
        const outcome = await this.round(round);
        if (outcome.kind === "succeeded") return 0;
        if (outcome.kind === "stopped") {
          this.log(`stopped: ${outcome.by}`);
          return 128 + (constants.signals[outcome.signal] ?? 15);
        }
        const cause = rootCause(outcome.failures);
        if (round >= this.cfg.maxRestarts) {
          const others = outcome.failures.filter((f) => f !== cause);
          throw new LaunchError("LAUNCH_WORKERS_FAILED", `the worker group failed${this.cfg.maxRestarts ? ` after ${round} restart${round > 1 ? "s" : ""} (--max-restarts ${this.cfg.maxRestarts})` : " (--max-restarts 0)"}.\n` +
            `Root cause: ${cause ? describeFailure(cause) : "unknown"}${cause?.stack ? `\n${indent(cause.stack)}` : ""}` +
            `${others.length ? `\nAlso failed: ${others.map((f) => `rank ${f.rank} (${f.peer ? "a consequence: " : ""}${f.message.split("\n")[0]})`).join("; ")}` : ""}`);
        }
        this.log(`${cause ? describeFailure(cause) : "a worker failed"}\ntorchlight launch: restarting the worker group on every node (restart ${round + 1} of ${this.cfg.maxRestarts})`);
      }
    } finally {
      process.off("SIGTERM", onSignal); process.off("SIGINT", onSignal);
      await this.leave();
    }
  }

  private key(k: string, round?: number): string { return `${this.prefix}${round === undefined ? "" : `r${round}/`}${k}`; }

  private get storeLost(): LaunchError {
    return new LaunchError("LAUNCH_STORE_LOST", `the rendezvous store at ${this.cfg.rdzvHost}:${this.cfg.rdzvPort} stopped answering (the agent that hosts it, on ${this.cfg.rdzvBackend === "static" ? "node 0" : this.cfg.rdzvHost}, is gone?); stopping this node's workers`);
  }

  private call<T>(f: (s: c10d.StoreClient) => T): T {
    try { return f(this.store!); } catch (e) { throw new LaunchError("LAUNCH_STORE_LOST", `${this.storeLost.message}: ${(e as Error).message}`, { cause: e }); }
  }

  /** Hosts the store (when this node does), connects to it, and takes a node rank. */
  private async join(): Promise<void> {
    const c = this.cfg;
    const hosting = c.standalone || (c.rdzvBackend === "static" ? c.nodeRank === 0 : await isThisMachine(c.rdzvHost));
    let port = c.rdzvPort;
    if (hosting) {
      try {
        this.server = c10d.PrivateStore.serve(isLoopback(c.rdzvHost) ? "127.0.0.1" : "0.0.0.0", c.rdzvPort);
        this.server.allow("agents", c.secret);
        port = this.server.port;
        this.cfg.rdzvPort = port;
      } catch (e) {
        // c10d: another agent on this machine hosts it already (as torchrun's c10d backend, join it as a client)
        if (c.rdzvBackend !== "c10d" || c.standalone) {
          throw new LaunchError("LAUNCH_RENDEZVOUS", `could not host the rendezvous store on port ${c.rdzvPort}: ${(e as Error).message}. Is another job using it? Give another port (--rdzv-endpoint host:port or --master-port)`, { cause: e });
        }
      }
    }
    try { this.store = await c10d.StoreClient.connect(c.rdzvHost, port, c.secret, c.joinTimeoutS * 1000); } catch (e) {
      throw new LaunchError("LAUNCH_RENDEZVOUS", `could not join the rendezvous store at ${c.rdzvHost}:${port} within ${c.joinTimeoutS} s: ${(e as Error).message}. Check that node 0's agent (static) or the endpoint's machine (c10d) runs, that this node can reach it, and that every node has the same secret`, { cause: e });
    }
    if (c.nodeRank !== null) this.nodeRank = c.nodeRank;
    else {
      this.nodeRank = this.call((s) => s.add(this.key("nodes"), 1)) - 1;
      if (this.nodeRank >= c.nnodes) throw new LaunchError("LAUNCH_RENDEZVOUS", `more agents joined rendezvous ${JSON.stringify(c.rdzvId)} than --nnodes ${c.nnodes} (this one would be node ${this.nodeRank}); give each job its own --rdzv-id`);
    }
  }

  /** One round: rendezvous, start the workers, watch them and the other nodes. */
  private async round(r: number): Promise<RoundOutcome> {
    const c = this.cfg;
    this.call((s) => s.set(this.key(`joined/${this.nodeRank}`, r), JSON.stringify({ host: hostname(), nproc: c.nprocPerNode })));
    if (this.server) {
      const secret = randomBytes(24).toString("hex");
      if (r > 0) this.server.revoke(`w${r - 1}`);
      this.server.allow(`w${r}`, secret);
      this.call((s) => s.set(this.key("secret", r), secret));
    }
    const nodes = await this.waitJoined(r);
    if (!Array.isArray(nodes)) return nodes;
    const secret = await this.store!.get(this.key("secret", r), c.joinTimeoutS * 1000).catch((e: unknown) => { throw new LaunchError("LAUNCH_STORE_LOST", `${this.storeLost.message}: ${(e as Error).message}`); });
    const worldSize = nodes.reduce((a, n) => a + n.nproc, 0);
    const base = nodes.slice(0, this.nodeRank).reduce((a, n) => a + n.nproc, 0);
    rmSync(join(this.errorDir, `round_${r}`), { recursive: true, force: true });
    this.workers = Array.from({ length: c.nprocPerNode }, (_, localRank) => this.spawn(r, base + localRank, localRank, worldSize, secret));
    if (r === 0 || this.nodeRank === 0) this.log(`node ${this.nodeRank} of ${c.nnodes}: ${c.nprocPerNode} worker${c.nprocPerNode > 1 ? "s" : ""} (ranks ${base}..${base + c.nprocPerNode - 1} of ${worldSize}), round ${r}, rendezvous ${c.rdzvHost}:${c.rdzvPort}`);
    return this.monitor(r);
  }

  /** Waits until every node joined round r (or a stop); their hosts and worker counts by node rank. */
  private async waitJoined(r: number): Promise<{ host: string; nproc: number }[] | RoundOutcome> {
    const c = this.cfg;
    const keys = Array.from({ length: c.nnodes }, (_, n) => this.key(`joined/${n}`, r));
    const deadline = Date.now() + c.joinTimeoutS * 1000;
    for (;;) {
      const [stop, ...got] = this.call((s) => s.getNow([this.key("stop"), ...keys]));
      if (stop || this.signal) return this.stopped(stop ?? null);
      if (got.every((v) => v !== null)) {
        this.joined = c.nnodes;
        return got.map((v) => JSON.parse(v!) as { host: string; nproc: number });
      }
      if (Date.now() > deadline) {
        const missing = got.flatMap((v, n) => (v === null ? [n] : []));
        throw new LaunchError("LAUNCH_RENDEZVOUS", `rendezvous ${JSON.stringify(c.rdzvId)} round ${r}: node${missing.length > 1 ? "s" : ""} ${missing.join(", ")} did not join within ${c.joinTimeoutS} s (--rdzv-conf join_timeout); start the agent on every one of the --nnodes ${c.nnodes} nodes`);
      }
      await sleep(50);
    }
  }

  private spawn(r: number, rank: number, localRank: number, worldSize: number, secret: string): Worker {
    const c = this.cfg;
    const errorFile = join(this.errorDir, `round_${r}`, `rank_${rank}`, "error.json");
    mkdirSync(join(errorFile, ".."), { recursive: true });
    const threads = process.env.OMP_NUM_THREADS ?? process.env[ENV.numThreads] ?? String(Math.max(1, Math.floor(cpus().length / c.nprocPerNode)));
    const record = new URL("../distributed/record.js", import.meta.url).href;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RANK: String(rank), LOCAL_RANK: String(localRank), GROUP_RANK: String(this.nodeRank), ROLE_RANK: String(rank), ROLE_NAME: "default",
      WORLD_SIZE: String(worldSize), ROLE_WORLD_SIZE: String(worldSize), LOCAL_WORLD_SIZE: String(c.nprocPerNode), GROUP_WORLD_SIZE: String(c.nnodes),
      MASTER_ADDR: c.rdzvHost, MASTER_PORT: String(c.rdzvPort), TORCHELASTIC_USE_AGENT_STORE: "True",
      TORCHELASTIC_RESTART_COUNT: String(r), TORCHELASTIC_MAX_RESTARTS: String(c.maxRestarts), TORCHELASTIC_RUN_ID: c.rdzvId,
      TORCHELASTIC_ERROR_FILE: errorFile, OMP_NUM_THREADS: threads, [ENV.numThreads]: threads, [ENV.storeSecret]: secret,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${JSON.stringify(record)}`.trim(),
    };
    delete env[ENV.launchSecret];
    delete env[ENV.launchSecretFile];
    const cmd = c.noNode ? { file: c.script, args: c.scriptArgs } : entryScriptCommand([process.execPath, c.script, ...c.scriptArgs], []);
    const child = spawn(cmd.file, cmd.args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const w: Worker = { rank, localRank, child, exited: null, closed: Promise.resolve(), tail: [], errorFile };
    const pipes: Promise<void>[] = [];
    for (const [stream, out] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (l) => {
        out.write(`[rank${rank}]:${l}\n`);
        if (out === process.stderr) { w.tail.push(l); if (w.tail.length > 20) w.tail.shift(); }
      });
      pipes.push(new Promise((res) => lines.once("close", () => res())));
    }
    const exited = new Promise<void>((res) => {
      child.once("error", (e) => { w.tail.push(`could not start ${cmd.file}: ${e.message}`); w.exited ??= { code: 127, signal: null }; res(); });
      child.once("exit", (code, signal) => { w.exited = { code, signal }; res(); });
    });
    w.closed = Promise.all([exited, ...pipes]).then(() => undefined);
    return w;
  }

  /** Watches this node's workers and the round's keys until the round ends. */
  private async monitor(r: number): Promise<RoundOutcome> {
    const c = this.cfg;
    const okKeys = Array.from({ length: c.nnodes }, (_, n) => this.key(`ok/${n}`, r));
    const recorded = new Set<Worker>();
    // records this node's workers that failed by themselves (not yet stopped by the agent)
    const record = async (): Promise<boolean> => {
      const failed = this.workers.filter((w) => !recorded.has(w) && w.exited && (w.exited.code !== 0 || w.exited.signal));
      for (const w of failed) {
        recorded.add(w);
        await w.closed;  // its last lines of stderr
        const f = this.failureOf(w);
        const n = this.call((s) => s.add(this.key("failures", r), 1));
        this.call((s) => s.set(this.key(`failure/${n}`, r), JSON.stringify(f)));
      }
      return failed.length > 0;
    };
    let okSaid = false;
    for (;;) {
      await sleep(c.monitorIntervalS * 1000);
      const [stop, failures, ...oks] = this.call((s) => s.getNow([this.key("stop"), this.key("failures", r), ...okKeys]));
      if (stop || this.signal) return this.stopped(stop ?? null);
      if (await record()) continue;
      if (Number(failures ?? 0) > 0) {
        // workers failing at nearly the same moment (the cause and its consequences) are all
        // recorded, whichever exited first, before the agent stops the rest
        await sleep(FAILURE_SETTLE_MS);
        await record();
        await this.stopWorkers("SIGTERM", FAILURE_GRACE_MS);
        // the other nodes' failures of this round, for the root cause
        await sleep(Math.min(1000, c.monitorIntervalS * 1000 * 5));
        const n = Number(this.call((s) => s.getNow([this.key("failures", r)]))[0] ?? 0);
        const records = this.call((s) => s.getNow(Array.from({ length: n }, (_, i) => this.key(`failure/${i + 1}`, r))));
        return { kind: "failed", failures: records.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as FailureRecord) };
      }
      if (!okSaid && this.workers.every((w) => w.exited?.code === 0)) {
        okSaid = true;
        await Promise.all(this.workers.map((w) => w.closed));
        this.call((s) => s.set(this.key(`ok/${this.nodeRank}`, r), "1"));
        continue;
      }
      if (oks.every((v) => v !== null)) return { kind: "succeeded" };
    }
  }

  private failureOf(w: Worker): FailureRecord {
    const file = readErrorFile(w.errorFile);
    const message = file?.message ?? (w.tail.length ? w.tail.slice(-1)[0]! : "(no error file and no output on stderr)");
    const stack = file?.stack ?? (w.tail.length > 1 ? w.tail.join("\n") : null);
    return {
      rank: w.rank, localRank: w.localRank, node: this.nodeRank, host: hostname(), pid: w.child.pid ?? null, exitCode: w.exited?.code ?? null, signal: w.exited?.signal ?? null,
      message, stack, peer: isPeerFailure({ type: "Error", message: `${message}\n${stack ?? ""}`, ...(file?.code ? { code: file.code } : {}) }), time: file?.timestamp ? file.timestamp * 1000 : Date.now(),
    };
  }

  /** A stop (this node's signal, or another's written in `stop`): the workers get SIGTERM and time to finish. */
  private async stopped(stop: string | null): Promise<RoundOutcome> {
    const by = stop ? (JSON.parse(stop) as { node: number; host: string; signal: NodeJS.Signals }) : { node: this.nodeRank, host: hostname(), signal: this.signal ?? "SIGTERM" };
    await this.stopWorkers(this.signal ?? "SIGTERM", STOP_GRACE_MS);
    return { kind: "stopped", signal: by.signal, by: `the agent on node ${by.node} (${by.host}) received ${by.signal}` };
  }

  /** Sends `sig` to the live workers, waits up to `graceMs`, then SIGKILLs what is left. */
  private async stopWorkers(sig: NodeJS.Signals, graceMs: number): Promise<void> {
    const live = this.workers.filter((w) => !w.exited);
    for (const w of live) w.child.kill(sig);
    const all = Promise.all(this.workers.map((w) => w.closed));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => { timer = setTimeout(() => r("late"), graceMs); });
    const how = await Promise.race([all.then(() => "done" as const), late]);
    clearTimeout(timer);
    if (how === "late") {
      for (const w of this.workers) if (!w.exited) w.child.kill("SIGKILL");
      await all;
    }
  }

  /** Says this node is leaving; the host waits (bounded) for the others before closing the store. */
  private async leave(): Promise<void> {
    for (const w of this.workers) if (!w.exited) w.child.kill("SIGKILL");
    try {
      this.store?.set(this.key(`exit/${this.nodeRank}`), "1");
      if (this.server) {
        const keys = Array.from({ length: this.joined }, (_, n) => this.key(`exit/${n}`));
        for (const deadline = Date.now() + EXIT_WAIT_MS; Date.now() < deadline;) {
          if (this.store!.getNow(keys).every((v) => v !== null)) break;
          await sleep(50);
        }
      }
    } catch { /* the store is gone */ }
    this.store?.close();
    this.server?.close();
    rmSync(this.errorDir, { recursive: true, force: true });
  }
}

const indent = (s: string) => s.split("\n").map((l) => `    ${l}`).join("\n");
