/**
 * @module torchlight/torch/generator: random-number generators as objects, as `torch.Generator`,
 * and the default generator's state (`torch.getRngState` / `setRngState`) for checkpoints.
 * A Generator seeded with `s` draws exactly what Python's `torch.Generator().manual_seed(s)` draws.
 * @example
 * const g = new torch.Generator().manualSeed(42);
 * torch.randperm(10, { generator: g });   // = torch.randperm(10, generator=g) in Python
 */
import { native } from "./native/index.js";
import { wrap, handle, type Tensor } from "./tensor.js";

const registry = new FinalizationRegistry<number>((id) => native.generatorFree(id));

/** A CPU random-number generator (Philox/mt19937 as libtorch's default CPU generator). */
export class Generator {
  /** @internal native id (0 is the default generator) */
  readonly _id: number;
  constructor(opts: { seed?: number | bigint; device?: string } = {}) {
    if (opts.device !== undefined && opts.device !== "cpu") throw new TypeError(`Generator: only CPU generators are supported; got device ${JSON.stringify(opts.device)}`);
    this._id = native.generatorNew(opts.seed);
    registry.register(this, this._id, this);
  }
  /** Seeds it (and returns it, as Python's `manual_seed`). */
  manualSeed(seed: number | bigint): this { native.generatorManualSeed(this._id, seed); return this; }
  /** The seed it was last seeded with. */
  initialSeed(): number | bigint { return native.generatorInitialSeed(this._id); }
  /** Seeds it from a non-deterministic source and returns that seed. */
  seed(): number | bigint { return native.generatorSeed(this._id); }
  /** Its full state (a uint8 tensor), to restore later with setState. */
  getState(): Tensor { return wrap(native.generatorGetState(this._id)); }
  setState(state: Tensor): this { native.generatorSetState(this._id, handle(state, "Generator.setState", "state")); return this; }
  /** Frees it now (otherwise the GC does). */
  dispose(): void { registry.unregister(this); native.generatorFree(this._id); }
}

/** The id an op takes for an optional generator (undefined: the default generator). */
export const genId = (g: Generator | undefined | null): number | undefined => (g ? g._id : undefined);

/** The default CPU generator's state, as `torch.get_rng_state()` (same bytes as Python's). */
export const getRngState = (): Tensor => wrap(native.generatorGetState(0));
/** Restores the default CPU generator's state, as `torch.set_rng_state(state)`. */
export const setRngState = (state: Tensor): void => native.generatorSetState(0, handle(state, "setRngState", "state"));
/** The seed of the default generator, as `torch.initial_seed()`. */
export const initialSeed = (): number | bigint => native.generatorInitialSeed(0);
/** Seeds the default generator non-deterministically, as `torch.seed()`; returns the seed. */
export const seed = (): number | bigint => native.generatorSeed(0);
