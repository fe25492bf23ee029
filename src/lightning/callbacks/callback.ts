/**
 * @module torchlight/lightning/callbacks/callback: the `Callback` base class, as Lightning's:
 * every hook receives the trainer and the LightningModule; override the ones you need.
 * Hooks are synchronous (they run inside the step's tensor scope); a hook may hand slow
 * work to `trainer.defer(promise)`, which the trainer awaits after the step.
 */
import type { Tensor } from "../../torch/index.js";
import type { Optimizer } from "../../torch/optim/index.js";
import type { Trainer } from "../trainer.js";
import type { LightningModule } from "../module.js";
import type { CheckpointDict } from "../checkpoint.js";

import type { Stage } from "../types.js";
export type { Stage } from "../types.js";

/* eslint-disable @typescript-eslint/no-unused-vars */
export abstract class Callback {
  /** The key of this callback's state in a checkpoint (class name by default; make it unique per instance when several are used). */
  get stateKey(): string { return this.constructor.name; }
  /** @internal ModelCheckpoint and EarlyStopping run after the module's epoch-end hooks. */
  get isMonitoring(): boolean { return false; }

  setup(trainer: Trainer, plModule: LightningModule, stage: Stage): void {}
  teardown(trainer: Trainer, plModule: LightningModule, stage: Stage): void {}
  onFitStart(trainer: Trainer, plModule: LightningModule): void {}
  onFitEnd(trainer: Trainer, plModule: LightningModule): void {}
  onSanityCheckStart(trainer: Trainer, plModule: LightningModule): void {}
  onSanityCheckEnd(trainer: Trainer, plModule: LightningModule): void {}
  onTrainStart(trainer: Trainer, plModule: LightningModule): void {}
  onTrainEnd(trainer: Trainer, plModule: LightningModule): void {}
  onTrainEpochStart(trainer: Trainer, plModule: LightningModule): void {}
  onTrainEpochEnd(trainer: Trainer, plModule: LightningModule): void {}
  onTrainBatchStart(trainer: Trainer, plModule: LightningModule, batch: unknown, batchIdx: number): void {}
  onTrainBatchEnd(trainer: Trainer, plModule: LightningModule, outputs: unknown, batch: unknown, batchIdx: number): void {}
  onValidationStart(trainer: Trainer, plModule: LightningModule): void {}
  onValidationEnd(trainer: Trainer, plModule: LightningModule): void {}
  onValidationEpochStart(trainer: Trainer, plModule: LightningModule): void {}
  onValidationEpochEnd(trainer: Trainer, plModule: LightningModule): void {}
  onValidationBatchStart(trainer: Trainer, plModule: LightningModule, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onValidationBatchEnd(trainer: Trainer, plModule: LightningModule, outputs: unknown, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onTestStart(trainer: Trainer, plModule: LightningModule): void {}
  onTestEnd(trainer: Trainer, plModule: LightningModule): void {}
  onTestEpochStart(trainer: Trainer, plModule: LightningModule): void {}
  onTestEpochEnd(trainer: Trainer, plModule: LightningModule): void {}
  onTestBatchStart(trainer: Trainer, plModule: LightningModule, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onTestBatchEnd(trainer: Trainer, plModule: LightningModule, outputs: unknown, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onPredictStart(trainer: Trainer, plModule: LightningModule): void {}
  onPredictEnd(trainer: Trainer, plModule: LightningModule): void {}
  onPredictEpochStart(trainer: Trainer, plModule: LightningModule): void {}
  onPredictEpochEnd(trainer: Trainer, plModule: LightningModule): void {}
  onPredictBatchStart(trainer: Trainer, plModule: LightningModule, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onPredictBatchEnd(trainer: Trainer, plModule: LightningModule, outputs: unknown, batch: unknown, batchIdx: number, dataloaderIdx: number): void {}
  onBeforeBackward(trainer: Trainer, plModule: LightningModule, loss: Tensor): void {}
  onAfterBackward(trainer: Trainer, plModule: LightningModule): void {}
  onBeforeOptimizerStep(trainer: Trainer, plModule: LightningModule, optimizer: Optimizer<object>): void {}
  onBeforeZeroGrad(trainer: Trainer, plModule: LightningModule, optimizer: Optimizer<object>): void {}
  onException(trainer: Trainer, plModule: LightningModule, error: unknown): void {}
  onSaveCheckpoint(trainer: Trainer, plModule: LightningModule, checkpoint: CheckpointDict): void {}
  onLoadCheckpoint(trainer: Trainer, plModule: LightningModule, checkpoint: CheckpointDict): void {}
  /** This callback's state in checkpoints. */
  stateDict(): Record<string, unknown> { return {}; }
  loadStateDict(state: Record<string, unknown>): void {}
}
/* eslint-enable @typescript-eslint/no-unused-vars */

/** Names of the Callback hooks the trainer calls, typed. */
export type CallbackHook = Exclude<keyof Callback, "stateKey" | "isMonitoring" | "stateDict" | "loadStateDict">;
