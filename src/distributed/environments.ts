/**
 * @module torchlight/distributed/environments: where a process sits in a job, read from the
 * launcher's environment variables, as Lightning's cluster environments: Lightning (local),
 * torchrun (TorchElastic), Slurm, MPI (Open MPI, MPICH, PMIx), Kubeflow, LSF.
 * `detectClusterEnvironment()` picks one in Lightning's order, with one fix: MPI is checked
 * before Slurm, because under `mpirun` inside a Slurm allocation the SLURM_* variables
 * describe the allocation's daemons, not the MPI ranks.
 */
import { readFileSync } from "node:fs";

type Env = Record<string, string | undefined>;

/** A bad or incomplete launcher environment. */
export class ClusterEnvironmentError extends Error {
  override name = "ClusterEnvironmentError";
  readonly code = "DIST_CLUSTER_ENV";
}

function int(env: Env, name: string, fallback?: number): number {
  const v = env[name];
  if (v === undefined || v === "") {
    if (fallback !== undefined) return fallback;
    throw new ClusterEnvironmentError(`cluster environment: ${name} is not set`);
  }
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ClusterEnvironmentError(`cluster environment: ${name}=${JSON.stringify(v)} is not an integer`);
  return n;
}

/** Where this process sits: world size, ranks, node, and the main process's address. */
export abstract class ClusterEnvironment {
  constructor(protected readonly env: Env = process.env) {}
  /** Whether the launcher started the processes (true) or torchlight must start them (false). */
  abstract get creatorsProcesses(): boolean;
  abstract get mainAddress(): string;
  abstract get mainPort(): number;
  abstract worldSize(): number;
  abstract globalRank(): number;
  abstract localRank(): number;
  abstract nodeRank(): number;
  /** Lightning's name for `creatorsProcesses`. */
  get createsProcessesExternally(): boolean { return this.creatorsProcesses; }
  /** What a process group needs: the env:// variables for initProcessGroup. */
  toEnv(): Record<string, string> {
    return { MASTER_ADDR: this.mainAddress, MASTER_PORT: String(this.mainPort), WORLD_SIZE: String(this.worldSize()), RANK: String(this.globalRank()), LOCAL_RANK: String(this.localRank()), NODE_RANK: String(this.nodeRank()) };
  }
}

/** A single machine where torchlight starts the processes itself (the default). */
export class LightningEnvironment extends ClusterEnvironment {
  private _worldSize = 1;
  private _globalRank = 0;
  static detect(): boolean { return true; }
  get creatorsProcesses(): boolean { return "LOCAL_RANK" in this.env; }
  get mainAddress(): string { return this.env.MASTER_ADDR ?? "127.0.0.1"; }
  get mainPort(): number { return int(this.env, "MASTER_PORT", 29500); }
  worldSize(): number { return this.env.WORLD_SIZE !== undefined ? int(this.env, "WORLD_SIZE") : this._worldSize; }
  setWorldSize(n: number): void { this._worldSize = n; }
  globalRank(): number { return this.env.RANK !== undefined ? int(this.env, "RANK") : this._globalRank; }
  setGlobalRank(r: number): void { this._globalRank = r; }
  localRank(): number { return int(this.env, "LOCAL_RANK", 0); }
  nodeRank(): number { return int(this.env, "NODE_RANK", int(this.env, "GROUP_RANK", 0)); }
}

/** Processes started by `torchrun` (TorchElastic). */
export class TorchElasticEnvironment extends ClusterEnvironment {
  static detect(env: Env = process.env): boolean {
    return env.TORCHELASTIC_RUN_ID !== undefined || ["RANK", "GROUP_RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"].every((k) => env[k] !== undefined);
  }
  get creatorsProcesses(): boolean { return true; }
  get mainAddress(): string { return this.env.MASTER_ADDR ?? (() => { throw new ClusterEnvironmentError("TorchElasticEnvironment: MASTER_ADDR is not set"); })(); }
  get mainPort(): number { return int(this.env, "MASTER_PORT"); }
  worldSize(): number { return int(this.env, "WORLD_SIZE"); }
  globalRank(): number { return int(this.env, "RANK"); }
  localRank(): number { return int(this.env, "LOCAL_RANK"); }
  nodeRank(): number { return int(this.env, "GROUP_RANK"); }
}

