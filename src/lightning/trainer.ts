/**
 * @module torchlight/lightning/trainer: `Trainer`, as PyTorch Lightning's: `fit`, `validate`,
 * `test`, `predict` and `saveCheckpoint`, with its loops (fit → training epochs → batches,
 * evaluation, prediction) and their progress, hooks in Lightning's order, logging,
 * checkpoints with exact resume, and strategies (one process, or DDP over processes).
 *
 * Every batch runs inside a tensor scope (`torch.tidy`): what the step and its hooks create
 * is freed after it. Hooks are synchronous; I/O (checkpoint files) and collectives
 * (`syncDist`, DDP) run off the JS thread and are awaited between steps.
 */
import { join } from "node:path";
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { Optimizer } from "../torch/optim/index.js";
import { DataLoader, DistributedSampler } from "../data/index.js";

/** A DataLoader of any sample type. */
export type AnyLoader = DataLoader<any>;  // eslint-disable-line @typescript-eslint/no-explicit-any
import { LightningError } from "./errors.js";
import { LightningModule, steps, type OptimizerConfig, type SchedulerConfig } from "./module.js";
import { LightningDataModule } from "./datamodule.js";
import { Callback, type CallbackHook, type Stage } from "./callbacks/callback.js";
import { ModelCheckpoint } from "./callbacks/model_checkpoint.js";
import { EarlyStopping } from "./callbacks/early_stopping.js";
import { ModelSummary } from "./callbacks/model_summary.js";
import { TQDMProgressBar } from "./callbacks/progress.js";
import { Logger } from "./loggers/logger.js";
import { TensorBoardLogger } from "./loggers/tensorboard.js";
import { ResultCollection, type Metrics } from "./results.js";
import { Strategy, resolveStrategy } from "./strategies.js";
import { VERSION, readCheckpoint, disposeTree, type CheckpointDict } from "./checkpoint.js";

/** A plugin: a cluster environment (what Lightning's `plugins` mostly carry). */
export interface Plugin { readonly creatorsProcesses?: boolean }

/** Options of {@link Trainer}, as Lightning's keyword arguments (camelCase). */
export interface TrainerOptions {
  /** "cpu", "cuda" ("gpu"), or "auto" (cuda when available). */
  accelerator?: "cpu" | "cuda" | "gpu" | "auto";
  /** How many devices (processes with DDP), a list of CUDA indices, or "auto". */
  devices?: number | number[] | "auto";
  numNodes?: number;
  /** "auto", "ddp", "single_device", or a Strategy. */
  strategy?: string | Strategy;
  /** Cluster environments and similar (a ClusterEnvironment is given to DDP). */
  plugins?: unknown[];
  /**
   * As Lightning's: "32-true" (default, also 32), "64-true" (64), "bf16-mixed" (autocast to
   * bfloat16 around each step's forward; weights, gradients and optimizer stay float32),
   * "16-mixed" (on CPU it becomes "bf16-mixed" with a warning, as in Lightning), "bf16-true" /
   * "16-true" (the model and floating inputs converted to that dtype). "bf16" and "16" are
   * Lightning's old names of the mixed modes.
   */
  precision?: Precision | 32 | 64 | 16 | "32" | "64" | "16" | "bf16";
  /** Run 1 (or n) batches of train/val/test, no loggers or checkpoints: a quick check of the code. */
  fastDevRun?: boolean | number;
  maxEpochs?: number | null;
  minEpochs?: number | null;
  /** Stop after this many optimizer steps (-1: no limit). */
  maxSteps?: number;
  minSteps?: number | null;
  /** Stop after this much wall time. */
  maxTimeMs?: number | null;
  /** Integer ≥ 1: that many batches; a fraction in (0, 1): that share of the loader; unset: all. */
  limitTrainBatches?: number;
  limitValBatches?: number;
  limitTestBatches?: number;
  limitPredictBatches?: number;
  /** Fraction of the epoch (default 1: once, at its end) or a number of batches between validations. */
  valCheckInterval?: number;
  /** Validate every N epochs (default 1; null with an integer valCheckInterval: count batches across epochs). */
  checkValEveryNEpoch?: number | null;
  /** Validation batches run before training to catch bugs early (default 2; -1: all). */
  numSanityValSteps?: number;
  /** Sum gradients over N batches before each optimizer step. */
  accumulateGradBatches?: number;
  gradientClipVal?: number | null;
  gradientClipAlgorithm?: "norm" | "value" | null;
  /**
   * As Lightning's: true calls `torch.useDeterministicAlgorithms(true)` (ops without a
   * deterministic kernel throw), "warn" makes them warn, false turns it off; unset (null)
   * leaves the setting alone. On CUDA, CUBLAS_WORKSPACE_CONFIG is set as Lightning sets it.
   */
  deterministic?: boolean | "warn" | null;
  /** Write logged metrics every N steps (default 50). */
  logEveryNSteps?: number;
  enableProgressBar?: boolean;
  enableCheckpointing?: boolean;
  enableModelSummary?: boolean;
  /** Where logs and checkpoints go by default (default: the working directory). */
  defaultRootDir?: string;
  callbacks?: Callback[] | Callback;
  /** A logger, several, true (the default TensorBoardLogger) or false (none). */
  logger?: Logger | Logger[] | boolean;
  /** Wrap training loaders in a DistributedSampler under DDP (default true). */
  useDistributedSampler?: boolean;
  /** Run validation inside `fit` (default true when the module has validationStep). */
  barebones?: boolean;
}

/** Loaders and data for fit/validate/test/predict. */
export interface FitOptions {
  trainDataloaders?: AnyLoader;
  valDataloaders?: AnyLoader | AnyLoader[];
  datamodule?: LightningDataModule;
  /** Resume from a checkpoint file, "last" or "best". */
  ckptPath?: string | null;
}
export interface EvalOptions { dataloaders?: AnyLoader | AnyLoader[]; datamodule?: LightningDataModule; ckptPath?: string | null; verbose?: boolean }

/** Batch counters of a loop, as Lightning's `_BatchProgress` (total: since the start; current: this epoch). */
export class Progress {
  total = { ready: 0, started: 0, processed: 0, completed: 0 };
  current = { ready: 0, started: 0, processed: 0, completed: 0 };
  incrementReady(): void { this.total.ready++; this.current.ready++; }
  incrementStarted(): void { this.total.started++; this.current.started++; }
  incrementProcessed(): void { this.total.processed++; this.current.processed++; }
  incrementCompleted(): void { this.total.completed++; this.current.completed++; }
  resetOnRun(): void { this.current = { ready: 0, started: 0, processed: 0, completed: 0 }; }
  stateDict(): Record<string, unknown> { return { total: { ...this.total }, current: { ...this.current } }; }
  loadStateDict(s: Record<string, unknown>): void {
    const t = s.total as Progress["total"] | undefined, c = s.current as Progress["current"] | undefined;
    if (t) this.total = { ...t };
    if (c) this.current = { ...c };
  }
}

/** The training epoch loop's state. */
export class TrainingEpochLoop {
  readonly batchProgress = new Progress();
  /** Optimizer steps so far (the trainer's globalStep). */
  globalStep = 0;
  /** Batches after which an optimizer stepped (the logging step). */
  batchesThatStepped = 0;
  /** Batches done in the current epoch. */
  get batchesDone(): number { return this.batchProgress.current.completed; }
  /** Whether the current epoch's batches are all done (its end hooks may be pending). */
  epochFinished = false;
}
/** The fit loop's state. */
export class FitLoop {
  readonly epochProgress = new Progress();
  readonly epochLoop = new TrainingEpochLoop();
  currentEpoch = 0;
}

interface SchedulerEntry extends Required<Pick<SchedulerConfig, "interval" | "frequency" | "strict">> {
  scheduler: SchedulerConfig["scheduler"]; monitor: string | null; name: string | null; optimizerIndex: number;
}

