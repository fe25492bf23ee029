/**
 * @module torchlight/torch/nn/normalization: BatchNorm1d/2d (and the base SyncBatchNorm extends), LayerNorm, GroupNorm, as `torch.nn`'s.
 */
import { ones, zeros } from "../creation.js";
import { noGrad } from "../autograd.js";
import type { Tensor } from "../tensor.js";
import { TorchArgumentError } from "../errors.js";
import { is, invalid } from "../../util/validate.js";
import * as F from "./functional.js";
import { Module, type Parameter } from "./module.js";
import { argError, bool, checkDim, checkLastDim, factory, filledParameter, layerArgs, positiveInt, type FactoryOptions } from "./layer_args.js";

// ---- normalisation ---------------------------------------------------------------------------

/** Options of BatchNorm1d/2d. `momentum: null` uses a cumulative moving average. */
export interface BatchNormOptions extends FactoryOptions { eps?: number; momentum?: number | null; affine?: boolean; trackRunningStats?: boolean }

/** @internal the common part of the batch-norm layers, as PyTorch's `_BatchNorm`. */
export class BatchNormBase extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number; readonly momentum: number | null; readonly affine: boolean; readonly trackRunningStats: boolean;
  constructor(readonly numFeatures: number, opts: BatchNormOptions, protected readonly dims: number[], protected readonly dimText: string) {
    super();
    positiveInt(this.constructor.name, "numFeatures", numFeatures);
    const fo = factory(opts as Record<string, unknown>);
    this.eps = opts.eps ?? 1e-5; this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true; this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? filledParameter([numFeatures], 1, fo) : null;
    this.bias = this.affine ? filledParameter([numFeatures], 0, fo) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", zeros([numFeatures], fo));
      this.registerBuffer("running_var", ones([numFeatures], fo));
      this.registerBuffer("num_batches_tracked", zeros([], { dtype: "int64", ...(opts.device ? { device: opts.device } : {}) }));
    } else {
      for (const b of ["running_mean", "running_var", "num_batches_tracked"]) this.registerBuffer(b, null);
    }
  }
  get runningMean(): Tensor | null { return this._registered.get("running_mean") as Tensor | null; }
  get runningVar(): Tensor | null { return this._registered.get("running_var") as Tensor | null; }
  get numBatchesTracked(): Tensor | null { return this._registered.get("num_batches_tracked") as Tensor | null; }
  /** Resets running statistics to mean 0, variance 1, count 0. */
  resetRunningStats(): void {
    noGrad(() => { this.runningMean?.zero_(); this.runningVar?.fill_(1); this.numBatchesTracked?.zero_(); });
  }
  override forward(input: Tensor): Tensor {
    checkDim(this.constructor.name, input, this.dims, this.dimText);
    checkLastDim(this.constructor.name, input, 1, this.numFeatures, "numFeatures");
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && this.trackRunningStats && nbt) {
      nbt.add_(1);
      factor = this.momentum === null ? 1 / nbt.item() : this.momentum;
    }
    const bnTraining = this.training ? true : this.runningMean === null && this.runningVar === null;
    const useStats = !this.training || this.trackRunningStats;
    return this.normalize(input, { training: bnTraining, momentum: factor, runningMean: useStats ? this.runningMean : null, runningVar: useStats ? this.runningVar : null });
  }
  /** @internal the normalisation itself, once the running-statistics bookkeeping is done (SyncBatchNorm overrides it). */
  protected normalize(input: Tensor, o: { training: boolean; momentum: number; runningMean: Tensor | null; runningVar: Tensor | null }): Tensor {
    if (o.training) {
      const shape = input.shape;
      let perChannel = shape[0]!;
      for (const d of shape.slice(2)) perChannel *= d;
      if (perChannel === 1) throw new TypeError(`${this.constructor.name}: expected more than 1 value per channel when training, got input of shape [${shape.join(", ")}]`);
    }
    return F.batchNorm(input, o.runningMean, o.runningVar, { weight: this.weight, bias: this.bias, training: o.training, momentum: o.momentum, eps: this.eps });
  }
  override extraRepr(): string { return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`; }
}

const BATCH_NORM = ["eps", "momentum", "affine", "trackRunningStats"] as const;
/** BatchNorm's arguments (numFeatures positional or by name). */
export function batchNormArgs(layer: string, args: unknown[]): [number, BatchNormOptions] {
  const { numFeatures, ...o } = layerArgs(layer, ["numFeatures"], args, BATCH_NORM);
  return [numFeatures as number, o as BatchNormOptions];
}
/** Batch normalisation over (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormOptions);
  constructor(opts: BatchNormOptions & { numFeatures: number });
  constructor(...args: unknown[]) { super(...batchNormArgs("BatchNorm1d", args), [2, 3], "2D or 3D"); }
}
/** Batch normalisation over (N, C, H, W). */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormOptions);
  constructor(opts: BatchNormOptions & { numFeatures: number });
  constructor(...args: unknown[]) { super(...batchNormArgs("BatchNorm2d", args), [4], "4D"); }
}

/** Normalises over the last dimensions `normalizedShape`. */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  constructor(normalizedShape: number | number[], opts?: { eps?: number; elementwiseAffine?: boolean } & FactoryOptions);
  constructor(opts: { normalizedShape: number | number[]; eps?: number; elementwiseAffine?: boolean } & FactoryOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("LayerNorm", ["normalizedShape"], args, ["eps", "elementwiseAffine"]);
    const ns = a.normalizedShape;
    if (!(is.positiveInteger(ns) || (Array.isArray(ns) && ns.every((d) => is.positiveInteger(d))))) invalid("LayerNorm", "normalizedShape", "a positive integer or a list of them", ns, argError("LayerNorm"));
    this.normalizedShape = typeof ns === "number" ? [ns] : [...(ns as number[])];
    this.eps = (a.eps as number | undefined) ?? 1e-5;
    const affine = bool("LayerNorm", "elementwiseAffine", a.elementwiseAffine, true);
    this.weight = affine ? filledParameter(this.normalizedShape, 1, factory(a)) : null;
    this.bias = affine ? filledParameter(this.normalizedShape, 0, factory(a)) : null;
  }
  override forward(input: Tensor): Tensor { return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `(${this.normalizedShape.join(", ")}), eps=${this.eps}, elementwiseAffine=${this.weight !== null}`; }
}

/** Normalises over groups of channels. */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  readonly numGroups: number; readonly numChannels: number;
  constructor(numGroups: number, numChannels: number, opts?: { eps?: number; affine?: boolean } & FactoryOptions);
  constructor(opts: { numGroups: number; numChannels: number; eps?: number; affine?: boolean } & FactoryOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs("GroupNorm", ["numGroups", "numChannels"], args, ["eps", "affine"]);
    const numGroups = this.numGroups = positiveInt("GroupNorm", "numGroups", a.numGroups);
    const numChannels = this.numChannels = positiveInt("GroupNorm", "numChannels", a.numChannels);
    if (numChannels % numGroups !== 0) throw new TorchArgumentError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`, "GroupNorm");
    this.eps = (a.eps as number | undefined) ?? 1e-5;
    const affine = bool("GroupNorm", "affine", a.affine, true);
    this.weight = affine ? filledParameter([numChannels], 1, factory(a)) : null;
    this.bias = affine ? filledParameter([numChannels], 0, factory(a)) : null;
  }
  override forward(input: Tensor): Tensor { return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps); }
  override extraRepr(): string { return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`; }
}
