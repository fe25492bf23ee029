/**
 * @module torchlight/lightning/strategies: how the Trainer places the model and talks across
 * processes, as Lightning's strategies: `SingleDeviceStrategy` (one process) and
 * `DDPStrategy` (one process per device, DistributedDataParallel over torchlight/distributed,
 * a `DistributedSampler` injected into the loaders, rank-zero-only I/O). On one machine
 * without a launcher, `DDPStrategy` starts its other processes itself by re-running the
 * entry script, as Lightning's subprocess launcher does.
 */
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import * as torch from "../torch/index.js";
import { nn } from "../torch/index.js";
import { RandomSampler, applyToTensors } from "../data/index.js";
import { withDistributedSampler } from "../data/distributed.js";
import * as dist from "../distributed/index.js";
import { broadcastFlagSync, entryScriptProblem, spawnEntryScript } from "../distributed/internal.js";
import { LightningError } from "./errors.js";
import { checkOptions } from "../util/validate.js";
import { steps, type LightningModule } from "./module.js";
import type { AnyLoader } from "./types.js";
import type { SyncFn } from "./results.js";

/** Runs a LightningModule's training step as a module's forward, so DDP sees it. */
class StepWrapper extends nn.Module {
  constructor(readonly lightning: LightningModule) { super(); }
  override forward(batch: unknown, batchIdx: number): unknown { return steps(this.lightning).trainingStep!(batch, batchIdx); }
}

export abstract class Strategy {
  /** The device the module and batches live on ("cpu", "cuda:0"). */
  rootDevice = "cpu";
  /** @internal */ lightningModule: LightningModule | null = null;
  get globalRank(): number { return 0; }
  get localRank(): number { return 0; }
  get nodeRank(): number { return 0; }
  get worldSize(): number { return 1; }
  get isGlobalZero(): boolean { return this.globalRank === 0; }
  /** Starts the other processes when this strategy needs to (returns false in a process that must not train). */
  async launch(_devices: number, _numNodes: number): Promise<void> {}
  /** Moves the module, joins process groups, wraps the module. */
  async setup(module: LightningModule): Promise<void> {
    this.lightningModule = module;
    if (this.rootDevice !== "cpu") module.to(this.rootDevice);
  }
  /** Runs the training step (through DDP when distributed). */
  trainingStep(batch: unknown, batchIdx: number): unknown { return steps(this.lightningModule!).trainingStep!(batch, batchIdx); }
  /** Runs `fn` without gradient synchronisation (accumulation steps). */
  noBackwardSync<T>(fn: () => T): T { return fn(); }
  /** The loader as this strategy needs it (DDP: with a DistributedSampler). */
  processDataloader(loader: AnyLoader, _shuffle: boolean, _useDistributedSampler: boolean): AnyLoader { return loader; }
  /** Moves a batch to the root device. */
  batchToDevice(batch: unknown): unknown {
    if (this.rootDevice === "cpu") return batch;
    return applyToTensors(batch, (t) => t.to(this.rootDevice));
  }
  async barrier(): Promise<void> {}
  /** The checkpoint `fit` resumes from when no `ckptPath` is given (none here; RayDDPStrategy gives the run's latest after prepareTrainer). */
  resumeCheckpointPath(): string | null { return null; }
  async broadcast<T>(obj: T): Promise<T> { return obj; }
  /** @internal Rank 0's decision on every rank, now (inside a synchronous hook). */
  _broadcastDecision(flag: boolean): boolean { return flag; }
  /** Reduces numbers across processes (null: one process). */
  get sync(): SyncFn | null { return null; }
  /** Whether any (or every) process decided true. */
  async reduceBooleanDecision(decision: boolean, _all = true): Promise<boolean> { return decision; }
  async teardown(): Promise<void> {}
}

/** One process, one device. */
export class SingleDeviceStrategy extends Strategy {
  constructor(device = "cpu") { super(); this.rootDevice = device; }
}

/** Options of {@link DDPStrategy}. */
export interface DDPStrategyOptions extends dist.DDPOptions {
  clusterEnvironment?: dist.ClusterEnvironment;
  processGroupBackend?: "gloo" | "nccl";
  timeoutMs?: number;
}

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  s.on("error", reject);
});