/** RNG states a checkpoint carries for exact resume. */
interface ResumeState { epochStartRng: Tensor | null; rng: Tensor | null }

const isFraction = (v: number) => v > 0 && v < 1;

export class Trainer {
  readonly strategy: Strategy;
  readonly accelerator: "cpu" | "cuda";
  readonly numDevices: number;
  readonly numNodes: number;
  /** The precision in Lightning's names ("32-true", "bf16-mixed", ...). */
  readonly precision: Precision;
  readonly fastDevRun: false | number;
  readonly maxEpochs: number;
  readonly minEpochs: number;
  readonly maxSteps: number;
  readonly minSteps: number;
  readonly maxTimeMs: number | null;
  readonly limitTrainBatches: number | null;
  readonly limitValBatches: number | null;
  readonly limitTestBatches: number | null;
  readonly limitPredictBatches: number | null;
  /** 1 when validation runs once per epoch, else the fraction or batch count given. */
  readonly valCheckInterval: number;
  readonly checkValEveryNEpoch: number | null;
  readonly numSanityValSteps: number;
  readonly accumulateGradBatches: number;
  readonly gradientClipVal: number | null;
  readonly gradientClipAlgorithm: "norm" | "value" | null;
  readonly deterministic: boolean | "warn" | null;
  readonly logEveryNSteps: number;
  readonly defaultRootDir: string;
  readonly useDistributedSampler: boolean;
  callbacks: Callback[];
  loggers: Logger[];
  readonly fitLoop = new FitLoop();
  readonly state: { stage: Stage | null; status: "initializing" | "running" | "finished" | "interrupted" } = { stage: null, status: "initializing" };
  /** Set by callbacks (EarlyStopping) or user code to end fit after the current epoch/step. */
  shouldStop = false;
  sanityChecking = false;
  callbackMetrics: Record<string, number> = {};
  loggedMetrics: Record<string, number> = {};
  progressBarMetrics: Record<string, number> = {};
  optimizers: Optimizer<object>[] = [];
  lrSchedulerConfigs: SchedulerEntry[] = [];
  lightningModule: LightningModule | null = null;
  datamodule: LightningDataModule | null = null;
  /** Batches per training epoch after limits (Infinity when the loader has no length). */
  numTrainingBatches = 0;
  numValBatches = 0;
  /** @internal the results `log` writes to in the running loop. */
  _results: ResultCollection | null = null;
  private readonly deferred: Promise<unknown>[] = [];
  private readonly resume: ResumeState = { epochStartRng: null, rng: null };
  private valCheckBatches: number | null = null;
  private startedAt = 0;

  constructor(opts: TrainerOptions = {}) {
    const known = new Set(["accelerator", "devices", "numNodes", "strategy", "plugins", "precision", "fastDevRun", "maxEpochs", "minEpochs", "maxSteps", "minSteps", "maxTimeMs",
      "limitTrainBatches", "limitValBatches", "limitTestBatches", "limitPredictBatches", "valCheckInterval", "checkValEveryNEpoch", "numSanityValSteps", "accumulateGradBatches",
      "gradientClipVal", "gradientClipAlgorithm", "deterministic", "logEveryNSteps", "enableProgressBar", "enableCheckpointing", "enableModelSummary", "defaultRootDir",
      "callbacks", "logger", "useDistributedSampler", "barebones"]);
    for (const k of Object.keys(opts)) if (!known.has(k)) throw new LightningError("PL_MISCONFIGURATION", `Trainer: unknown option "${k}" (options are camelCase: ${[...known].slice(0, 8).join(", ")}, ...)`);
    const acc = opts.accelerator ?? "auto";
    if (!["cpu", "cuda", "gpu", "auto"].includes(acc)) throw new LightningError("PL_MISCONFIGURATION", `Trainer: accelerator ${JSON.stringify(acc)} is not supported; use "cpu", "cuda" ("gpu") or "auto"`);
    const cuda = torch.cuda.isAvailable();
    if ((acc === "cuda" || acc === "gpu") && !cuda) throw new LightningError("PL_MISCONFIGURATION", `Trainer(accelerator: "${acc}"): this libtorch has no CUDA device; use accelerator "cpu" or "auto", or build torchlight against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1)`);
    this.accelerator = acc === "auto" ? (cuda ? "cuda" : "cpu") : acc === "gpu" ? "cuda" : acc;
    const devices = opts.devices ?? "auto";
    let deviceIds: number[] | null = null;
    if (devices === "auto") this.numDevices = this.accelerator === "cuda" ? torch.cuda.deviceCount() : 1;
    else if (Array.isArray(devices)) { this.numDevices = devices.length; deviceIds = devices; }
    else if (Number.isInteger(devices) && devices >= 1) this.numDevices = devices;
    else throw new LightningError("PL_MISCONFIGURATION", `Trainer: devices must be a positive integer, a list of device indices or "auto"; got ${JSON.stringify(devices)}`);
    this.numNodes = opts.numNodes ?? 1;
    this.strategy = resolveStrategy(opts.strategy ?? "auto", this.numDevices, this.numNodes);
    const env = (opts.plugins ?? []).find((p) => p !== null && typeof p === "object" && "globalRank" in p && "mainAddress" in p);
    if (env && "clusterEnvironment" in this.strategy) (this.strategy as { clusterEnvironment: unknown }).clusterEnvironment = env;
    const local = Number(process.env.LOCAL_RANK ?? 0);
    if (this.accelerator === "cuda") this.strategy.rootDevice = `cuda:${deviceIds ? deviceIds[local] ?? local : local}`;
    this.precision = resolvePrecision(opts.precision, this.accelerator);
    const fdr = opts.fastDevRun ?? false;
    if (fdr !== false && !(fdr === true || (Number.isInteger(fdr) && fdr >= 1))) throw new LightningError("PL_MISCONFIGURATION", `Trainer: fastDevRun must be a boolean or a positive integer; got ${JSON.stringify(fdr)}`);
    this.fastDevRun = fdr === false ? false : fdr === true ? 1 : fdr;
    this.maxSteps = opts.maxSteps ?? -1;
    this.maxEpochs = this.fastDevRun ? 1 : opts.maxEpochs ?? (this.maxSteps === -1 && !opts.maxTimeMs ? 1000 : -1);
    this.minEpochs = opts.minEpochs ?? 0;
    this.minSteps = opts.minSteps ?? 0;
    this.maxTimeMs = opts.maxTimeMs ?? null;
    const limit = (name: string, v: number | undefined): number | null => {
      if (this.fastDevRun) return this.fastDevRun;
      if (v === undefined) return null;
      if (!(v >= 0) || (!Number.isInteger(v) && !isFraction(v))) throw new LightningError("PL_MISCONFIGURATION", `Trainer: ${name} must be an integer number of batches (>= 0) or a fraction in (0, 1); got ${v}`);
      return v;
    };
    this.limitTrainBatches = limit("limitTrainBatches", opts.limitTrainBatches);
    this.limitValBatches = limit("limitValBatches", opts.limitValBatches);
    this.limitTestBatches = limit("limitTestBatches", opts.limitTestBatches);
    this.limitPredictBatches = limit("limitPredictBatches", opts.limitPredictBatches);
    const vci = opts.valCheckInterval;
    if (vci === undefined || vci === 1 && !Number.isInteger(opts.valCheckInterval)) this.valCheckInterval = 1;
    else if (isFraction(vci)) this.valCheckInterval = vci;
    else if (Number.isInteger(vci) && vci >= 1) { this.valCheckInterval = vci; this.valCheckBatches = vci; }
    else throw new LightningError("PL_MISCONFIGURATION", `Trainer: valCheckInterval must be a fraction in (0, 1] or a positive number of batches; got ${vci}`);
    this.checkValEveryNEpoch = opts.checkValEveryNEpoch === undefined ? 1 : opts.checkValEveryNEpoch;
    if (this.checkValEveryNEpoch === null && this.valCheckBatches === null) {
      throw new LightningError("PL_MISCONFIGURATION", "Trainer: checkValEveryNEpoch: null needs an integer valCheckInterval (validate every N batches across epochs)");
    }
    this.numSanityValSteps = this.fastDevRun ? 0 : opts.numSanityValSteps ?? 2;
    this.accumulateGradBatches = opts.accumulateGradBatches ?? 1;
    if (!Number.isInteger(this.accumulateGradBatches) || this.accumulateGradBatches < 1) {
      throw new LightningError("PL_MISCONFIGURATION", `Trainer: accumulateGradBatches must be a positive integer; got ${this.accumulateGradBatches}`);
    }
    this.gradientClipVal = opts.gradientClipVal ?? null;
    this.gradientClipAlgorithm = opts.gradientClipAlgorithm ?? (this.gradientClipVal !== null ? "norm" : null);
    if (this.gradientClipAlgorithm !== null && this.gradientClipAlgorithm !== "norm" && this.gradientClipAlgorithm !== "value") {
      throw new LightningError("PL_MISCONFIGURATION", `Trainer: gradientClipAlgorithm ${JSON.stringify(this.gradientClipAlgorithm)} is invalid; allowed: "norm", "value"`);
    }
    this.deterministic = opts.deterministic ?? null;
    if (this.deterministic !== null) {
      if (this.deterministic !== true && this.deterministic !== false && this.deterministic !== "warn")
        throw new LightningError("PL_MISCONFIGURATION", `Trainer: deterministic must be true, false, "warn" or null; got ${JSON.stringify(this.deterministic)}`);
      torch.useDeterministicAlgorithms(this.deterministic !== false, { warnOnly: this.deterministic === "warn" });
      if (this.deterministic !== false) process.env.CUBLAS_WORKSPACE_CONFIG ??= ":4096:8";
    }
    this.logEveryNSteps = opts.logEveryNSteps ?? 50;
    // a torchlight/train worker logs into its run folder by default (Ray moves workers into the trial folder)
    this.defaultRootDir = opts.defaultRootDir ?? process.env.TORCHLIGHT_DEFAULT_ROOT_DIR ?? process.cwd();
    this.useDistributedSampler = opts.useDistributedSampler ?? true;
    // loggers: Lightning's default is TensorBoardLogger under defaultRootDir/lightning_logs
    const lg = opts.logger ?? true;
    this.loggers = this.fastDevRun || lg === false ? [] : lg === true ? [new TensorBoardLogger(this.defaultRootDir)] : Array.isArray(lg) ? lg : [lg];
    // callbacks: the user's, then the defaults Lightning adds
    const userCallbacks = opts.callbacks === undefined ? [] : Array.isArray(opts.callbacks) ? [...opts.callbacks] : [opts.callbacks];
    for (const c of userCallbacks) if (!(c instanceof Callback)) throw new LightningError("PL_MISCONFIGURATION", `Trainer: callbacks must be Callback instances; got ${String(c)}`);
    const hasCkpt = userCallbacks.some((c) => c instanceof ModelCheckpoint);
    if (opts.enableCheckpointing === false && hasCkpt) {
      throw new LightningError("PL_MISCONFIGURATION", "Trainer was configured with enableCheckpointing: false but found a ModelCheckpoint in callbacks; remove one of the two");
    }
    const hasBar = userCallbacks.some((c) => c instanceof TQDMProgressBar);
    if (opts.enableProgressBar === false && hasBar) {
      throw new LightningError("PL_MISCONFIGURATION", "Trainer was configured with enableProgressBar: false but found a TQDMProgressBar in callbacks; remove one of the two");
    }
    this.callbacks = userCallbacks;
    // a progress bar or summary the user passed replaces the default one
    if ((opts.enableModelSummary ?? true) && !userCallbacks.some((c) => c instanceof ModelSummary)) this.callbacks.unshift(new ModelSummary());
    if ((opts.enableProgressBar ?? true) && !hasBar) this.callbacks.unshift(new TQDMProgressBar());
    if ((opts.enableCheckpointing ?? true) && !hasCkpt) this.callbacks.push(new ModelCheckpoint());
    this.orderCallbacks();
  }

