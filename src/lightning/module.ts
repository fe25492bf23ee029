/**
 * @module torchlight/lightning/module: `LightningModule`, PyTorch Lightning's programming
 * model: a `nn.Module` that also says how it trains (`trainingStep`), evaluates, predicts
 * and which optimizers it uses, with hooks the Trainer calls in Lightning's order.
 *
 * Steps and hooks run inside the trainer's per-step tensor scope: tensors made there are
 * freed after the step, so user code disposes nothing.
 */
import { nn, type Tensor } from "../torch/index.js";
import type { Optimizer } from "../torch/optim/index.js";
import { LightningError } from "./errors.js";
import { scalarOf, extractBatchSize, type LogOptions } from "./results.js";
import type { Callback, Stage } from "./callbacks/callback.js";
import type { Trainer } from "./trainer.js";
import type { CheckpointDict } from "./checkpoint.js";
import type { Logger } from "./loggers/logger.js";
import { readCheckpoint, disposeTree } from "./checkpoint.js";
import type { LightningOptimizer } from "./optimizer.js";
import { backward } from "./loops/optimization.js";
import { checkOptions } from "../util/validate.js";

const LOG_OPTIONS = ["progBar", "logger", "onStep", "onEpoch", "reduceFx", "syncDist", "batchSize", "rankZeroOnly", "addDataloaderIdx"] as const satisfies readonly (keyof LogOptions)[];
const badLog = (m: string) => new LightningError("PL_BAD_LOG", m);
const misconfigured = (m: string) => new LightningError("PL_MISCONFIGURATION", m);

/** A learning-rate scheduler as `configureOptimizers` may describe it. */
export interface SchedulerConfig {
  scheduler: { step(...args: never[]): void; stateDict(): Record<string, unknown>; loadStateDict(sd: Record<string, unknown>): void; getLastLr?(): number[] };
  /** Step it after every "epoch" (default) or every optimizer "step". */
  interval?: "epoch" | "step";
  /** Step it every `frequency` intervals (default 1). */
  frequency?: number;
  /** The metric a ReduceLROnPlateau scheduler is stepped with. */
  monitor?: string;
  /** Fail when `monitor` is missing (default true). */
  strict?: boolean;
  name?: string;
}
/** What `configureOptimizers` may return, as in Lightning. */
export type OptimizerConfig =
  | Optimizer<object>
  | Optimizer<object>[]
  | { optimizer: Optimizer<object>; lrScheduler?: SchedulerConfig | SchedulerConfig["scheduler"]; monitor?: string }
  | [Optimizer<object>[], (SchedulerConfig | SchedulerConfig["scheduler"])[]]
  | { optimizer: Optimizer<object>; lrScheduler?: SchedulerConfig | SchedulerConfig["scheduler"]; monitor?: string }[]
  | null;

/** What a training step returns: the loss, a dict with `loss`, or null to skip the batch. */
export type StepOutput = Tensor | { loss: Tensor; [k: string]: unknown } | null | undefined;

interface Internals {
  trainer: Trainer | null;
  hparams: Record<string, unknown>;
  currentFx: string | null;
  automaticOptimization: boolean;
  batch: unknown;
}

/** The methods a LightningModule subclass defines (the Trainer checks which exist). */
export interface LightningSteps {
  /** The loss of one training batch (or `{ loss, ... }`, or null to skip it). */
  trainingStep?(batch: any, batchIdx: number): StepOutput;  // eslint-disable-line @typescript-eslint/no-explicit-any
  validationStep?(batch: any, batchIdx: number, dataloaderIdx?: number): unknown;  // eslint-disable-line @typescript-eslint/no-explicit-any
  testStep?(batch: any, batchIdx: number, dataloaderIdx?: number): unknown;  // eslint-disable-line @typescript-eslint/no-explicit-any
  configureOptimizers?(): OptimizerConfig;
}
/** @internal the module as the Trainer sees it. */
export const steps = (m: LightningModule): LightningSteps => m as unknown as LightningSteps;