/** The first host of a Slurm node list: "node[003-005,9],gpu1" → "node003". */
export function firstSlurmHost(nodelist: string): string {
  const m = /^([^,[]+)(\[([^\]]+)\])?/.exec(nodelist.trim());
  if (!m) throw new ClusterEnvironmentError(`SLURMEnvironment: cannot read the node list ${JSON.stringify(nodelist)}`);
  if (!m[3]) return m[1]!;
  const first = m[3].split(",")[0]!.split("-")[0]!;
  return m[1]! + first;
}

/** Processes started by `srun` in a Slurm allocation. */
export class SLURMEnvironment extends ClusterEnvironment {
  /**
   * Lightning's auto-requeue (default true): on `requeueSignal` (default SIGUSR1: `sbatch
   * --signal=USR1@90`) the Trainer saves `hpc_ckpt_N.ckpt` in its defaultRootDir at the next
   * step (every rank agreeing on which), rank 0 runs `scontrol requeue` for the job, and fit
   * returns; the requeued job's fit resumes from the newest `hpc_ckpt_*.ckpt` when no ckptPath
   * is given. Only under Slurm (not an interactive job), as Lightning.
   */
  readonly autoRequeue: boolean;
  readonly requeueSignal: NodeJS.Signals;
  constructor(opts: { autoRequeue?: boolean; requeueSignal?: NodeJS.Signals } = {}, env: Env = process.env) {
    super(env);
    for (const k of Object.keys(opts)) {
      if (k !== "autoRequeue" && k !== "requeueSignal") throw new ClusterEnvironmentError(`SLURMEnvironment: unknown option ${JSON.stringify(k)}; it takes autoRequeue and requeueSignal (the environment comes from process.env)`);
    }
    this.autoRequeue = opts.autoRequeue ?? true;
    this.requeueSignal = opts.requeueSignal ?? "SIGUSR1";
    if (typeof this.autoRequeue !== "boolean") throw new ClusterEnvironmentError(`SLURMEnvironment: autoRequeue must be true or false, got ${JSON.stringify(opts.autoRequeue)}`);
    if (!/^SIG[A-Z0-9]+$/.test(String(this.requeueSignal)) || ["SIGKILL", "SIGSTOP"].includes(this.requeueSignal)) {
      throw new ClusterEnvironmentError(`SLURMEnvironment: requeueSignal must be a signal name that can be handled, such as "SIGUSR1" (sbatch --signal=USR1@90); got ${JSON.stringify(opts.requeueSignal)}`);
    }
  }
  static detect(env: Env = process.env): boolean {
    return env.SLURM_NTASKS !== undefined && !["bash", "interactive"].includes(env.SLURM_JOB_NAME ?? "");
  }
  get creatorsProcesses(): boolean { return true; }
  get mainAddress(): string {
    const list = this.env.SLURM_NODELIST ?? this.env.SLURM_JOB_NODELIST;
    if (!list) return "127.0.0.1";
    return firstSlurmHost(list);
  }
  /** MASTER_PORT, else derived from the job id as Lightning does (15000 + its last 4 digits). */
  get mainPort(): number {
    if (this.env.MASTER_PORT !== undefined) return int(this.env, "MASTER_PORT");
    const job = this.env.SLURM_JOB_ID;
    return job ? Number(job.slice(-4)) + 15000 : 12910;
  }
  worldSize(): number { return int(this.env, "SLURM_NTASKS"); }
  globalRank(): number { return int(this.env, "SLURM_PROCID"); }
  localRank(): number { return int(this.env, "SLURM_LOCALID"); }
  nodeRank(): number { return int(this.env, "SLURM_NODEID"); }
}

/**
 * Processes started by an MPI launcher (Open MPI's OMPI_COMM_WORLD_*, MPICH's PMI_*, PMIx).
 * The node index is not in the environment (OMPI_COMM_WORLD_NODE_RANK is the rank *within*
 * the node), so it is derived from the default by-node-block placement: rank ÷ local size.
 */
