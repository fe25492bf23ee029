/**
 * @module torchlight/lightning/trainer: `Trainer`, as PyTorch Lightning's: a facade over its
 * options, its connectors (./connectors: accelerator and precision, callbacks, data,
 * optimizers, checkpoints, loggers) and its loops (./loops: fit → training epochs →
 * optimisation, evaluation, prediction). `fit`, `validate`, `test` and `predict` set the
 * state and run one implementation (`run`); every hook goes through ./call.
 *
 * Every batch runs inside a tensor scope (`torch.tidy`): what the step and its hooks create
 * is freed after it. Hooks are synchronous; I/O (checkpoint files) and collectives
 * (`syncDist`, DDP) run off the JS thread and are awaited between steps.
 */
import * as torch from "../torch/index.js";
import type { Optimizer } from "../torch/optim/index.js";
import { checkOptions, pyArgs } from "../util/validate.js";
import { defaultRootDir as contextRootDir } from "../util/context.js";
import { LightningError } from "./errors.js";
import { LightningModule } from "./module.js";
import type { LightningDataModule } from "./datamodule.js";
import type { Callback } from "./callbacks/callback.js";
import { ModelCheckpoint } from "./callbacks/model_checkpoint.js";
import { EarlyStopping } from "./callbacks/early_stopping.js";
import { TQDMProgressBar } from "./callbacks/progress.js";
import type { Logger } from "./loggers/logger.js";
import type { ResultCollection } from "./results.js";
import type { Strategy } from "./strategies.js";
import { readCheckpoint, disposeTree, type CheckpointDict } from "./checkpoint.js";
import type { LightningOptimizer } from "./optimizer.js";
import { callCallbackHooks, callHooks, callModuleHook } from "./call.js";
import { AcceleratorConnector } from "./connectors/accelerator_connector.js";
import { initCallbacks, withModuleCallbacks } from "./connectors/callback_connector.js";
import { CheckpointConnector } from "./connectors/checkpoint_connector.js";
import { SignalConnector } from "./connectors/signal_connector.js";
import { DataConnector, isFraction } from "./connectors/data_connector.js";
import { LoggerConnector } from "./connectors/logger_connector.js";
import { configureOptimizers } from "./connectors/optimizer_connector.js";
import { FitLoop } from "./loops/fit_loop.js";
import { EvaluationLoop } from "./loops/evaluation_loop.js";
import { PredictionLoop } from "./loops/prediction_loop.js";
import { wrapOptimizers } from "./loops/optimization.js";
import type { AnyLoader, EvalOptions, FitOptions, Precision, SchedulerEntry, Stage, TrainerOptions } from "./types.js";

export type { AnyLoader, EvalOptions, FitOptions, Precision, TrainerOptions } from "./types.js";

const OPTIONS = ["accelerator", "devices", "numNodes", "strategy", "plugins", "precision", "fastDevRun", "maxEpochs", "minEpochs", "maxSteps", "minSteps", "maxTimeMs",
  "limitTrainBatches", "limitValBatches", "limitTestBatches", "limitPredictBatches", "valCheckInterval", "checkValEveryNEpoch", "numSanityValSteps", "accumulateGradBatches",
  "gradientClipVal", "gradientClipAlgorithm", "deterministic", "logEveryNSteps", "enableProgressBar", "enableCheckpointing", "enableModelSummary", "defaultRootDir",
  "callbacks", "logger", "useDistributedSampler", "barebones"] as const satisfies readonly (keyof TrainerOptions)[];
const misconfigured = (m: string) => new LightningError("PL_MISCONFIGURATION", m);

/**
 * Runs a LightningModule's training, validation, test and prediction.
 * @example
 * const trainer = new pl.Trainer({ maxEpochs: 3, precision: "bf16-mixed" });
 * await trainer.fit(new Classifier(), { trainDataloaders: loader });
 */
export class Trainer {
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
  readonly state: { stage: Stage | null; status: "initializing" | "running" | "finished" | "interrupted" } = { stage: null, status: "initializing" };
  /** Set by callbacks (EarlyStopping) or user code to end fit after the current epoch/step. */
  shouldStop = false;
  sanityChecking = false;
  optimizers: Optimizer<object>[] = [];
  lrSchedulerConfigs: SchedulerEntry[] = [];
  lightningModule: LightningModule | null = null;
  datamodule: LightningDataModule | null = null;
  /** Batches per training epoch after limits (Infinity when the loader has no length). */
  numTrainingBatches = 0;
  numValBatches = 0;

