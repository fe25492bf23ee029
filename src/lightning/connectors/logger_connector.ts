/**
 * @module torchlight/lightning/connectors/logger_connector: the Trainer's metrics and
 * loggers, as Lightning's `_LoggerConnector`: the three metric views (`callbackMetrics`,
 * `loggedMetrics`, `progressBarMetrics`), when loggers are written, and the writing itself
 * (global rank 0, never during the sanity check).
 */
import { TensorBoardLogger } from "../loggers/tensorboard.js";
import type { Logger } from "../loggers/logger.js";
import type { Metrics } from "../results.js";
import type { Trainer } from "../trainer.js";
import type { TrainerOptions } from "../types.js";

export class LoggerConnector {
  callbackMetrics: Record<string, number> = {};
  loggedMetrics: Record<string, number> = {};
  progressBarMetrics: Record<string, number> = {};
  constructor(private readonly trainer: Trainer) {}

  /** The loggers of the `logger` option (Lightning's default: a TensorBoardLogger under defaultRootDir). */
  static initLoggers(lg: TrainerOptions["logger"], defaultRootDir: string, off: boolean): Logger[] {
    if (off || lg === false) return [];
    if (lg === true || lg === undefined) return [new TensorBoardLogger(defaultRootDir)];
    return Array.isArray(lg) ? lg : [lg];
  }

  /** Takes a result collection's metrics into the three views. */
  absorb(m: Metrics): void {
    Object.assign(this.callbackMetrics, m.callback);
    Object.assign(this.progressBarMetrics, m.pbar);
    Object.assign(this.loggedMetrics, m.log);
  }
  reset(): void { this.callbackMetrics = {}; this.loggedMetrics = {}; this.progressBarMetrics = {}; }

  /** Whether the loggers get this step's metrics (every logEveryNSteps, and when stopping). */
  shouldUpdateLogs(): boolean {
    const t = this.trainer;
    return (t.fitLoop.epochLoop.batchesThatStepped + 1) % t.logEveryNSteps === 0 || t.shouldStop;
  }

  /** Writes metrics to every logger (rank 0) at `step` (default: the current logging step). */
  logMetrics(metrics: Record<string, number>, step?: number): void {
    const t = this.trainer;
    if (!t.isGlobalZero || !t.loggers.length || t.sanityChecking) return;
    const s = step ?? t.fitLoop.epochLoop.batchesThatStepped;
    const withEpoch = { ...metrics, epoch: metrics.epoch ?? t.currentEpoch };
    for (const l of t.loggers) { l.logMetrics(withEpoch, s); l.save(); }
  }
}