  // ---- properties ------------------------------------------------------------------------------

  get currentEpoch(): number { return this.fitLoop.currentEpoch; }
  get globalStep(): number { return this.fitLoop.epochLoop.globalStep; }
  get globalRank(): number { return this.strategy.globalRank; }
  get localRank(): number { return this.strategy.localRank; }
  get nodeRank(): number { return this.strategy.nodeRank; }
  get worldSize(): number { return this.strategy.worldSize; }
  get isGlobalZero(): boolean { return this.strategy.isGlobalZero; }
  get logger(): Logger | null { return this.loggers[0] ?? null; }
  /** The first logger's folder (or defaultRootDir). */
  get logDir(): string { return this.logger?.logDir ?? this.defaultRootDir; }
  get checkpointCallbacks(): ModelCheckpoint[] { return this.callbacks.filter((c): c is ModelCheckpoint => c instanceof ModelCheckpoint); }
  get checkpointCallback(): ModelCheckpoint | null { return this.checkpointCallbacks[0] ?? null; }
  get earlyStoppingCallback(): EarlyStopping | null { return this.callbacks.find((c): c is EarlyStopping => c instanceof EarlyStopping) ?? null; }
  get progressBarCallback(): TQDMProgressBar | null { return this.callbacks.find((c): c is TQDMProgressBar => c instanceof TQDMProgressBar) ?? null; }
  get interrupted(): boolean { return this.state.status === "interrupted"; }

  /** Hands slow work (a file write) to the trainer, which awaits it after the current step. */
  defer(p: Promise<unknown>): void { p.catch(() => undefined); this.deferred.push(p); }
  private async flushDeferred(): Promise<void> {
    while (this.deferred.length) await this.deferred.shift();
  }

  // ---- public entry points -----------------------------------------------------------------------

  /** Trains `model` (validating as configured), optionally resuming from `ckptPath`. */
  async fit(model: LightningModule, opts: FitOptions = {}): Promise<void> {
    await this.run("fit", model, opts, async () => {
      const train = this.trainLoader(opts);
      const val = this.loaders("val", opts.valDataloaders);
      await this.runFit(train, val, opts.ckptPath ?? null);
    });
  }

  /** Runs the validation loop once; returns the logged epoch metrics per loader. */
  async validate(model?: LightningModule, opts: EvalOptions = {}): Promise<Record<string, number>[]> {
    return this.evaluateEntry("validate", model, opts);
  }
  /** Runs the test loop once; returns the logged epoch metrics per loader. */
  async test(model?: LightningModule, opts: EvalOptions = {}): Promise<Record<string, number>[]> {
    return this.evaluateEntry("test", model, opts);
  }
  /** Predictions of `predictStep` for every batch (per loader when several); the caller owns them. */
  async predict(model?: LightningModule, opts: EvalOptions = {}): Promise<unknown[]> {
    let out: unknown[] = [];
    await this.run("predict", model ?? this.needModel("predict"), opts, async () => {
      const loaders = this.loaders("predict", opts.dataloaders);
      if (!loaders.length) throw new LightningError("PL_MISCONFIGURATION", "predict: no dataloaders; pass { dataloaders } or a datamodule with predictDataloader()");
      out = await this.runPredict(loaders);
    });
    return out;
  }

  private async evaluateEntry(stage: "validate" | "test", model: LightningModule | undefined, opts: EvalOptions): Promise<Record<string, number>[]> {
    let out: Record<string, number>[] = [];
    await this.run(stage, model ?? this.needModel(stage), opts, async () => {
      const kind = stage === "validate" ? "val" : "test";
      const loaders = this.loaders(kind, opts.dataloaders);
      if (!loaders.length) throw new LightningError("PL_MISCONFIGURATION", `${stage}: no dataloaders; pass { dataloaders } or a datamodule with ${kind}Dataloader()`);
      out = await this.runEvaluation(stage, loaders, false);
      if ((opts.verbose ?? true) && this.isGlobalZero) for (const [i, m] of out.entries()) console.log(`${stage === "test" ? "Test" : "Validate"} metric${out.length > 1 ? ` (dataloader ${i})` : ""}`, m);
    });
    return out;
  }