  readonly fitLoop: FitLoop;
  readonly validateLoop: EvaluationLoop;
  readonly testLoop: EvaluationLoop;
  readonly predictLoop: PredictionLoop;
  /** @internal */ readonly _accelerator: AcceleratorConnector;
  /** @internal */ readonly _data = new DataConnector(this);
  /** @internal */ readonly _checkpoint = new CheckpointConnector(this);
  /** @internal Slurm's auto-requeue (SLURMEnvironment({ autoRequeue })). */ readonly _signals = new SignalConnector(this);
  /** @internal */ readonly _logger = new LoggerConnector(this);
  /** @internal what `this.optimizers()` gives the module. */
  _lightningOptimizers: LightningOptimizer[] = [];
  /** @internal the results `log` writes to in the running loop. */
  _results: ResultCollection | null = null;
  /** @internal the batch count between validations, when given as an integer. */
  readonly _valCheckBatches: number | null = null;
  private readonly deferred: Promise<unknown>[] = [];

  constructor(opts: TrainerOptions = {}) {
    checkOptions("Trainer", opts, OPTIONS, misconfigured);
    this._accelerator = new AcceleratorConnector(opts);
    const fdr = opts.fastDevRun ?? false;
    if (fdr !== false && !(fdr === true || (Number.isInteger(fdr) && fdr >= 1))) throw misconfigured(`Trainer: fastDevRun must be a boolean or a positive integer; got ${JSON.stringify(fdr)}`);
    this.fastDevRun = fdr === false ? false : fdr === true ? 1 : fdr;
    this.maxSteps = opts.maxSteps ?? -1;
    this.maxEpochs = this.fastDevRun ? 1 : opts.maxEpochs ?? (this.maxSteps === -1 && !opts.maxTimeMs ? 1000 : -1);
    this.minEpochs = opts.minEpochs ?? 0;
    this.minSteps = opts.minSteps ?? 0;
    this.maxTimeMs = opts.maxTimeMs ?? null;
    const limit = (name: string, v: number | null | undefined): number | null => {
      if (this.fastDevRun) return this.fastDevRun;
      if (v === undefined || v === null) return null;  // Lightning's None: all batches
      if (!(v >= 0) || (!Number.isInteger(v) && !isFraction(v))) throw misconfigured(`Trainer: ${name} must be an integer number of batches (>= 0) or a fraction in (0, 1); got ${v}`);
      return v;
    };
    this.limitTrainBatches = limit("limitTrainBatches", opts.limitTrainBatches);
    this.limitValBatches = limit("limitValBatches", opts.limitValBatches);
    this.limitTestBatches = limit("limitTestBatches", opts.limitTestBatches);
    this.limitPredictBatches = limit("limitPredictBatches", opts.limitPredictBatches);
    const vci = opts.valCheckInterval;
    if (vci === undefined) this.valCheckInterval = 1;
    else if (isFraction(vci)) this.valCheckInterval = vci;
    else if (Number.isInteger(vci) && vci >= 1) { this.valCheckInterval = vci; this._valCheckBatches = vci; }
    else throw misconfigured(`Trainer: valCheckInterval must be a fraction in (0, 1] or a positive number of batches; got ${vci}`);
    this.checkValEveryNEpoch = opts.checkValEveryNEpoch === undefined ? 1 : opts.checkValEveryNEpoch;
    if (this.checkValEveryNEpoch === null && this._valCheckBatches === null) {
      throw misconfigured("Trainer: checkValEveryNEpoch: null needs an integer valCheckInterval (validate every N batches across epochs)");
    }
    this.numSanityValSteps = this.fastDevRun ? 0 : opts.numSanityValSteps ?? 2;
    this.accumulateGradBatches = opts.accumulateGradBatches ?? 1;
    if (!Number.isInteger(this.accumulateGradBatches) || this.accumulateGradBatches < 1) {
      throw misconfigured(`Trainer: accumulateGradBatches must be a positive integer; got ${this.accumulateGradBatches}`);
    }
    this.gradientClipVal = opts.gradientClipVal ?? null;
    this.gradientClipAlgorithm = opts.gradientClipAlgorithm ?? (this.gradientClipVal !== null ? "norm" : null);
    if (this.gradientClipAlgorithm !== null && this.gradientClipAlgorithm !== "norm" && this.gradientClipAlgorithm !== "value") {
      throw misconfigured(`Trainer: gradientClipAlgorithm ${JSON.stringify(this.gradientClipAlgorithm)} is invalid; allowed: "norm", "value"`);
    }
    this.deterministic = opts.deterministic ?? null;
    if (this.deterministic !== null) {
      if (this.deterministic !== true && this.deterministic !== false && this.deterministic !== "warn")
        throw misconfigured(`Trainer: deterministic must be true, false, "warn" or null; got ${JSON.stringify(this.deterministic)}`);
      torch.useDeterministicAlgorithms(this.deterministic !== false, { warnOnly: this.deterministic === "warn" });
      if (this.deterministic !== false) process.env.CUBLAS_WORKSPACE_CONFIG ??= ":4096:8";
    }
    this.logEveryNSteps = opts.logEveryNSteps ?? 50;
    if (!Number.isInteger(this.logEveryNSteps) || this.logEveryNSteps < 1) throw misconfigured(`Trainer: logEveryNSteps must be a positive integer; got ${JSON.stringify(opts.logEveryNSteps)}`);
    // a torchlight/train worker logs into its run folder by default (Ray moves workers into the trial folder)
    this.defaultRootDir = opts.defaultRootDir ?? contextRootDir() ?? process.cwd();
    this.useDistributedSampler = opts.useDistributedSampler ?? true;
    // barebones, as Lightning's: no loggers, progress bar, summary or checkpointing, and asking for one is an error
    const features = opts.barebones ? barebonesDefaults(opts) : opts;
    this.loggers = LoggerConnector.initLoggers(features.logger, this.defaultRootDir, Boolean(this.fastDevRun));
    this.callbacks = initCallbacks(features);
    this.fitLoop = new FitLoop(this);
    this.validateLoop = new EvaluationLoop(this, "validate");
    this.testLoop = new EvaluationLoop(this, "test");
    this.predictLoop = new PredictionLoop(this);
  }

