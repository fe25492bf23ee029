/**
 * @module torchlight/torch/optim/optimizer: the `Optimizer` base class, as `torch.optim.Optimizer`.
 *
 * Parameter groups, per-parameter state, `zeroGrad`, `stateDict`/`loadStateDict` with
 * PyTorch's structure (`{state: {0: {...}}, param_groups: [{lr, ..., params: [0, 1]}]}`,
 * snake_case option names), so optimizer checkpoints move between Python and torchlight.
 * The update itself runs in native code, one call per parameter group.
 */
import { torchOptions } from "../errors.js";
import type { Handle } from "../native/index.js";
import { keep, release, tidy } from "../memory.js";
import { Tensor, wrap } from "../tensor.js";
import { tensor } from "../creation.js";
import { enableGrad } from "../autograd.js";
import { zeroGrads } from "../nn/module.js";

/** A parameter group as given to a constructor: its params and any option overrides. */
export interface ParamGroupInput { params: Iterable<Tensor>; [option: string]: unknown }
/** What an optimizer constructor accepts: parameters, or groups of them with their own options. */
export type Params = Iterable<Tensor> | ParamGroupInput[];
/** A parameter group: its tensors and its options (camelCase; change `lr` to change the rate). */
export type ParamGroup<O> = O & { params: Tensor[]; [extra: string]: unknown };

/** Per-parameter state as PyTorch names it (`exp_avg`, `momentum_buffer`, `step`...). */
export type ParamState = Record<string, Tensor | number | null>;
/** `Optimizer.stateDict()`, in PyTorch's structure. */
export interface OptimizerStateDict {
  state: Map<number, ParamState>;
  param_groups: Record<string, unknown>[];  // eslint-disable-line @typescript-eslint/naming-convention
}

/** A bad optimizer option: an unknown name, or a value out of range. */
export class OptimizerError extends TypeError {
  override name = "OptimizerError";
  readonly code = "TORCH_OPTIMIZER_OPTION";
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Keys PyTorch keeps in param groups that torchlight accepts but that change nothing here. */
const INERT = new Set(["foreach", "capturable", "differentiable", "fused", "initialLr", "maxLr", "minLr", "maxMomentum", "baseMomentum"]);

/**
 * Base of every optimizer. Subclasses name their state slots and call their native update.
 * @example
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 */
export abstract class Optimizer<O extends object = Record<string, unknown>> {
  readonly defaults: Readonly<O>;
  paramGroups: ParamGroup<O>[] = [];
  /** How many times step() ran (schedulers check it). */
  stepCount = 0;
  private readonly slots = new Map<Tensor, (Tensor | null)[]>();

  /** Names of the per-parameter state slots, in the order the native update takes them. */
  protected abstract readonly slotNames: readonly string[];
  /** Runs the native update of one group; returns handles of state it created (0 elsewhere). */
  protected abstract update(group: ParamGroup<O>, params: Handle[], slots: Handle[]): Handle[];
  /** Checks option values (PyTorch's "Invalid learning rate" errors). */
  protected abstract validate(options: O): void;

  constructor(params: Params, defaults: O) {
    this.defaults = Object.freeze({ ...defaults });
    const list = [...(params as Iterable<Tensor | ParamGroupInput>)];
    if (list.length === 0) throw new OptimizerError(`${this.constructor.name}: optimizer got an empty parameter list; pass model.parameters()`);
    const groups = list.every((p) => p instanceof Tensor) ? [{ params: list as Tensor[] }] : (list as ParamGroupInput[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Options every group may set, beyond the defaults' keys. */
  protected knownOptions(): Set<string> { return new Set([...Object.keys(this.defaults), ...INERT]); }

  /** Adds a group of parameters with its own options (the rest from the defaults). */
  addParamGroup(group: ParamGroupInput): void {
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new OptimizerError(`${this.constructor.name}: a parameter group must be an object with 'params'`);
    }
    const params = group.params instanceof Tensor ? [group.params] : [...group.params];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new OptimizerError(`${this.constructor.name}: parameters must be Tensors, got ${typeof p}`);
      if (!p.isLeaf) throw new OptimizerError(`${this.constructor.name}: can't optimize a non-leaf Tensor; optimize the leaf it was computed from, or .detach().requiresGrad_() a copy`);
    }
    const known = this.knownOptions();
    const unknown = Object.keys(group).filter((k) => k !== "params" && !known.has(k));
    if (unknown.length) {
      throw new OptimizerError(`${this.constructor.name}: unknown option(s) ${unknown.map((k) => `'${k}'`).join(", ")}; known options are ${[...Object.keys(this.defaults)].join(", ")}`);
    }
    for (const k of ["capturable", "differentiable", "fused"]) {
      if (group[k] === true || (this.defaults as Record<string, unknown>)[k] === true) {
        throw new OptimizerError(`${this.constructor.name}: ${k}=true is not supported by torchlight; the update already runs natively per group`);
      }
    }
    const full = { ...this.defaults, ...group, params } as ParamGroup<O>;
    this.validate(full);
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    if (params.some((p) => seen.has(p)) || new Set(params).size !== params.length) {
      throw new OptimizerError(`${this.constructor.name}: some parameters appear in more than one parameter group`);
    }
    this.paramGroups.push(full);
  }

  /** Clears the gradients of every parameter (to null by default, as PyTorch 2). */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    torchOptions("zeroGrad", opts, ["setToNone"]);
    for (const g of this.paramGroups) zeroGrads(g.params, opts.setToNone ?? true);
  }

