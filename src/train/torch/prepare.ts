/**
 * @module torchlight/train/torch/prepare: Ray Train's helpers for a plain training function
 * (no Lightning), inside a TorchTrainer worker: `prepareModel` (to the worker's device, then
 * DistributedDataParallel when the group has more than one worker), `prepareDataLoader` (a
 * DistributedSampler for this rank's shard, batches moved to the device), `getDevice`,
 * `getDevices`, `enableReproducibility`.
 */
import * as torch from "../../torch/index.js";
import { DataLoader, applyToTensors, defaultCollate, remakeLoader, withDistributedSampler, type Batch } from "../../data/index.js";
import { DistributedDataParallel, isInitialized, type DDPOptions } from "../../distributed/index.js";
import { checkOptions } from "../../util/validate.js";
import { TrainError } from "../errors.js";
import { getContext } from "../worker.js";

const configError = (m: string) => new TrainError("TRAIN_CONFIG", m);

/** The device this worker trains on ("cpu", or its GPU), as `ray.train.torch.get_device()`. */
export function getDevice(): string { return getContext().getDevice(); }
/** The devices of this worker (one), as `ray.train.torch.get_devices()`. */
export function getDevices(): string[] { return [getDevice()]; }

/** Options of {@link prepareModel}, as Ray's keyword arguments. */
export interface PrepareModelOptions {
  /** Move the model to the worker's device (default true). */
  moveToDevice?: boolean;
  /** "ddp" (default) wraps it in DistributedDataParallel when the world is larger than one; null leaves it unwrapped. */
  parallelStrategy?: "ddp" | null;
  /** DistributedDataParallel's options. */
  parallelStrategyKwargs?: DDPOptions;
}

/**
 * The model ready for data-parallel training, as `ray.train.torch.prepare_model`: on the
 * worker's device and, with more than one worker, wrapped in `DistributedDataParallel`
 * (rank 0's parameters broadcast to every rank; gradients averaged in backward). Unlike
 * Python's, it returns a Promise (the broadcast is awaited): `model = await prepareModel(model)`.
 * @example
 * const model = await prepareModel(new Net());
 * const loss = lossFn.forward(model.forward(x), y); loss.backward(); opt.step();
 */
export async function prepareModel<M extends torch.nn.Module>(model: M, opts: PrepareModelOptions = {}): Promise<M | DistributedDataParallel<M>> {
  checkOptions("prepareModel", opts, ["moveToDevice", "parallelStrategy", "parallelStrategyKwargs"], configError);
  if (!(model instanceof torch.nn.Module)) throw configError(`prepareModel: expected an nn.Module but received ${model === null ? "null" : typeof model}`);
  const ctx = getContext();
  if (opts.moveToDevice ?? true) model.to(ctx.getDevice());
  const strategy = opts.parallelStrategy === undefined ? "ddp" : opts.parallelStrategy;
  if (strategy !== "ddp" && strategy !== null) throw configError(`prepareModel: parallelStrategy must be "ddp" or null; received ${JSON.stringify(strategy)} (FSDP is not available)`);
  if (strategy === null || ctx.getWorldSize() === 1) return model;
  if (!isInitialized()) throw configError("prepareModel: the worker's process group is not initialised; call it inside the TorchTrainer's train function");
  return DistributedDataParallel.create(model, opts.parallelStrategyKwargs ?? {});
}

/** Options of {@link prepareDataLoader}, as Ray's keyword arguments. */
export interface PrepareDataLoaderOptions {
  /** Give each worker its shard through a DistributedSampler (default true). */
  addDistSampler?: boolean;
  /** Move every batch to the worker's device (default true). */
  moveToDevice?: boolean;
}

/**
 * The loader ready for data-parallel training, as `ray.train.torch.prepare_data_loader`:
 * each worker reads its own shard (a DistributedSampler, shuffled when the loader shuffled;
 * call `loader.sampler.setEpoch(epoch)` each epoch, as in PyTorch), and batches arrive on the
 * worker's device.
 */
export function prepareDataLoader<T>(loader: DataLoader<T>, opts: PrepareDataLoaderOptions = {}): DataLoader<T> {
  checkOptions("prepareDataLoader", opts, ["addDistSampler", "moveToDevice"], configError);
  if (!(loader instanceof DataLoader)) throw configError(`prepareDataLoader: expected a DataLoader but received ${loader === null ? "null" : typeof loader}`);
  const ctx = getContext();
  const device = ctx.getDevice();
  const move = (opts.moveToDevice ?? true) && device !== "cpu";
  const collate = loader.collateFn ?? ((s: T[]) => defaultCollate(s));
  const collateFn = move ? (samples: T[]): Batch => torch.tidy(() => applyToTensors(collate(samples), (t) => t.to(device))) : undefined;
  if (!(opts.addDistSampler ?? true) || ctx.getWorldSize() === 1) return collateFn ? remakeLoader(loader, { collateFn }) : loader;
  return withDistributedSampler(loader, { numReplicas: ctx.getWorldSize(), rank: ctx.getWorldRank(), ...(collateFn ? { collateFn } : {}) });
}

/**
 * Seeds torch and turns on deterministic algorithms, as `ray.train.torch.enable_reproducibility`
 * (with CUBLAS_WORKSPACE_CONFIG set for CUDA's matrix products).
 */
export function enableReproducibility(seed = 0): void {
  if (!Number.isInteger(seed) || seed < 0) throw configError(`enableReproducibility: expected a non-negative integer seed but received ${String(seed)}`);
  torch.manualSeed(seed);
  torch.useDeterministicAlgorithms(true);
  process.env.CUBLAS_WORKSPACE_CONFIG ??= ":4096:8";
}