/** Data-parallel training: one process per device, gradients averaged by DistributedDataParallel. */
export class DDPStrategy extends Strategy {
  clusterEnvironment: dist.ClusterEnvironment | null;
  readonly processGroupBackend: "gloo" | "nccl" | undefined;
  readonly timeoutMs: number | undefined;
  readonly ddpOptions: dist.DDPOptions;
  private ddp: dist.DistributedDataParallel<StepWrapper> | null = null;
  private children: ChildProcess[] = [];
  private ownsGroup = false;

  constructor(opts: DDPStrategyOptions = {}) {
    super();
    checkOptions(this.constructor.name, opts, ["clusterEnvironment", "processGroupBackend", "timeoutMs", "bucketCapMb", "findUnusedParameters", "broadcastBuffers", "gradientAsBucketView", "processGroup"],
      (m) => new LightningError("PL_MISCONFIGURATION", m));
    const { clusterEnvironment, processGroupBackend, timeoutMs, ...ddp } = opts;
    this.clusterEnvironment = clusterEnvironment ?? null;
    this.processGroupBackend = processGroupBackend;
    this.timeoutMs = timeoutMs;
    this.ddpOptions = ddp;
  }

  private get env(): dist.ClusterEnvironment {
    this.clusterEnvironment ??= dist.detectClusterEnvironment();
    return this.clusterEnvironment;
  }
  override get globalRank(): number { return dist.isInitialized() ? dist.getRank() : this.env.globalRank(); }
  override get localRank(): number { return this.env.localRank(); }
  override get nodeRank(): number { return this.env.nodeRank(); }
  override get worldSize(): number { return dist.isInitialized() ? dist.getWorldSize() : this.env.worldSize(); }

  /**
   * On one machine without a launcher (LightningEnvironment, no LOCAL_RANK), starts
   * processes 1..N-1 by re-running this script with the same Node flags and LOCAL_RANK,
   * NODE_RANK, WORLD_SIZE, MASTER_ADDR/PORT; this process becomes rank 0.
   */
  override async launch(devices: number, numNodes: number): Promise<void> {
    const env = this.env;
    if (dist.isInitialized() || env.creatorsProcesses) return;
    if (env instanceof dist.LightningEnvironment) {
      env.setWorldSize(devices * numNodes);
      if (devices * numNodes === 1) return;
      const problem = entryScriptProblem();
      if (problem) throw new LightningError("PL_MISCONFIGURATION", `DDPStrategy: the other ${devices - 1} process(es) re-run this program's entry script, but ${problem}, which cannot be re-run; save the program to a file and run it with \`node file.js\`, or use devices: 1`);
      const port = process.env.MASTER_PORT ?? String(await freePort());
      const addr = process.env.MASTER_ADDR ?? "127.0.0.1";
      const nodeRank = Number(process.env.NODE_RANK ?? 0);
      const base = { ...process.env, MASTER_ADDR: addr, MASTER_PORT: port, WORLD_SIZE: String(devices * numNodes), NODE_RANK: String(nodeRank) };
      for (let local = 1; local < devices; local++) {
        const child = spawnEntryScript({ ...base, LOCAL_RANK: String(local), RANK: String(nodeRank * devices + local) });
        this.children.push(child);
      }
      Object.assign(process.env, { MASTER_ADDR: addr, MASTER_PORT: port, WORLD_SIZE: String(devices * numNodes), LOCAL_RANK: "0", RANK: String(nodeRank * devices), NODE_RANK: String(nodeRank) });
      this.clusterEnvironment = new dist.LightningEnvironment(process.env);
    }
  }

  /** The backend the process group gets: the one given, else NCCL on a CUDA root device and Gloo otherwise (Lightning's rule). */
  resolvedProcessGroupBackend(): "gloo" | "nccl" {
    return this.processGroupBackend ?? (this.rootDevice.startsWith("cuda") ? "nccl" : "gloo");
  }

