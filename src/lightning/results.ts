/**
 * @module torchlight/lightning/results: what `this.log` records and how it becomes the
 * trainer's `callbackMetrics`, `loggedMetrics` and `progressBarMetrics`, with Lightning's
 * semantics: per-hook defaults for `onStep`/`onEpoch`, `_step`/`_epoch` suffixes when both
 * are set, epoch values reduced with `reduceFx` (a mean weighted by batch size by default),
 * and `syncDist` reductions across processes.
 */
import * as torch from "../torch/index.js";
import { LightningError } from "./errors.js";

/** How epoch values are reduced (a function receives every step value of the epoch). */
export type ReduceFx = "mean" | "sum" | "max" | "min" | ((values: number[]) => number);

/** Options of `LightningModule.log`, as Lightning's keyword arguments. */
export interface LogOptions {
  /** Show it in the progress bar (default false). */
  progBar?: boolean;
  /** Send it to the loggers (default true). */
  logger?: boolean;
  /** Record the value of each step (default: true in training steps and batch hooks, else false). */
  onStep?: boolean;
  /** Reduce the values of the epoch (default: false in training steps and batch hooks, else true). */
  onEpoch?: boolean;
  /** How the epoch value is reduced (default "mean", weighted by batch size). */
  reduceFx?: ReduceFx;
  /** Reduce across processes before use (mean for "mean", else the same reduction). */
  syncDist?: boolean;
  /** Weight of this value in the epoch mean (default: the size of the batch's first tensor). */
  batchSize?: number;
  /** Log on rank 0 only: nothing is synchronised, other ranks do not record it. */
  rankZeroOnly?: boolean;
  /** With several validation/test loaders, append `/dataloader_idx_{i}` to the name (default true). */
  addDataloaderIdx?: boolean;
}

/** Where `log` may be called, and its defaults there ([onStep, onEpoch]); null: not allowed. */
const STEP_HOOKS = ["trainingStep", "onTrainBatchStart", "onTrainBatchEnd", "onBeforeBackward", "onAfterBackward", "onBeforeOptimizerStep", "onBeforeZeroGrad", "configureGradientClipping", "optimizerStep"];
const EPOCH_HOOKS = ["onTrainStart", "onTrainEpochStart", "onTrainEpochEnd", "validationStep", "testStep", "onValidationBatchStart", "onValidationBatchEnd",
  "onTestBatchStart", "onTestBatchEnd", "onValidationEpochStart", "onValidationEpochEnd", "onTestEpochStart", "onTestEpochEnd", "onValidationStart", "onTestStart"];
export function logDefaults(fx: string | null): [boolean, boolean] | null {
  if (fx === null) return null;
  if (STEP_HOOKS.includes(fx)) return [true, false];
  if (EPOCH_HOOKS.includes(fx)) return [false, true];
  return null;
}

interface Entry {
  name: string; fx: string; onStep: boolean; onEpoch: boolean; progBar: boolean; logger: boolean;
  reduceFx: ReduceFx; syncDist: boolean; rankZeroOnly: boolean;
  step: number | null;        // this step's value (null once the step was consumed)
  values: number[];           // every step value of the epoch (for custom reductions, max, min)
  weighted: number; weight: number;  // Σ value·batchSize, Σ batchSize
}

/** The reducer of a process group, so this module needs nothing from torchlight/distributed. */
export type SyncFn = (values: number[], op: "sum" | "max" | "min" | "avg") => Promise<number[]>;

/** One stage's logged values ("train", "validate", "test"). */
export class ResultCollection {
  private entries = new Map<string, Entry>();
  private stepSeen = new Set<string>();

  constructor(readonly training: boolean) {}

  /** Records `value` under `name` from hook `fx` (called by `LightningModule.log`). */
  /** The evaluation loader being run when there are several (names get `/dataloader_idx_{i}`), else null. */
  dataloaderIdx: number | null = null;

