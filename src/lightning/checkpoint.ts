/**
 * @module torchlight/lightning/checkpoint: the checkpoint file. A dict in PyTorch's format
 * (`torch.save`), with Lightning's keys: `epoch`, `global_step`, `state_dict`,
 * `optimizer_states`, `lr_schedulers`, `loops`, `callbacks`, `hyper_parameters`,
 * `hparams_name`, and `torchlight_version` in place of `pytorch-lightning_version`. Python's
 * `torch.load` opens it and its `state_dict` loads into the equivalent Python module.
 */
import * as torch from "../torch/index.js";
import { LightningError } from "./errors.js";
import { version } from "../util/version.js";

/** A checkpoint as a dict (what `torch.load` of the file gives). */
export type CheckpointDict = Record<string, unknown>;

/** The version written under `torchlight_version`. */
export const VERSION: string = version;

/**
 * Reads a checkpoint file (off the JS thread); `mapLocation` moves its tensors (e.g. "cpu").
 * `weightsOnly` (default true, as torch.load since 2.6) refuses globals outside torch's allow-list.
 */
export async function readCheckpoint(path: string, mapLocation?: string, weightsOnly?: boolean): Promise<CheckpointDict> {
  let ckpt: unknown;
  try {
    ckpt = await torch.loadAsync(path, { ...(mapLocation ? { mapLocation } : {}), ...(weightsOnly !== undefined ? { weightsOnly } : {}) });
  } catch (e) {
    throw new LightningError("PL_CHECKPOINT", `Cannot read the checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (ckpt === null || typeof ckpt !== "object" || Array.isArray(ckpt) || ckpt instanceof torch.Tensor) {
    throw new LightningError("PL_CHECKPOINT", `${path} does not hold a checkpoint dict (it holds ${ckpt instanceof torch.Tensor ? "a tensor" : typeof ckpt}); pass a file written by Trainer.saveCheckpoint or ModelCheckpoint`);
  }
  return ckpt as CheckpointDict;
}

/** Frees every tensor inside a (nested) checkpoint value. */
export function disposeTree(v: unknown, seen = new Set<unknown>()): void {
  if (v instanceof torch.Tensor) { v.dispose(); return; }
  if (v === null || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Map) for (const x of v.values()) disposeTree(x, seen);
  else for (const x of Array.isArray(v) ? v : Object.values(v)) disposeTree(x, seen);
}
