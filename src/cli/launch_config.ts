/**
 * @module torchlight/cli/launch_config: `torchlight launch`'s options, as torchrun's: each from
 * its flag (`--nproc-per-node` or `--nproc_per_node`), else from the `PET_*` variable a Kubeflow
 * PyTorchJob sets in place of flags (PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR...), else
 * torchrun's default. Pure: the agent (./agent) gets a checked `LaunchConfig`.
 */
import { Command, CommanderError, Option } from "commander";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { ENV } from "../util/env.js";

export type LaunchErrorCode = "LAUNCH_USAGE" | "LAUNCH_NO_SECRET" | "LAUNCH_RENDEZVOUS" | "LAUNCH_WORKERS_FAILED" | "LAUNCH_STORE_LOST";

/** An error of `torchlight launch`, with a stable `code`. */
export class LaunchError extends Error {
  override name = "LaunchError";
  constructor(readonly code: LaunchErrorCode, message: string, options?: ErrorOptions) { super(message, options); }
}

export interface LaunchConfig {
  nnodes: number;
  /** Workers on this node. */
  nprocPerNode: number;
  /** "static": node ranks given (--node-rank), node 0 hosts the store at the endpoint; "c10d": ranks by arrival, the endpoint's machine hosts it. */
  rdzvBackend: "static" | "c10d";
  /** This node's rank (static; null under c10d: given at the rendezvous). */
  nodeRank: number | null;
  rdzvHost: string;
  /** 0 with --standalone: a free port. */
  rdzvPort: number;
  rdzvId: string;
  /** How long the nodes have to join a rendezvous round. */
  joinTimeoutS: number;
  maxRestarts: number;
  monitorIntervalS: number;
  standalone: boolean;
  /** The run's secret (every node's agent has the same). */
  secret: string;
  /** Run the script as an executable, not with Node (torchrun's --no-python). */
  noNode: boolean;
  script: string;
  scriptArgs: string[];
}

type Env = Record<string, string | undefined>;

const usage = (m: string) => new LaunchError("LAUNCH_USAGE", m);

/** torchrun's options: flag, value name, PET_* variable, default, help. */
const OPTIONS: [flag: string, value: string | null, pet: string, def: string | undefined, help: string][] = [
  ["nnodes", "n", "PET_NNODES", "1", "number of nodes (N, or N:N; elastic ranges are not supported)"],
  ["nproc-per-node", "n", "PET_NPROC_PER_NODE", "1", "workers on this node: a number, \"cpu\" (one per core), \"gpu\" (one per GPU) or \"auto\" (gpu if any, else cpu)"],
  ["node-rank", "r", "PET_NODE_RANK", "0", "this node's rank (static rendezvous)"],
  ["rdzv-backend", "b", "PET_RDZV_BACKEND", "static", "\"static\" (node ranks given, node 0 hosts the store) or \"c10d\" (ranks by arrival, the endpoint's machine hosts it)"],
  ["rdzv-endpoint", "host:port", "PET_RDZV_ENDPOINT", "", "the rendezvous store's address (c10d; static: defaults to --master-addr:--master-port)"],
  ["rdzv-id", "id", "PET_RDZV_ID", "none", "the job's id: every node's agent gives the same"],
  ["rdzv-conf", "k=v,...", "PET_RDZV_CONF", "", "rendezvous settings: join_timeout (seconds, default 600)"],
  ["master-addr", "host", "PET_MASTER_ADDR", "127.0.0.1", "static rendezvous: node 0's address"],
  ["master-port", "port", "PET_MASTER_PORT", "29500", "static rendezvous: the store's port on node 0"],
  ["max-restarts", "n", "PET_MAX_RESTARTS", "0", "restarts of the worker group after a failure"],
  ["monitor-interval", "s", "PET_MONITOR_INTERVAL", "0.1", "seconds between checks of the workers"],
  ["standalone", null, "PET_STANDALONE", undefined, "one node: a store on loopback at a free port, nothing else to give"],
  ["no-node", null, "", undefined, "run the script as an executable, not with Node (torchrun's --no-python)"],
  ["secret-file", "path", ENV.launchSecretFile, undefined, `a file holding the run's secret (a mounted Kubernetes Secret); else ${ENV.launchSecret}`],
];

