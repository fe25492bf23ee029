/**
 * @module torchlight/lightning/connectors/optimizer_connector: `configureOptimizers()`'s
 * return value read into optimizers and scheduler entries (every form Lightning accepts),
 * and the schedulers stepped per step or epoch, as Lightning's `core/optimizer.py` and the
 * training epoch loop's `update_lr_schedulers`.
 */
import { Optimizer } from "../../torch/optim/index.js";
import { LightningError } from "../errors.js";
import { steps, type LightningModule, type OptimizerConfig, type SchedulerConfig } from "../module.js";
import { withHook } from "../call.js";
import type { SchedulerEntry } from "../types.js";

const bad = () => new LightningError("PL_BAD_RETURN", "configureOptimizers() must return an optimizer, a list of optimizers, [optimizers, schedulers], " +
  "{ optimizer, lrScheduler? }, or a list of such dicts");

/** The optimizers and schedulers `model.configureOptimizers()` returns. */
export function configureOptimizers(model: LightningModule): { optimizers: Optimizer<object>[]; schedulers: SchedulerEntry[] } {
  const cfg: OptimizerConfig = withHook(model, "configureOptimizers", () => steps(model).configureOptimizers!());
  const optimizers: Optimizer<object>[] = [];
  const schedulers: SchedulerEntry[] = [];
  const addSched = (s: unknown, optimizerIndex: number, monitor?: string) => {
    const c = (s !== null && typeof s === "object" && "scheduler" in s ? s : { scheduler: s }) as SchedulerConfig;
    if (typeof c.scheduler?.step !== "function") throw bad();
    const interval = c.interval ?? "epoch";
    if (interval !== "epoch" && interval !== "step") throw new LightningError("PL_BAD_RETURN", `configureOptimizers(): lrScheduler.interval must be "epoch" or "step"; got ${JSON.stringify(interval)}`);
    const frequency = c.frequency ?? 1;
    if (!Number.isInteger(frequency) || frequency < 1) throw new LightningError("PL_BAD_RETURN", `configureOptimizers(): lrScheduler.frequency must be a positive integer; got ${JSON.stringify(frequency)}`);
    const isPlateau = c.scheduler.constructor.name === "ReduceLROnPlateau";
    const mon = c.monitor ?? monitor ?? null;
    if (isPlateau && !mon) throw new LightningError("PL_BAD_RETURN", "configureOptimizers(): a ReduceLROnPlateau scheduler needs the metric to watch: return { optimizer, lrScheduler: { scheduler, monitor: \"val_loss\" } }");
    schedulers.push({ scheduler: c.scheduler, interval, frequency, strict: c.strict ?? true, monitor: mon, name: c.name ?? null, optimizerIndex });
  };
  const addDict = (d: { optimizer: Optimizer<object>; lrScheduler?: unknown; monitor?: string }) => {
    if (!(d.optimizer instanceof Optimizer)) throw bad();
    optimizers.push(d.optimizer);
    if (d.lrScheduler) addSched(d.lrScheduler, optimizers.length - 1, d.monitor);
  };
  if (cfg === null || cfg === undefined) {
    throw new LightningError("PL_BAD_RETURN", "configureOptimizers() returned nothing; training needs an optimizer (return one, e.g. new optim.Adam(this.parameters()))");
  } else if (cfg instanceof Optimizer) optimizers.push(cfg);
  else if (Array.isArray(cfg)) {
    if (cfg.length === 2 && Array.isArray(cfg[0]) && Array.isArray(cfg[1])) {
      for (const o of cfg[0] as unknown[]) { if (!(o instanceof Optimizer)) throw bad(); optimizers.push(o); }
      for (const s of cfg[1] as unknown[]) addSched(s, 0);
    } else for (const x of cfg as unknown[]) {
      if (x instanceof Optimizer) optimizers.push(x);
      else if (x !== null && typeof x === "object" && "optimizer" in x) addDict(x as never);
      else throw bad();
    }
  } else if (typeof cfg === "object" && "optimizer" in cfg) addDict(cfg as never);
  else throw bad();
  if (optimizers.length > 1 && model.automaticOptimization) {
    throw new LightningError("PL_MISCONFIGURATION", "Training with multiple optimizers is only supported with manual optimization. Set `this.automaticOptimization = false`, then access your optimizers in `trainingStep` with `this.optimizers()`.");
  }
  return { optimizers, schedulers };
}

/** Steps the schedulers of `interval` whose frequency divides `count` (the global step, or the epoch number). */
export function updateSchedulers(schedulers: SchedulerEntry[], interval: "step" | "epoch", count: number, metrics: Record<string, number>): void {
  for (const s of schedulers) {
    if (s.interval !== interval || count % s.frequency !== 0) continue;
    if (s.monitor) {
      const v = metrics[s.monitor];
      if (v === undefined) {
        if (!s.strict) continue;
        throw new LightningError("PL_MONITOR", `ReduceLROnPlateau conditioned on metric ${s.monitor} which is not available. Available metrics are: [${Object.keys(metrics).join(", ")}]. Condition can be set using \`monitor\` key in lr scheduler dict`);
      }
      (s.scheduler.step as (x: number) => void)(v);
    } else (s.scheduler.step as () => void)();
  }
}
