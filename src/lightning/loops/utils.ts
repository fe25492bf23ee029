/**
 * @module torchlight/lightning/loops/utils: what several loops share: reading the loss out of
 * a step's output, and keeping a step's output past its tensor scope.
 */
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/index.js";
import { LightningError } from "../errors.js";

/** The loss in a step's output: a tensor, `{ loss }`, or null (skip). */
export function lossOf(out: unknown): Tensor | null {
  if (out === null || out === undefined) return null;
  if (out instanceof torch.Tensor) return out;
  if (typeof out === "object" && "loss" in out && (out as { loss: unknown }).loss instanceof torch.Tensor) return (out as { loss: Tensor }).loss;
  throw new LightningError("PL_BAD_RETURN", "In automatic optimization, `trainingStep` must return a Tensor, a dict with a \"loss\" key, or null (to skip the batch); " +
    `it returned ${typeof out === "object" ? `an object with keys [${Object.keys(out as object).join(", ")}]` : typeof out}`);
}

/** Keeps the tensors of a step's output past its scope (detached), so hooks after the scope can read them. */
export function keepOutputs(out: unknown): unknown {
  if (out instanceof torch.Tensor) return out.detach().keep();
  if (Array.isArray(out)) return out.map(keepOutputs);
  if (out !== null && typeof out === "object" && Object.getPrototypeOf(out) === Object.prototype) {
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, keepOutputs(v)]));
  }
  return out;
}
