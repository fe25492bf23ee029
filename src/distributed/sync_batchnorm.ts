/**
 * @module torchlight/distributed/sync_batchnorm: `SyncBatchNorm`, batch normalisation whose
 * statistics are taken over the whole global batch (every rank of a process group), as
 * `torch.nn.SyncBatchNorm`, and `convertSyncBatchnorm` to swap it into a model.
 *
 * Beyond PyTorch 1.13, which runs SyncBatchNorm on CUDA only: this one is written with
 * portable ATen ops in the addon and runs on CPU (Gloo) as well as CUDA.
 */
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { BatchNormBase, type BatchNormOptions } from "../torch/nn/layers.js";
import { defaultGroup, DistributedError, type ProcessGroup } from "./process_group.js";
import * as c10d from "../torch/c10d.js";
import { pyArgs } from "../util/validate.js";

/** Options of {@link SyncBatchNorm}: BatchNorm's, plus the group to synchronise over (default: the world). */
export interface SyncBatchNormOptions extends BatchNormOptions { processGroup?: ProcessGroup | null }

/**
 * Batch normalisation over (N, C, ...) whose mean and variance in training span every rank of
 * `processGroup`: one all_gather in forward, one all_reduce in backward (both wait on this
 * thread, as PyTorch's do). Outside training, or when no process group is initialised, it is
 * an ordinary BatchNorm.
 * @example
 * const model = SyncBatchNorm.convertSyncBatchnorm(resnet18());
 * const ddp = await DistributedDataParallel.create(model);
 */
export class SyncBatchNorm extends BatchNormBase {
  readonly processGroup: ProcessGroup | null;
  constructor(numFeatures: number, opts?: SyncBatchNormOptions);
  constructor(opts: SyncBatchNormOptions & { numFeatures: number });
  constructor(...args: unknown[]) {
    const { numFeatures, processGroup, ...bn } = pyArgs("SyncBatchNorm", ["numFeatures"], args, ["eps", "momentum", "affine", "trackRunningStats", "processGroup", "dtype", "device"],
      (m) => new DistributedError(m, "DIST_BAD_ARGUMENT"));
    super(numFeatures as number, bn, [2, 3, 4, 5, 6, 7, 8], "2D or more (N, C, ...)");
    this.processGroup = (processGroup as ProcessGroup | null | undefined) ?? null;
  }

  protected override normalize(input: Tensor, o: { training: boolean; momentum: number; runningMean: Tensor | null; runningVar: Tensor | null }): Tensor {
    const group = this.processGroup ?? defaultGroup();
    if (!(o.training && this.training && group !== null && group.size > 1)) return super.normalize(input, o);
    try {
      return c10d.syncBatchNorm(group.id, input, this.weight, this.bias, o.runningMean, o.runningVar, this.eps, o.momentum);
    } catch (e) {
      if (e instanceof TypeError) throw e;  // bad input: the message says what to change
      throw new DistributedError(`SyncBatchNorm: exchanging batch statistics over ${group.size} ranks failed: ${(e as Error).message}`, "DIST_BACKEND_ERROR", { op: "SyncBatchNorm" }, { cause: e });
    }
  }

  /**
   * Replaces every BatchNorm1d/2d in `module` (and `module` itself when it is one) by a
   * SyncBatchNorm that shares its parameters, running statistics and training flag, as
   * `torch.nn.SyncBatchNorm.convert_sync_batchnorm`. Returns the converted module.
   */
  static convertSyncBatchnorm<M extends torch.nn.Module>(module: M, processGroup: ProcessGroup | null = null): M | SyncBatchNorm {
    let out: torch.nn.Module = module;
    if (module instanceof BatchNormBase && !(module instanceof SyncBatchNorm)) {
      const bn = module;
      const sync = new SyncBatchNorm(bn.numFeatures, { eps: bn.eps, momentum: bn.momentum, affine: bn.affine, trackRunningStats: bn.trackRunningStats, processGroup });
      const fresh = [...sync.parameters(), ...sync.buffers()];
      sync.weight = bn.weight;
      sync.bias = bn.bias;
      for (const name of ["running_mean", "running_var", "num_batches_tracked"]) {
        sync.registerBuffer(name, (bn as unknown as Record<string, Tensor | null>)[name] ?? null);
      }
      for (const t of fresh) t.dispose();
      sync.training = bn.training;
      out = sync;
    }
    for (const [name, child] of [...module.namedChildren()]) out.registerModule(name, SyncBatchNorm.convertSyncBatchnorm(child, processGroup));
    return out as M | SyncBatchNorm;
  }
}
