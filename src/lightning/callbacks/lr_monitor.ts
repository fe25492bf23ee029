/**
 * @module torchlight/lightning/callbacks/lr_monitor: `LearningRateMonitor`, as Lightning's:
 * logs each optimizer's learning rate (`lr-Adam`, `lr-Adam/pg2` for further parameter
 * groups, or the scheduler config's `name`) to the loggers every step or epoch.
 */
import { checkOptions } from "../../util/validate.js";
import { Callback } from "./callback.js";
import { LightningError } from "../errors.js";
import type { Trainer } from "../trainer.js";

export class LearningRateMonitor extends Callback {
  readonly loggingInterval: "step" | "epoch" | null;
  readonly logMomentum: boolean;
  readonly logWeightDecay: boolean;
  /** Every logged value, by name. */
  lrs: Record<string, number[]> = {};

  constructor(options?: { loggingInterval?: "step" | "epoch" | null; logMomentum?: boolean; logWeightDecay?: boolean }) {
    super();
    const opts = checkOptions("LearningRateMonitor", options, ["loggingInterval", "logMomentum", "logWeightDecay"], (m) => new LightningError("PL_MISCONFIGURATION", m));
    this.loggingInterval = opts.loggingInterval ?? null;
    if (this.loggingInterval !== null && this.loggingInterval !== "step" && this.loggingInterval !== "epoch") {
      throw new LightningError("PL_MISCONFIGURATION", `LearningRateMonitor: loggingInterval should be "step", "epoch" or null; got ${JSON.stringify(this.loggingInterval)}`);
    }
    this.logMomentum = opts.logMomentum ?? false;
    this.logWeightDecay = opts.logWeightDecay ?? false;
  }

  override onTrainStart(trainer: Trainer): void {
    if (!trainer.loggers.length) throw new LightningError("PL_MISCONFIGURATION", "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger.");
  }
  override onTrainBatchStart(trainer: Trainer): void {
    if (this.loggingInterval === "epoch" || !trainer._shouldUpdateLogs()) return;
    this.record(trainer, this.loggingInterval === "step" ? null : "step");
  }
  override onTrainEpochStart(trainer: Trainer): void {
    if (this.loggingInterval === "step") return;
    this.record(trainer, this.loggingInterval === "epoch" ? null : "epoch");
  }

  /** The learning rates now, by name (`interval`: only optimizers whose scheduler steps at that interval; null: all). */
  current(trainer: Trainer, interval: "step" | "epoch" | null = null): Record<string, number> {
    const out: Record<string, number> = {};
    const used = new Map<string, number>();
    trainer.optimizers.forEach((opt, i) => {
      const cfg = trainer.lrSchedulerConfigs.find((c) => c.optimizerIndex === i);
      // an optimizer without a scheduler counts as stepping per epoch
      if (interval !== null && (cfg?.interval ?? "epoch") !== interval) return;
      let name = cfg?.name ?? `lr-${opt.constructor.name}`;
      const n = used.get(name) ?? 0;
      used.set(name, n + 1);
      if (n > 0) name = `${name}-${n}`;
      opt.paramGroups.forEach((g, j) => {
        const suffix = opt.paramGroups.length > 1 ? `/pg${j + 1}` : "";
        out[name + suffix] = Number(g.lr);
        if (this.logMomentum) {
          const m = "betas" in g ? (g.betas as number[])[0] : g.momentum;
          out[`${name}-momentum${suffix}`] = Number(m ?? 0);
        }
        if (this.logWeightDecay) out[`${name}-weight_decay${suffix}`] = Number(g.weightDecay ?? 0);
      });
    });
    return out;
  }

  private record(trainer: Trainer, interval: "step" | "epoch" | null): void {
    const stats = this.current(trainer, interval);
    if (!Object.keys(stats).length) return;
    for (const [k, v] of Object.entries(stats)) (this.lrs[k] ??= []).push(v);
    trainer._logToLoggers(stats);
  }
}
