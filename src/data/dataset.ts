/**
 * @module torchlight/data/dataset: datasets, as `torch.utils.data`: map-style `Dataset`
 * (`getItem(i)` and `length`), `IterableDataset`, `TensorDataset`, `Subset`,
 * `ConcatDataset`, `randomSplit`.
 */
import * as torch from "../torch/index.js";
import type { Tensor, Generator } from "../torch/index.js";

/** How a worker thread rebuilds a dataset: `new (await import(module))[name](...args)`. */
export interface WorkerSpec {
  /** A module URL or absolute path that exports the class (or a factory function). */
  module: string;
  /** The export's name. */
  name: string;
  /** Structured-clonable arguments; Tensors among them are shared with the worker without a copy. */
  args: unknown[];
  /** Whether `name` is a factory function rather than a class. */
  factory?: boolean;
}

/** A bad index or a dataset that cannot be used as asked: a RangeError or TypeError with a code. */
export class DatasetError extends RangeError {
  override name = "DatasetError";
  readonly code = "DATA_INDEX_ERROR";
}

/**
 * A map-style dataset: `getItem(index)` returns one sample, `length` says how many.
 * @example
 * class Squares extends Dataset<[number, number]> {
 *   get length() { return 100; }
 *   getItem(i: number): [number, number] { return [i, i * i]; }
 * }
 */
export abstract class Dataset<T = unknown> {
  abstract getItem(index: number): T;
  /**
   * For datasets whose samples load asynchronously (file decoding): the DataLoader awaits
   * this when it exists, in the main thread and in workers.
   */
  getItemAsync?(index: number): Promise<T>;
  abstract get length(): number;
  /**
   * How a DataLoader worker thread rebuilds this dataset (`numWorkers > 0`). The built-in
   * datasets have one; a dataset of your own returns `{ module: import.meta.url, name:
   * "MyDataset", args: [...] }` with the constructor's arguments.
   */
  workerSpec(): WorkerSpec | undefined { return undefined; }
}

/** A dataset that is a stream: iterate it; no random access. */
export abstract class IterableDataset<T = unknown> {
  abstract [Symbol.iterator](): Iterator<T>;
}

function checkIndex(ds: { length: number }, index: number, what: string): number {
  const n = ds.length;
  if (!Number.isInteger(index) || index < -n || index >= n) {
    throw new DatasetError(`${what}: index ${index} is out of range for a dataset of ${n} samples`);
  }
  return index < 0 ? n + index : index;
}

/** Samples are the i-th rows of each tensor (all of the same first size), as a list. */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TypeError("TensorDataset: give at least one tensor");
    const n = tensors[0]!.size(0);
    tensors.forEach((t, i) => {
      if (t.size(0) !== n) throw new TypeError(`TensorDataset: size mismatch between tensors (tensor 0 has ${n} rows, tensor ${i} has ${t.size(0)})`);
    });
    this.tensors = tensors;
  }
  get length(): number { return this.tensors[0]!.size(0); }
  getItem(index: number): Tensor[] {
    const i = checkIndex(this, index, "TensorDataset");
    return this.tensors.map((t) => t.select(0, i));
  }
  override workerSpec(): WorkerSpec { return { module: import.meta.url, name: "TensorDataset", args: this.tensors }; }
}

/** The samples of `dataset` at `indices`. */
export class Subset<T> extends Dataset<T> {
  constructor(readonly dataset: Dataset<T>, readonly indices: number[]) {
    super();
    const inner = dataset.getItemAsync;
    if (inner) this.getItemAsync = (index: number) => inner.call(dataset, this.indices[checkIndex(this, index, "Subset")]!);
  }
  get length(): number { return this.indices.length; }
  getItem(index: number): T { return this.dataset.getItem(this.indices[checkIndex(this, index, "Subset")]!); }
  override workerSpec(): WorkerSpec | undefined {
    const inner = this.dataset.workerSpec();
    return inner && { module: import.meta.url, name: "subsetFromSpec", factory: true, args: [inner, this.indices] };
  }
}

/** The datasets one after another. */
export class ConcatDataset<T> extends Dataset<T> {
  readonly cumulativeSizes: number[];
  constructor(readonly datasets: Dataset<T>[]) {
    super();
    if (datasets.length === 0) throw new TypeError("ConcatDataset: datasets should not be an empty list");
    let total = 0;
    this.cumulativeSizes = datasets.map((d) => (total += d.length));
  }
  get length(): number { return this.cumulativeSizes[this.cumulativeSizes.length - 1]!; }
  getItem(index: number): T {
    const i = checkIndex(this, index, "ConcatDataset");
    let d = 0;
    while (this.cumulativeSizes[d]! <= i) d++;
    return this.datasets[d]!.getItem(d === 0 ? i : i - this.cumulativeSizes[d - 1]!);
  }
  override workerSpec(): WorkerSpec | undefined {
    const inner = this.datasets.map((d) => d.workerSpec());
    return inner.every((s) => s !== undefined) ? { module: import.meta.url, name: "concatFromSpecs", factory: true, args: [inner] } : undefined;
  }
}

/**
 * Splits a dataset into non-overlapping random subsets of the given lengths (or fractions
 * summing to 1), drawing the permutation as PyTorch's `random_split` does.
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: number[], generator?: Generator): Subset<T>[] {
  const n = dataset.length;
  let sizes = lengths;
  const sum = lengths.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) <= 1e-9 && sum <= 1) {
    sizes = lengths.map((f, i) => {
      if (f < 0 || f > 1) throw new RangeError(`randomSplit: fraction at index ${i} is not between 0 and 1`);
      return Math.floor(n * f);
    });
    const rem = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < rem; i++) sizes[i % sizes.length]! += 1;
  }
  if (sizes.reduce((a, b) => a + b, 0) !== n) throw new RangeError(`randomSplit: sum of input lengths (${sizes.join(" + ")}) does not equal the length of the input dataset (${n})`);
  const perm = torch.tidy(() => torch.randperm(n, generator ? { generator } : {}).toArray() as number[]);
  let offset = 0;
  return sizes.map((len) => new Subset(dataset, perm.slice(offset, (offset += len))));
}

// Worker-side rebuilders for the composite datasets (see WorkerSpec).
async function fromSpec(spec: WorkerSpec): Promise<Dataset> {
  const mod = (await import(spec.module)) as Record<string, unknown>;
  const ctor = mod[spec.name] as ((...a: unknown[]) => unknown) & (new (...a: unknown[]) => Dataset);
  if (typeof ctor !== "function") throw new TypeError(`worker: module ${spec.module} has no export ${spec.name}`);
  return (spec.factory ? await ctor(...spec.args) : new ctor(...spec.args)) as Dataset;
}
export { fromSpec as datasetFromSpec };
export async function subsetFromSpec(inner: WorkerSpec, indices: number[]): Promise<Dataset> { return new Subset(await fromSpec(inner), indices); }
export async function concatFromSpecs(inner: WorkerSpec[]): Promise<Dataset> { return new ConcatDataset(await Promise.all(inner.map(fromSpec))); }
