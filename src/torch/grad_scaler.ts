/**
 * @module torchlight/torch/grad_scaler: loss scaling for float16 training, as
 * `torch.amp.GradScaler`: the loss is multiplied by a scale so small float16 gradients do not
 * flush to zero; the gradients are divided by it before the optimizer step (or before
 * clipping, with `unscale_`); a step whose gradients hold an inf or NaN is skipped and the
 * scale backs off; after `growthInterval` clean steps it grows. Works on CPU and CUDA tensors.
 * @example
 * const scaler = new torch.amp.GradScaler("cuda");
 * const loss = torch.autocast("cuda", () => criterion.forward(model.forward(x), y));
 * scaler.scale(loss).backward();
 * scaler.unscale_(opt);                       // optional: before clipping
 * nn.utils.clipGradNorm_(model.parameters(), 1.0);
 * scaler.step(opt);                           // skipped if a gradient is inf/NaN
 * scaler.update();
 */
import { Tensor } from "./tensor.js";
import { noGrad } from "./autograd.js";
import { tidy } from "./memory.js";
import { TorchArgumentError } from "./errors.js";
import { checkOptions } from "../util/validate.js";

/** Options of {@link GradScaler}, as `torch.amp.GradScaler`'s. */
export interface GradScalerOptions {
  /** The first scale (default 2^16). */
  initScale?: number;
  /** Multiplies the scale after `growthInterval` steps without inf/NaN (default 2). */
  growthFactor?: number;
  /** Multiplies the scale after a step with inf/NaN (default 0.5). */
  backoffFactor?: number;
  /** Clean steps before the scale grows (default 2000). */
  growthInterval?: number;
  /** `false`: every method passes through (scale 1, steps never skipped). Default `true`. */
  enabled?: boolean;
}

/** What an optimizer needs from the scaler: its parameters' gradients and a step. */
interface Steppable<R = unknown> {
  paramGroups: { params: Tensor[] }[];
  step(closure?: () => unknown): R;
}

type Stage = "ready" | "unscaled" | "stepped";

/** The state of {@link GradScaler.stateDict}, with Python's keys. */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
}

const positive = (name: string, v: number, max = Infinity): number => {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v >= max) {
    throw new TorchArgumentError(`GradScaler: expected ${name} to be a positive number${max < Infinity ? ` below ${max}` : ""} but received ${String(v)}`, "GradScaler");
  }
  return v;
};

/** Loss scaling for float16 mixed precision, as `torch.amp.GradScaler`. */
export class GradScaler {
  readonly device: string;
  private _scale: number;
  private growthTracker = 0;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  private readonly enabled: boolean;
  /** Per optimizer since the last update(): where it is, and whether its gradients had inf/NaN. */
  private perOptimizer = new Map<Steppable, { stage: Stage; foundInf: boolean }>();

