/**
 * @module torchlight/train/internal: the driver's machinery for torchlight's own tests and
 * tools (a dashboard, the CLI): the controller and its policy, the process worker group,
 * storage and the multi-node storage guard. Not public: names here may change without notice.
 */
export { Controller, MaxFailuresPolicy, type ControllerState, type FailurePolicy, type WorkerGroup, type WorkerGroupStatus, type RankStatus } from "./controller.js";
export { FileStorage, RUN_STATUSES, RUN_FILE_VERSION, storageNotShared, checkpointsToDelete, type Storage, type RunState, type RunStatus } from "./storage.js";
export { createLauncher, placeOnNodes, expandSlurmCounts, resolveLauncherKind } from "./launcher.js";
