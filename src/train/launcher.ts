/**
 * @module torchlight/train/launcher: how the driver starts its workers (driver-only).
 * - "local": child processes of the driver on this machine (the embedded default).
 * - "slurm": one `srun` job step per worker inside the driver's Slurm allocation (the driver
 *   runs in an `sbatch` script or a `salloc` shell), on the allocation's nodes: in blocks for
 *   placementStrategy PACK/STRICT_PACK (as srun's block distribution), round-robin for
 *   SPREAD/STRICT_SPREAD. Each step gets `--cpus-per-task` = the worker's threads.
 * The driver, its control channel and the rendezvous store stay in the driver's process.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { constants, hostname } from "node:os";
import { join } from "node:path";
import type { ScalingConfig } from "./config.js";
import { TrainConfigError } from "./errors.js";

export type LauncherKind = "local" | "slurm";

/** Where one worker runs. */
export interface Placement {
  rank: number;
  nodeRank: number;
  localRank: number;
  localWorldSize: number;
  /** Intra-op threads (OMP_NUM_THREADS) of this worker. */
  threads: number;
  /** Its device: "cpu", or with useGpu its GPU as the worker sees it. */
  device: string;
}

export interface Launcher {
  readonly kind: LauncherKind;
  /** The address the workers reach the driver at (control channel and rendezvous store). */
  readonly driverHost: string;
  /** The address the driver's servers listen on. */
  readonly listenHost: string;
  readonly placements: Placement[];
  /** The command that starts worker `p` running `file` with `args` (the entry script's command). */
  command(p: Placement, file: string, args: string[]): { file: string; args: string[] };
  /** The signal that ended a worker, read from its launcher's exit code (srun exits 128 + n). */
  exitSignal(code: number | null): NodeJS.Signals | null;
  /** One line for the driver's log. */
  describe(): string;
  /**
   * The nodes of the placement that do not see `dir` as this node does (a nonce file written
   * here, looked for by one short step per node); [] when every node does or there is one node.
   */
  nodesNotSharing(dir: string): string[];
  /** The nodes of the placement where no short step runs any more (a lost host), by name; [] on one machine. */
  nodesLost(): Promise<string[]>;
  /** The name of the node a placement's node rank is. */
  nodeName(nodeRank: number): string;
}

type Env = Record<string, string | undefined>;

/** The launcher `scaling.launcher` asks for, given the environment ("auto": Slurm inside an allocation). */
export function resolveLauncherKind(scaling: Pick<ScalingConfig, "launcher">, env: Env = process.env): LauncherKind {
  if (scaling.launcher !== "auto") return scaling.launcher;
  return env.SLURM_JOB_ID !== undefined && env.SLURM_STEP_ID === undefined ? "slurm" : "local";
}

/** `hostnames` expands a Slurm node list (default: `scontrol show hostnames`). */
export function createLauncher(scaling: ScalingConfig, env: Env = process.env, hostnames = scontrolHostnames): Launcher {
  return resolveLauncherKind(scaling, env) === "slurm" ? slurmLauncher(scaling, env, hostnames) : localLauncher(scaling);
}

function scontrolHostnames(nodelist: string): string[] {
  const r = spawnSync("scontrol", ["show", "hostnames", nodelist], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new TrainConfigError("TRAIN_SLURM", `ScalingConfig: \`scontrol show hostnames ${nodelist}\` failed (${r.error?.message ?? r.stderr.trim()}); launcher "slurm" needs Slurm's client commands (srun, scontrol) on PATH`);
  }
  return r.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
}

function localLauncher(scaling: ScalingConfig): Launcher {
  const n = scaling.numWorkers, threads = scaling.threadsPerWorker();
  // every local worker sees every GPU: worker k uses cuda:k
  const placements = Array.from({ length: n }, (_, rank) => ({ rank, nodeRank: 0, localRank: rank, localWorldSize: n, threads, device: scaling.useGpu ? `cuda:${rank}` : "cpu" }));
  return {
    kind: "local", driverHost: "127.0.0.1", listenHost: "127.0.0.1", placements,
    command: (_p, file, args) => ({ file, args }),
    exitSignal: () => null,
    nodesNotSharing: () => [],
    nodesLost: () => Promise.resolve([]),
    nodeName: () => hostname(),
    describe: () => `${n} worker${n > 1 ? "s" : ""} × ${threads} thread${threads > 1 ? "s" : ""}`,
  };
}

/** Expands Slurm's compressed counts, e.g. SLURM_JOB_CPUS_PER_NODE "4(x2),2" → [4, 4, 2]. */
export function expandSlurmCounts(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!m) throw new TrainConfigError("TRAIN_SLURM", `could not read the Slurm count list ${JSON.stringify(s)} (expected forms like "4(x2),2")`);
    for (let k = 0; k < Number(m[2] ?? 1); k++) out.push(Number(m[1]));
  }
  return out;
}

/** Ranks to nodes: blocks for PACK (rank r on node ⌊r / ⌈n/N⌉⌋), round-robin for SPREAD. */
export function placeOnNodes(n: number, nodes: number, strategy: ScalingConfig["placementStrategy"]): { nodeRank: number; localRank: number; localWorldSize: number }[] {
  const spread = strategy === "SPREAD" || strategy === "STRICT_SPREAD";
  const used = Math.min(nodes, n), per = Math.ceil(n / used);
  const nodeOf = (r: number) => (spread ? r % used : Math.floor(r / per));
  const counts = new Array<number>(used).fill(0);
  const local = Array.from({ length: n }, (_, r) => counts[nodeOf(r)]!++);
  return Array.from({ length: n }, (_, r) => ({ nodeRank: nodeOf(r), localRank: local[r]!, localWorldSize: counts[nodeOf(r)]! }));
}