  private needModel(stage: string): LightningModule {
    if (!this.lightningModule) throw new LightningError("PL_MISCONFIGURATION", `${stage}: no model; pass the LightningModule (trainer.${stage}(model, ...))`);
    return this.lightningModule;
  }

  // ---- the run: set-up, hooks, tear-down ---------------------------------------------------------

  private async run(stage: Stage, model: LightningModule, opts: FitOptions & EvalOptions, body: () => Promise<void>): Promise<void> {
    if (!(model instanceof LightningModule)) {
      throw new LightningError("PL_MISCONFIGURATION", `${stage}: expected a LightningModule but received ${model === null ? "null" : (model as object)?.constructor?.name ?? typeof model}; subclass LightningModule`);
    }
    if (opts.datamodule && (opts.trainDataloaders || opts.valDataloaders || opts.dataloaders)) {
      throw new LightningError("PL_MISCONFIGURATION", `${stage}: pass either a datamodule or dataloaders, not both`);
    }
    this.validateModel(stage, model);
    this.state.stage = stage;
    this.state.status = "running";
    this.shouldStop = false;
    this.startedAt = performance.now();
    await this.strategy.launch(this.numDevices, this.numNodes);
    this.lightningModule = model;
    model._attach(this);
    this.datamodule = opts.datamodule ?? null;
    if (this.datamodule) this.datamodule.trainer = this;
    // callbacks the module brings replace the trainer's of the same class
    const extra = model.configureCallbacks();
    const mine = Array.isArray(extra) ? extra : [extra];
    if (mine.length) {
      const kinds = new Set(mine.map((c) => c.constructor));
      this.callbacks = [...this.callbacks.filter((c) => !kinds.has(c.constructor)), ...mine];
      this.orderCallbacks();
    }
    let ok = false;
    try {
      if (this.localRank === 0) {
        await this.datamodule?.prepareData();
        model.prepareData();
      }
      await this.strategy.barrier();
      await this.datamodule?.setup(stage);
      this.callHook("setup", stage);
      this.moduleHook("setup", stage);
      const dtype = TRUE_DTYPE[this.precision];
      if (dtype) model.to(dtype);
      let ckpt: CheckpointDict | null = null;
      const ckptPath = this.resolveCkptPath(opts.ckptPath ?? null, stage);
      if (ckptPath) {
        ckpt = await readCheckpoint(ckptPath, this.strategy.rootDevice);
        this.restoreModules(ckpt);
      }
      await this.strategy.setup(model);
      if (stage === "fit") {
        this.configureOptimizers(model);
        if (ckpt) this.restoreTrainingState(ckpt);
        if (this.isGlobalZero) for (const l of this.loggers) l.logHyperparams({ ...model.hparams, ...(this.datamodule?.hparams ?? {}) });
      }
      if (ckpt) disposeTree(ckpt);
      if (stage === "fit") { this.callHook("onFitStart"); this.moduleHook("onFitStart"); }
      await body();
      if (stage === "fit") { this.callHook("onFitEnd"); this.moduleHook("onFitEnd"); }
      await this.flushDeferred();
      ok = true;
    } catch (e) {
      this.state.status = "interrupted";
      for (const c of this.callbacks) { try { c.onException(this, model, e); } catch { /* the original error wins */ } }
      throw e;
    } finally {
      try {
        await this.datamodule?.teardown(stage);
        this.callHook("teardown", stage);
        this.moduleHook("teardown", stage);
      } finally {
        if (this.isGlobalZero) for (const l of this.loggers) l.finalize(ok ? "success" : "failed");
        await this.flushDeferred().catch(() => undefined);
        await this.strategy.teardown();
        this._results = null;
        this.resume.epochStartRng?.dispose(); this.resume.rng?.dispose();
        this.resume.epochStartRng = null; this.resume.rng = null;
        if (ok) this.state.status = "finished";
      }
    }
  }

  private validateModel(stage: Stage, m: LightningModule): void {
    const has = (k: string) => typeof (m as unknown as Record<string, unknown>)[k] === "function";
    if (stage === "fit") {
      if (!has("trainingStep")) throw new LightningError("PL_MISSING_METHOD", "No `trainingStep()` method defined. Lightning `Trainer` expects as minimum a `trainingStep()`, `trainDataloader()` and `configureOptimizers()` to be defined.");
      if (!has("configureOptimizers")) throw new LightningError("PL_MISSING_METHOD", "No `configureOptimizers()` method defined. Lightning `Trainer` expects as minimum a `trainingStep()`, `trainDataloader()` and `configureOptimizers()` to be defined.");
    }
    if (stage === "validate" && !has("validationStep")) throw new LightningError("PL_MISSING_METHOD", "No `validationStep()` method defined to run `Trainer.validate`.");
    if (stage === "test" && !has("testStep")) throw new LightningError("PL_MISSING_METHOD", "No `testStep()` method defined to run `Trainer.test`.");
  }

  /** Monitoring callbacks (checkpoints) run last, as Lightning orders them. */
  private orderCallbacks(): void {
    const ckpts = this.callbacks.filter((c) => c instanceof ModelCheckpoint);
    this.callbacks = [...this.callbacks.filter((c) => !(c instanceof ModelCheckpoint)), ...ckpts];
  }

