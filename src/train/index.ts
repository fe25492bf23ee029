/**
 * @module torchlight/train: Ray Train's driver for TypeScript. `TorchTrainer` runs a train
 * function as N data-parallel worker processes (the same script, re-run as each rank),
 * streams their reports, persists checkpoints to the run folder, survives faults and
 * returns a `Result`. Inside the train function: `report`, `getContext`, `getCheckpoint`.
 */
export { TorchTrainer, type TorchTrainerOptions, type TrainFunc } from "./trainer.js";
export { ScalingConfig, RunConfig, CheckpointConfig, FailureConfig, TorchConfig, type TrainCallback, type PlacementStrategy } from "./config.js";
export { Checkpoint, CheckpointDirectory } from "./checkpoint.js";
export { Result, MetricsTable } from "./result.js";
export { report, getContext, getCheckpoint, getDatasetShard, TrainContext, type StorageInfo } from "./worker.js";
export { isWorkerProcess, isWorker, isDriver } from "./protocol.js";
export { TrainError, TrainConfigError, TrainingFailedError, TrainingPreemptedError, WorkerGroupError, type RankFailure, type TrainErrorCode } from "./errors.js";
