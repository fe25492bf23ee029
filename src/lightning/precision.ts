/**
 * @module torchlight/lightning/precision: precision plugins, as Lightning's
 * `plugins/precision/`: how a step's forward runs (autocast), how the module and its inputs
 * are converted ("-true" precisions), and how backward and the optimizer step go (loss
 * scaling with a `torch.amp.GradScaler` for "16-mixed" on CUDA).
 */
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { applyToTensors } from "../data/index.js";
import { LightningError } from "./errors.js";
import type { Precision } from "./types.js";

/** What the optimizer step needs from an optimizer (torchlight's `Optimizer`). */
interface Steppable { paramGroups: { params: Tensor[] }[]; step(closure?: () => unknown): unknown }

/** Full precision ("32-true"): nothing changes. Base of the other plugins. */
export class PrecisionPlugin {
  constructor(readonly precision: Precision = "32-true") {}
  /** Runs a step's forward (training/validation/test/predict step). */
  forwardContext<T>(fn: () => T): T { return fn(); }
  /** Converts the module's parameters and buffers ("-true" precisions). */
  convertModule(_m: torch.nn.Module): void {}
  /** Converts a batch's floating tensors ("-true" precisions). */
  convertInput(batch: unknown): unknown { return batch; }
  /** The loss backward runs on (scaled under "16-mixed"). */
  preBackward(loss: Tensor): Tensor { return loss; }
  /**
   * Steps `optimizer`: `closure` runs the training step and backward; `afterClosure` runs the
   * hooks before the step (onBeforeOptimizerStep, gradient clipping); `manual` says the step
   * comes from manual optimisation (whose closure returns nothing). Returns the closure's result.
   */
  optimizerStep(optimizer: Steppable, closure: () => unknown, afterClosure: () => void, _manual = false): unknown {
    let out: unknown;
    optimizer.step(() => { out = closure(); afterClosure(); return out; });
    return out;
  }
  stateDict(): Record<string, unknown> { return {}; }
  loadStateDict(_s: Record<string, unknown>): void {}
}

/** "64-true", "bf16-true", "16-true": the module and floating inputs in that dtype. */
export class TruePrecision extends PrecisionPlugin {
  readonly dtype: "float64" | "bfloat16" | "float16";
  constructor(precision: "64-true" | "bf16-true" | "16-true") {
    super(precision);
    this.dtype = precision === "64-true" ? "float64" : precision === "bf16-true" ? "bfloat16" : "float16";
  }
  override convertModule(m: torch.nn.Module): void { m.to(this.dtype); }
  override convertInput(batch: unknown): unknown {
    return applyToTensors(batch, (t) => (t.dtype === "float32" ? t.to(this.dtype) : t));
  }
}

/**
 * Automatic mixed precision, as Lightning's `MixedPrecision`: each step's forward runs under
 * autocast (without its weight cache: the weights change every step); weights, gradients and
 * optimizer state stay float32. With a scaler ("16-mixed" on CUDA, or one given), the loss is
 * scaled before backward, the gradients unscaled before clipping, and a step with inf/NaN
 * gradients is skipped.
 * @example new pl.Trainer({ plugins: [new pl.MixedPrecision("16-mixed", "cuda", new torch.amp.GradScaler("cuda", { initScale: 1024 }))] })
 */
export class MixedPrecision extends PrecisionPlugin {
  declare readonly precision: "bf16-mixed" | "16-mixed";
  readonly device: "cpu" | "cuda";
  readonly scaler: torch.amp.GradScaler | null;
  constructor(precision: "bf16-mixed" | "16-mixed", device: "cpu" | "cuda", scaler?: torch.amp.GradScaler | null) {
    super(precision);
    if (precision !== "bf16-mixed" && precision !== "16-mixed") throw new LightningError("PL_MISCONFIGURATION", `MixedPrecision: expected precision "bf16-mixed" or "16-mixed" but received ${JSON.stringify(precision)}`);
    if (device !== "cpu" && device !== "cuda") throw new LightningError("PL_MISCONFIGURATION", `MixedPrecision: expected device "cpu" or "cuda" but received ${JSON.stringify(device)}`);
    if (precision === "bf16-mixed" && scaler) throw new LightningError("PL_MISCONFIGURATION", "MixedPrecision: \"bf16-mixed\" needs no GradScaler (bfloat16 has float32's range); pass none, or use \"16-mixed\"");
    this.device = device;
    this.scaler = scaler ?? (precision === "16-mixed" ? new torch.amp.GradScaler(device) : null);
  }
  private get dtype(): "bfloat16" | "float16" { return this.precision === "16-mixed" ? "float16" : "bfloat16"; }
  override forwardContext<T>(fn: () => T): T {
    return torch.autocast(this.device, fn, { dtype: this.dtype, cacheEnabled: false });
  }
  override preBackward(loss: Tensor): Tensor { return this.scaler ? this.scaler.scale(loss) : loss; }
  override optimizerStep(optimizer: Steppable, closure: () => unknown, afterClosure: () => void, manual = false): unknown {
    const scaler = this.scaler;
    if (!scaler) return super.optimizerStep(optimizer, closure, afterClosure, manual);
    // as Lightning: the closure runs first, the gradients are unscaled so that the hooks and
    // clipping see true values, then the scaler steps (skipping a step with inf/NaN) and
    // updates its scale; a training step that returned null (no backward) steps nothing
    const out = closure();
    const skipped = !manual && (out === null || out === undefined);
    if (!skipped) scaler.unscale_(optimizer);
    afterClosure();
    if (skipped) return out;
    scaler.step(optimizer);
    scaler.update();
    return out;
  }
  override stateDict(): Record<string, unknown> { return this.scaler ? { ...this.scaler.stateDict() } : {}; }
  override loadStateDict(s: Record<string, unknown>): void { if (this.scaler && Object.keys(s).length) this.scaler.loadStateDict(s); }
}

const PRECISIONS: readonly Precision[] = ["32-true", "64-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true"];

/** The plugin for the Trainer's `precision` option (Lightning's names and old aliases). */
export function resolvePrecision(given: unknown, accelerator: "cpu" | "cuda"): PrecisionPlugin {
  const legacy: Record<string, Precision> = { "32": "32-true", "64": "64-true", "16": "16-mixed", bf16: "bf16-mixed" };
  const p = legacy[String(given ?? 32)] ?? String(given);
  if (!(PRECISIONS as readonly string[]).includes(p))
    throw new LightningError("PL_MISCONFIGURATION", `Trainer: precision ${JSON.stringify(given)} is not supported; expected one of ${PRECISIONS.map((x) => `"${x}"`).join(", ")} (or 32, 64, 16, "bf16")`);
  if (p === "16-mixed" && accelerator === "cpu") {
    console.warn("You passed `Trainer(accelerator='cpu', precision='16-mixed')` but AMP with fp16 is not supported on CPU. Using `precision='bf16-mixed'` instead.");
    return new MixedPrecision("bf16-mixed", "cpu");
  }
  if (p === "16-mixed" || p === "bf16-mixed") return new MixedPrecision(p, accelerator);
  if (p === "32-true") return new PrecisionPlugin();
  return new TruePrecision(p as "64-true" | "bf16-true" | "16-true");
}
