/**
 * @module torchlight/data: datasets, samplers and the DataLoader, as `torch.utils.data`.
 * @example
 * import { DataLoader, TensorDataset } from "torchlight/data";
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 64, shuffle: true });
 * for (const [xb, yb] of loader) { ... }
 */
export { Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, randomSplit, DatasetError, type WorkerSpec } from "./dataset.js";
export { Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, BatchSampler, DistributedSampler, type DistributedSamplerOptions, type Sized } from "./sampler.js";
export { defaultCollate, applyToTensors, type Batch } from "./collate.js";
export { DataLoader, DataLoaderError, type DataLoaderOptions } from "./dataloader.js";
export { getWorkerInfo, type WorkerInfo } from "./worker_info.js";
export { withDistributedSampler, remakeLoader, type DistributedLoaderOptions } from "./distributed.js";
