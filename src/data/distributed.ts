/**
 * @module torchlight/data/distributed: a DataLoader re-made with a DistributedSampler, as
 * Lightning's DDP and Ray's `prepare_data_loader` do: the same dataset, batch size, workers,
 * collate and drop-last, each rank reading its shard (shuffled when the original loader
 * shuffled). Used by Lightning's DDPStrategy and by torchlight/train/torch.
 */
import { DataLoader } from "./dataloader.js";
import { DistributedSampler, RandomSampler } from "./sampler.js";
import type { Batch } from "./collate.js";

export interface DistributedLoaderOptions<T> {
  numReplicas: number;
  rank: number;
  /** Shuffle the shards (default: whether `loader` shuffled, i.e. has a RandomSampler). */
  shuffle?: boolean;
  seed?: number;
  /** A collate function in place of the loader's (e.g. one that also moves batches to a device). */
  collateFn?: (samples: T[]) => Batch;
}

/**
 * `loader` with a DistributedSampler, or `loader` itself when it cannot take one (it has one
 * already, a custom batch sampler, or a dataset without a length).
 */
export function withDistributedSampler<T>(loader: DataLoader<T>, o: DistributedLoaderOptions<T>): DataLoader<T> {
  if (loader.sampler instanceof DistributedSampler || (loader.batchSampler && !loader.batchSize)) return loader;
  const ds = loader.dataset;
  if (!("length" in ds)) return loader;
  const sampler = new DistributedSampler(ds as { length: number }, {
    numReplicas: o.numReplicas, rank: o.rank, shuffle: o.shuffle ?? loader.sampler instanceof RandomSampler, seed: o.seed ?? 0,
  });
  const collateFn = o.collateFn ?? loader.collateFn;
  return new DataLoader(ds as never, {
    batchSize: loader.batchSize, sampler, numWorkers: loader.numWorkers, dropLast: loader.dropLast,
    ...(collateFn ? { collateFn } : {}), ...(loader.numWorkers > 0 ? { prefetchFactor: loader.prefetchFactor, persistentWorkers: loader.persistentWorkers } : {}),
    ...(loader.timeoutMs ? { timeoutMs: loader.timeoutMs } : {}),
  }) as DataLoader<T>;
}
