/**
 * @module torchlight/torch/optim/lr_scheduler: learning-rate schedulers, as
 * `torch.optim.lr_scheduler`, with PyTorch 1.13's arithmetic (chainable forms, closed
 * forms where SequentialLR needs them), so the same calls give the same rates.
 * Call `scheduler.step()` after `optimizer.step()`.
 */
import type { Optimizer } from "./optimizer.js";
import { OptimizerError } from "./optimizer.js";
import { invalid, pyArgs, required } from "../../util/validate.js";

type Group = Record<string, unknown> & { lr: number };
const pyMod = (a: number, b: number): number => ((a % b) + b) % b;
const bisectRight = (xs: number[], x: number): number => { let i = 0; while (i < xs.length && xs[i]! <= x) i++; return i; };

/** The base of epoch/step schedulers (PyTorch's `_LRScheduler` / `LRScheduler`). */
export abstract class LRScheduler {
  readonly optimizer: Optimizer<object>;
  lastEpoch: number;
  readonly baseLrs: number[];
  protected lastLr: number[] = [];
  protected stepCount = 0;

  constructor(optimizer: Optimizer<object>, lastEpoch = -1) {
    this.optimizer = optimizer;
    const groups = this.groups();
    if (lastEpoch === -1) for (const g of groups) if (!("initialLr" in g)) g.initialLr = g.lr;  // setdefault, as PyTorch
    else groups.forEach((g, i) => { if (!("initialLr" in g)) throw new OptimizerError(`${this.constructor.name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer (lastEpoch=${lastEpoch})`); });
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }
  /** Runs the first step; subclasses call it at the end of their constructor, as PyTorch's __init__ does. */
  protected initialStep(): void {
    this.optimizer.stepCount = 0;
    this.stepCount = 0;
    this.step();
  }
  protected groups(): Group[] { return this.optimizer.paramGroups as unknown as Group[]; }
  /** The rates of the next step (chainable form, from the groups' current rates). */
  protected abstract getLr(): number[];
  /** The rates at `lastEpoch` from the base rates (used when stepping to an explicit epoch). */
  protected closedFormLr(): number[] | null { return null; }

  /** Advances one epoch (or step), or jumps to `epoch` (deprecated in PyTorch, used by SequentialLR). */
  step(epoch?: number): void {
    this.stepCount++;
    let values: number[];
    if (epoch === undefined) { this.lastEpoch++; values = this.getLr(); }
    else { this.lastEpoch = epoch; values = this.closedFormLr() ?? this.getLr(); }
    this.groups().forEach((g, i) => { g.lr = values[i]!; });
    this.lastLr = this.groups().map((g) => g.lr);
  }
  /** The rates the last step set, one per parameter group. */
  getLastLr(): number[] { return [...this.lastLr]; }

  /** Scheduler state (PyTorch's keys), for checkpoints. */
  stateDict(): Record<string, unknown> {
    return { last_epoch: this.lastEpoch, base_lrs: [...this.baseLrs], _step_count: this.stepCount, _last_lr: [...this.lastLr], ...this.extraState() };
  }
  loadStateDict(sd: Record<string, unknown>): void {
    if (typeof sd.last_epoch === "number") this.lastEpoch = sd.last_epoch;
    if (Array.isArray(sd._last_lr)) this.lastLr = [...(sd._last_lr as number[])];
    if (typeof sd._step_count === "number") this.stepCount = sd._step_count;
    if (Array.isArray(sd.base_lrs)) (this.baseLrs as number[]).splice(0, this.baseLrs.length, ...(sd.base_lrs as number[]));
  }
  protected extraState(): Record<string, unknown> { return {}; }
}