  private callHook(name: CallbackHook, ...args: unknown[]): void {
    const m = this.lightningModule!;
    for (const c of this.callbacks) (c[name] as (...a: unknown[]) => void).call(c, this, m, ...args);
  }
  private monitoringHook(name: CallbackHook, monitoring: boolean): void {
    const m = this.lightningModule!;
    for (const c of this.callbacks) if (c.isMonitoring === monitoring) (c[name] as (...a: unknown[]) => void).call(c, this, m);
  }
  private moduleHook(name: string, ...args: unknown[]): unknown {
    const m = this.lightningModule!;
    const prev = m._enter(name);
    try {
      return (m as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!.call(m, ...args);
    } finally { m._enter(prev); }
  }
  /** callbacks, then the module (Lightning's order for most hooks). */
  private hooks(name: CallbackHook & string, ...args: unknown[]): unknown {
    const m = this.lightningModule!;
    const prev = m._enter(name);
    try { this.callHook(name, ...args); } finally { m._enter(prev); }
    return this.moduleHook(name, ...args);
  }

  // ---- data ------------------------------------------------------------------------------------

  private trainLoader(opts: FitOptions): AnyLoader {
    let loader = opts.trainDataloaders ?? this.datamodule?.trainDataloader?.() ?? (this.lightningModule as unknown as { trainDataloader?: () => AnyLoader }).trainDataloader?.();
    if (!loader) throw new LightningError("PL_MISCONFIGURATION", "fit: no training data; pass { trainDataloaders }, a datamodule with trainDataloader(), or define trainDataloader() on the module");
    if (!(loader instanceof DataLoader)) throw new LightningError("PL_MISCONFIGURATION", `fit: trainDataloaders must be a DataLoader; got ${(loader as object).constructor?.name ?? typeof loader}`);
    loader = this.strategy.processDataloader(loader, true, this.useDistributedSampler);
    return loader;
  }

  private loaders(kind: "val" | "test" | "predict", given: AnyLoader | AnyLoader[] | undefined): AnyLoader[] {
    const name = `${kind}Dataloader`;
    const m = this.lightningModule as unknown as Record<string, (() => unknown) | undefined>;
    const dm = this.datamodule as unknown as Record<string, (() => unknown) | undefined> | null;
    const got = given ?? dm?.[name]?.call(dm) ?? m[name]?.call(m);
    if (got === undefined || got === null) return [];
    const list = (Array.isArray(got) ? got : [got]) as AnyLoader[];
    return list.map((l) => this.strategy.processDataloader(l, false, this.useDistributedSampler));
  }

  private limited(loader: AnyLoader, limit: number | null): number {
    let n: number;
    try { n = loader.length; } catch { n = Infinity; }
    if (limit === null) return n;
    if (isFraction(limit)) {
      if (!Number.isFinite(n)) throw new LightningError("PL_MISCONFIGURATION", "a fractional limit*Batches needs a loader with a length; pass an integer number of batches");
      return Math.floor(n * limit);
    }
    return Math.min(n, limit);
  }

  // ---- optimizers ----------------------------------------------------------------------------------

  private configureOptimizers(model: LightningModule): void {
    const prev = model._enter("configureOptimizers");
    let cfg: OptimizerConfig;
    try { cfg = steps(model).configureOptimizers!(); } finally { model._enter(prev); }
    const optimizers: Optimizer<object>[] = [];
    const scheds: SchedulerEntry[] = [];
    const bad = () => new LightningError("PL_BAD_RETURN", "configureOptimizers() must return an optimizer, a list of optimizers, [optimizers, schedulers], " +
      "{ optimizer, lrScheduler? }, or a list of such dicts");
    const addSched = (s: unknown, optimizerIndex: number, monitor?: string) => {
      const c = (s !== null && typeof s === "object" && "scheduler" in s ? s : { scheduler: s }) as SchedulerConfig;
      if (typeof c.scheduler?.step !== "function") throw bad();
      const interval = c.interval ?? "epoch";
      if (interval !== "epoch" && interval !== "step") throw new LightningError("PL_BAD_RETURN", `configureOptimizers(): lrScheduler.interval must be "epoch" or "step"; got ${JSON.stringify(interval)}`);
      const isPlateau = c.scheduler.constructor.name === "ReduceLROnPlateau";
      const mon = c.monitor ?? monitor ?? null;
      if (isPlateau && !mon) throw new LightningError("PL_BAD_RETURN", "configureOptimizers(): a ReduceLROnPlateau scheduler needs the metric to watch: return { optimizer, lrScheduler: { scheduler, monitor: \"val_loss\" } }");
      scheds.push({ scheduler: c.scheduler, interval, frequency: c.frequency ?? 1, strict: c.strict ?? true, monitor: mon, name: c.name ?? null, optimizerIndex });
    };
    const addDict = (d: { optimizer: Optimizer<object>; lrScheduler?: unknown; monitor?: string }) => {
      if (!(d.optimizer instanceof Optimizer)) throw bad();
      optimizers.push(d.optimizer);
      if (d.lrScheduler) addSched(d.lrScheduler, optimizers.length - 1, d.monitor);
    };
    if (cfg === null || cfg === undefined) {
      throw new LightningError("PL_BAD_RETURN", "configureOptimizers() returned nothing; training needs an optimizer (return one, e.g. new optim.Adam(this.parameters()))");
    } else if (cfg instanceof Optimizer) optimizers.push(cfg);
    else if (Array.isArray(cfg)) {
      if (cfg.length === 2 && Array.isArray(cfg[0]) && Array.isArray(cfg[1])) {
        for (const o of cfg[0] as unknown[]) { if (!(o instanceof Optimizer)) throw bad(); optimizers.push(o); }
        for (const s of cfg[1] as unknown[]) addSched(s, 0);
      } else for (const x of cfg as unknown[]) {
        if (x instanceof Optimizer) optimizers.push(x);
        else if (x !== null && typeof x === "object" && "optimizer" in x) addDict(x as never);
        else throw bad();
      }
    } else if (typeof cfg === "object" && "optimizer" in cfg) addDict(cfg as never);
    else throw bad();
    if (optimizers.length > 1 && model.automaticOptimization) {
      throw new LightningError("PL_MISCONFIGURATION", "Training with multiple optimizers is only supported with manual optimization. Set `this.automaticOptimization = false`, then access your optimizers in `trainingStep` with `this.optimizers()`.");
    }
    if (!model.automaticOptimization) for (const o of optimizers) this.countManualSteps(o);
    this.optimizers = optimizers;
    this.lrSchedulerConfigs = scheds;
  }

  /** Manual optimisation: each optimizer.step() counts as a global step and runs onBeforeOptimizerStep. */
  private countManualSteps(o: Optimizer<object>): void {
    const step = o.step.bind(o);
    o.step = (<T>(closure?: () => T): T | undefined => {
      this.hooks("onBeforeOptimizerStep", o);
      const r = step(closure);
      this.fitLoop.epochLoop.globalStep++;
      return r;
    }) as typeof o.step;
  }

  // ---- checkpoints -----------------------------------------------------------------------------------

  private resolveCkptPath(p: string | null, stage: Stage): string | null {
    if (p === null) return null;
    if (p === "last") {
      const last = this.checkpointCallbacks.map((c) => c.lastModelPath || (c.dirpath ? join(c.dirpath, "last.ckpt") : "")).find((x) => x);
      if (!last) throw new LightningError("PL_CHECKPOINT", `${stage}(ckptPath: "last"): no last checkpoint is known; pass a file path (ModelCheckpoint({ saveLast: true }) writes last.ckpt)`);
      return last;
    }
    if (p === "best") {
      const best = this.checkpointCallback?.bestModelPath;
      if (!best) throw new LightningError("PL_CHECKPOINT", `${stage}(ckptPath: "best"): no best checkpoint is known (fit with a ModelCheckpoint first, or pass a file path)`);
      return best;
    }
    return p;
  }

  /** The checkpoint of the current state, as Lightning's `dump_checkpoint`. */
  dumpCheckpoint(weightsOnly = false): CheckpointDict {
    const m = this.lightningModule!;
    const loop = this.fitLoop;
    const ckpt: CheckpointDict = {
      epoch: loop.currentEpoch,
      global_step: loop.epochLoop.globalStep,
      torchlight_version: VERSION,
      state_dict: m.stateDict(),
      loops: {
        fit_loop: {
          epoch_progress: loop.epochProgress.stateDict(),
          "epoch_loop.batch_progress": loop.epochLoop.batchProgress.stateDict(),
          "epoch_loop.state_dict": { _batches_that_stepped: loop.epochLoop.batchesThatStepped, epoch_finished: loop.epochLoop.epochFinished },
        },
      },
    };
    if (!weightsOnly) {
      const cbs: Record<string, unknown> = {};
      for (const c of this.callbacks) { const s = c.stateDict(); if (Object.keys(s).length) cbs[c.stateKey] = s; }
      ckpt.callbacks = cbs;
      ckpt.optimizer_states = this.optimizers.map((o) => o.stateDict());
      ckpt.lr_schedulers = this.lrSchedulerConfigs.map((s) => s.scheduler.stateDict());
      ckpt.torchlight_rng = { epoch_start: this.resume.epochStartRng, now: torch.getRngState() };
      if (this.datamodule) ckpt[this.datamodule.constructor.name] = this.datamodule.stateDict();
    }
    if (Object.keys(m.hparams).length) { ckpt.hparams_name = "kwargs"; ckpt.hyper_parameters = { ...m.hparams }; }
    if (this.datamodule && Object.keys(this.datamodule.hparams).length) ckpt.datamodule_hyper_parameters = { ...this.datamodule.hparams };
    if (!weightsOnly) for (const c of this.callbacks) c.onSaveCheckpoint(this, m, ckpt);
    m.onSaveCheckpoint(ckpt);
    return ckpt;
  }

  /**
   * Writes a checkpoint of the current state to `path` (global rank 0 only). The file is
   * serialised now and written off the JS thread; await the result, or let the trainer
   * await it after the step.
   */
  saveCheckpoint(path: string, opts: { weightsOnly?: boolean } = {}): Promise<void> {
    if (!this.lightningModule) throw new LightningError("PL_MISCONFIGURATION", "saveCheckpoint: the trainer has no model yet; call it during or after fit");
    if (!this.isGlobalZero) return Promise.resolve();
    const bytes = torch.tidy(() => torch.serialize(this.dumpCheckpoint(opts.weightsOnly ?? false) as torch.Saveable));
    const p = torch.writeAtomic(bytes, path);
    this.defer(p);
    return p;
  }

  private restoreModules(ckpt: CheckpointDict): void {
    const m = this.lightningModule!;
    m.onLoadCheckpoint(ckpt);
    const sd = ckpt.state_dict as Record<string, unknown> | undefined;
    if (!sd) throw new LightningError("PL_CHECKPOINT", `the checkpoint has no "state_dict" (keys: ${Object.keys(ckpt).join(", ")})`);
    m.loadStateDict(sd);
    if (this.datamodule && ckpt[this.datamodule.constructor.name]) this.datamodule.loadStateDict(ckpt[this.datamodule.constructor.name] as Record<string, unknown>);
    const cbs = (ckpt.callbacks ?? {}) as Record<string, Record<string, unknown>>;
    for (const c of this.callbacks) {
      c.onLoadCheckpoint(this, m, ckpt);
      if (cbs[c.stateKey]) c.loadStateDict(cbs[c.stateKey]!);
    }
  }

  private restoreTrainingState(ckpt: CheckpointDict): void {
    const states = ckpt.optimizer_states as unknown[] | undefined;
    if (!states) throw new LightningError("PL_CHECKPOINT", "Trying to restore optimizer state but checkpoint contains only the model. This is probably due to `ModelCheckpoint(saveWeightsOnly: true)`; resume from a full checkpoint");
    if (states.length !== this.optimizers.length) throw new LightningError("PL_CHECKPOINT", `the checkpoint has ${states.length} optimizer states but configureOptimizers() returned ${this.optimizers.length}`);
    this.optimizers.forEach((o, i) => o.loadStateDict(states[i] as never));
    const scheds = (ckpt.lr_schedulers ?? []) as Record<string, unknown>[];
    this.lrSchedulerConfigs.forEach((s, i) => { if (scheds[i]) s.scheduler.loadStateDict(scheds[i]!); });
    const loop = this.fitLoop;
    loop.currentEpoch = Number(ckpt.epoch ?? 0);
    loop.epochLoop.globalStep = Number(ckpt.global_step ?? 0);
    const fit = ((ckpt.loops ?? {}) as Record<string, Record<string, unknown>>).fit_loop ?? {};
    if (fit.epoch_progress) loop.epochProgress.loadStateDict(fit.epoch_progress as Record<string, unknown>);
    if (fit["epoch_loop.batch_progress"]) loop.epochLoop.batchProgress.loadStateDict(fit["epoch_loop.batch_progress"] as Record<string, unknown>);
    const st = (fit["epoch_loop.state_dict"] ?? {}) as Record<string, unknown>;
    loop.epochLoop.batchesThatStepped = Number(st._batches_that_stepped ?? 0);
    loop.epochLoop.epochFinished = Boolean(st.epoch_finished);
    const rng = ckpt.torchlight_rng as { epoch_start?: Tensor | null; now?: Tensor } | undefined;
    this.resume.epochStartRng = rng?.epoch_start ? rng.epoch_start.clone().keep() : null;
    this.resume.rng = rng?.now ? rng.now.clone().keep() : null;
    if (loop.epochLoop.epochFinished) {
      // the checkpoint was written at the end of an epoch: the next one starts afresh
      loop.currentEpoch++;
      loop.epochLoop.batchProgress.resetOnRun();
      loop.epochLoop.epochFinished = false;
      this.resume.epochStartRng?.dispose(); this.resume.epochStartRng = null;
      // and draws from the RNG where the finished epoch left it
      if (this.resume.rng) { torch.setRngState(this.resume.rng); this.resume.rng.dispose(); this.resume.rng = null; }
    }
  }

  // ---- fit --------------------------------------------------------------------------------------------

  private async runFit(train: AnyLoader, val: AnyLoader[], ckptPath: string | null): Promise<void> {
    const m = this.lightningModule!;
    const hasVal = val.length > 0 && typeof (m as unknown as Record<string, unknown>).validationStep === "function" && this.limitValBatches !== 0;
    this.numValBatches = hasVal ? val.reduce((s, l) => s + this.limited(l, this.limitValBatches), 0) : 0;
    if (hasVal && this.numSanityValSteps !== 0 && !ckptPath) {
      this.sanityChecking = true;
      this.callHook("onSanityCheckStart");
      try { await this.runEvaluation("sanity", val, true); } finally { this.sanityChecking = false; }
      this.callHook("onSanityCheckEnd");
      this.callbackMetrics = {}; this.loggedMetrics = {}; this.progressBarMetrics = {};
    }
    m.train();
    this.hooks("onTrainStart");
    while (!this.fitDone()) {
      await this.runTrainingEpoch(train, hasVal ? val : []);
      if (this.fitDone()) break;
    }
    this.hooks("onTrainEnd");
  }

  private minReached(): boolean {
    return this.fitLoop.currentEpoch >= this.minEpochs && this.globalStep >= this.minSteps;
  }
  private fitDone(): boolean {
    const loop = this.fitLoop;
    if (this.maxSteps !== -1 && this.globalStep >= this.maxSteps) return true;
    if (this.maxEpochs !== -1 && loop.currentEpoch >= this.maxEpochs) return true;
    if (this.maxTimeMs !== null && performance.now() - this.startedAt >= this.maxTimeMs) return true;
    if (this.shouldStop && this.minReached()) return true;
    if (this.shouldStop && !this.minReached()) this.shouldStop = false;  // as Lightning: not before minEpochs/minSteps
    return false;
  }

  /** @internal whether the loggers get this step's metrics (every logEveryNSteps). */
  _shouldUpdateLogs(): boolean {
    return (this.fitLoop.epochLoop.batchesThatStepped + 1) % this.logEveryNSteps === 0 || this.shouldStop;
  }
  /** @internal writes metrics to every logger (rank 0) at the current logging step. */
  _logToLoggers(metrics: Record<string, number>, step?: number): void {
    if (!this.isGlobalZero || !this.loggers.length || this.sanityChecking) return;
    const s = step ?? this.fitLoop.epochLoop.batchesThatStepped;
    const withEpoch = { ...metrics, epoch: metrics.epoch ?? this.currentEpoch };
    for (const l of this.loggers) { l.logMetrics(withEpoch, s); l.save(); }
  }
  private absorb(m: Metrics): void {
    Object.assign(this.callbackMetrics, m.callback);
    Object.assign(this.progressBarMetrics, m.pbar);
    Object.assign(this.loggedMetrics, m.log);
  }

  private async runTrainingEpoch(loader: AnyLoader, val: AnyLoader[]): Promise<void> {
    const m = this.lightningModule!;
    const loop = this.fitLoop, el = loop.epochLoop;
    const results = new ResultCollection(true);
    this._results = results;
    const skip = el.batchProgress.current.completed;
    if (skip === 0) el.batchProgress.resetOnRun();
    const sampler = loader.sampler as unknown;
    if (sampler instanceof DistributedSampler) sampler.setEpoch(loop.currentEpoch);
    this.numTrainingBatches = this.limited(loader, this.limitTrainBatches);
    loop.epochProgress.incrementReady();
    this.hooks("onTrainEpochStart");
    loop.epochProgress.incrementStarted();
    // the RNG state the epoch's shuffling starts from; a mid-epoch resume restores it,
    // re-draws the same order, skips the done batches, then restores the step's RNG state
    if (skip > 0 && this.resume.epochStartRng) torch.setRngState(this.resume.epochStartRng);
    else { this.resume.epochStartRng?.dispose(); this.resume.epochStartRng = torch.getRngState().keep(); }
    if (skip > 0) {
      const now = this.resume.rng;
      const restore = () => { if (now) torch.setRngState(now); };
      if (skip >= this.numTrainingBatches) restore();  // every batch was done: only the epoch's end remains
      else loader.skipBatches(skip, restore);
    }
    const valEvery = this.valCheckBatches ?? (this.valCheckInterval < 1 ? Math.max(1, Math.floor(this.numTrainingBatches * this.valCheckInterval)) : null);
    const valThisEpoch = val.length > 0 && (this.checkValEveryNEpoch === null || (loop.currentEpoch + 1) % this.checkValEveryNEpoch === 0);
    for await (const [batch, k] of this.batches(loader, this.numTrainingBatches - skip)) {
      const batchIdx = skip + k;
      const isLast = batchIdx + 1 >= this.numTrainingBatches;
      const stop = await this.runTrainingBatch(batch, batchIdx, isLast);
      const countBatches = this.checkValEveryNEpoch === null ? el.batchProgress.total.completed : batchIdx + 1;
      if (valThisEpoch && (valEvery !== null ? countBatches % valEvery === 0 : isLast)) {
        await this.runEvaluation("validate", val, true);
        this._results = results;
        m.train();
      }
      if (stop === -1) break;
      if (this.maxSteps !== -1 && this.globalStep >= this.maxSteps) break;
      if (this.maxTimeMs !== null && performance.now() - this.startedAt >= this.maxTimeMs) break;
      if (this.shouldStop && this.minReached()) break;
    }
    el.epochFinished = true;
    // epoch end: training epoch metrics, then the hooks (monitoring callbacks after the module)
    const epochMetrics = async () => { const mm = await results.epochMetrics(this.strategy.sync); this.absorb(mm); return mm; };
    await epochMetrics();
    const prev = m._enter("onTrainEpochEnd");
    try { this.monitoringHook("onTrainEpochEnd", false); } finally { m._enter(prev); }
    this.moduleHook("onTrainEpochEnd");
    const em = await epochMetrics();
    this.monitoringHook("onTrainEpochEnd", true);
    loop.epochProgress.incrementProcessed();
    if (Object.keys(em.log).length) this._logToLoggers(em.log, Math.max(0, el.batchesThatStepped - 1));
    this.updateSchedulers("epoch");
    await this.flushDeferred();
    loop.epochProgress.incrementCompleted();
    loop.currentEpoch++;
    el.epochFinished = false;
    el.batchProgress.resetOnRun();
  }

  /** One training batch: hooks, step, backward, optimizer (inside one tensor scope). Returns -1 to end the epoch. */
  private async runTrainingBatch(batch: unknown, batchIdx: number, isLast: boolean): Promise<number> {
    const m = this.lightningModule!;
    const el = this.fitLoop.epochLoop;
    const results = this._results!;
    let signal = 0;
    el.batchProgress.incrementReady();
    let outputs: unknown;
    let stepped = false;
    try {
      outputs = torch.tidy(() => {
        m._enter(null, batch);
        const prev = m._enter("onTrainBatchStart");
        try { this.callHook("onTrainBatchStart", batch, batchIdx); } finally { m._enter(prev); }
        if (this.moduleHook("onTrainBatchStart", batch, batchIdx) === -1) { signal = -1; return undefined; }
        el.batchProgress.incrementStarted();
        const r = m.automaticOptimization ? this.automaticStep(batch, batchIdx, isLast) : this.manualStep(batch, batchIdx);
        stepped = r.stepped;
        return keepOutputs(r.output);
      });
      if (signal === -1) return -1;
      el.batchProgress.incrementProcessed();
      if (stepped || !m.automaticOptimization) this.updateSchedulers("step");
      await results.syncStep(this.strategy.sync);
      const sm = results.stepMetrics();
      this.absorb(sm);
      el.batchProgress.incrementCompleted();
      torch.tidy(() => {
        const prev = m._enter("onTrainBatchEnd");
        try { this.callHook("onTrainBatchEnd", outputs, batch, batchIdx); } finally { m._enter(prev); }
        this.moduleHook("onTrainBatchEnd", outputs, batch, batchIdx);
      });
      const logNow = this._shouldUpdateLogs();
      if (stepped || !m.automaticOptimization) el.batchesThatStepped++;
      if (logNow && Object.keys(sm.log).length) this._logToLoggers(sm.log, el.batchesThatStepped - 1);
      await this.flushDeferred();
      return signal;
    } finally {
      disposeTree(outputs);  // the batch itself is freed by batches()
    }
  }

  private toDevice(batch: unknown): unknown {
    let b = this.strategy.batchToDevice(batch);
    const to = TRUE_DTYPE[this.precision];
    if (to) {
      const cast = (v: unknown): unknown => v instanceof torch.Tensor ? (v.dtype === "float32" ? v.to(to) : v) : Array.isArray(v) ? v.map(cast) : v;
      b = cast(b);
    }
    return b;
  }

  /** @internal Runs a step's forward (training/validation/test/predict step) in the precision's context. */
  _forwardContext<T>(fn: () => T): T {
    if (this.precision !== "bf16-mixed") return fn();
    // Lightning's MixedPrecision: autocast without its weight cache (weights change every step)
    return torch.autocast(this.accelerator, fn, { dtype: "bfloat16", cacheEnabled: false });
  }

  private automaticStep(batch: unknown, batchIdx: number, isLast: boolean): { output: unknown; stepped: boolean } {
    const m = this.lightningModule!;
    const opt = this.optimizers[0]!;
    const acc = this.accumulateGradBatches;
    const shouldStep = (batchIdx + 1) % acc === 0 || isLast;
    let output: unknown;
    const closure = () => {
      const prev = m._enter("trainingStep");
      try { output = this._forwardContext(() => this.strategy.trainingStep(batch, batchIdx)); } finally { m._enter(prev); }
      let loss = lossOf(output);
      if (loss === null) return null;
      if (acc > 1) loss = loss.div(acc);
      if (batchIdx % acc === 0) {
        this.hooks("onBeforeZeroGrad", opt);
        m.optimizerZeroGrad(this.currentEpoch, batchIdx, opt);
      }
      this._backward(loss);
      return loss;
    };
    if (!shouldStep) {
      this.strategy.noBackwardSync(closure);
      return { output, stepped: false };
    }
    const withClip = () => {
      const r = closure();
      this.hooks("onBeforeOptimizerStep", opt);
      const prev = m._enter("configureGradientClipping");
      try { m.configureGradientClipping(opt, this.gradientClipVal, this.gradientClipAlgorithm); } finally { m._enter(prev); }
      return r;
    };
    const prev = m._enter("optimizerStep");
    try { m.optimizerStep(this.currentEpoch, batchIdx, opt, withClip); } finally { m._enter(prev); }
    this.fitLoop.epochLoop.globalStep++;
    return { output, stepped: true };
  }

  private manualStep(batch: unknown, batchIdx: number): { output: unknown; stepped: boolean } {
    const m = this.lightningModule!;
    const before = this.globalStep;
    const prev = m._enter("trainingStep");
    let output: unknown;
    try { output = this._forwardContext(() => this.strategy.trainingStep(batch, batchIdx)); } finally { m._enter(prev); }
    return { output, stepped: this.globalStep > before };
  }

  /** @internal backward with its hooks (automatic, and `manualBackward`). */
  _backward(loss: Tensor): void {
    const m = this.lightningModule!;
    this.hooks("onBeforeBackward", loss);
    m.backward(loss);
    this.hooks("onAfterBackward");
  }

  private updateSchedulers(interval: "step" | "epoch"): void {
    for (const s of this.lrSchedulerConfigs) {
      if (s.interval !== interval) continue;
      const count = interval === "step" ? this.globalStep : this.currentEpoch + 1;
      if (count % s.frequency !== 0) continue;
      if (s.monitor) {
        const v = this.callbackMetrics[s.monitor];
        if (v === undefined) {
          if (!s.strict) continue;
          throw new LightningError("PL_MONITOR", `ReduceLROnPlateau conditioned on metric ${s.monitor} which is not available. Available metrics are: [${Object.keys(this.callbackMetrics).join(", ")}]. Condition can be set using \`monitor\` key in lr scheduler dict`);
        }
        (s.scheduler.step as (x: number) => void)(v);
      } else (s.scheduler.step as () => void)();
    }
  }

  // ---- evaluation and prediction -----------------------------------------------------------------

  private async runEvaluation(kind: "validate" | "test" | "sanity", loaders: AnyLoader[], inFit: boolean): Promise<Record<string, number>[]> {
    const m = this.lightningModule!;
    const T = kind === "test" ? "Test" : "Validation";
    const step = kind === "test" ? "testStep" : "validationStep";
    const limit = kind === "test" ? this.limitTestBatches : kind === "sanity" ? (this.numSanityValSteps === -1 ? this.limitValBatches : this.numSanityValSteps) : this.limitValBatches;
    const results = new ResultCollection(false);
    const outerResults = this._results;
    this._results = results;
    const perLoader: Record<string, number>[] = [];
    const wasTraining = m.training;
    try {
      this.moduleHook(`on${T}ModelEval`);
      this.hooks(`on${T}Start` as CallbackHook);
      this.hooks(`on${T}EpochStart` as CallbackHook);
      for (const [dl, loader] of loaders.entries()) {
        results.dataloaderIdx = loaders.length > 1 ? dl : null;
        for await (const [batch, idx] of this.batches(loader, this.limited(loader, limit))) {
              torch.tidy(() => torch.noGrad(() => {
                m._enter(null, batch);
                const prev = m._enter(`on${T}BatchStart`);
                try { this.callHook(`on${T}BatchStart` as CallbackHook, batch, idx, dl); } finally { m._enter(prev); }
                this.moduleHook(`on${T}BatchStart`, batch, idx, dl);
                const p2 = m._enter(step);
                let out: unknown;
                try {
                  const fn = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[step]!;
                  out = this._forwardContext(() => loaders.length > 1 ? fn.call(m, batch, idx, dl) : fn.call(m, batch, idx));
                } finally { m._enter(p2); }
                const p3 = m._enter(`on${T}BatchEnd`);
                try { this.callHook(`on${T}BatchEnd` as CallbackHook, out, batch, idx, dl); } finally { m._enter(p3); }
                this.moduleHook(`on${T}BatchEnd`, out, batch, idx, dl);
              }));
              await results.syncStep(this.strategy.sync);
              results.stepMetrics();
        }
      }
      results.dataloaderIdx = null;
      this.hooks(`on${T}EpochEnd` as CallbackHook);
      const em = await results.epochMetrics(this.strategy.sync);
      if (kind !== "sanity") {
        this.absorb(em);
        if (Object.keys(em.log).length) this._logToLoggers(em.log, inFit ? this.fitLoop.epochLoop.batchesThatStepped : undefined);
      }
      // one dict per loader, as Lightning: that loader's metrics and those logged outside any loader
      const own = (k: string, i: number) => { const m = /\/dataloader_idx_(\d+)$/.exec(k); return !m || Number(m[1]) === i; };
      for (let i = 0; i < loaders.length; i++) perLoader.push(Object.fromEntries(Object.entries(em.log).filter(([k]) => own(k, i))));
      this.hooks(`on${T}End` as CallbackHook);
      await this.flushDeferred();
    } finally {
      this._results = outerResults;
      if (inFit || wasTraining) this.moduleHook(`on${T}ModelTrain`);
    }
    return perLoader;
  }

  /** The first `n` batches of `loader` on the device, each freed once the consumer moves on. */
  private async *batches(loader: AnyLoader, n: number): AsyncGenerator<[unknown, number]> {
    const it = loader[Symbol.asyncIterator]();
    try {
      for (let idx = 0; idx < n; idx++) {
        const r = await it.next();
        if (r.done) return;
        const batch = this.toDevice(r.value);
        try { yield [batch, idx]; } finally {
          if (batch !== r.value) disposeTree(batch);
          disposeTree(r.value);
        }
      }
    } finally { await it.return?.(); }
  }

  private async runPredict(loaders: AnyLoader[]): Promise<unknown[]> {
    const m = this.lightningModule!;
    const all: unknown[][] = [];
    m.eval();
    this.hooks("onPredictStart");
    this.hooks("onPredictEpochStart");
    for (const [dl, loader] of loaders.entries()) {
      const outs: unknown[] = [];
      for await (const [batch, idx] of this.batches(loader, this.limited(loader, this.limitPredictBatches))) {
            outs.push(torch.tidy(() => torch.noGrad(() => {
              this.hooks("onPredictBatchStart", batch, idx, dl);
              const out = keepOutputs(this._forwardContext(() => loaders.length > 1 ? m.predictStep(batch, idx, dl) : m.predictStep(batch, idx)));
              this.hooks("onPredictBatchEnd", out, batch, idx, dl);
              return out;
            })));
      }
      all.push(outs);
    }
    this.hooks("onPredictEpochEnd");
    this.hooks("onPredictEnd");
    return loaders.length === 1 ? all[0]! : all;
  }
}

/** The loss in a step's output: a tensor, `{ loss }`, or null (skip). */
function lossOf(out: unknown): Tensor | null {
  if (out === null || out === undefined) return null;
  if (out instanceof torch.Tensor) return out;
  if (typeof out === "object" && "loss" in out && (out as { loss: unknown }).loss instanceof torch.Tensor) return (out as { loss: Tensor }).loss;
  throw new LightningError("PL_BAD_RETURN", "In automatic optimization, `trainingStep` must return a Tensor, a dict with a \"loss\" key, or null (to skip the batch); " +
    `it returned ${typeof out === "object" ? `an object with keys [${Object.keys(out as object).join(", ")}]` : typeof out}`);
}

/** Keeps the tensors of a step's output past its scope (detached), so hooks after the scope can read them. */
function keepOutputs(out: unknown): unknown {
  if (out instanceof torch.Tensor) return out.detach().keep();
  if (Array.isArray(out)) return out.map(keepOutputs);
  if (out !== null && typeof out === "object" && Object.getPrototypeOf(out) === Object.prototype) {
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, keepOutputs(v)]));
  }
  return out;
}