  // ---- properties ------------------------------------------------------------------------------

  get strategy(): Strategy { return this._accelerator.strategy; }
  get accelerator(): "cpu" | "cuda" { return this._accelerator.accelerator; }
  get numDevices(): number { return this._accelerator.numDevices; }
  get numNodes(): number { return this._accelerator.numNodes; }
  /** The precision in Lightning's names ("32-true", "bf16-mixed", ...). */
  get precision(): Precision { return this._accelerator.precisionPlugin.precision; }
  /** The precision plugin (its GradScaler under "16-mixed"). */
  get precisionPlugin(): AcceleratorConnector["precisionPlugin"] { return this._accelerator.precisionPlugin; }
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
  get callbackMetrics(): Record<string, number> { return this._logger.callbackMetrics; }
  set callbackMetrics(v: Record<string, number>) { this._logger.callbackMetrics = v; }
  get loggedMetrics(): Record<string, number> { return this._logger.loggedMetrics; }
  get progressBarMetrics(): Record<string, number> { return this._logger.progressBarMetrics; }
  get checkpointCallbacks(): ModelCheckpoint[] { return this.callbacks.filter((c): c is ModelCheckpoint => c instanceof ModelCheckpoint); }
  get checkpointCallback(): ModelCheckpoint | null { return this.checkpointCallbacks[0] ?? null; }
  get earlyStoppingCallback(): EarlyStopping | null { return this.callbacks.find((c): c is EarlyStopping => c instanceof EarlyStopping) ?? null; }
  get progressBarCallback(): TQDMProgressBar | null { return this.callbacks.find((c): c is TQDMProgressBar => c instanceof TQDMProgressBar) ?? null; }
  get interrupted(): boolean { return this.state.status === "interrupted"; }

