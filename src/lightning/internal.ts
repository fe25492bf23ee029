/**
 * @module torchlight/lightning/internal: the Trainer's machinery (loops, connectors, the hook
 * dispatcher, checkpoint helpers, the TensorBoard file format), for torchlight's own layers and
 * tests. Not part of the public API: names here may change without notice.
 */
export { FitLoop } from "./loops/fit_loop.js";
export { TrainingEpochLoop } from "./loops/training_epoch_loop.js";
export { EvaluationLoop } from "./loops/evaluation_loop.js";
export { PredictionLoop } from "./loops/prediction_loop.js";
export { Progress } from "./loops/progress.js";
export { Loop } from "./loops/loop.js";
export { callCallbackHooks, callHooks, callModuleHook, withHook } from "./call.js";
export { disposeTree, VERSION } from "./checkpoint.js";
export { EventFileWriter, crc32c, maskedCrc32c } from "./loggers/tensorboard.js";
export { resolvePrecision } from "./precision.js";