/** The `launch` command's parser (commander), for parsing and --help. */
export function launchCommand(name = "launch"): Command {
  const cmd = new Command(name)
    .summary("start this node's workers with torchrun's contract (Kubernetes, batch systems, ssh)")
    .description("Start this node's workers with torchrun's contract (one agent per node): RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/MASTER_PORT... A c10d-store rendezvous joins the nodes; a failed worker stops the group on every node, which restarts up to --max-restarts times. Every option can also come from its PET_* variable (as a Kubeflow PyTorchJob sets them).")
    .usage("[options] script [script args...]");
  for (const [flag, value, pet, def, help] of OPTIONS) {
    const o = new Option(`--${flag}${value ? ` <${value}>` : ""}`, `${help}${pet ? ` [${pet}]` : ""}${def ? ` (default: ${def})` : ""}`);
    cmd.addOption(o);
  }
  return cmd.argument("<script>", "the training script (.js, or .ts through tsx)")
    .argument("[args...]", "the script's arguments")
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

/** torchrun spells options with "_" or "-": the flags before the script are made "-" ones. */
export function normaliseFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--" || !a.startsWith("-")) break;
    const m = /^(--[^=]+)(=.*)?$/.exec(a);
    out.push(m ? m[1]!.replace(/_/g, "-") + (m[2] ?? "") : a);
    // an option's value that follows it stays as it is
    if (m && !m[2] && !["--standalone", "--no-node", "--no-python", "--help", "-h"].includes(out.at(-1)!) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return [...out.map((a) => (a === "--no-python" ? "--no-node" : a)), ...argv.slice(i)];
}

const int = (name: string, v: string, min: number): number => {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw usage(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
};

/** "host:port" (IPv6 in brackets); `defPort` when the port is left out, as torchrun's 29400. */
export function parseEndpoint(s: string, defPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(s.trim());
  if (!m) throw usage(`--rdzv-endpoint must be host:port, got ${JSON.stringify(s)}`);
  const port = m[2] === undefined ? defPort : Number(m[2]);
  if (port < 1 || port > 65535) throw usage(`the rendezvous port must be in 1..65535, got ${port}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** The workers per node for --nproc-per-node ("gpu"/"auto" ask `gpuCount`). */
export function nprocOf(v: string, gpuCount: () => number): number {
  const s = v.trim();
  if (s === "cpu") return cpus().length;
  if (s === "gpu" || s === "auto") {
    const n = gpuCount();
    if (n > 0) return n;
    if (s === "gpu") throw usage("--nproc-per-node gpu: this machine has no CUDA device (or torchlight was built without CUDA); give a number of workers or \"cpu\"");
    return cpus().length;
  }
  return int("nproc-per-node", s, 1);
}

/** The run's secret: --secret-file / TORCHLIGHT_LAUNCH_SECRET_FILE, else TORCHLIGHT_LAUNCH_SECRET; one node may go without (a fresh one). */
function secretOf(file: string | undefined, env: Env, nnodes: number): string {
  let s = env[ENV.launchSecret];
  if (file) {
    try { s = readFileSync(file, "utf8").trim(); } catch (e) { throw new LaunchError("LAUNCH_NO_SECRET", `could not read the secret file ${file}: ${(e as Error).message}`); }
  }
  if (s === undefined || s === "") {
    if (nnodes === 1) return randomBytes(24).toString("hex");
    throw new LaunchError("LAUNCH_NO_SECRET", `${nnodes} nodes rendezvous through a store that serves only agents presenting the run's secret, and none was given. ` +
      `Give every node the same secret: ${ENV.launchSecret}=$(openssl rand -hex 24) in the job's environment, or --secret-file PATH (${ENV.launchSecretFile}; a mounted Kubernetes Secret)`);
  }
  if (s.length < 16 || s.length > 512) throw new LaunchError("LAUNCH_NO_SECRET", `the run's secret must have 16 to 512 characters, got ${s.length}; make one with \`openssl rand -hex 24\``);
  return s;
}

/** Reads `torchlight launch`'s arguments (after "launch") and environment into a LaunchConfig. */
export function parseLaunchArgs(argv: readonly string[], env: Env = process.env, gpuCount: () => number = () => 0): LaunchConfig {
  let parsed: Command;
  try {
    parsed = launchCommand("torchlight launch").parse(normaliseFlags(argv), { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) throw e;  // --help was printed
      throw usage(`${e.message.replace(/^error: /, "")} (see torchlight launch --help)`);
    }
    throw e;
  }
  const given = parsed.opts<Record<string, string | boolean | undefined>>();
  // a flag, else its PET_* variable, else torchrun's default
  const o: Record<string, string | boolean | undefined> = {};
  for (const [flag, , pet, def] of OPTIONS) {
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    o[key] = given[key] ?? (pet ? env[pet] : undefined) ?? def;
  }
  // commander's --no-node sets node: false
  o.noNode = given.node === false;
  const [script, scriptArgs] = parsed.processedArgs as [string, string[]];
  const standalone = o.standalone === true || (typeof o.standalone === "string" && !["", "0", "false"].includes(o.standalone));
  const nn = String(o.nnodes).split(":");
  if (nn.length > 2 || (nn.length === 2 && nn[0] !== nn[1])) throw usage(`--nnodes ${o.nnodes}: elastic node ranges (MIN:MAX) are not supported; give a fixed count, as --nnodes ${nn.at(-1)}`);
  let nnodes = int("nnodes", nn[0]!, 1);
  const backend = String(o.rdzvBackend);
  if (backend !== "static" && backend !== "c10d") throw usage(`--rdzv-backend must be "static" or "c10d", got ${JSON.stringify(backend)} (etcd is not supported)`);
  const conf = String(o.rdzvConf ?? "");
  let joinTimeoutS = 600;
  for (const kv of conf.split(",").filter(Boolean)) {
    const [k, v = ""] = kv.split("=");
    if (k === "join_timeout") joinTimeoutS = int("rdzv-conf join_timeout", v, 1);
    else throw usage(`--rdzv-conf: unknown setting ${JSON.stringify(k)} (supported: join_timeout)`);
  }
  let rdzvBackend: LaunchConfig["rdzvBackend"] = backend;
  let nodeRank: number | null = int("node-rank", String(o.nodeRank), 0);
  let host: string, port: number;
  if (standalone) {
    if (nnodes !== 1) throw usage(`--standalone runs one node, but --nnodes is ${nnodes}`);
    rdzvBackend = "c10d"; nodeRank = 0; host = "127.0.0.1"; port = 0;
  } else if (rdzvBackend === "c10d") {
    if (!o.rdzvEndpoint) throw usage("--rdzv-backend c10d needs --rdzv-endpoint host:port (the machine that hosts the store), or --standalone on one node");
    ({ host, port } = parseEndpoint(String(o.rdzvEndpoint), 29400));
    nodeRank = null;
  } else {
    ({ host, port } = o.rdzvEndpoint ? parseEndpoint(String(o.rdzvEndpoint), 29500) : parseEndpoint(`${o.masterAddr}:${o.masterPort}`, 29500));
    if (nodeRank >= nnodes) throw usage(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  }
  nnodes = Math.max(1, nnodes);
  const monitorIntervalS = Number(o.monitorInterval);
  if (!(monitorIntervalS > 0 && monitorIntervalS <= 60)) throw usage(`--monitor-interval must be a number of seconds in (0, 60], got ${JSON.stringify(o.monitorInterval)}`);
  return {
    nnodes, nprocPerNode: nprocOf(String(o.nprocPerNode), gpuCount), rdzvBackend, nodeRank, rdzvHost: host, rdzvPort: port,
    rdzvId: standalone && o.rdzvId === "none" ? randomBytes(6).toString("hex") : String(o.rdzvId), joinTimeoutS,
    maxRestarts: int("max-restarts", String(o.maxRestarts), 0), monitorIntervalS, standalone,
    secret: secretOf(o.secretFile as string | undefined, env, nnodes), noNode: o.noNode === true, script, scriptArgs,
  };
}