export class MPIEnvironment extends ClusterEnvironment {
  static detect(env: Env = process.env): boolean {
    return env.OMPI_COMM_WORLD_SIZE !== undefined || env.PMI_SIZE !== undefined || env.PMIX_RANK !== undefined;
  }
  get creatorsProcesses(): boolean { return true; }
  get mainAddress(): string {
    if (this.env.MASTER_ADDR) return this.env.MASTER_ADDR;
    if (this.localWorldSize() === this.worldSize()) return "127.0.0.1";
    throw new ClusterEnvironmentError("MPIEnvironment: the job spans several nodes; export MASTER_ADDR (the host of rank 0) to every rank, e.g. mpirun -x MASTER_ADDR=$(hostname)");
  }
  get mainPort(): number { return int(this.env, "MASTER_PORT", 29500); }
  worldSize(): number { return this.first(["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]); }
  globalRank(): number { return this.first(["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]); }
  localRank(): number { return this.first(["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"], 0); }
  localWorldSize(): number { return this.first(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE"], this.worldSize()); }
  nodeRank(): number { return Math.floor(this.globalRank() / this.localWorldSize()); }
  private first(names: string[], fallback?: number): number {
    for (const n of names) if (this.env[n] !== undefined) return int(this.env, n);
    if (fallback !== undefined) return fallback;
    throw new ClusterEnvironmentError(`MPIEnvironment: none of ${names.join(", ")} is set`);
  }
}

/** A Kubeflow PyTorchJob pod (one process per pod). */
export class KubeflowEnvironment extends ClusterEnvironment {
  static detect(env: Env = process.env): boolean {
    return ["KUBERNETES_PORT", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"].every((k) => env[k] !== undefined);
  }
  get creatorsProcesses(): boolean { return true; }
  get mainAddress(): string { return this.env.MASTER_ADDR!; }
  get mainPort(): number { return int(this.env, "MASTER_PORT"); }
  worldSize(): number { return int(this.env, "WORLD_SIZE"); }
  globalRank(): number { return int(this.env, "RANK"); }
  localRank(): number { return 0; }
  nodeRank(): number { return this.globalRank(); }
}

/** An IBM LSF job launched with jsrun. */
export class LSFEnvironment extends ClusterEnvironment {
  static detect(env: Env = process.env): boolean {
    return ["LSB_JOBID", "LSB_DJOB_RANKFILE", "JSM_NAMESPACE_LOCAL_RANK", "JSM_NAMESPACE_SIZE"].every((k) => env[k] !== undefined);
  }
  get creatorsProcesses(): boolean { return true; }
  /** The first compute host of the rank file (the first line is the launch node). */
  get mainAddress(): string {
    const hosts = readFileSync(this.env.LSB_DJOB_RANKFILE!, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
    const host = hosts[1] ?? hosts[0];
    if (!host) throw new ClusterEnvironmentError(`LSFEnvironment: the rank file ${this.env.LSB_DJOB_RANKFILE} lists no host`);
    return host;
  }
  get mainPort(): number { return this.env.MASTER_PORT !== undefined ? int(this.env, "MASTER_PORT") : 10000 + Number((this.env.LSB_JOBID ?? "0").slice(-4)); }
  worldSize(): number { return int(this.env, "JSM_NAMESPACE_SIZE"); }
  globalRank(): number { return int(this.env, "JSM_NAMESPACE_RANK"); }
  localRank(): number { return int(this.env, "JSM_NAMESPACE_LOCAL_RANK"); }
  nodeRank(): number {
    const hosts = readFileSync(this.env.LSB_DJOB_RANKFILE!, "utf8").split("\n").map((l) => l.trim()).filter(Boolean).slice(1);
    const unique = [...new Set(hosts)];
    const perNode = Math.max(1, Math.floor(this.worldSize() / Math.max(1, unique.length)));
    return Math.floor(this.globalRank() / perNode);
  }
}

/** The launcher's environment: MPI, Slurm, torchrun, Kubeflow, LSF, else a local run. */
export function detectClusterEnvironment(env: Env = process.env): ClusterEnvironment {
  for (const E of [MPIEnvironment, SLURMEnvironment, TorchElasticEnvironment, KubeflowEnvironment, LSFEnvironment]) {
    if (E.detect(env)) return E === SLURMEnvironment ? new SLURMEnvironment({}, env) : new E(env);
  }
  return new LightningEnvironment(env);
}
