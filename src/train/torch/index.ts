/**
 * @module torchlight/train/torch: what `ray.train.torch` exports: `TorchTrainer`,
 * `TorchConfig`, and the helpers for a plain training function (`prepareModel`,
 * `prepareDataLoader`, `getDevice`, `getDevices`, `enableReproducibility`).
 * @example
 * import { TorchTrainer, prepareModel, prepareDataLoader } from "torchlight/train/torch";
 */
export { TorchTrainer, type TorchTrainerOptions, type TrainFunc } from "../trainer.js";
export { TorchConfig } from "../config.js";
export { getDatasetShard } from "../worker.js";
export { prepareModel, prepareDataLoader, getDevice, getDevices, enableReproducibility, type PrepareModelOptions, type PrepareDataLoaderOptions } from "./prepare.js";
