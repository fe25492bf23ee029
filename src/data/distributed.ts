/**
 * @module torchlight/data/distributed: a DataLoader re-made with a DistributedSampler, as
 * Lightning's DDP and Ray's `prepare_data_loader` do: the same dataset, batch size, workers,
 * collate and drop-last, each rank reading its shard (shuffled when the original loader
 * shuffled); and `remakeLoader`, the rebuild it uses. Used by Lightning's DDPStrategy and by
 * torchlight/train/torch.
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
  return remakeLoader(loader, { sampler, ...(o.collateFn ? { collateFn: o.collateFn } : {}) });
}

/**
 * `loader` made again over the same dataset with the same batching, workers, prefetch and
 * timeout, with another sampler and/or collate function.
 */
export function remakeLoader<T>(loader: DataLoader<T>, o: { sampler?: Iterable<number> & Partial<{ length: number }>; collateFn?: (samples: T[]) => Batch }): DataLoader<T> {
  const batching = loader.batchSampler && !loader.batchSize && !o.sampler
    ? { batchSampler: loader.batchSampler }
    : { batchSize: loader.batchSize, dropLast: loader.dropLast, ...((o.sampler ?? loader.sampler) ? { sampler: o.sampler ?? loader.sampler! } : {}) };
  const collateFn = o.collateFn ?? loader.collateFn;
  return new DataLoader(loader.dataset as never, {
    ...batching, numWorkers: loader.numWorkers,
    ...(collateFn ? { collateFn } : {}), ...(loader.numWorkers > 0 ? { prefetchFactor: loader.prefetchFactor, persistentWorkers: loader.persistentWorkers } : {}),
    ...(loader.timeoutMs ? { timeoutMs: loader.timeoutMs } : {}),
  }) as DataLoader<T>;
}