  override async setup(module: LightningModule): Promise<void> {
    await super.setup(module);
    if (!dist.isInitialized()) {
      const env = this.env;
      await dist.initProcessGroup({
        backend: this.resolvedProcessGroupBackend(),
        initMethod: `tcp://${env.mainAddress}:${env.mainPort}`, worldSize: env.worldSize(), rank: env.globalRank(),
        ...(this.timeoutMs !== undefined ? { timeoutMs: this.timeoutMs } : {}),
      });
      this.ownsGroup = true;
    }
    if (dist.getWorldSize() > 1 && module.parameters().some((p) => p.requiresGrad)) {
      this.ddp = await dist.DistributedDataParallel.create(new StepWrapper(module), this.ddpOptions);
    }
  }
  override trainingStep(batch: unknown, batchIdx: number): unknown {
    return this.ddp ? this.ddp.forward(batch, batchIdx) : super.trainingStep(batch, batchIdx);
  }
  override noBackwardSync<T>(fn: () => T): T { return this.ddp ? this.ddp.noSync(fn) : fn(); }

  override processDataloader(loader: AnyLoader, shuffle: boolean, useDistributedSampler: boolean): AnyLoader {
    if (!useDistributedSampler || this.worldSize === 1) return loader;
    return withDistributedSampler(loader, {
      numReplicas: this.worldSize, rank: this.globalRank, shuffle: shuffle && loader.sampler instanceof RandomSampler, seed: Number(process.env.PL_GLOBAL_SEED ?? 0),
    });
  }

  override async barrier(): Promise<void> { if (dist.isInitialized() && dist.getWorldSize() > 1) await dist.barrier(); }
  override async broadcast<T>(obj: T): Promise<T> { return dist.isInitialized() && dist.getWorldSize() > 1 ? dist.broadcastObject(obj, 0) : obj; }
  override _broadcastDecision(flag: boolean): boolean { return dist.isInitialized() && dist.getWorldSize() > 1 ? broadcastFlagSync(flag, 0) : flag; }
  override get sync(): SyncFn | null {
    if (!dist.isInitialized() || dist.getWorldSize() === 1) return null;
    return async (values, op) => {
      const t = torch.tensor(values, { dtype: "float64" });
      try {
        await dist.allReduce(t, { op: op === "avg" ? "avg" : op });
        return t.toArray() as number[];
      } finally { t.dispose(); }
    };
  }
  override async reduceBooleanDecision(decision: boolean, all = true): Promise<boolean> {
    const s = this.sync;
    if (!s) return decision;
    const [n] = await s([decision ? 1 : 0], "sum");
    return all ? n === this.worldSize : n! > 0;
  }
  override async teardown(): Promise<void> {
    this.ddp?.dispose();
    this.ddp = null;
    if (this.ownsGroup && dist.isInitialized()) { dist.destroyProcessGroup(); this.ownsGroup = false; }
    const kids = this.children;
    this.children = [];
    await Promise.all(kids.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.on("exit", (code) => {
        if (code !== 0) console.error(`DDPStrategy: worker process ${c.pid} exited with code ${code}`);
        resolve();
      });
    })));
  }
}

/** Strategies by name, as Lightning's StrategyRegistry ("auto", "ddp", "single_device"...). */
export const StrategyRegistry = new Map<string, () => Strategy>([
  ["single_device", () => new SingleDeviceStrategy()],
  ["ddp", () => new DDPStrategy()],
  ["ddp_spawn", () => new DDPStrategy()],
]);

/** The strategy for a Trainer's `strategy` option. */
export function resolveStrategy(s: string | Strategy, devices: number, numNodes: number): Strategy {
  if (s instanceof Strategy) return s;
  if (s === "auto") return devices * numNodes > 1 ? new DDPStrategy() : new SingleDeviceStrategy();
  const make = StrategyRegistry.get(s);
  if (!make) throw new LightningError("PL_MISCONFIGURATION", `Trainer: strategy ${JSON.stringify(s)} is not known; use "auto", ${[...StrategyRegistry.keys()].map((k) => JSON.stringify(k)).join(", ")} or a Strategy instance`);
  return make();
}
