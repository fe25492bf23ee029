/**
 * @module torchlight/lightning/connectors/data_connector: where the loops' data comes from,
 * as Lightning's `_DataConnector`: loaders given to fit/validate/test/predict, else the
 * datamodule's, else the module's `*Dataloader()`; each passed through the strategy (DDP
 * adds a DistributedSampler); batch limits; batches moved to the device and converted by the
 * precision plugin, each freed once the loop moves on.
 */
import { DataLoader } from "../../data/index.js";
import { LightningError } from "../errors.js";
import { disposeTree } from "../checkpoint.js";
import type { Trainer } from "../trainer.js";
import type { AnyLoader, FitOptions } from "../types.js";

export const isFraction = (v: number): boolean => v > 0 && v < 1;

export class DataConnector {
  constructor(private readonly trainer: Trainer) {}

  trainLoader(opts: FitOptions): AnyLoader {
    const t = this.trainer;
    const loader = opts.trainDataloaders ?? t.datamodule?.trainDataloader?.() ?? (t.lightningModule as unknown as { trainDataloader?: () => AnyLoader }).trainDataloader?.();
    if (!loader) throw new LightningError("PL_MISCONFIGURATION", "fit: no training data; pass { trainDataloaders }, a datamodule with trainDataloader(), or define trainDataloader() on the module");
    if (!(loader instanceof DataLoader)) throw new LightningError("PL_MISCONFIGURATION", `fit: trainDataloaders must be a DataLoader; got ${(loader as object).constructor?.name ?? typeof loader}`);
    return t.strategy.processDataloader(loader, true, t.useDistributedSampler);
  }

  loaders(kind: "val" | "test" | "predict", given: AnyLoader | AnyLoader[] | undefined): AnyLoader[] {
    const t = this.trainer;
    const name = `${kind}Dataloader`;
    const m = t.lightningModule as unknown as Record<string, (() => unknown) | undefined>;
    const dm = t.datamodule as unknown as Record<string, (() => unknown) | undefined> | null;
    const got = given ?? dm?.[name]?.call(dm) ?? m[name]?.call(m);
    if (got === undefined || got === null) return [];
    const list = (Array.isArray(got) ? got : [got]) as unknown[];
    for (const l of list) if (!(l instanceof DataLoader)) throw new LightningError("PL_MISCONFIGURATION", `${kind} dataloaders must be DataLoaders; got ${l === null ? "null" : (l as object).constructor?.name ?? typeof l}`);
    return (list as AnyLoader[]).map((l) => t.strategy.processDataloader(l, false, t.useDistributedSampler));
  }

  /** The number of batches `loader` gives under `limit` (Infinity when it has no length). */
  limited(loader: AnyLoader, limit: number | null): number {
    let n: number;
    try { n = loader.length; } catch { n = Infinity; }
    if (limit === null) return n;
    if (isFraction(limit)) {
      if (!Number.isFinite(n)) throw new LightningError("PL_MISCONFIGURATION", "a fractional limit*Batches needs a loader with a length; pass an integer number of batches");
      return Math.floor(n * limit);
    }
    return Math.min(n, limit);
  }

  private toDevice(batch: unknown): unknown {
    return this.trainer._accelerator.precisionPlugin.convertInput(this.trainer.strategy.batchToDevice(batch));
  }

  /** The first `n` batches of `loader` on the device, each freed once the consumer moves on. */
  async *batches(loader: AnyLoader, n: number): AsyncGenerator<[unknown, number]> {
    const it = loader[Symbol.asyncIterator]();
    try {
      for (let idx = 0; idx < n; idx++) {
        const r = await it.next();
        if (r.done) return;
        const batch = this.toDevice(r.value);
        try { yield [batch, idx]; } finally {
          if (batch !== r.value) disposeTree(batch);
          disposeTree(r.value);
        }
      }
    } finally { await it.return?.(); }
  }
}
