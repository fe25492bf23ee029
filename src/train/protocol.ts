/**
 * @module torchlight/train/protocol: what the driver and its workers say to each other. The
 * driver (driver.ts) and the worker runtime (worker.ts) never import each other; both import
 * this. Messages are JSON over a WebSocket (the `ws` library): the driver listens on loopback
 * (or the cluster interface), and a worker proves itself with the run's secret.
 */

import { ENV as ALL } from "../util/env.js";
import { STORAGE_ERROR_CODES } from "./errors.js";

/** Environment variables the driver sets for each worker (named in util/env). */
export const ENV = {
  control: ALL.trainControl,
  secret: ALL.trainSecret,
  storeSecret: ALL.storeSecret,
  fitIndex: ALL.trainFitIndex,
  priorRuns: ALL.trainPriorRuns,
  device: ALL.trainDevice,
  spawnedAt: ALL.trainSpawnedAt,
  numThreads: ALL.numThreads,
} as const;

/** Header carrying the secret on the WebSocket upgrade. */
export const SECRET_HEADER = "x-torchlight-secret";

/** A worker's place in the group, sent by the driver in `start`. */
export interface WorkerPlacement {
  worldRank: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
  worldSize: number;
}

/** What a rank did since its previous report (its DataLoaders' batches and samples), for the run's telemetry. */
export interface ReportTelemetry { samples: number; batches: number; sinceS: number | null }

export interface SerializedError { type: string; message: string; stack?: string; code?: string }

/** Worker → driver. */
export type WorkerMessage =
  | { type: "hello"; rank: number; pid: number; hostname: string }
  | { type: "report"; seq: number; metrics: Record<string, unknown>; staged: string | null; at: number; telemetry?: ReportTelemetry }
  | { type: "progress"; epoch: number; done: number; total: number | null; postfix: string; final: boolean; secs: number }
  | { type: "error"; error: SerializedError; user: boolean }
  /** This worker was told to stop by someone other than the driver (SIGTERM from a scheduler): preempt the group. */
  | { type: "preempt"; reason: string }
  | { type: "done" };

/** Whether this process is a torchlight/train worker (started by a TorchTrainer's driver). */
export function isWorkerProcess(): boolean { return process.env[ENV.control] !== undefined; }
/**
 * Whether this process is a worker: the entry script runs again in every worker, so code that
 * must run once (cleaning a folder, downloading) goes under `if (isDriver())`.
 */
export const isWorker = isWorkerProcess;
/** Whether this process is the driver (the user's own run of the script), not a worker. */
export const isDriver = (): boolean => !isWorkerProcess();

/** Driver → worker. */
export type DriverMessage =
  | { type: "start"; placement: WorkerPlacement; runPath: string; experimentName: string; attempt: number; latestCheckpoint: string | null; stagingDir: string }
  | { type: "reportAck"; seq: number; checkpoint: string | null }
  | { type: "abort"; reason: string }
  /** The run is preempted: `getContext().shouldStop()` turns true; save, report and return. */
  | { type: "preempt"; reason: string }
  /** The driver itself stops this worker: the SIGTERM that follows is not a preemption. */
  | { type: "stop" };

export type StartMessage = Extract<DriverMessage, { type: "start" }>;

/**
 * Local mode (`numWorkers: 0`): the driver's in-process group starts the train function through
 * this (made by the TorchTrainer from the worker runtime, so the driver never imports it). The
 * messages are the same as over the control channel, without the channel.
 */
export type LocalRunner = (start: StartMessage, toDriver: (m: WorkerMessage) => void) => {
  /** Settles when the train function returned or threw (its error was sent as an "error" message). */
  finished: Promise<void>;
  toWorker(m: DriverMessage): void;
};

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { type: e.name || e.constructor.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}), ...(typeof code === "string" ? { code } : {}) };
  }
  return { type: typeof e, message: String(e) };
}

/** Distributed errors that mean a peer died or hung: the consequence of another rank's failure, not a fault of this rank's code. */
export const PEER_FAILURE_CODES = new Set(["DIST_PEER_FAILED", "DIST_TIMEOUT", "DIST_BACKEND_ERROR"]);

/**
 * Whether a rank's error is its own code failing: not a peer's death or hang (a consequence of
 * another rank's failure) and not a full or failing disk (STORAGE_ERROR_CODES).
 */
export function isUserFailure(e: SerializedError): boolean {
  return !isPeerFailure(e) && !STORAGE_ERROR_CODES.has(e.code ?? "");
}

/** Whether `e` says a peer process died or hung (a c10d/Gloo transport error, also from inside DDP's backward hooks), rather than a bug in this rank's code. */
export function isPeerFailure(e: SerializedError): boolean {
  if (e.code !== undefined && PEER_FAILURE_CODES.has(e.code)) return true;
  return /gloo\/transport|Connection closed by peer|Connection reset by peer|Broken pipe|ProcessGroupGloo.*(timed out|Timed out)|NCCL (error|communicator was aborted)/.test(e.message);
}
