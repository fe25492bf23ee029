/**
 * @module torchlight/data/collate: `defaultCollate`, as PyTorch's `default_collate`: tensors
 * are stacked; numbers become a tensor (integers int64, others float64, booleans bool);
 * strings stay a list; objects and arrays are collated field by field.
 */
import * as torch from "../torch/index.js";
import { Tensor } from "../torch/index.js";

/** A collated batch (the same structure as a sample, with tensors batched). */
export type Batch = unknown;

/**
 * `batch` with `fn` applied to every tensor in it, through arrays and plain objects (other
 * values are kept), as Lightning's `apply_to_collection`: moving a batch to a device, pinning it.
 * @example const onGpu = applyToTensors(batch, (t) => t.to("cuda"));
 */
export function applyToTensors<B>(batch: B, fn: (t: Tensor) => Tensor): B {
  const visit = (v: unknown): unknown => {
    if (v instanceof Tensor) return fn(v);
    if (Array.isArray(v)) return v.map(visit);
    if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visit(x)]));
    }
    return v;
  };
  return visit(batch) as B;
}

/** Collates a list of samples into a batch. */
export function defaultCollate(batch: unknown[]): Batch {
  if (batch.length === 0) throw new TypeError("defaultCollate: the batch is empty");
  const elem = batch[0];
  if (elem instanceof Tensor) {
    const shape = elem.shape;
    for (const t of batch) {
      if (!(t instanceof Tensor)) throw new TypeError(`defaultCollate: a batch mixes Tensors and ${typeof t}`);
      const s = t.shape;
      if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
        throw new TypeError(`defaultCollate: stack expects each tensor to be equal size, but got [${shape.join(", ")}] at entry 0 and [${s.join(", ")}] at entry ${batch.indexOf(t)}; resize or pad samples (transforms) or pass a collateFn`);
      }
    }
    return torch.stack(batch as Tensor[], 0);
  }
  if (typeof elem === "number") {
    const nums = batch as number[];
    return Number.isInteger(elem) && nums.every(Number.isInteger)
      ? torch.tensor(BigInt64Array.from(nums, (x) => BigInt(x)))
      : torch.tensor(Float64Array.from(nums));
  }
  if (typeof elem === "bigint") return torch.tensor(BigInt64Array.from(batch as bigint[]));
  if (typeof elem === "boolean") return torch.tensor(batch as boolean[]);
  if (typeof elem === "string") return batch;
  if (Array.isArray(elem)) {
    const n = elem.length;
    if (!batch.every((b) => Array.isArray(b) && b.length === n)) throw new TypeError("defaultCollate: each element in list of batch should be of equal size");
    return Array.from({ length: n }, (_, i) => defaultCollate(batch.map((b) => (b as unknown[])[i])));
  }
  if (elem !== null && typeof elem === "object" && Object.getPrototypeOf(elem) === Object.prototype) {
    return Object.fromEntries(Object.keys(elem).map((k) => [k, defaultCollate(batch.map((b) => (b as Record<string, unknown>)[k]))]));
  }
  throw new TypeError(`defaultCollate: batch must contain tensors, numbers, booleans, strings, arrays or plain objects; found ${elem === null ? "null" : typeof elem === "object" ? (elem as object).constructor.name : typeof elem}. Pass a collateFn for other types`);
}
