/**
 * @module torchlight/lightning/types: the types the Trainer, its loops, connectors and
 * callbacks share, kept apart so that callbacks and loops import the Trainer as a type only.
 */
import type { DataLoader } from "../data/index.js";
import type { LightningDataModule } from "./datamodule.js";
import type { Callback } from "./callbacks/callback.js";
import type { Logger } from "./loggers/logger.js";
import type { SchedulerConfig } from "./module.js";
import type { Strategy } from "./strategies.js";

/** A DataLoader of any sample type. */
export type AnyLoader = DataLoader<any>;  // eslint-disable-line @typescript-eslint/no-explicit-any

/** A stage of the trainer, as Lightning's `TrainerFn`. */
export type Stage = "fit" | "validate" | "test" | "predict";

/** Lightning's precision names that torchlight runs. */
export type Precision = "32-true" | "64-true" | "bf16-mixed" | "16-mixed" | "bf16-true" | "16-true";

/** Options of {@link Trainer}, as Lightning's keyword arguments (camelCase). */
export interface TrainerOptions {
  /** "cpu", "cuda" ("gpu"), or "auto" (cuda when available). */
  accelerator?: "cpu" | "cuda" | "gpu" | "auto";
  /** How many devices (processes with DDP), a list of CUDA indices, or "auto". */
  devices?: number | number[] | "auto";
  numNodes?: number;
  /** "auto", "ddp", "single_device", or a Strategy. */
  strategy?: string | Strategy;
  /** Cluster environments (given to DDP) and precision plugins (a `MixedPrecision` with its own GradScaler). */
  plugins?: unknown[];
  /**
   * As Lightning's: "32-true" (default, also 32), "64-true" (64), "bf16-mixed" (autocast to
   * bfloat16 around each step's forward; weights, gradients and optimizer stay float32),
   * "16-mixed" (autocast to float16 with a `torch.amp.GradScaler` on CUDA; on CPU it becomes
   * "bf16-mixed" with a warning, as in Lightning), "bf16-true" / "16-true" (the model and
   * floating inputs converted to that dtype). "bf16" and "16" are Lightning's old names of the
   * mixed modes.
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
  /** Integer ≥ 1: that many batches; a fraction in (0, 1): that share of the loader; unset or null (Python's None): all. */
  limitTrainBatches?: number | null;
  limitValBatches?: number | null;
  limitTestBatches?: number | null;
  limitPredictBatches?: number | null;
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
  /** Where logs and checkpoints go by default (default: the run folder under TorchTrainer, else the working directory). */
  defaultRootDir?: string;
  callbacks?: Callback[] | Callback;
  /** A logger, several, true (the default TensorBoardLogger) or false (none). */
  logger?: Logger | Logger[] | boolean;
  /** Wrap training loaders in a DistributedSampler under DDP (default true). */
  useDistributedSampler?: boolean;
  /** Accepted for Lightning's signature; torchlight has no profiler or extra bookkeeping to turn off, so true changes nothing. */
  barebones?: boolean;
}

/** Loaders and data for fit. */
export interface FitOptions {
  trainDataloaders?: AnyLoader;
  valDataloaders?: AnyLoader | AnyLoader[];
  datamodule?: LightningDataModule;
  /** Resume from a checkpoint file, "last" or "best". */
  ckptPath?: string | null;
}
/** Loaders and data for validate/test/predict. */
export interface EvalOptions { dataloaders?: AnyLoader | AnyLoader[]; datamodule?: LightningDataModule; ckptPath?: string | null; verbose?: boolean }

/** One scheduler as the trainer steps it (configureOptimizers' entry, with defaults filled in). */
export interface SchedulerEntry extends Required<Pick<SchedulerConfig, "interval" | "frequency" | "strict">> {
  scheduler: SchedulerConfig["scheduler"]; monitor: string | null; name: string | null; optimizerIndex: number;
}
