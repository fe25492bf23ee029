/**
 * @module torchlight/lightning/connectors/callback_connector: the Trainer's callback list,
 * as Lightning's `_CallbackConnector`: the user's callbacks, then the defaults the options
 * ask for (progress bar, model summary, checkpointing), the module's own callbacks replacing
 * those of the same class, and monitoring callbacks (checkpoints) last.
 */
import { LightningError } from "../errors.js";
import { Callback } from "../callbacks/callback.js";
import { ModelCheckpoint } from "../callbacks/model_checkpoint.js";
import { ModelSummary } from "../callbacks/model_summary.js";
import { TQDMProgressBar } from "../callbacks/progress.js";
import type { LightningModule } from "../module.js";
import type { TrainerOptions } from "../types.js";

/** The callbacks of a new Trainer. */
export function initCallbacks(opts: Pick<TrainerOptions, "callbacks" | "enableCheckpointing" | "enableProgressBar" | "enableModelSummary">): Callback[] {
  const user = opts.callbacks === undefined ? [] : Array.isArray(opts.callbacks) ? [...opts.callbacks] : [opts.callbacks];
  for (const c of user) if (!(c instanceof Callback)) throw new LightningError("PL_MISCONFIGURATION", `Trainer: callbacks must be Callback instances; got ${String(c)}`);
  const hasCkpt = user.some((c) => c instanceof ModelCheckpoint);
  if (opts.enableCheckpointing === false && hasCkpt) {
    throw new LightningError("PL_MISCONFIGURATION", "Trainer was configured with enableCheckpointing: false but found a ModelCheckpoint in callbacks; remove one of the two");
  }
  const hasBar = user.some((c) => c instanceof TQDMProgressBar);
  if (opts.enableProgressBar === false && hasBar) {
    throw new LightningError("PL_MISCONFIGURATION", "Trainer was configured with enableProgressBar: false but found a TQDMProgressBar in callbacks; remove one of the two");
  }
  const out = user;
  // a progress bar or summary the user passed replaces the default one
  if ((opts.enableModelSummary ?? true) && !user.some((c) => c instanceof ModelSummary)) out.unshift(new ModelSummary());
  if ((opts.enableProgressBar ?? true) && !hasBar) out.unshift(new TQDMProgressBar());
  if ((opts.enableCheckpointing ?? true) && !hasCkpt) out.push(new ModelCheckpoint());
  return orderCallbacks(out);
}

/** Monitoring callbacks (checkpoints) run last, as Lightning orders them. */
export function orderCallbacks(cbs: Callback[]): Callback[] {
  return [...cbs.filter((c) => !(c instanceof ModelCheckpoint)), ...cbs.filter((c) => c instanceof ModelCheckpoint)];
}

/** `cbs` with the module's `configureCallbacks()` added, replacing callbacks of the same class. */
export function withModuleCallbacks(cbs: Callback[], model: LightningModule): Callback[] {
  const extra = model.configureCallbacks();
  const mine = Array.isArray(extra) ? extra : [extra];
  if (!mine.length) return cbs;
  const kinds = new Set(mine.map((c) => c.constructor));
  return orderCallbacks([...cbs.filter((c) => !kinds.has(c.constructor)), ...mine]);
}
