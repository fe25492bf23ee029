/**
 * @module torchlight/lightning/datamodule: `LightningDataModule`, as Lightning's: where the
 * data comes from (`prepareData` once, `setup(stage)` per process, the `*Dataloader`
 * methods), with its own state in checkpoints.
 */
import type { AnyLoader } from "./trainer.js";
import type { Stage } from "./callbacks/callback.js";

/* eslint-disable @typescript-eslint/no-unused-vars */
export class LightningDataModule {
  /** Hyperparameters (stored in checkpoints under `datamodule_hyper_parameters`). */
  hparams: Record<string, unknown> = {};
  /** @internal the trainer attaches itself here. */
  trainer: unknown = null;
  /** Download or write data, once per node (rank 0 only). */
  prepareData(): void | Promise<void> {}
  /** Build datasets for `stage`, in every process. */
  setup(_stage: Stage): void | Promise<void> {}
  teardown(_stage: Stage): void | Promise<void> {}
  trainDataloader?(): AnyLoader;
  valDataloader?(): AnyLoader | AnyLoader[];
  testDataloader?(): AnyLoader | AnyLoader[];
  predictDataloader?(): AnyLoader | AnyLoader[];
  /** This datamodule's state in checkpoints. */
  stateDict(): Record<string, unknown> { return {}; }
  loadStateDict(_state: Record<string, unknown>): void {}
  saveHyperparameters(hparams: Record<string, unknown>): void { Object.assign(this.hparams, hparams); }
}
/* eslint-enable @typescript-eslint/no-unused-vars */