/* eslint-disable @typescript-eslint/no-unused-vars */
/**
 * Subclass it, define `trainingStep(batch, batchIdx)` and `configureOptimizers()` (and
 * optionally `validationStep`, `testStep`, `predictStep` and the hooks), and hand it to
 * `Trainer.fit`. The steps are not declared on this class, so defining them needs no
 * `override`; their shapes are {@link LightningSteps}.
 * @example
 * class Classifier extends LightningModule {
 *   net = new nn.Sequential(new nn.Linear(784, 10));
 *   forward(x: Tensor) { return this.net.forward(x); }
 *   trainingStep([x, y]: Tensor[]) {
 *     const loss = nn.functional.crossEntropy(this.forward(x), y);
 *     this.log("loss", loss, { progBar: true });
 *     return loss;
 *   }
 *   configureOptimizers() { return new optim.Adam(this.parameters(), { lr: 1e-3 }); }
 * }
 */
export class LightningModule extends nn.Module {
  /** @internal */ declare _pl: Internals;

  constructor() {
    super();
    Object.defineProperty(this, "_pl", {
      value: { trainer: null, hparams: {}, currentFx: null, automaticOptimization: true, batch: undefined } satisfies Internals,
      enumerable: false, writable: false,
    });
  }

  // ---- what the trainer provides ---------------------------------------------------------

  /** The trainer this module is attached to (throws outside fit/validate/test/predict). */
  get trainer(): Trainer {
    if (!this._pl.trainer) throw new LightningError("PL_MISCONFIGURATION", `${this.constructor.name} is not attached to a Trainer; call trainer.fit(model) (or validate/test/predict) first`);
    return this._pl.trainer;
  }
  /** @internal */
  _attach(trainer: Trainer | null): void { this._pl.trainer = trainer; }
  get currentEpoch(): number { return this._pl.trainer?.currentEpoch ?? 0; }
  get globalStep(): number { return this._pl.trainer?.globalStep ?? 0; }
  get globalRank(): number { return this._pl.trainer?.globalRank ?? 0; }
  get localRank(): number { return this._pl.trainer?.localRank ?? 0; }
  get device(): string { return this._pl.trainer?.strategy.rootDevice ?? "cpu"; }
  get logger(): Logger | null { return this._pl.trainer?.logger ?? null; }
  get loggers(): Logger[] { return this._pl.trainer?.loggers ?? []; }
  /** The hyperparameters given to `saveHyperparameters` (stored in checkpoints). */
  get hparams(): Record<string, unknown> { return this._pl.hparams; }
  /** False: the module drives backward and the optimizers itself in `trainingStep` (manual optimisation). */
  get automaticOptimization(): boolean { return this._pl.automaticOptimization; }
  set automaticOptimization(v: boolean) { this._pl.automaticOptimization = v; }

  // ---- what the user defines ---------------------------------------------------------------

  /** Default: `forward(batch)`. */
  predictStep(batch: any, _batchIdx: number, _dataloaderIdx?: number): unknown {  // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.forward(batch);
  }
  /** Callbacks this module brings; they replace trainer callbacks of the same class. */
  configureCallbacks(): Callback[] | Callback { return []; }

  // ---- hooks (no-ops unless overridden), in Lightning's names ------------------------------

