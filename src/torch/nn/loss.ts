/** @module torchlight/torch/nn/loss: loss modules over nn.functional, as `torch.nn`'s. */
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { Module } from "./module.js";
import { TorchArgumentError } from "../errors.js";
import { checkOptions } from "../../util/validate.js";

/** A loss's options object, checked against its keywords (PyTorch's, minus the deprecated size_average/reduce). */
function lossOptions<T extends object>(loss: string, opts: T | undefined, keys: readonly string[]): T {
  return checkOptions(loss, opts, keys, (m) => new TorchArgumentError(m, loss));
}

type Reduction = F.Reduction;

/** Losses take `reduction` ("mean" by default, "sum", "none"). */
abstract class Loss extends Module {
  readonly reduction: Reduction;
  constructor(opts: { reduction?: Reduction }) {
    super();
    const r = opts.reduction ?? "mean";
    if (r !== "mean" && r !== "sum" && r !== "none") throw new TypeError(`${this.constructor.name}: expected reduction "none", "mean" or "sum" but received ${JSON.stringify(r)}`);
    this.reduction = r;
  }
  override extraRepr(): string { return `reduction=${this.reduction}`; }
}

/** Losses with an optional per-class `weight` (a buffer, as PyTorch's `_WeightedLoss`). */
abstract class WeightedLoss extends Loss {
  constructor(opts: { reduction?: Reduction; weight?: Tensor | null }) {
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
  }
  get weight(): Tensor | null { return (this._registered.get("weight") ?? null) as Tensor | null; }
}

/**
 * Cross-entropy of logits against class indices or class probabilities.
 * @example const loss = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(logits, labels);
 */
export class CrossEntropyLoss extends WeightedLoss {
  readonly ignoreIndex: number; readonly labelSmoothing: number;
  constructor(options?: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number }) {
    const opts = lossOptions("CrossEntropyLoss", options, ["weight", "ignoreIndex", "reduction", "labelSmoothing"]);
    super(opts);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
    if (!(this.labelSmoothing >= 0 && this.labelSmoothing <= 1)) throw new RangeError(`CrossEntropyLoss: labelSmoothing must be in [0, 1] but is ${this.labelSmoothing}`);
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction, labelSmoothing: this.labelSmoothing });
  }
}

export class NLLLoss extends WeightedLoss {
  readonly ignoreIndex: number;
  constructor(options?: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction }) {
    const opts = lossOptions("NLLLoss", options, ["weight", "ignoreIndex", "reduction"]);
    super(opts);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

export class MSELoss extends Loss {
  constructor(options?: { reduction?: Reduction }) {
    const opts = lossOptions("MSELoss", options, ["reduction"]);
    super(opts);
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, { reduction: this.reduction }); }
}
export class L1Loss extends Loss {
  constructor(options?: { reduction?: Reduction }) {
    const opts = lossOptions("L1Loss", options, ["reduction"]);
    super(opts);
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, { reduction: this.reduction }); }
}
export class SmoothL1Loss extends Loss {
  readonly beta: number;
  constructor(options?: { reduction?: Reduction; beta?: number }) {
    const opts = lossOptions("SmoothL1Loss", options, ["reduction", "beta"]);
    super(opts);
    this.beta = opts.beta ?? 1;
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta }); }
}
export class HuberLoss extends Loss {
  readonly delta: number;
  constructor(options?: { reduction?: Reduction; delta?: number }) {
    const opts = lossOptions("HuberLoss", options, ["reduction", "delta"]);
    super(opts);
    this.delta = opts.delta ?? 1;
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.huberLoss(input, target, { reduction: this.reduction, delta: this.delta }); }
}
/** Binary cross-entropy of probabilities. */
export class BCELoss extends WeightedLoss {
  constructor(options?: { weight?: Tensor | null; reduction?: Reduction }) {
    const opts = lossOptions("BCELoss", options, ["weight", "reduction"]);
    super(opts);
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction }); }
}
/** Binary cross-entropy of logits; `posWeight` weighs positive examples per class. */
export class BCEWithLogitsLoss extends Loss {
  constructor(options?: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction }) {
    const opts = lossOptions("BCEWithLogitsLoss", options, ["weight", "posWeight", "reduction"]);
    super(opts);
    this.registerBuffer("weight", opts.weight ?? null);
    this.registerBuffer("pos_weight", opts.posWeight ?? null);
  }
  get weight(): Tensor | null { return (this._registered.get("weight") ?? null) as Tensor | null; }
  get posWeight(): Tensor | null { return (this._registered.get("pos_weight") ?? null) as Tensor | null; }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}
/** KL divergence; `reduction: "batchmean"` gives the mathematically correct mean. */
export class KLDivLoss extends Module {
  readonly reduction: Reduction | "batchmean"; readonly logTarget: boolean;
  constructor(options?: { reduction?: Reduction | "batchmean"; logTarget?: boolean }) {
    const opts = lossOptions("KLDivLoss", options, ["reduction", "logTarget"]);
    super();
    this.reduction = opts.reduction ?? "mean";
    this.logTarget = opts.logTarget ?? false;
  }
  override forward(input: Tensor, target: Tensor): Tensor { return F.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget }); }
}