  log(fx: string, name: string, value: number, o: LogOptions, inferBatchSize: () => number): void {
    if (this.dataloaderIdx !== null && (o.addDataloaderIdx ?? true)) name = `${name}/dataloader_idx_${this.dataloaderIdx}`;
    const defaults = logDefaults(fx);
    if (!defaults) {
      throw new LightningError("PL_BAD_LOG", `You can't log from \`${fx}\`: self.log() works in the training/validation/test steps and the on* hooks around them ` +
        `(${[...STEP_HOOKS, ...EPOCH_HOOKS].slice(0, 6).join(", ")}, ...). Move the call there.`);
    }
    const onStep = o.onStep ?? defaults[0], onEpoch = o.onEpoch ?? defaults[1];
    if (!onStep && !onEpoch) throw new LightningError("PL_BAD_LOG", `self.log("${name}"): onStep and onEpoch are both false, so the value would go nowhere; set one of them to true`);
    if (fx.endsWith("EpochEnd") || fx.endsWith("EpochStart") || fx === "onTrainStart") {
      if (onStep) throw new LightningError("PL_BAD_LOG", `self.log("${name}", ..., { onStep: true }) is not allowed in \`${fx}\`: there is no step there; use onEpoch: true`);
    }
    const reduceFx = o.reduceFx ?? "mean";
    if (typeof reduceFx === "string" && !["mean", "sum", "max", "min"].includes(reduceFx)) {
      throw new LightningError("PL_BAD_LOG", `self.log("${name}"): reduceFx must be "mean", "sum", "max", "min" or a function; got ${JSON.stringify(reduceFx)}`);
    }
    const key = `${fx}.${name}`;
    let e = this.entries.get(key);
    const meta = { onStep, onEpoch, progBar: o.progBar ?? false, logger: o.logger ?? true, reduceFx, syncDist: o.syncDist ?? false, rankZeroOnly: o.rankZeroOnly ?? false };
    if (e) {
      for (const k of ["onStep", "onEpoch", "progBar", "logger", "syncDist"] as const) {
        if (e[k] !== meta[k]) throw new LightningError("PL_BAD_LOG", `You called self.log("${name}", ...) twice in \`${fx}\` with different arguments (${k}: ${e[k]} then ${meta[k]}); use the same options each time`);
      }
      if (this.stepSeen.has(key)) {
        throw new LightningError("PL_BAD_LOG", `You called self.log("${name}", ...) twice in \`${fx}\` within one step; log each name once per step (or use another name)`);
      }
    } else {
      e = { name, fx, ...meta, step: null, values: [], weighted: 0, weight: 0 };
      for (const other of this.entries.values()) {
        if (other.name === name && other.fx !== fx && (other.onStep !== onStep || other.onEpoch !== onEpoch)) {
          throw new LightningError("PL_BAD_LOG", `self.log("${name}") is called from both \`${other.fx}\` and \`${fx}\` with different onStep/onEpoch; give the two a different name`);
        }
      }
      this.entries.set(key, e);
    }
    this.stepSeen.add(key);
    e.step = value;
    if (onEpoch) {
      const bs = reduceFx === "mean" ? (o.batchSize ?? inferBatchSize()) : 1;
      e.values.push(value);
      e.weighted += value * bs;
      e.weight += bs;
    }
  }

  /** Applies syncDist to this step's values (every rank must call it at the same point). */
  async syncStep(sync: SyncFn | null): Promise<void> {
    if (!sync) return;
    const todo = [...this.entries.values()].filter((e) => e.syncDist && e.step !== null && !e.rankZeroOnly);
    if (!todo.length) return;
    for (const op of ["avg", "sum", "max", "min"] as const) {
      const group = todo.filter((e) => stepOp(e.reduceFx) === op);
      if (!group.length) continue;
      const out = await sync(group.map((e) => e.step!), op);
      group.forEach((e, i) => { e.step = out[i]!; });
    }
  }

  /** This step's metrics, then the step is closed. */
  stepMetrics(): Metrics {
    const m = emptyMetrics();
    for (const e of this.entries.values()) {
      if (!e.onStep || e.step === null) continue;
      const forked = e.onEpoch ? `${e.name}_step` : e.name;
      if (e.logger) m.log[forked] = e.step;
      if (this.training) { m.callback[e.name] = e.step; m.callback[forked] = e.step; }
      if (e.progBar) m.pbar[forked] = e.step;
    }
    for (const e of this.entries.values()) e.step = null;
    this.stepSeen.clear();
    return m;
  }

