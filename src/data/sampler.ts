/**
 * @module torchlight/data/sampler: index samplers, as `torch.utils.data`'s, drawing exactly
 * the indices PyTorch draws for the same seeds (the tests compare them).
 */
import { checkOptions } from "../util/validate.js";
import * as torch from "../torch/index.js";
import type { Generator } from "../torch/index.js";
import { defaultGroupInfo } from "../torch/distributed_state.js";

/** Anything with a length (a dataset). */
export interface Sized { readonly length: number }

/** An iterable of dataset indices (or of index lists, for batch samplers). */
export abstract class Sampler<T = number> {
  abstract [Symbol.iterator](): Iterator<T>;
  abstract get length(): number;
}

/** 0, 1, ..., n-1. */
export class SequentialSampler extends Sampler<number> {
  constructor(readonly dataSource: Sized) { super(); }
  *[Symbol.iterator](): Iterator<number> { for (let i = 0; i < this.dataSource.length; i++) yield i; }
  get length(): number { return this.dataSource.length; }
}

/** A seed drawn from the default generator, as `int(torch.empty((), dtype=torch.int64).random_().item())`. */
export function drawSeed(generator?: Generator): bigint {
  return torch.tidy(() => {
    const t = torch.empty([], { dtype: "int64" }).random_(undefined, undefined, generator);
    return (t.data() as BigInt64Array)[0]!;
  });
}

/**
 * Indices in random order (a fresh permutation per pass), or `numSamples` draws with
 * replacement. Without a `generator`, each pass seeds a new one from the default generator,
 * so `torch.manualSeed(s)` fixes the order as in Python.
 */
export class RandomSampler extends Sampler<number> {
  readonly replacement: boolean;
  private readonly _numSamples: number | undefined;
  readonly generator: Generator | undefined;
  constructor(readonly dataSource: Sized, options?: { replacement?: boolean; numSamples?: number; generator?: Generator }) {
    super();
    const opts = checkOptions("RandomSampler", options, ["replacement", "numSamples", "generator"]);
    this.replacement = opts.replacement ?? false;
    this._numSamples = opts.numSamples;
    this.generator = opts.generator;
    if (opts.numSamples !== undefined && (!Number.isInteger(opts.numSamples) || opts.numSamples <= 0)) {
      throw new RangeError(`RandomSampler: numSamples should be a positive integer value, but got numSamples=${opts.numSamples}`);
    }
  }
  get numSamples(): number { return this._numSamples ?? this.dataSource.length; }
  get length(): number { return this.numSamples; }
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    let gen = this.generator;
    let own: Generator | undefined;
    if (!gen) gen = own = new torch.Generator({ seed: drawSeed() });
    try {
      const draw = (f: () => torch.Tensor) => torch.tidy(() => f().toArray() as number[]);
      if (this.replacement) {
        for (let k = 0; k < Math.floor(this.numSamples / 32); k++) yield* draw(() => torch.randint(0, n, [32], { generator: gen! }));
        yield* draw(() => torch.randint(0, n, [this.numSamples % 32], { generator: gen! }));
      } else {
        for (let k = 0; k < Math.floor(this.numSamples / n); k++) yield* draw(() => torch.randperm(n, { generator: gen! }));
        yield* draw(() => torch.randperm(n, { generator: gen! })).slice(0, this.numSamples % n);
      }
    } finally { own?.dispose(); }
  }
}

/** The given indices in random order. */
export class SubsetRandomSampler extends Sampler<number> {
  constructor(readonly indices: number[], readonly generator?: Generator) { super(); }
  get length(): number { return this.indices.length; }
  *[Symbol.iterator](): Iterator<number> {
    const perm = torch.tidy(() => torch.randperm(this.indices.length, this.generator ? { generator: this.generator } : {}).toArray() as number[]);
    for (const i of perm) yield this.indices[i]!;
  }
}

/** Groups another sampler's indices into lists of `batchSize`. */
export class BatchSampler extends Sampler<number[]> {
  constructor(readonly sampler: Iterable<number> & Partial<Sized>, readonly batchSize: number, readonly dropLast = false) {
    super();
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`BatchSampler: batchSize should be a positive integer value, but got batchSize=${batchSize}`);
  }
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) { yield batch; batch = []; }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
  get length(): number {
    const n = this.sampler.length;
    if (n === undefined) throw new TypeError("BatchSampler: the sampler has no length");
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
}

/** Options of {@link DistributedSampler}, as PyTorch's keyword arguments. */
export interface DistributedSamplerOptions { numReplicas?: number; rank?: number; shuffle?: boolean; seed?: number; dropLast?: boolean }

/**
 * This rank's share of the dataset for data-parallel training: the same permutation on
 * every rank (seeded with `seed + epoch`), padded (or cut, with `dropLast`) to a multiple of
 * the replicas, then every `numReplicas`-th index from `rank`. Call `setEpoch(e)` each epoch.
 * `numReplicas`/`rank` default to the initialised process group's world size and rank.
 */
export class DistributedSampler extends Sampler<number> {
  readonly numReplicas: number; readonly rank: number; readonly shuffle: boolean; readonly seed: number; readonly dropLast: boolean;
  readonly numSamples: number; readonly totalSize: number;
  epoch = 0;
  constructor(readonly dataset: Sized, options?: DistributedSamplerOptions) {
    super();
    const opts = checkOptions("DistributedSampler", options, ["numReplicas", "rank", "shuffle", "seed", "dropLast"]);
    const env = defaultGroupInfo();
    const numReplicas = opts.numReplicas ?? env?.worldSize;
    const rank = opts.rank ?? env?.rank;
    if (numReplicas === undefined || rank === undefined) {
      throw new TypeError("DistributedSampler: numReplicas and rank are required when no process group is initialised (pass { numReplicas, rank } or call initProcessGroup first)");
    }
    if (rank >= numReplicas || rank < 0) throw new RangeError(`DistributedSampler: invalid rank ${rank}, rank should be in the interval [0, ${numReplicas - 1}]`);
    this.numReplicas = numReplicas; this.rank = rank;
    this.shuffle = opts.shuffle ?? true; this.seed = opts.seed ?? 0; this.dropLast = opts.dropLast ?? false;
    const n = dataset.length;
    this.numSamples = this.dropLast && n % numReplicas !== 0 ? Math.ceil((n - numReplicas) / numReplicas) : Math.ceil(n / numReplicas);
    this.totalSize = this.numSamples * numReplicas;
  }
  /** Makes the next pass use a different (but on all ranks identical) permutation. */
  setEpoch(epoch: number): void { this.epoch = epoch; }
  get length(): number { return this.numSamples; }
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataset.length;
    let indices: number[];
    if (this.shuffle) {
      const g = new torch.Generator({ seed: this.seed + this.epoch });
      indices = torch.tidy(() => torch.randperm(n, { generator: g }).toArray() as number[]);
      g.dispose();
    } else indices = Array.from({ length: n }, (_, i) => i);
    if (!this.dropLast) {
      const pad = this.totalSize - indices.length;
      if (pad <= indices.length) indices = indices.concat(indices.slice(0, pad));
      else { const rep: number[] = []; while (rep.length < pad) rep.push(...indices); indices = indices.concat(rep.slice(0, pad)); }
    } else indices = indices.slice(0, this.totalSize);
    for (let i = this.rank; i < this.totalSize; i += this.numReplicas) yield indices[i]!;
  }
}