/** A scheduler's arguments as PyTorch's signature: `optimizer`, then `names` positionally or by name. */
function schedulerArgs(where: string, names: readonly string[], args: unknown[], options: readonly string[] = []): Record<string, unknown> & { optimizer: Optimizer<object>; lastEpoch: number } {
  const err = (m: string) => new OptimizerError(m);
  const a = pyArgs(where, ["optimizer", ...names], args, options, err);
  required(where, "optimizer", a.optimizer, err);
  const lastEpoch = a.lastEpoch ?? -1;
  if (!Number.isInteger(lastEpoch) || (lastEpoch as number) < -1) invalid(where, "lastEpoch", "an integer >= -1", lastEpoch, err);
  return { ...a, lastEpoch } as Record<string, unknown> & { optimizer: Optimizer<object>; lastEpoch: number };
}
/** A required number satisfying `ok`. */
function num(where: string, name: string, v: unknown, ok: (x: number) => boolean, what: string, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) invalid(where, name, what, v, (m) => new OptimizerError(m));
  return v as number;
}
const positiveInt = (x: number) => Number.isInteger(x) && x > 0;

/** Multiplies the rate by `gamma` every `stepSize` epochs. */
export class StepLR extends LRScheduler {
  readonly stepSize: number; readonly gamma: number;
  constructor(optimizer: Optimizer<object>, stepSize: number, gamma?: number, lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, stepSize: number, opts: { gamma?: number; lastEpoch?: number });
  constructor(optimizer: Optimizer<object>, opts: { stepSize: number; gamma?: number; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("StepLR", ["stepSize", "gamma", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    this.stepSize = num("StepLR", "stepSize", a.stepSize, positiveInt, "a positive integer");
    this.gamma = num("StepLR", "gamma", a.gamma, (x) => x > 0, "a positive number", 0.1);
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups().map((g) => g.lr);
    return this.groups().map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] { return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize)); }
}

/** Multiplies the rate by `gamma` at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  readonly gamma: number;
  constructor(optimizer: Optimizer<object>, milestones: number[], gamma?: number, lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, milestones: number[], opts: { gamma?: number; lastEpoch?: number });
  constructor(optimizer: Optimizer<object>, opts: { milestones: number[]; gamma?: number; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("MultiStepLR", ["milestones", "gamma", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    if (!Array.isArray(a.milestones) || !a.milestones.every((m) => Number.isInteger(m))) invalid("MultiStepLR", "milestones", "a list of integer epochs", a.milestones, (m) => new OptimizerError(m));
    this.milestones = [...(a.milestones as number[])].sort((x, y) => x - y);
    this.gamma = num("MultiStepLR", "gamma", a.gamma, (x) => x > 0, "a positive number", 0.1);
    this.initialStep();
  }
  protected getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return this.groups().map((g) => g.lr);
    return this.groups().map((g) => g.lr * this.gamma ** count);
  }
  protected override closedFormLr(): number[] { return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch)); }
}

/** Multiplies the rate by `gamma` every epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;
  constructor(optimizer: Optimizer<object>, gamma: number, lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, opts: { gamma: number; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("ExponentialLR", ["gamma", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    this.gamma = num("ExponentialLR", "gamma", a.gamma, (x) => x > 0, "a positive number");
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups().map((g) => g.lr);
    return this.groups().map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] { return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch); }
}

/** Cosine annealing from the base rate to `etaMin` over `tMax` epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number; readonly etaMin: number;
  constructor(optimizer: Optimizer<object>, tMax: number, etaMin?: number, lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, tMax: number, opts: { etaMin?: number; lastEpoch?: number });
  constructor(optimizer: Optimizer<object>, opts: { tMax: number; etaMin?: number; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("CosineAnnealingLR", ["tMax", "etaMin", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    this.tMax = num("CosineAnnealingLR", "tMax", a.tMax, (x) => x > 0, "a positive number of epochs");
    this.etaMin = num("CosineAnnealingLR", "etaMin", a.etaMin, (x) => x >= 0, "a non-negative number", 0);
    this.initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch, T = this.tMax, m = this.etaMin, gs = this.groups();
    if (e === 0) return gs.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) return this.baseLrs.map((b) => m + (b - m) * (1 + Math.cos(e * Math.PI / T)) / 2);
    if (pyMod(e - 1 - T, 2 * T) === 0) return gs.map((g, i) => g.lr + (this.baseLrs[i]! - m) * (1 - Math.cos(Math.PI / T)) / 2);
    return gs.map((g) => (1 + Math.cos(Math.PI * e / T)) / (1 + Math.cos(Math.PI * (e - 1) / T)) * (g.lr - m) + m);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + (b - this.etaMin) * (1 + Math.cos(Math.PI * this.lastEpoch / this.tMax)) / 2);
  }
}

/** Scales the rate linearly from `startFactor` to `endFactor` over `totalIters` epochs. */
export class LinearLR extends LRScheduler {
  readonly startFactor: number; readonly endFactor: number; readonly totalIters: number;
  constructor(optimizer: Optimizer<object>, startFactor?: number, endFactor?: number, totalIters?: number, lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, opts: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("LinearLR", ["startFactor", "endFactor", "totalIters", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    this.startFactor = num("LinearLR", "startFactor", a.startFactor, () => true, "a number", 1 / 3);
    this.endFactor = num("LinearLR", "endFactor", a.endFactor, () => true, "a number", 1);
    this.totalIters = num("LinearLR", "totalIters", a.totalIters, positiveInt, "a positive integer", 5);
    if (this.startFactor > 1 || this.startFactor <= 0) throw new OptimizerError("LinearLR: startFactor expected to be greater than 0 and less or equal to 1");
    if (this.endFactor > 1 || this.endFactor < 0) throw new OptimizerError("LinearLR: endFactor expected to be between 0 and 1");
    this.initialStep();
  }
  protected getLr(): number[] {
    const gs = this.groups(), e = this.lastEpoch, s = this.startFactor, f = this.endFactor, n = this.totalIters;
    if (e === 0) return gs.map((g) => g.lr * s);
    if (e > n) return gs.map((g) => g.lr);
    return gs.map((g) => g.lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (this.startFactor + (this.endFactor - this.startFactor) * Math.min(this.totalIters, this.lastEpoch) / this.totalIters));
  }
}

/** Rate = base rate × `lrLambda(epoch)` (one function, or one per group). */
export class LambdaLR extends LRScheduler {
  private readonly fns: ((epoch: number) => number)[];
  constructor(optimizer: Optimizer<object>, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[], lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, opts: { lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[]; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("LambdaLR", ["lrLambda", "lastEpoch"], args);
    super(a.optimizer, a.lastEpoch);
    const lrLambda = a.lrLambda;
    if (typeof lrLambda !== "function" && !(Array.isArray(lrLambda) && lrLambda.every((f) => typeof f === "function"))) invalid("LambdaLR", "lrLambda", "a function of the epoch or a list of them", lrLambda, (m) => new OptimizerError(m));
    const n = this.optimizer.paramGroups.length;
    this.fns = Array.isArray(lrLambda) ? lrLambda as ((epoch: number) => number)[] : new Array(n).fill(lrLambda);
    if (this.fns.length !== n) throw new OptimizerError(`LambdaLR: expected ${n} lr_lambdas, but got ${this.fns.length}`);
    this.initialStep();
  }
  protected getLr(): number[] { return this.baseLrs.map((b, i) => b * this.fns[i]!(this.lastEpoch)); }
}

/** Options of {@link OneCycleLR}, as PyTorch's keyword arguments. */
export interface OneCycleOptions {
  maxLr: number | number[]; totalSteps?: number; epochs?: number; stepsPerEpoch?: number; pctStart?: number;
  annealStrategy?: "cos" | "linear"; cycleMomentum?: boolean; baseMomentum?: number; maxMomentum?: number;
  divFactor?: number; finalDivFactor?: number; threePhase?: boolean;
}

/** The 1cycle policy (Smith & Topin): warm up to `maxLr`, then anneal far below the start; momentum cycles inversely. Step it every batch. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: { endStep: number; startLr: string; endLr: string; startMomentum: string; endMomentum: string }[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly cycleMomentum: boolean;
  private readonly useBeta1: boolean;
  constructor(optimizer: Optimizer<object>, opts: OneCycleOptions & { lastEpoch?: number });
  constructor(optimizer: Optimizer<object>, maxLr: number | number[], opts?: Omit<OneCycleOptions, "maxLr"> & { lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("OneCycleLR", ["maxLr"], args, ["totalSteps", "epochs", "stepsPerEpoch", "pctStart", "annealStrategy", "cycleMomentum", "baseMomentum", "maxMomentum", "divFactor", "finalDivFactor", "threePhase", "lastEpoch"]);
    const { optimizer, lastEpoch } = a;
    const opts = a as unknown as OneCycleOptions;
    required("OneCycleLR", "maxLr", opts.maxLr, (m) => new OptimizerError(m));
    const groups = optimizer.paramGroups as unknown as Group[];
    let total: number;
    if (opts.totalSteps !== undefined) {
      if (!Number.isInteger(opts.totalSteps) || opts.totalSteps <= 0) throw new OptimizerError(`OneCycleLR: Expected positive integer totalSteps, but got ${opts.totalSteps}`);
      total = opts.totalSteps;
    } else if (opts.epochs !== undefined && opts.stepsPerEpoch !== undefined) {
      if (!Number.isInteger(opts.epochs) || opts.epochs <= 0) throw new OptimizerError(`OneCycleLR: Expected positive integer epochs, but got ${opts.epochs}`);
      if (!Number.isInteger(opts.stepsPerEpoch) || opts.stepsPerEpoch <= 0) throw new OptimizerError(`OneCycleLR: Expected positive integer stepsPerEpoch, but got ${opts.stepsPerEpoch}`);
      total = opts.epochs * opts.stepsPerEpoch;
    } else throw new OptimizerError("OneCycleLR: You must define either totalSteps OR (epochs AND stepsPerEpoch)");
    const pct = opts.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new OptimizerError(`OneCycleLR: Expected float between 0 and 1 pctStart, but got ${pct}`);
    const strategy = opts.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") throw new OptimizerError(`OneCycleLR: annealStrategy must by one of 'cos' or 'linear', instead got ${String(strategy)}`);
    const per = <T>(name: string, v: T | T[]): T[] => {
      if (!Array.isArray(v)) return groups.map(() => v);
      if (v.length !== groups.length) throw new OptimizerError(`OneCycleLR: expected ${groups.length} values for ${name}, got ${v.length}`);
      return v;
    };
    const divFactor = opts.divFactor ?? 25, finalDiv = opts.finalDivFactor ?? 1e4;
    if (lastEpoch === -1) {
      per("maxLr", opts.maxLr).forEach((m, i) => {
        const g = groups[i]!;
        g.initialLr = m / divFactor; g.maxLr = m; g.minLr = (g.initialLr as number) / finalDiv;
      });
    }
    const cycle = opts.cycleMomentum ?? true;
    const defaults = optimizer.defaults as Record<string, unknown>;
    let useBeta1 = false;
    if (cycle) {
      if (!("momentum" in defaults) && !("betas" in defaults)) throw new OptimizerError("OneCycleLR: optimizer must support momentum with `cycleMomentum` option enabled");
      useBeta1 = "betas" in defaults;
      const maxM = per("maxMomentum", opts.maxMomentum ?? 0.95), baseM = per("baseMomentum", opts.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxM[i]!, ...(g.betas as number[]).slice(1)];
          else g.momentum = maxM[i]!;
          g.maxMomentum = maxM[i]!; g.baseMomentum = baseM[i]!;
        });
      }
    }
    super(optimizer, lastEpoch);
    this.totalSteps = total;
    this.cycleMomentum = cycle;
    this.useBeta1 = useBeta1;
    this.anneal = strategy === "cos" ? (s, e, p) => e + (s - e) / 2.0 * (Math.cos(Math.PI * p) + 1) : (s, e, p) => (e - s) * p + s;
    this.phases = opts.threePhase
      ? [
        { endStep: pct * total - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
        { endStep: 2 * pct * total - 2, startLr: "maxLr", endLr: "initialLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
        { endStep: total - 1, startLr: "initialLr", endLr: "minLr", startMomentum: "maxMomentum", endMomentum: "maxMomentum" },
      ]
      : [
        { endStep: pct * total - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
        { endStep: total - 1, startLr: "maxLr", endLr: "minLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
      ];
    this.initialStep();
  }
  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) throw new OptimizerError(`OneCycleLR: Tried to step ${stepNum + 1} times. The specified number of total steps is ${this.totalSteps}`);
    return this.groups().map((g) => {
      let start = 0, lr = 0, momentum = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i]!;
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - start) / (ph.endStep - start);
          lr = this.anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
          if (this.cycleMomentum) momentum = this.anneal(g[ph.startMomentum] as number, g[ph.endMomentum] as number, pct);
          break;
        }
        start = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, ...(g.betas as number[]).slice(1)];
        else g.momentum = momentum;
      }
      return lr;
    });
  }
}

/** Runs schedulers one after another, switching at the milestone epochs. */
export class SequentialLR extends LRScheduler {
  private readonly schedulers: LRScheduler[];
  private readonly milestones: number[];
  constructor(optimizer: Optimizer<object>, schedulers: LRScheduler[], milestones: number[], lastEpoch?: number);
  constructor(optimizer: Optimizer<object>, opts: { schedulers: LRScheduler[]; milestones: number[]; lastEpoch?: number });
  constructor(...args: unknown[]) {
    const a = schedulerArgs("SequentialLR", ["schedulers", "milestones", "lastEpoch"], args);
    const { optimizer, lastEpoch } = a;
    const schedulers = a.schedulers as LRScheduler[], milestones = a.milestones as number[];
    if (!Array.isArray(schedulers) || !Array.isArray(milestones)) invalid("SequentialLR", "schedulers and milestones", "two lists", [a.schedulers, a.milestones], (m) => new OptimizerError(m));
    super(optimizer, lastEpoch === -1 ? 0 : lastEpoch);  // (groups already carry initialLr from the schedulers)
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new OptimizerError(`SequentialLR: expects all schedulers to belong to the same optimizer, but got scheduler at index ${i} with a different one`);
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new OptimizerError(`SequentialLR: expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers ${schedulers.length} and the number of milestones to be equal to ${milestones.length}`);
    }
    this.schedulers = schedulers;
    this.milestones = milestones;
    this.lastEpoch = lastEpoch + 1;
    for (const g of this.groups()) g.lr = g.initialLr as number;
    for (const s of schedulers) s.lastEpoch -= 1;
    (schedulers[0] as unknown as { initialStep(): void }).initialStep();
    this.lastLr = schedulers[0]!.getLastLr();
  }
  protected getLr(): number[] { return this.groups().map((g) => g.lr); }
  override step(): void {
    this.lastEpoch++;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }
  protected override extraState(): Record<string, unknown> { return { _schedulers: this.schedulers.map((s) => s.stateDict()), _milestones: [...this.milestones] }; }
  override loadStateDict(sd: Record<string, unknown>): void {
    super.loadStateDict(sd);
    (sd._schedulers as Record<string, unknown>[] | undefined)?.forEach((x, i) => this.schedulers[i]?.loadStateDict(x));
  }
}

/** Options of {@link ReduceLROnPlateau}, as PyTorch's keyword arguments. */
export interface PlateauOptions {
  mode?: "min" | "max"; factor?: number; patience?: number; threshold?: number; thresholdMode?: "rel" | "abs";
  cooldown?: number; minLr?: number | number[]; eps?: number;
}

/** Lowers the rate by `factor` when a metric stops improving for `patience` epochs. `step(metric)`. */
export class ReduceLROnPlateau {
  readonly mode: "min" | "max"; readonly factor: number; readonly patience: number; readonly threshold: number;
  readonly thresholdMode: "rel" | "abs"; readonly cooldown: number; readonly minLrs: number[]; readonly eps: number;
  best: number; numBadEpochs = 0; cooldownCounter = 0; lastEpoch = 0;
  private lastLr: number[];
  readonly optimizer: Optimizer<object>;
  constructor(optimizer: Optimizer<object>, opts?: PlateauOptions);
  constructor(optimizer: Optimizer<object>, mode?: PlateauOptions["mode"], opts?: Omit<PlateauOptions, "mode">);
  constructor(...args: unknown[]) {
    const a = pyArgs("ReduceLROnPlateau", ["optimizer", "mode"], args, ["factor", "patience", "threshold", "thresholdMode", "cooldown", "minLr", "eps"], (m) => new OptimizerError(m));
    const optimizer = this.optimizer = required("ReduceLROnPlateau", "optimizer", a.optimizer as Optimizer<object> | undefined, (m) => new OptimizerError(m));
    const opts = a as PlateauOptions;
    this.factor = opts.factor ?? 0.1;
    if (this.factor >= 1) throw new OptimizerError("ReduceLROnPlateau: Factor should be < 1.0.");
    const n = optimizer.paramGroups.length;
    const minLr = opts.minLr ?? 0;
    if (Array.isArray(minLr) && minLr.length !== n) throw new OptimizerError(`ReduceLROnPlateau: expected ${n} min_lrs, got ${minLr.length}`);
    this.minLrs = Array.isArray(minLr) ? [...minLr] : new Array(n).fill(minLr);
    this.patience = opts.patience ?? 10; this.cooldown = opts.cooldown ?? 0; this.eps = opts.eps ?? 1e-8;
    this.mode = opts.mode ?? "min"; this.threshold = opts.threshold ?? 1e-4; this.thresholdMode = opts.thresholdMode ?? "rel";
    if (this.mode !== "min" && this.mode !== "max") throw new OptimizerError(`ReduceLROnPlateau: mode ${String(this.mode)} is unknown!`);
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") throw new OptimizerError(`ReduceLROnPlateau: threshold mode ${String(this.thresholdMode)} is unknown!`);
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => (g as unknown as Group).lr);
  }
  private isBetter(a: number, best: number): boolean {
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === "rel" ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }
  /** Records this epoch's metric (a number, or a 0-d tensor's value). */
  step(metric: number | { item(): number }): void {
    const current = typeof metric === "number" ? metric : metric.item();
    this.lastEpoch++;
    if (this.isBetter(current, this.best)) { this.best = current; this.numBadEpochs = 0; }
    else this.numBadEpochs++;
    if (this.cooldownCounter > 0) { this.cooldownCounter--; this.numBadEpochs = 0; }
    if (this.numBadEpochs > this.patience) {
      (this.optimizer.paramGroups as unknown as Group[]).forEach((g, i) => {
        const old = g.lr, next = Math.max(old * this.factor, this.minLrs[i]!);
        if (old - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => (g as unknown as Group).lr);
  }
  getLastLr(): number[] { return [...this.lastLr]; }
  stateDict(): Record<string, unknown> {
    return { best: this.best, num_bad_epochs: this.numBadEpochs, cooldown_counter: this.cooldownCounter, last_epoch: this.lastEpoch, _last_lr: [...this.lastLr] };
  }
  loadStateDict(sd: Record<string, unknown>): void {
    if (typeof sd.best === "number") this.best = sd.best;
    if (typeof sd.num_bad_epochs === "number") this.numBadEpochs = sd.num_bad_epochs;
    if (typeof sd.cooldown_counter === "number") this.cooldownCounter = sd.cooldown_counter;
    if (typeof sd.last_epoch === "number") this.lastEpoch = sd.last_epoch;
  }
}