  /** Hands slow work (a file write) to the trainer, which awaits it after the current step. */
  defer(p: Promise<unknown>): void { p.catch(() => undefined); this.deferred.push(p); }
  /** @internal awaits the work handed to `defer`. */
  async _flushDeferred(): Promise<void> {
    while (this.deferred.length) await this.deferred.shift();
  }
  /** @internal whether the loggers get this step's metrics (every logEveryNSteps). */
  _shouldUpdateLogs(): boolean { return this._logger.shouldUpdateLogs(); }
  /** @internal writes metrics to every logger (rank 0) at the current logging step. */
  _logToLoggers(metrics: Record<string, number>, step?: number): void { this._logger.logMetrics(metrics, step); }

  // ---- public entry points -----------------------------------------------------------------------

  /**
   * Trains `model` (validating as configured), optionally resuming from `ckptPath`. Arguments
   * as Lightning's, positionally or by name: `fit(model, trainLoader, valLoader)` or
   * `fit(model, { trainDataloaders, valDataloaders, datamodule, ckptPath })`.
   */
  async fit(model: LightningModule, opts?: FitOptions): Promise<void>;
  async fit(model: LightningModule, trainDataloaders?: AnyLoader | null, valDataloaders?: AnyLoader | AnyLoader[] | null, datamodule?: LightningDataModule | null, ckptPath?: string | null): Promise<void>;
  async fit(...args: unknown[]): Promise<void> {
    const { model, ...named } = pyArgs("Trainer.fit", ["model", "trainDataloaders", "valDataloaders", "datamodule", "ckptPath"], args, [], misconfigured);
    const opts = withoutNulls(named) as FitOptions;
    // no ckptPath: a requeued Slurm job's newest hpc_ckpt_N.ckpt (as Lightning), else the strategy's (RayDDPStrategy: the run's latest)
    const ckptPath = opts.ckptPath !== undefined ? opts.ckptPath : this._signals.hpcResumePath() ?? this.strategy.resumeCheckpointPath();
    await this.run("fit", model as LightningModule, { ...opts, ckptPath }, async (resumed) => {
      const train = this._data.trainLoader(opts);
      const val = this._data.loaders("val", opts.valDataloaders);
      await this.fitLoop.run(train, val, resumed);
    });
  }
  /** Runs the validation loop once; returns the logged epoch metrics per loader. Arguments as Lightning's (model, dataloaders, ckptPath, verbose, datamodule), positionally or by name. */
  async validate(model?: LightningModule | null, opts?: EvalOptions): Promise<Record<string, number>[]>;
  async validate(model?: LightningModule | null, dataloaders?: AnyLoader | AnyLoader[] | null, ckptPath?: string | null, verbose?: boolean, datamodule?: LightningDataModule | null): Promise<Record<string, number>[]>;
  async validate(...args: unknown[]): Promise<Record<string, number>[]> {
    return this.evaluate(this.validateLoop, evalArgs("Trainer.validate", EVAL_NAMES, args));
  }
  /** Runs the test loop once; returns the logged epoch metrics per loader. Arguments as `validate`'s. */
  async test(model?: LightningModule | null, opts?: EvalOptions): Promise<Record<string, number>[]>;
  async test(model?: LightningModule | null, dataloaders?: AnyLoader | AnyLoader[] | null, ckptPath?: string | null, verbose?: boolean, datamodule?: LightningDataModule | null): Promise<Record<string, number>[]>;
  async test(...args: unknown[]): Promise<Record<string, number>[]> {
    return this.evaluate(this.testLoop, evalArgs("Trainer.test", EVAL_NAMES, args));
  }
  /**
   * Predictions of `predictStep` for every batch (per loader when several); the caller owns
   * them. Arguments as Lightning's (model, dataloaders, datamodule, returnPredictions,
   * ckptPath); `returnPredictions: false` frees them and returns undefined.
   */
  async predict(model?: LightningModule | null, opts?: EvalOptions & { returnPredictions?: boolean }): Promise<unknown[]>;
  async predict(model?: LightningModule | null, dataloaders?: AnyLoader | AnyLoader[] | null, datamodule?: LightningDataModule | null, returnPredictions?: boolean, ckptPath?: string | null): Promise<unknown[] | undefined>;
  async predict(...args: unknown[]): Promise<unknown[] | undefined> {
    const { model, returnPredictions, ...opts } = evalArgs("Trainer.predict", ["model", "dataloaders", "datamodule", "returnPredictions", "ckptPath"], args);
    let out: unknown[] = [];
    await this.run("predict", model ?? this.needModel("predict"), opts, async () => {
      const loaders = this._data.loaders("predict", opts.dataloaders);
      if (!loaders.length) throw misconfigured("predict: no dataloaders; pass { dataloaders } or a datamodule with predictDataloader()");
      out = await this.predictLoop.run(loaders);
    });
    if (returnPredictions === false) { disposeTree(out); return undefined; }
    return out;
  }

