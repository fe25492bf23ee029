/** @module torchlight/data/worker_info: what a DataLoader worker thread knows about itself, as `get_worker_info()`. */
import type { Generator } from "../torch/index.js";
import type { Dataset } from "./dataset.js";

/** In a DataLoader worker: its id, the number of workers, its seed, its dataset copy and its Generator. */
export interface WorkerInfo { id: number; numWorkers: number; seed: bigint; dataset: Dataset; generator: Generator }

let info: WorkerInfo | null = null;
/** @internal */
export function setWorkerInfo(i: WorkerInfo): void { info = i; }
/**
 * Inside a DataLoader worker thread, its WorkerInfo; in the main thread, null. Random
 * transforms draw from `getWorkerInfo()?.generator` (seeded `baseSeed + id`, as PyTorch
 * seeds its workers), so worker threads never share the default generator.
 */
export const getWorkerInfo = (): WorkerInfo | null => info;