/** Lightning's precision names that torchlight runs. */
export type Precision = "32-true" | "64-true" | "bf16-mixed" | "16-mixed" | "bf16-true" | "16-true";
const PRECISIONS: readonly Precision[] = ["32-true", "64-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true"];
/** The dtype the model and its floating inputs are converted to, per precision. */
const TRUE_DTYPE: Partial<Record<Precision, "float64" | "bfloat16" | "float16">> = { "64-true": "float64", "bf16-true": "bfloat16", "16-true": "float16" };

function resolvePrecision(given: unknown, accelerator: "cpu" | "cuda"): Precision {
  const legacy: Record<string, Precision> = { "32": "32-true", "64": "64-true", "16": "16-mixed", bf16: "bf16-mixed" };
  const p = legacy[String(given ?? 32)] ?? String(given);
  if (!(PRECISIONS as readonly string[]).includes(p))
    throw new LightningError("PL_MISCONFIGURATION", `Trainer: precision ${JSON.stringify(given)} is not supported; expected one of ${PRECISIONS.map((x) => `"${x}"`).join(", ")} (or 32, 64, 16, "bf16")`);
  if (p === "16-mixed" && accelerator === "cpu") {
    console.warn("You passed `Trainer(accelerator='cpu', precision='16-mixed')` but AMP with fp16 is not supported on CPU. Using `precision='bf16-mixed'` instead.");
    return "bf16-mixed";
  }
  if (p === "16-mixed")
    throw new LightningError("PL_MISCONFIGURATION", "Trainer: precision \"16-mixed\" on CUDA needs a gradient scaler (torch.amp.GradScaler), which torchlight does not have yet; use \"bf16-mixed\" (same autocast, no scaling needed) or \"32-true\"");
  return p as Precision;
}
