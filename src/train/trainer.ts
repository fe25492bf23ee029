/**
 * @module torchlight/train/trainer: `TorchTrainer`, as Ray Train's. In the user's process
 * (the driver) `fit()` starts the worker group and returns the `Result`; in a worker process
 * (the same script, re-run by the driver) `fit()` runs the train function as that rank and
 * ends the process, so it never returns there.
 */
import { RunConfig, ScalingConfig, TorchConfig } from "./config.js";
import { TrainConfigError } from "./errors.js";
import { checkOptions } from "../util/validate.js";
import { runDriver } from "./driver.js";
import { localRunner, runWorker } from "./worker.js";
import { Dataset } from "../data/index.js";
import { isWorkerProcess } from "./protocol.js";
import { ENV } from "./protocol.js";
import { Result } from "./result.js";
import { launchedByElastic, runLaunched } from "./launched.js";
import { version } from "../util/version.js";

/** The function each worker runs: receives `trainLoopConfig`. */
export type TrainFunc<C = Record<string, unknown>> = ((config: C) => unknown) | (() => unknown);

export interface TorchTrainerOptions<C> {
  /** Passed to the train function on every worker. Each worker builds it by running the script, so keep it deterministic. */
  trainLoopConfig?: C;
  scalingConfig?: ScalingConfig;
  runConfig?: RunConfig;
  torchConfig?: TorchConfig;
  /** Datasets by name; each worker takes its shard with `getDatasetShard(name)` (Ray's `datasets`). */
  datasets?: Record<string, Dataset>;
}


/** The script's `fit()` calls so far, and the run folders of the finished ones (a worker returns those as Results). */
let fitCalls = 0;
const finishedRuns: string[] = [];

export class TorchTrainer<C = Record<string, unknown>> {
  readonly trainLoopPerWorker: TrainFunc<C>;
  readonly trainLoopConfig: C | undefined;
  readonly scalingConfig: ScalingConfig;
  readonly runConfig: RunConfig;
  readonly torchConfig: TorchConfig;
  readonly datasets: Record<string, Dataset>;

  constructor(trainFunc: TrainFunc<C>, opts: TorchTrainerOptions<C> = {}) {
    if (typeof trainFunc !== "function") {
      throw new TrainConfigError("TRAIN_NO_TRAIN_FUNC", `TorchTrainer: expected the train function (run by every worker) as the first argument, got ${trainFunc === null ? "null" : typeof trainFunc}; pass new TorchTrainer(async (config) => { ... }, { scalingConfig })`);
    }
    if (trainFunc.length > 1) throw new TrainConfigError("TRAIN_NO_TRAIN_FUNC", `TorchTrainer: the train function takes at most one argument (trainLoopConfig), but it declares ${trainFunc.length}`);
    if (opts === null || typeof opts !== "object") throw new TrainConfigError("TRAIN_CONFIG", "TorchTrainer: the second argument must be an options object");
    checkOptions("TorchTrainer", opts, ["trainLoopConfig", "scalingConfig", "runConfig", "torchConfig", "datasets"], (m) => new TrainConfigError("TRAIN_UNKNOWN_OPTION", m));
    const is = <T>(v: unknown, cls: new (...a: never[]) => T, name: string, example: string): T | undefined => {
      if (v === undefined) return undefined;
      if (!(v instanceof cls)) throw new TrainConfigError("TRAIN_CONFIG", `TorchTrainer: ${name} must be a ${cls.name} (${example}), got ${v === null ? "null" : (v as object).constructor?.name ?? typeof v}`);
      return v;
    };
    this.trainLoopPerWorker = trainFunc;
    this.trainLoopConfig = opts.trainLoopConfig;
    this.scalingConfig = is(opts.scalingConfig, ScalingConfig, "scalingConfig", "new ScalingConfig({ numWorkers: 2 })") ?? new ScalingConfig();
    this.runConfig = is(opts.runConfig, RunConfig, "runConfig", "new RunConfig({ storagePath, name })") ?? new RunConfig();
    this.torchConfig = is(opts.torchConfig, TorchConfig, "torchConfig", "new TorchConfig({ backend: \"gloo\" })") ?? new TorchConfig();
    const ds = opts.datasets ?? {};
    if (ds === null || typeof ds !== "object" || Array.isArray(ds)) throw new TrainConfigError("TRAIN_CONFIG", `TorchTrainer: datasets must be an object of names to datasets, as { train: dataset }, got ${Array.isArray(ds) ? "an array" : JSON.stringify(ds)}`);
    for (const [name, d] of Object.entries(ds)) {
      if (!(d instanceof Dataset)) throw new TrainConfigError("TRAIN_CONFIG", `TorchTrainer: datasets.${name} must be a map-style Dataset (torchlight/data: TensorDataset, a vision dataset, a class extending Dataset), got ${d === null ? "null" : (d as object)?.constructor?.name ?? typeof d}`);
    }
    this.datasets = { ...ds };
  }

  /**
   * Runs the training: starts the worker group, waits for it, returns the Result. Throws
   * TrainingFailedError (with `.result`) when the run failed and no restart is left.
   * In a worker process this runs the train function and exits the process instead.
   */
  async fit(): Promise<Result> {
    const index = fitCalls++;
    if (isWorkerProcess()) {
      const mine = Number(process.env[ENV.fitIndex] ?? 0);
      if (index < mine) {
        // an earlier fit() of the script, finished in the driver: its Result, without training again
        const prior = (JSON.parse(process.env[ENV.priorRuns] ?? "[]") as string[])[index];
        if (!prior) throw new TrainConfigError("TRAIN_CONFIG", `TorchTrainer: this worker serves fit() call #${mine} of the script, but the driver has no run for call #${index}; make the script's sequence of fit() calls the same in every process`);
        return Result.fromPath(prior);
      }
      return runWorker(this.trainLoopPerWorker as (c: unknown) => unknown, this.trainLoopConfig ?? {},
        { backend: this.torchConfig.backendFor(this.scalingConfig.useGpu), timeoutMs: this.torchConfig.timeoutMs }, this.datasets);
    }
    if (launchedByElastic()) {
      // torchlight launch / torchrun started this process as one of the workers: train here, as this rank
      return runLaunched({
        scaling: this.scalingConfig, run: this.runConfig, torch: this.torchConfig, trainLoopConfig: this.trainLoopConfig, version,
        runner: (device) => localRunner(this.trainLoopPerWorker as (c: unknown) => unknown, this.trainLoopConfig ?? {}, this.datasets, device),
      });
    }
    const local = this.scalingConfig.localMode
      ? localRunner(this.trainLoopPerWorker as (c: unknown) => unknown, this.trainLoopConfig ?? {}, this.datasets, this.scalingConfig.localDevice)
      : undefined;
    const result = await runDriver({
      scaling: this.scalingConfig, run: this.runConfig, torch: this.torchConfig, trainLoopConfig: this.trainLoopConfig,
      fitIndex: index, priorRuns: [...finishedRuns], version, localRunner: local,
    }).catch((e: unknown) => {
      const r = (e as { result?: Result }).result;
      if (r) finishedRuns[index] = r.path;
      throw e;
    });
    finishedRuns[index] = result.path;
    return result;
  }
}

