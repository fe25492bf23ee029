/**
 * @module torchlight/lightning: PyTorch Lightning's programming model in TypeScript:
 * `LightningModule`, `LightningDataModule`, `Trainer` (fit/validate/test/predict), callbacks,
 * loggers, strategies and checkpoints in PyTorch's format.
 * @example
 * import * as pl from "torchlight/lightning";
 * const trainer = new pl.Trainer({ maxEpochs: 3 });
 * await trainer.fit(new Classifier(), { trainDataloaders: loader });
 */
export { LightningModule, type LightningSteps, type OptimizerConfig, type SchedulerConfig, type StepOutput } from "./module.js";
export { LightningDataModule } from "./datamodule.js";
export { Trainer } from "./trainer.js";
export type { Precision, TrainerOptions, FitOptions, EvalOptions, AnyLoader, Stage } from "./types.js";
export { LightningOptimizer } from "./optimizer.js";
export { PrecisionPlugin, MixedPrecision, TruePrecision } from "./precision.js";
export { Callback } from "./callbacks/callback.js";
export { ModelCheckpoint, type ModelCheckpointOptions } from "./callbacks/model_checkpoint.js";
export { EarlyStopping, type EarlyStoppingOptions } from "./callbacks/early_stopping.js";
export { LearningRateMonitor } from "./callbacks/lr_monitor.js";
export { ModelSummary, summarize } from "./callbacks/model_summary.js";
export { TQDMProgressBar } from "./callbacks/progress.js";
export { Logger, FileLogger, type FileLoggerOptions } from "./loggers/logger.js";
export { CSVLogger } from "./loggers/csv.js";
export { TensorBoardLogger } from "./loggers/tensorboard.js";
export { Strategy, SingleDeviceStrategy, DDPStrategy, StrategyRegistry, type DDPStrategyOptions } from "./strategies.js";
export { seedEverything } from "./seed.js";
export { LightningError, type LightningErrorCode } from "./errors.js";
export { readCheckpoint, type CheckpointDict } from "./checkpoint.js";
export type { LogOptions, ReduceFx } from "./results.js";
export { LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment, MPIEnvironment, KubeflowEnvironment, LSFEnvironment } from "../distributed/index.js";