  /** The checkpoint of the current state, as Lightning's `dump_checkpoint`. */
  dumpCheckpoint(weightsOnly = false): CheckpointDict { return this._checkpoint.dump(weightsOnly); }

  /**
   * Writes a checkpoint of the current state to `path` (global rank 0 only). The file is
   * serialised now and written off the JS thread; await the result, or let the trainer
   * await it after the step.
   */
  saveCheckpoint(path: string, opts: { weightsOnly?: boolean } = {}): Promise<void> {
    checkOptions("Trainer.saveCheckpoint", opts, ["weightsOnly"], misconfigured);
    if (!this.lightningModule) throw misconfigured("saveCheckpoint: the trainer has no model yet; call it during or after fit");
    return this._checkpoint.save(path, opts.weightsOnly ?? false);
  }

  private async evaluate(loop: EvaluationLoop, { model, ...opts }: EvalArgs): Promise<Record<string, number>[]> {
    const stage = loop.stage;
    let out: Record<string, number>[] = [];
    await this.run(stage, model ?? this.needModel(stage), opts, async () => {
      const kind = stage === "validate" ? "val" : "test";
      const loaders = this._data.loaders(kind, opts.dataloaders);
      if (!loaders.length) throw misconfigured(`${stage}: no dataloaders; pass { dataloaders } or a datamodule with ${kind}Dataloader()`);
      out = await loop.run(loaders, false);
      if ((opts.verbose ?? true) && this.isGlobalZero) for (const [i, m] of out.entries()) console.log(`${stage === "test" ? "Test" : "Validate"} metric${out.length > 1 ? ` (dataloader ${i})` : ""}`, m);
    });
    return out;
  }

  private needModel(stage: string): LightningModule {
    if (!this.lightningModule) throw misconfigured(`${stage}: no model; pass the LightningModule (trainer.${stage}(model, ...))`);
    return this.lightningModule;
  }

  // ---- the run: set-up, hooks, tear-down ---------------------------------------------------------

  private async run(stage: Stage, model: LightningModule, opts: FitOptions & EvalOptions, body: (resumed: boolean) => Promise<void>): Promise<void> {
    if (!(model instanceof LightningModule)) {
      throw misconfigured(`${stage}: expected a LightningModule but received ${model === null ? "null" : (model as object)?.constructor?.name ?? typeof model}; subclass LightningModule`);
    }
    if (opts.datamodule && (opts.trainDataloaders || opts.valDataloaders || opts.dataloaders)) {
      throw misconfigured(`${stage}: pass either a datamodule or dataloaders, not both`);
    }
    validateModel(stage, model);
    this.state.stage = stage;
    this.state.status = "running";
    this.shouldStop = false;
    this.fitLoop.startedAt = performance.now();
    await this.strategy.launch(this.numDevices, this.numNodes);
    this.lightningModule = model;
    model._attach(this);
    this.datamodule = opts.datamodule ?? null;
    if (this.datamodule) this.datamodule.trainer = this;
    // callbacks the module brings replace the trainer's of the same class
    this.callbacks = withModuleCallbacks(this.callbacks, model);
    let ok = false;
    try {
      if (this.localRank === 0) {
        await this.datamodule?.prepareData();
        callModuleHook(this, "prepareData");
      }
      await this.strategy.barrier();
      await this.datamodule?.setup(stage);
      callHooks(this, "setup", stage);
      this._accelerator.precisionPlugin.convertModule(model);
      let ckpt: CheckpointDict | null = null;
      const ckptPath = this._checkpoint.resolveCkptPath(opts.ckptPath ?? null, stage);
      if (ckptPath) {
        ckpt = await readCheckpoint(ckptPath, this.strategy.rootDevice);
        this._checkpoint.restoreModules(ckpt);
      }
      await this.strategy.setup(model);
      if (stage === "fit") {
        const { optimizers, schedulers } = configureOptimizers(model);
        this.optimizers = optimizers;
        this.lrSchedulerConfigs = schedulers;
        this._lightningOptimizers = wrapOptimizers(this, optimizers, !model.automaticOptimization);
        if (ckpt) this._checkpoint.restoreTrainingState(ckpt);
        if (this.isGlobalZero) for (const l of this.loggers) l.logHyperparams({ ...model.hparams, ...(this.datamodule?.hparams ?? {}) });
      }
      if (ckpt) disposeTree(ckpt);
      if (stage === "fit") { callHooks(this, "onFitStart"); this._signals.register(); }
      await body(ckpt !== null);
      if (stage === "fit") callHooks(this, "onFitEnd");
      await this._flushDeferred();
      ok = true;
    } catch (e) {
      this.state.status = "interrupted";
      for (const c of this.callbacks) { try { c.onException(this, model, e); } catch { /* the original error wins */ } }
      throw e;
    } finally {
      this._signals.teardown();
      try {
        await this.datamodule?.teardown(stage);
        callHooks(this, "teardown", stage);
      } finally {
        if (this.isGlobalZero) for (const l of this.loggers) l.finalize(ok ? "success" : "failed");
        await this._flushDeferred().catch(() => undefined);
        await this.strategy.teardown();
        this._results = null;
        this.fitLoop.epochLoop.releaseRng();
        if (ok) this.state.status = "finished";
      }
    }
  }
}