  /**
   * One update of every parameter that has a gradient. `closure` re-evaluates the model
   * and returns the loss (run with grad enabled); its result is returned.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    let loss: T | undefined;
    if (closure) loss = enableGrad(closure);
    const k = this.slotNames.length;
    for (const g of this.paramGroups) {
      const ps = g.params;
      const hs: Handle[] = new Array(ps.length);
      const slots: Handle[] = new Array(ps.length * k);
      for (let i = 0; i < ps.length; i++) {
        const p = ps[i]!;
        hs[i] = p._h;
        const s = this.slots.get(p);
        for (let j = 0; j < k; j++) slots[i * k + j] = s?.[j]?._h ?? 0;
      }
      const made = this.update(g, hs, slots);
      for (let i = 0; i < ps.length; i++) {
        for (let j = 0; j < k; j++) {
          const h = made[i * k + j]!;
          if (h === 0) continue;
          let s = this.slots.get(ps[i]!);
          if (!s) { s = new Array<Tensor | null>(k).fill(null); this.slots.set(ps[i]!, s); }
          s[j] = keep(wrap(h));
        }
      }
    }
    this.stepCount++;
    return loss;
  }

  /** The state of one parameter, by PyTorch's names (live tensors: do not dispose them). */
  getState(param: Tensor): ParamState {
    const s = this.slots.get(param);
    const out: ParamState = {};
    if (!s) return out;
    this.slotNames.forEach((n, j) => { if (s[j]) out[n] = this.exportSlot(n, s[j]!); });
    return out;
  }
  /** How a slot appears in stateDict (RMSprop's step is an int there). */
  protected exportSlot(_name: string, t: Tensor): Tensor | number { return t; }

  /** PyTorch's structure: state by parameter index, groups with snake_case options and param indices. */
  stateDict(): OptimizerStateDict {
    const state = new Map<number, ParamState>();
    const groups: Record<string, unknown>[] = [];
    let id = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.getState(p);
        if (Object.keys(s).length) state.set(id, s);
        ids.push(id++);
      }
      const opts: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(g)) if (key !== "params") opts[snake(key)] = v;
      groups.push({ ...opts, params: ids });
    }
    return { state, param_groups: groups };
  }

  /** Loads a state dict from `stateDict()` or from Python's `optimizer.state_dict()` (via torch.load). */
  loadStateDict(sd: { state: Map<number, ParamState> | Record<string, ParamState>; param_groups: Record<string, unknown>[] }): void {
    if (!sd || typeof sd !== "object" || !Array.isArray(sd.param_groups) || !sd.state) {
      throw new OptimizerError(`${this.constructor.name}.loadStateDict(): expected { state, param_groups } as stateDict() returns`);
    }
    if (sd.param_groups.length !== this.paramGroups.length) {
      throw new OptimizerError(`${this.constructor.name}.loadStateDict(): loaded state dict has ${sd.param_groups.length} parameter groups but the optimizer has ${this.paramGroups.length}`);
    }
    const byId = new Map<number, Tensor>();
    sd.param_groups.forEach((saved, gi) => {
      const ids = saved.params as number[];
      const mine = this.paramGroups[gi]!.params;
      if (!Array.isArray(ids) || ids.length !== mine.length) {
        throw new OptimizerError(`${this.constructor.name}.loadStateDict(): loaded state dict contains a parameter group that doesn't match the size of optimizer's group (${Array.isArray(ids) ? ids.length : "?"} vs ${mine.length})`);
      }
      ids.forEach((id, i) => byId.set(Number(id), mine[i]!));
    });
    const entries: [number, ParamState][] = sd.state instanceof Map ? [...sd.state].map(([k, v]) => [Number(k), v])
      : Object.entries(sd.state).map(([k, v]) => [Number(k), v]);
    const fresh = new Map<Tensor, (Tensor | null)[]>();
    for (const [id, st] of entries) {
      const p = byId.get(id);
      if (!p) continue;
      fresh.set(p, this.slotNames.map((n) => {
        const v = st[n];
        if (v === undefined || v === null) return null;
        // copied (PyTorch deep-copies the dict first): the optimizer must not share state with the dict's owner
        if (v instanceof Tensor) return keep(tidy(() => (v.dtype.startsWith("float") && n !== "step" ? v.to(p.dtype).to(p.device).clone() : v.clone())));
        if (typeof v === "number") return keep(tensor(v));
        throw new OptimizerError(`${this.constructor.name}.loadStateDict(): state '${n}' of parameter ${id} is neither a Tensor nor a number`);
      }));
    }
    for (const s of this.slots.values()) for (const t of s) if (t) release(t);
    this.slots.clear();
    for (const [p, s] of fresh) this.slots.set(p, s);
    sd.param_groups.forEach((saved, gi) => {
      const g = this.paramGroups[gi]! as Record<string, unknown>;
      for (const [k, v] of Object.entries(saved)) if (k !== "params") g[camel(k)] = v;
    });
  }

  /** Frees the optimizer's state tensors now (they are otherwise freed by GC). */
  dispose(): void {
    for (const s of this.slots.values()) for (const t of s) if (t) release(t);
    this.slots.clear();
  }
}

/** Range checks shared by the optimizers, with PyTorch's wording. */
export function checkRange(opt: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): void {
  if (typeof v !== "number" || !ok(v)) throw new OptimizerError(`${opt}: Invalid ${name}: ${String(v)} (expected ${what})`);
}