  /** The epoch's reduced values (synchronised across processes where asked). */
  async epochMetrics(sync: SyncFn | null): Promise<Metrics> {
    const m = emptyMetrics();
    const live = [...this.entries.values()].filter((e) => e.onEpoch && e.values.length > 0);
    const values = new Map<Entry, number>();
    for (const e of live) {
      if (typeof e.reduceFx === "function") values.set(e, e.reduceFx(e.values));
      else if (e.reduceFx === "mean") values.set(e, e.weight === 0 ? NaN : e.weighted / e.weight);
      else if (e.reduceFx === "sum") values.set(e, e.values.reduce((a, b) => a + b, 0));
      else if (e.reduceFx === "max") values.set(e, Math.max(...e.values));
      else values.set(e, Math.min(...e.values));
    }
    if (sync) {
      const synced = live.filter((e) => e.syncDist && !e.rankZeroOnly);
      const means = synced.filter((e) => e.reduceFx === "mean");
      if (means.length) {
        const out = await sync(means.flatMap((e) => [e.weighted, e.weight]), "sum");
        means.forEach((e, i) => values.set(e, out[2 * i]! / out[2 * i + 1]!));
      }
      for (const op of ["sum", "max", "min"] as const) {
        const group = synced.filter((e) => e.reduceFx === op);
        if (!group.length) continue;
        const out = await sync(group.map((e) => values.get(e)!), op);
        group.forEach((e, i) => values.set(e, out[i]!));
      }
      const custom = synced.filter((e) => typeof e.reduceFx === "function");
      if (custom.length) {
        const out = await sync(custom.map((e) => values.get(e)!), "avg");
        custom.forEach((e, i) => values.set(e, out[i]!));
      }
    }
    for (const [e, v] of values) {
      const forked = e.onStep ? `${e.name}_epoch` : e.name;
      if (e.logger) m.log[forked] = v;
      m.callback[e.name] = v; m.callback[forked] = v;
      if (e.progBar) m.pbar[forked] = v;
    }
    return m;
  }

  /** Forgets everything (the start of an epoch). */
  reset(): void { this.entries.clear(); this.stepSeen.clear(); }
}

const stepOp = (r: ReduceFx): "avg" | "sum" | "max" | "min" => (r === "mean" || typeof r === "function" ? "avg" : r);

/** Metrics bound for the loggers (`log`), the callbacks (`callback`) and the progress bar (`pbar`). */
export interface Metrics { log: Record<string, number>; callback: Record<string, number>; pbar: Record<string, number> }
export const emptyMetrics = (): Metrics => ({ log: {}, callback: {}, pbar: {} });

/** A logged value as a number: a number, or a one-element tensor (detached, read once). */
export function scalarOf(name: string, value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return Number(value);
  if (value instanceof torch.Tensor) {
    if (value.numel() !== 1) {
      throw new LightningError("PL_BAD_LOG", `self.log("${name}", value): \`value\` must be a number or a one-element tensor, but it has shape [${value.shape.join(", ")}]; reduce it first (e.g. value.mean())`);
    }
    return value.item();
  }
  throw new LightningError("PL_BAD_LOG", `self.log("${name}", value): \`value\` must be a number or a one-element tensor, but received ${value === null ? "null" : typeof value}`);
}

/** The batch size Lightning infers: the first dimension of the first tensor found in the batch. */
export function extractBatchSize(batch: unknown): number {
  const seen = new Set<unknown>();
  const find = (v: unknown): number | null => {
    if (v instanceof torch.Tensor) return v.ndim === 0 ? 1 : v.shape[0]!;
    if (v === null || typeof v !== "object" || seen.has(v)) return null;
    seen.add(v);
    for (const x of Array.isArray(v) ? v : Object.values(v)) { const n = find(x); if (n !== null) return n; }
    return null;
  };
  const n = find(batch);
  if (n === null) {
    throw new LightningError("PL_BAD_LOG", "self.log(): could not infer the batch size from the batch (it holds no tensor); pass { batchSize } to self.log");
  }
  return n;
}