  prepareData(): void {}
  setup(_stage: Stage): void {}
  teardown(_stage: Stage): void {}
  onFitStart(): void {}
  onFitEnd(): void {}
  onTrainStart(): void {}
  onTrainEnd(): void {}
  onTrainEpochStart(): void {}
  onTrainEpochEnd(): void {}
  /** Return -1 to skip the rest of this epoch. */
  onTrainBatchStart(_batch: unknown, _batchIdx: number): number | void {}
  onTrainBatchEnd(_outputs: unknown, _batch: unknown, _batchIdx: number): void {}
  onValidationStart(): void {}
  onValidationEnd(): void {}
  onValidationEpochStart(): void {}
  onValidationEpochEnd(): void {}
  onValidationBatchStart(_batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onValidationBatchEnd(_outputs: unknown, _batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onValidationModelEval(): void { this.eval(); }
  onValidationModelTrain(): void { this.train(); }
  onTestStart(): void {}
  onTestEnd(): void {}
  onTestEpochStart(): void {}
  onTestEpochEnd(): void {}
  onTestBatchStart(_batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onTestBatchEnd(_outputs: unknown, _batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onTestModelEval(): void { this.eval(); }
  onTestModelTrain(): void { this.train(); }
  onPredictStart(): void {}
  onPredictEnd(): void {}
  onPredictEpochStart(): void {}
  onPredictEpochEnd(): void {}
  onPredictBatchStart(_batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onPredictBatchEnd(_outputs: unknown, _batch: unknown, _batchIdx: number, _dataloaderIdx: number): void {}
  onBeforeBackward(_loss: Tensor): void {}
  onAfterBackward(): void {}
  onBeforeOptimizerStep(_optimizer: Optimizer<object>): void {}
  onBeforeZeroGrad(_optimizer: Optimizer<object>): void {}
  onSaveCheckpoint(_checkpoint: CheckpointDict): void {}
  onLoadCheckpoint(_checkpoint: CheckpointDict): void {}

  /** The backward of a training step (override for custom backward). */
  backward(loss: Tensor): void { loss.backward(); }
  /**
   * Steps `optimizer` (a LightningOptimizer: its step goes through the precision plugin, the
   * onBeforeOptimizerStep hooks and clipping) with the closure that runs the training step and backward.
   */
  optimizerStep(_epoch: number, _batchIdx: number, optimizer: LightningOptimizer | Optimizer<object>, closure: () => unknown): void { optimizer.step(closure); }
  optimizerZeroGrad(_epoch: number, _batchIdx: number, optimizer: Optimizer<object>): void { optimizer.zeroGrad(); }
  /** Clips with the Trainer's gradientClipVal/Algorithm (override to clip differently). */
  configureGradientClipping(optimizer: Optimizer<object>, gradientClipVal: number | null, gradientClipAlgorithm: "norm" | "value" | null): void {
    this.clipGradients(optimizer, { gradientClipVal, gradientClipAlgorithm });
  }
  /** Clips the gradients of `optimizer`'s parameters by norm (default) or value. */
  clipGradients(optimizer: Optimizer<object>, o: { gradientClipVal?: number | null; gradientClipAlgorithm?: "norm" | "value" | null } = {}): void {
    checkOptions("clipGradients", o, ["gradientClipVal", "gradientClipAlgorithm"], misconfigured);
    const v = o.gradientClipVal;
    if (v === null || v === undefined || v === 0) return;
    const params = optimizer.paramGroups.flatMap((g) => g.params as Tensor[]).filter((p) => p.grad !== null);
    if ((o.gradientClipAlgorithm ?? "norm") === "value") nn.utils.clipGradValue_(params, v);
    else nn.utils.clipGradNorm_(params, v).dispose();
  }

  // ---- logging -------------------------------------------------------------------------------

  /**
   * Records a metric with Lightning's semantics (see `LogOptions`): per step in training
   * steps, reduced per epoch elsewhere; `_step`/`_epoch` suffixes when both.
   */
  log(name: string, value: number | Tensor | boolean, opts: LogOptions = {}): void {
    checkOptions("log", opts, LOG_OPTIONS, badLog);
    const t = this._pl.trainer;
    const fx = this._pl.currentFx;
    if (!t || !t._results) {
      throw new LightningError("PL_BAD_LOG", fx
        ? `You can't log from \`${fx}\`: self.log() works in trainingStep, validationStep, testStep and the on* hooks around them during fit/validate/test`
        : `self.log("${name}") was called outside the trainer's loops; log from trainingStep, validationStep, testStep or the on* hooks during fit/validate/test`);
    }
    if (typeof name !== "string" || name === "") throw new LightningError("PL_BAD_LOG", `self.log(name, value): name must be a non-empty string; got ${JSON.stringify(name)}`);
    if (opts.rankZeroOnly && t.globalRank !== 0) return;
    const v = scalarOf(name, value);
    t._results.log(fx ?? "(outside a hook)", name, v, opts, () => extractBatchSize(this._pl.batch));
  }
  /** `log` for each entry. */
  logDict(values: Record<string, number | Tensor | boolean>, opts: LogOptions = {}): void {
    for (const [k, v] of Object.entries(values)) this.log(k, v, opts);
  }
  /** @internal which hook is running (for log's defaults) and its batch (for batch sizes). */
  _enter(fx: string | null, batch?: unknown): string | null {
    const prev = this._pl.currentFx;
    this._pl.currentFx = fx;
    if (batch !== undefined) this._pl.batch = batch;
    return prev;
  }

  // ---- hyperparameters and checkpoints -------------------------------------------------------

  /**
   * Stores hyperparameters (`this.hparams`, checkpoints' `hyper_parameters`, the loggers'
   * hparams). `loadFromCheckpoint` passes them back as the constructor's first argument.
   * @example constructor(hp: { lr: number }) { super(); this.saveHyperparameters(hp); }
   */
  saveHyperparameters(hparams: Record<string, unknown> = {}, opts: { ignore?: string[] } = {}): void {
    checkOptions("saveHyperparameters", opts, ["ignore"], misconfigured);
    if (hparams === null || typeof hparams !== "object" || Array.isArray(hparams)) {
      throw new LightningError("PL_MISCONFIGURATION", "saveHyperparameters(hparams): expected an object of hyperparameters (JavaScript has no argument names to read)");
    }
    for (const [k, v] of Object.entries(hparams)) {
      if (opts.ignore?.includes(k) || v instanceof nn.Module || typeof v === "function") continue;
      this._pl.hparams[k] = v;
    }
  }

  /**
   * The optimizers from configureOptimizers (one, or the list when several), as
   * `LightningOptimizer`s: their `step` goes through the trainer (precision, hooks, step count).
   */
  optimizers(): LightningOptimizer | LightningOptimizer[] {
    const opts = this.trainer._lightningOptimizers;
    return opts.length === 1 ? opts[0]! : opts;
  }
  /** The schedulers from configureOptimizers (one, a list, or null). */
  lrSchedulers(): SchedulerConfig["scheduler"] | SchedulerConfig["scheduler"][] | null {
    const s = this.trainer.lrSchedulerConfigs.map((c) => c.scheduler);
    return s.length === 0 ? null : s.length === 1 ? s[0]! : s;
  }
  /** Backward in manual optimisation (runs the backward hooks and the strategy's backward). */
  manualBackward(loss: Tensor): void {
    if (this.automaticOptimization) throw new LightningError("PL_MISCONFIGURATION", "manualBackward() is for manual optimisation; set this.automaticOptimization = false first (with automatic optimisation, return the loss from trainingStep)");
    backward(this.trainer, loss);
  }

  /**
   * A module from a checkpoint file: constructed with the saved hyperparameters (merged with
   * `overrides`) as its first argument, then its state dict loaded. `weightsOnly` (default
   * true, as Lightning on torch ≥ 2.6) refuses pickled globals outside torch's allow-list.
   * @example const model = await Classifier.loadFromCheckpoint("runs/x/checkpoints/last.ckpt");
   */
  static async loadFromCheckpoint<T extends LightningModule>(this: new (hparams?: any) => T, path: string,  // eslint-disable-line @typescript-eslint/no-explicit-any
    opts: { mapLocation?: string; strict?: boolean; weightsOnly?: boolean; [override: string]: unknown } = {}): Promise<T> {
    const { mapLocation, strict, weightsOnly, ...overrides } = opts;
    const ckpt = await readCheckpoint(path, mapLocation, weightsOnly);
    const saved = (ckpt.hyper_parameters ?? {}) as Record<string, unknown>;
    const hp = { ...saved, ...overrides };
    const model = Object.keys(hp).length ? new this(hp) : new this();
    if (mapLocation) model.to(mapLocation);
    model.onLoadCheckpoint(ckpt);
    const sd = ckpt.state_dict as Record<string, unknown> | undefined;
    if (!sd) throw new LightningError("PL_CHECKPOINT", `${path} has no "state_dict": it is not a Lightning checkpoint (keys: ${Object.keys(ckpt).join(", ")})`);
    try { model.loadStateDict(sd, { strict: strict ?? true }); } finally { disposeTree(ckpt); }
    return model;
  }
}
/* eslint-enable @typescript-eslint/no-unused-vars */