  constructor(device: "cpu" | "cuda" | string = "cuda", opts: GradScalerOptions = {}) {
    checkOptions("GradScaler", opts, ["initScale", "growthFactor", "backoffFactor", "growthInterval", "enabled"], (m) => new TorchArgumentError(m, "GradScaler"));
    this.device = device;
    this._scale = positive("initScale", opts.initScale ?? 2 ** 16);
    this.growthFactor = opts.growthFactor ?? 2;
    if (!(this.growthFactor > 1)) throw new TorchArgumentError(`GradScaler: expected growthFactor > 1 but received ${this.growthFactor}`, "GradScaler");
    this.backoffFactor = positive("backoffFactor", opts.backoffFactor ?? 0.5, 1);
    this.growthInterval = opts.growthInterval ?? 2000;
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) throw new TorchArgumentError(`GradScaler: expected growthInterval to be a positive integer but received ${this.growthInterval}`, "GradScaler");
    this.enabled = opts.enabled ?? true;
  }

  /** Whether scaling is on. */
  isEnabled(): boolean { return this.enabled; }

  /** The current scale (1 when disabled). */
  getScale(): number { return this.enabled ? this._scale : 1; }

  /** `loss * scale` (a new tensor; `loss` itself when disabled). Call `backward()` on it. */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    return loss.mul(this._scale);
  }

  /**
   * Divides the gradients of `optimizer`'s parameters by the scale, in place, and notes
   * whether any is inf or NaN. Call it at most once per optimizer between updates, before
   * gradient clipping; `step` calls it when you did not.
   */
  unscale_(optimizer: Steppable): void {
    if (!this.enabled) return;
    const st = this.stateOf(optimizer);
    if (st.stage === "unscaled") throw new TorchArgumentError("GradScaler.unscale_(): unscale_() has already been called on this optimizer since the last update()", "GradScaler.unscale_");
    if (st.stage === "stepped") throw new TorchArgumentError("GradScaler.unscale_(): unscale_() is being called after step(); call update() first", "GradScaler.unscale_");
    // float32 reciprocal, as PyTorch's (scale.double().reciprocal().float())
    const inv = Math.fround(1 / this._scale);
    let bad: Tensor | null = null;
    noGrad(() => {
      for (const g of optimizer.paramGroups) {
        for (const p of g.params) {
          const grad = p.grad;
          if (!grad) continue;
          grad.mul_(inv);
          // accumulated on the device; read once below, so a GPU syncs once per unscale
          const nonFinite = tidy(() => grad.isfinite().logicalNot().sum());
          if (bad === null) bad = nonFinite;
          else { (bad as Tensor).add_(nonFinite); nonFinite.dispose(); }
        }
      }
    });
    const found = bad as Tensor | null;
    st.foundInf = found !== null && Number(found.item()) > 0;
    found?.dispose();
    st.stage = "unscaled";
  }

  /**
   * Unscales (unless `unscale_` already did) and runs `optimizer.step()`, unless a gradient
   * held inf or NaN: then the step is skipped and `undefined` returned.
   */
  step<R>(optimizer: Steppable<R>, closure?: () => unknown): R | undefined {
    if (!this.enabled) return optimizer.step(closure);
    if (closure !== undefined) throw new TorchArgumentError("GradScaler.step(): closures are not supported with a GradScaler (as in PyTorch)", "GradScaler.step");
    const st = this.stateOf(optimizer);
    if (st.stage === "stepped") throw new TorchArgumentError("GradScaler.step(): step() has already been called since the last update()", "GradScaler.step");
    if (st.stage === "ready") this.unscale_(optimizer);
    st.stage = "stepped";
    return st.foundInf ? undefined : optimizer.step();
  }

  /**
   * Adjusts the scale for the next iteration: times `backoffFactor` if any optimizer saw
   * inf/NaN since the last update, times `growthFactor` after `growthInterval` clean updates.
   * `newScale` sets it instead.
   */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      this._scale = positive("newScale", newScale);
    } else {
      const stepped = [...this.perOptimizer.values()].filter((s) => s.stage !== "ready");
      if (stepped.length === 0) throw new TorchArgumentError("GradScaler.update(): no inf checks were recorded prior to update(); call step(optimizer) (or unscale_) first", "GradScaler.update");
      if (stepped.some((s) => s.foundInf)) {
        this._scale = Math.fround(this._scale * this.backoffFactor);
        this.growthTracker = 0;
      } else if (++this.growthTracker === this.growthInterval) {
        const grown = Math.fround(this._scale * this.growthFactor);
        if (Number.isFinite(grown)) this._scale = grown;  // PyTorch keeps the scale when growing would overflow float32
        this.growthTracker = 0;
      }
    }
    this.perOptimizer = new Map();
  }

  /** The state to checkpoint, with `torch.amp.GradScaler.state_dict()`'s keys. */
  stateDict(): GradScalerState | Record<string, never> {
    if (!this.enabled) return {};
    return { scale: this._scale, growth_factor: this.growthFactor, backoff_factor: this.backoffFactor, growth_interval: this.growthInterval, _growth_tracker: this.growthTracker };
  }

  /** Restores {@link stateDict}'s state (Python's too). */
  loadStateDict(state: Partial<GradScalerState>): void {
    if (!this.enabled) return;
    if (typeof state.scale !== "number") throw new TorchArgumentError("GradScaler.loadStateDict(): the state has no numeric 'scale'; pass what stateDict() returned", "GradScaler.loadStateDict");
    this._scale = positive("scale", state.scale);
    this.growthTracker = state._growth_tracker ?? 0;
    this.growthFactor = state.growth_factor ?? this.growthFactor;
    this.backoffFactor = state.backoff_factor ?? this.backoffFactor;
    this.growthInterval = state.growth_interval ?? this.growthInterval;
  }

  private stateOf(optimizer: Steppable): { stage: Stage; foundInf: boolean } {
    let st = this.perOptimizer.get(optimizer);
    if (!st) { st = { stage: "ready", foundInf: false }; this.perOptimizer.set(optimizer, st); }
    return st;
  }
}