function slurmLauncher(scaling: ScalingConfig, env: Env, hostnames: (nodelist: string) => string[]): Launcher {
  const n = scaling.numWorkers;
  const jobId = env.SLURM_JOB_ID;
  const nodelist = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  if (!jobId || !nodelist) {
    throw new TrainConfigError("TRAIN_SLURM", "ScalingConfig: launcher \"slurm\" needs a Slurm allocation, and SLURM_JOB_ID/SLURM_JOB_NODELIST are not set; run the driver inside `sbatch` or `salloc`, or use launcher: \"local\"");
  }
  const nodes = hostnames(nodelist);
  const cpus = env.SLURM_JOB_CPUS_PER_NODE ? expandSlurmCounts(env.SLURM_JOB_CPUS_PER_NODE) : nodes.map(() => Number(env.SLURM_CPUS_ON_NODE ?? 1));
  if (scaling.placementStrategy === "STRICT_SPREAD" && n > nodes.length) {
    throw new TrainConfigError("TRAIN_SLURM", `ScalingConfig: placementStrategy STRICT_SPREAD puts each of ${n} workers on its own node, but the allocation has ${nodes.length}; allocate ${n} nodes (sbatch -N ${n}) or use SPREAD`);
  }
  const placed = placeOnNodes(n, nodes.length, scaling.placementStrategy);
  // with useGpu each step asks Slurm for its GPU(s), which then are the only ones it sees: cuda:0
  const gpus = scaling.useGpu ? Math.max(1, Math.ceil(scaling.resourcesPerWorker.GPU ?? 1)) : 0;
  const placements = placed.map((p, rank) => ({
    rank, ...p, threads: scaling.threadsPerWorker(p.localWorldSize, cpus[p.nodeRank] ?? 1), device: gpus ? "cuda:0" : "cpu",
  }));
  const usedNodes = new Set(placed.map((p) => p.nodeRank)).size;
  return {
    kind: "slurm", driverHost: hostname(), listenHost: "0.0.0.0", placements,
    command: (p, file, args) => ({
      file: "srun",
      args: ["--nodes=1", "--ntasks=1", `--relative=${p.nodeRank}`, `--cpus-per-task=${p.threads}`, ...(gpus ? [`--gpus-per-task=${gpus}`] : []), "--exact", "--kill-on-bad-exit=1", "--quiet",
        `--job-name=torchlight-rank${p.rank}`, file, ...args],
    }),
    exitSignal: (code) => code !== null && code > 128 ? (Object.entries(constants.signals).find(([, v]) => v === code - 128)?.[0] as NodeJS.Signals | undefined) ?? null : null,
    describe: () => `${n} worker${n > 1 ? "s" : ""} as Slurm steps of job ${jobId} on ${usedNodes} node${usedNodes > 1 ? "s" : ""} (${nodes.slice(0, usedNodes).join(", ")})`,
    nodesNotSharing: (dir) => (usedNodes > 1 ? slurmNodesNotSharing(dir, usedNodes) : []),
    nodesLost: () => (usedNodes > 1 ? slurmNodesLost(nodes.slice(0, usedNodes)) : Promise.resolve([])),
    nodeName: (k) => nodes[k] ?? `node ${k}`,
  };
}

/** How long a probe step may take to start and answer on a node before the node counts as lost. */
const PROBE_TIMEOUT_MS = 15_000;

/**
 * Runs one short step on each node (in parallel); the nodes where it did not answer within
 * PROBE_TIMEOUT_MS (its slurmd is gone, the node is down) are lost.
 */
function slurmNodesLost(nodes: string[]): Promise<string[]> {
  return Promise.all(nodes.map((node, k) => new Promise<string | null>((resolve) => {
    const p = spawn("srun", ["--nodes=1", "--ntasks=1", `--relative=${k}`, "--quiet", "--job-name=torchlight-node-check", "hostname"], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    p.stdout.on("data", (d) => { out += d; });
    const timer = setTimeout(() => p.kill("SIGKILL"), PROBE_TIMEOUT_MS);
    p.on("error", () => { clearTimeout(timer); resolve(node); });
    p.on("exit", (code) => { clearTimeout(timer); resolve(code === 0 && out.trim() ? null : node); });
  }))).then((r) => r.filter((n): n is string => n !== null));
}

/**
 * Writes a nonce file in `dir` and runs one short step on each of the first `nodes` nodes of
 * the allocation that reports whether it sees it; returns the nodes that do not. Decided by
 * what the nodes see, not by the filesystem's type (a bind mount or an unknown network
 * filesystem reads as a local disk).
 */
export function slurmNodesNotSharing(dir: string, nodes: number): string[] {
  const nonce = join(dir, `.torchlight-shared-${randomBytes(8).toString("hex")}`);
  writeFileSync(nonce, "");
  try {
    const r = spawnSync("srun", [`--nodes=${nodes}`, `--ntasks=${nodes}`, "--ntasks-per-node=1", "--quiet", "--job-name=torchlight-storage-check",
      "sh", "-c", 'if [ -e "$0" ]; then echo "sees $(hostname)"; else echo "misses $(hostname)"; fi', nonce], { encoding: "utf8", timeout: 120_000 });
    if (r.error || r.status !== 0) throw new TrainConfigError("TRAIN_SLURM", `TorchTrainer: the step that checks RunConfig.storagePath on every node (srun on ${nodes} nodes) failed: ${r.error?.message ?? r.stderr.trim()}`);
    return r.stdout.split("\n").filter((l) => l.startsWith("misses ")).map((l) => l.slice(7).trim());
  } finally { rmSync(nonce, { force: true }); }
}