type EvalArgs = EvalOptions & { model?: LightningModule; returnPredictions?: boolean };
const EVAL_NAMES = ["model", "dataloaders", "ckptPath", "verbose", "datamodule"] as const;
/** Evaluation arguments as Lightning's, positionally or by name (nulls as not given). */
function evalArgs(where: string, names: readonly string[], args: unknown[]): EvalArgs {
  return withoutNulls(pyArgs(where, names, args, [], misconfigured)) as EvalArgs;
}
/** `null` arguments count as not given (Python's None defaults), except ckptPath, where null means "start fresh". */
function withoutNulls(a: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(a).filter(([k, v]) => v !== undefined && (v !== null || k === "ckptPath")));
}

/** Lightning's configuration validator: the methods a stage needs. */
function validateModel(stage: Stage, m: LightningModule): void {
  const has = (k: string) => typeof (m as unknown as Record<string, unknown>)[k] === "function";
  const needs = "Lightning `Trainer` expects as minimum a `trainingStep()`, `trainDataloader()` and `configureOptimizers()` to be defined.";
  if (stage === "fit" && !has("trainingStep")) throw new LightningError("PL_MISSING_METHOD", `No \`trainingStep()\` method defined. ${needs}`);
  if (stage === "fit" && !has("configureOptimizers")) throw new LightningError("PL_MISSING_METHOD", `No \`configureOptimizers()\` method defined. ${needs}`);
  if (stage === "validate" && !has("validationStep")) throw new LightningError("PL_MISSING_METHOD", "No `validationStep()` method defined to run `Trainer.validate`.");
  if (stage === "test" && !has("testStep")) throw new LightningError("PL_MISSING_METHOD", "No `testStep()` method defined to run `Trainer.test`.");
}

/** The feature options under `barebones: true` (each off; turning one on is an error, as in Lightning). */
function barebonesDefaults(opts: TrainerOptions): TrainerOptions {
  for (const k of ["enableCheckpointing", "enableProgressBar", "enableModelSummary"] as const) {
    if (opts[k] === true) throw misconfigured(`Trainer: barebones: true turns ${k} off, but ${k}: true was given; remove one of the two`);
  }
  if (opts.logger !== undefined && opts.logger !== false) throw misconfigured("Trainer: barebones: true turns logging off, but a logger was given; remove one of the two");
  const user = opts.callbacks === undefined ? [] : Array.isArray(opts.callbacks) ? opts.callbacks : [opts.callbacks];
  if (user.some((c) => c instanceof ModelCheckpoint || c instanceof TQDMProgressBar)) throw misconfigured("Trainer: barebones: true turns checkpointing and the progress bar off, but callbacks holds a ModelCheckpoint or TQDMProgressBar; remove one of the two");
  return { ...opts, logger: false, enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false };
}
