/**
 * @module torchlight/train/lightning: Ray Train's PyTorch Lightning glue. Inside a
 * TorchTrainer's train function: `RayDDPStrategy` (DDP over the process group the worker
 * already joined), `RayLightningEnvironment` (ranks from the run's context),
 * `RayTrainReportCallback` (reports `callbackMetrics` + `epoch` + `step` and a
 * `checkpoint.ckpt` at each training epoch's end) and `prepareTrainer` (checks the set-up,
 * and resumes a restarted or rerun group from the run's latest checkpoint).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as dist from "../../distributed/index.js";
import { Callback, DDPStrategy, Trainer, type DDPStrategyOptions } from "../../lightning/index.js";
import { Checkpoint } from "../checkpoint.js";
import { TrainError } from "../errors.js";
import { checkOptions } from "../../util/validate.js";
import { getCheckpoint, getContext, report, workerTempDir } from "../worker.js";

/** A cluster environment whose ranks come from the TorchTrainer's worker context. */
export class RayLightningEnvironment extends dist.LightningEnvironment {
  override get creatorsProcesses(): boolean { return true; }
  override worldSize(): number { return getContext().getWorldSize(); }
  override globalRank(): number { return getContext().getWorldRank(); }
  override localRank(): number { return getContext().getLocalRank(); }
  override nodeRank(): number { return getContext().getNodeRank(); }
  override setWorldSize(): void { /* the driver decides */ }
  override setGlobalRank(): void { /* the driver decides */ }
}

/** DDP inside a TorchTrainer worker: the process group is the worker's, the device its own (cuda:{localRank} with useGpu). */
export class RayDDPStrategy extends DDPStrategy {
  constructor(opts: DDPStrategyOptions = {}) {
    super({ clusterEnvironment: new RayLightningEnvironment(), ...opts });
    this.rootDevice = getContext().getDevice();
  }
  /** Set by prepareTrainer: fit() without ckptPath resumes from the run's latest checkpoint. */
  resumeFromRun = false;
  override resumeCheckpointPath(): string | null {
    const ck = this.resumeFromRun ? getCheckpoint() : null;
    if (!ck) return null;
    const path = join(ck.path, RayTrainReportCallback.CHECKPOINT_NAME);
    if (getContext().getWorldRank() === 0) console.log(`prepareTrainer: resuming from ${path}`);
    return path;
  }
  /** What the injected DistributedSampler gets, as Ray's `distributed_sampler_kwargs`. */
  get distributedSamplerKwargs(): { numReplicas: number; rank: number } { return { numReplicas: this.worldSize, rank: this.globalRank }; }
}

/** Options of {@link RayTrainReportCallback}. */
export interface RayTrainReportCallbackOptions {
  /** Also report every N optimizer steps (default: only at each training epoch's end). */
  everyNSteps?: number;
  /** Whether reports carry a checkpoint (default true). */
  checkpoint?: boolean;
}

/**
 * At each training epoch's end (and every `everyNSteps` steps when set) reports the
 * trainer's `callbackMetrics` plus `epoch` and `step`, with a checkpoint folder holding
 * `checkpoint.ckpt` (rank 0 writes it; every rank reports, as Ray's).
 */
export class RayTrainReportCallback extends Callback {
  static readonly CHECKPOINT_NAME = "checkpoint.ckpt";
  readonly everyNSteps: number | null;
  readonly withCheckpoint: boolean;
  private lastStep = -1;
  private readonly tmpRoot: string;

  constructor(opts: RayTrainReportCallbackOptions = {}) {
    super();
    checkOptions("RayTrainReportCallback", opts, ["everyNSteps", "checkpoint"], (m) => new TrainError("TRAIN_CONFIG", m));
    if (opts.everyNSteps !== undefined && (!Number.isInteger(opts.everyNSteps) || opts.everyNSteps < 1)) {
      throw new TrainError("TRAIN_CONFIG", `RayTrainReportCallback: everyNSteps must be an integer ≥ 1, got ${JSON.stringify(opts.everyNSteps)}`);
    }
    this.everyNSteps = opts.everyNSteps ?? null;
    this.withCheckpoint = opts.checkpoint ?? true;
    this.tmpRoot = workerTempDir();
    rmSync(this.tmpRoot, { recursive: true, force: true });
  }

  override onTrainBatchEnd(trainer: Trainer): void {
    if (this.everyNSteps !== null && trainer.globalStep > 0 && trainer.globalStep % this.everyNSteps === 0 && trainer.globalStep !== this.lastStep) this.reportNow(trainer);
  }
  override onTrainEpochEnd(trainer: Trainer): void {
    if (trainer.globalStep !== this.lastStep || this.everyNSteps === null) this.reportNow(trainer);
  }
  override teardown(): void { rmSync(this.tmpRoot, { recursive: true, force: true }); }

  private reportNow(trainer: Trainer): void {
    this.lastStep = trainer.globalStep;
    const metrics: Record<string, unknown> = { ...trainer.callbackMetrics, epoch: trainer.currentEpoch, step: trainer.globalStep };
    let dir: string | null = null;
    let saved: Promise<void> = Promise.resolve();
    if (this.withCheckpoint) {
      dir = join(this.tmpRoot, `${trainer.currentEpoch}-${trainer.globalStep}`);
      mkdirSync(dir, { recursive: true });
      saved = trainer.saveCheckpoint(join(dir, RayTrainReportCallback.CHECKPOINT_NAME));  // serialised now, written off-thread
    }
    trainer.defer((async () => {
      await saved;
      await report(metrics, { checkpoint: dir ? Checkpoint.fromDirectory(dir) : null });
      if (dir) rmSync(dir, { recursive: true, force: true });
    })());
  }
}

/**
 * Checks that `trainer` is set up for a TorchTrainer worker, as Ray's `prepare_trainer`,
 * and returns it. Beyond Ray: when the run has a persisted checkpoint (the group restarted
 * after a failure, or the run was rerun) holding `checkpoint.ckpt`, a `fit()` without
 * `ckptPath` resumes from it; pass `ckptPath: null` to start fresh.
 */
export function prepareTrainer(trainer: Trainer): Trainer {
  if (!(trainer instanceof Trainer)) throw new TrainError("TRAIN_CONFIG", `prepareTrainer: expected a torchlight/lightning Trainer, got ${trainer === null ? "null" : (trainer as object)?.constructor?.name ?? typeof trainer}`);
  const valid = [RayDDPStrategy];
  if (!valid.some((c) => trainer.strategy instanceof c)) {
    throw new TrainError("TRAIN_CONFIG", `prepareTrainer: Invalid strategy class: ${trainer.strategy.constructor.name}. To use PyTorch Lightning with torchlight/train, the strategy object should be one of [${valid.map((c) => c.name).join(", ")}] class or its subclass: pass strategy: new RayDDPStrategy()`);
  }
  const env = (trainer.strategy as DDPStrategy).clusterEnvironment;
  if (env && !(env instanceof RayLightningEnvironment)) {
    throw new TrainError("TRAIN_CONFIG", `prepareTrainer: Invalid cluster environment plugin. The expected class is RayLightningEnvironment but got ${env.constructor.name}; pass plugins: [new RayLightningEnvironment()]`);
  }
  (trainer.strategy as RayDDPStrategy).resumeFromRun = true;
  return trainer;
}
