/**
 * @module torchlight/lightning/connectors/checkpoint_connector: checkpoints in and out, as
 * Lightning's `_CheckpointConnector`: "last"/"best" resolved to files, the checkpoint dict of
 * the current state (`dumpCheckpoint`), and restore: the module, datamodule and callbacks
 * first, then (fit) optimizers, schedulers, precision plugin, loops and RNG for an exact resume.
 */
import { join } from "node:path";
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/index.js";
import { LightningError } from "../errors.js";
import { VERSION, type CheckpointDict } from "../checkpoint.js";
import type { Trainer } from "../trainer.js";
import type { Stage } from "../types.js";

export class CheckpointConnector {
  constructor(private readonly trainer: Trainer) {}

  /** A file path for `ckptPath` ("last" and "best" from the checkpoint callbacks). */
  resolveCkptPath(p: string | null, stage: Stage): string | null {
    const t = this.trainer;
    if (p === null) return null;
    if (typeof p !== "string" || p === "") throw new LightningError("PL_CHECKPOINT", `${stage}: ckptPath must be a file path, "last" or "best"; got ${JSON.stringify(p)}`);
    if (p === "last") {
      const last = t.checkpointCallbacks.map((c) => c.lastModelPath || (c.dirpath ? join(c.dirpath, "last.ckpt") : "")).find((x) => x);
      if (!last) throw new LightningError("PL_CHECKPOINT", `${stage}(ckptPath: "last"): no last checkpoint is known; pass a file path (ModelCheckpoint({ saveLast: true }) writes last.ckpt)`);
      return last;
    }
    if (p === "best") {
      const best = t.checkpointCallback?.bestModelPath;
      if (!best) throw new LightningError("PL_CHECKPOINT", `${stage}(ckptPath: "best"): no best checkpoint is known (fit with a ModelCheckpoint first, or pass a file path)`);
      return best;
    }
    return p;
  }

  /** The checkpoint of the current state, as Lightning's `dump_checkpoint`. */
  dump(weightsOnly: boolean): CheckpointDict {
    const t = this.trainer, m = t.lightningModule!;
    const loop = t.fitLoop;
    const ckpt: CheckpointDict = {
      epoch: loop.currentEpoch,
      global_step: loop.epochLoop.globalStep,
      torchlight_version: VERSION,
      state_dict: m.stateDict(),
      loops: { fit_loop: loop.stateDict() },
    };
    if (!weightsOnly) {
      const cbs: Record<string, unknown> = {};
      for (const c of t.callbacks) { const s = c.stateDict(); if (Object.keys(s).length) cbs[c.stateKey] = s; }
      ckpt.callbacks = cbs;
      ckpt.optimizer_states = t.optimizers.map((o) => o.stateDict());
      ckpt.lr_schedulers = t.lrSchedulerConfigs.map((s) => s.scheduler.stateDict());
      const precision = t._accelerator.precisionPlugin;
      const ps = precision.stateDict();
      if (Object.keys(ps).length) ckpt[precision.constructor.name] = ps;
      ckpt.torchlight_rng = loop.epochLoop.rngStateDict();
      if (t.datamodule) ckpt[t.datamodule.constructor.name] = t.datamodule.stateDict();
    }
    if (Object.keys(m.hparams).length) { ckpt.hparams_name = "kwargs"; ckpt.hyper_parameters = { ...m.hparams }; }
    if (t.datamodule && Object.keys(t.datamodule.hparams).length) ckpt.datamodule_hyper_parameters = { ...t.datamodule.hparams };
    if (!weightsOnly) for (const c of t.callbacks) c.onSaveCheckpoint(t, m, ckpt);
    m.onSaveCheckpoint(ckpt);
    return ckpt;
  }

  /** Restores the module, the datamodule and the callbacks. */
  restoreModules(ckpt: CheckpointDict): void {
    const t = this.trainer, m = t.lightningModule!;
    m.onLoadCheckpoint(ckpt);
    const sd = ckpt.state_dict as Record<string, unknown> | undefined;
    if (!sd) throw new LightningError("PL_CHECKPOINT", `the checkpoint has no "state_dict" (keys: ${Object.keys(ckpt).join(", ")})`);
    m.loadStateDict(sd);
    if (t.datamodule && ckpt[t.datamodule.constructor.name]) t.datamodule.loadStateDict(ckpt[t.datamodule.constructor.name] as Record<string, unknown>);
    const cbs = (ckpt.callbacks ?? {}) as Record<string, Record<string, unknown>>;
    for (const c of t.callbacks) {
      c.onLoadCheckpoint(t, m, ckpt);
      if (cbs[c.stateKey]) c.loadStateDict(cbs[c.stateKey]!);
    }
  }

  /** Restores what fit needs beyond the modules: optimizers, schedulers, precision, loops, RNG. */
  restoreTrainingState(ckpt: CheckpointDict): void {
    const t = this.trainer;
    const states = ckpt.optimizer_states as unknown[] | undefined;
    if (!states) throw new LightningError("PL_CHECKPOINT", "Trying to restore optimizer state but checkpoint contains only the model. This is probably due to `ModelCheckpoint(saveWeightsOnly: true)`; resume from a full checkpoint");
    if (states.length !== t.optimizers.length) throw new LightningError("PL_CHECKPOINT", `the checkpoint has ${states.length} optimizer states but configureOptimizers() returned ${t.optimizers.length}`);
    t.optimizers.forEach((o, i) => o.loadStateDict(states[i] as never));
    const scheds = (ckpt.lr_schedulers ?? []) as Record<string, unknown>[];
    t.lrSchedulerConfigs.forEach((s, i) => { if (scheds[i]) s.scheduler.loadStateDict(scheds[i]!); });
    const precision = t._accelerator.precisionPlugin;
    const ps = ckpt[precision.constructor.name];
    if (ps && typeof ps === "object") precision.loadStateDict(ps as Record<string, unknown>);
    const loop = t.fitLoop;
    loop.epochLoop.loadRngState(ckpt.torchlight_rng as { epoch_start?: Tensor | null; now?: Tensor } | undefined);
    const fit = ((ckpt.loops ?? {}) as Record<string, Record<string, unknown>>).fit_loop ?? {};
    loop.loadCheckpointState(fit, Number(ckpt.epoch ?? 0), Number(ckpt.global_step ?? 0));
  }

  /** Serialises the current state now; the file is written off the JS thread (rank 0 only). */
  save(path: string, weightsOnly: boolean): Promise<void> {
    const t = this.trainer;
    if (!t.isGlobalZero) return Promise.resolve();
    const bytes = torch.tidy(() => torch.serialize(this.dump(weightsOnly) as torch.Saveable));
    const p = torch.writeAtomic(bytes, path);
    t.defer(p);
    return p;
  }
}
