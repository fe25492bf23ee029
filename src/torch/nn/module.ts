/**
 * @module torchlight/torch/nn/module: `Module` and `Parameter`, as `torch.nn.Module`.
 *
 * A subclass declares its parameters and submodules as fields, in the order PyTorch would
 * register them; names in `stateDict()` are the field names, dotted (`layer1.0.conv1.weight`).
 * Names that are not JS identifiers (`running_mean`, `"0"`) are registered with
 * `registerParameter` / `registerBuffer` / `registerModule`.
 *
 * Parameters and buffers belong to their module, not to a `tidy()` scope: creating a module
 * inside `tidy` keeps its tensors.
 */
import { torchOptions } from "../errors.js";
import { native, ops } from "../native/index.js";
import { keep, track } from "../memory.js";
import { Tensor, handle } from "../tensor.js";
import { noGrad } from "../autograd.js";
import { isDType, type DType } from "../dtype.js";
import { TorchError } from "../errors.js";

/**
 * A Tensor that is a module parameter: `requiresGrad` by default, and found by
 * `Module.parameters()`. Shares memory with the tensor it was made from, as in PyTorch.
 * @example this.scale = new nn.Parameter(torch.ones([1]));
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(ops.detach(handle(data, "Parameter", "data")));
    track(this);
    keep(this);
    if (requiresGrad) native.setRequiresGrad(this._h, true);
  }
}

/** Marks a tensor as owned by a module (outlives tidy scopes). */
function own<T extends Tensor | null>(t: T): T {
  if (t !== null) keep(t);
  return t;
}

type Member = Module | Parameter | Tensor | null;

/** A removable hook registration, as PyTorch's `RemovableHandle`. */
export interface RemovableHandle { remove(): void }

export type ForwardHook = (module: Module, inputs: unknown[], output: unknown) => unknown;
export type ForwardPreHook = (module: Module, inputs: unknown[]) => unknown[] | void;

/** Result of {@link Module.loadStateDict}. */
export interface IncompatibleKeys { missingKeys: string[]; unexpectedKeys: string[] }

/** A state dict: dotted names to tensors, in registration order. */
export type StateDict = Record<string, Tensor>;

/**
 * Base class of every layer and model.
 * @example
 * class Net extends nn.Module {
 *   fc1 = new nn.Linear(784, 256);
 *   fc2 = new nn.Linear(256, 10);
 *   override forward(x: Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 */
export class Module {
  /** Training mode (dropout active, batch-norm statistics updated) unless `eval()` was called. */
  training = true;
  /** @internal members registered under names that are not fields (`running_mean`, `"0"`). */
  declare _registered: Map<string, Member>;
  /** @internal names (fields or registered) that hold buffers, and whether they persist in stateDict. */
  declare _buffers: Map<string, boolean>;
  /** @internal */
  declare _forwardHooks: ForwardHook[] | undefined;
  /** @internal */
  declare _forwardPreHooks: ForwardPreHook[] | undefined;

  constructor() {
    for (const [k, v] of [["_registered", new Map()], ["_buffers", new Map()], ["_forwardHooks", undefined], ["_forwardPreHooks", undefined]] as const) {
      Object.defineProperty(this, k, { value: v, writable: true, enumerable: false, configurable: true });
    }
  }

  /** The computation. Subclasses override it; call it directly (`m.forward(x)`) or through `call`. */
  forward(..._args: any[]): any {  // eslint-disable-line @typescript-eslint/no-explicit-any
    throw new TorchError("TORCH_NOT_IMPLEMENTED", `${this.constructor.name} has no forward(); define forward(...) in the subclass`, "forward");
  }

  /** Runs `forward` with the registered hooks, as Python's `module(x)`. */
  call(...args: any[]): any {  // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.forward(...args);
  }

  // ---- registration --------------------------------------------------------------------

  /** Adds a parameter under `name` (`null` registers an absent one, as `bias=False`). */
  registerParameter(name: string, param: Parameter | null): void {
    this.setMember(name, param);
  }
  /** Adds a tensor that is state but not a parameter (running statistics). `persistent: false` keeps it out of stateDict. */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    this._buffers.set(name, persistent);
    this.setMember(name, tensor === null ? null : own(tensor));
  }
  /** Adds a submodule under `name`. */
  registerModule(name: string, module: Module | null): void {
    this.setMember(name, module);
  }
  /** Alias of registerModule, as PyTorch's `add_module`. */
  addModule(name: string, module: Module | null): void { this.registerModule(name, module); }

  private setMember(name: string, v: Member): void {
    if (typeof name !== "string" || name === "" || name.includes(".")) {
      throw new TypeError(`register: expected a non-empty name without "." but received ${JSON.stringify(name)}`);
    }
    if (Object.prototype.hasOwnProperty.call(this, name) && Object.getOwnPropertyDescriptor(this, name)?.enumerable) {
      (this as Record<string, unknown>)[name] = v;  // a declared field: assign it
      return;
    }
    const fresh = !this._registered.has(name);
    this._registered.set(name, v);
    if (fresh && !(name in this)) {
      Object.defineProperty(this, name, {
        get: () => this._registered.get(name), set: (x: Member) => { this._registered.set(name, x); },
        enumerable: false, configurable: true,
      });
    }
  }

  /** Own members in registration order: declared fields first, then registered names. */
  private *members(): Generator<[string, Member]> {
    for (const k of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[k];
      if (v === null ? this._buffers.has(k) : v instanceof Module || v instanceof Tensor) yield [k, v as Member];
    }
    yield* this._registered;
  }

  // ---- traversal -----------------------------------------------------------------------

  /** Direct submodules with their names. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [k, v] of this.members()) if (v instanceof Module) yield [k, v];
  }
  *children(): Generator<Module> { for (const [, m] of this.namedChildren()) yield m; }
  /** This module and every descendant, each once, with dotted names ("" for this one). */
  *namedModules(prefix = "", memo: Set<Module> = new Set()): Generator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k, memo);
  }
  *modules(): Generator<Module> { for (const [, m] of this.namedModules()) yield m; }

  /** Parameters with dotted names, each once (shared parameters under their first name). */
  *namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): Generator<[string, Parameter]> {
    torchOptions("namedParameters", opts, ["prefix", "recurse"]);
    const seen = new Set<Tensor>();
    const mods = opts.recurse === false ? [[opts.prefix ?? "", this] as [string, Module]] : this.namedModules(opts.prefix ?? "");
    for (const [mp, m] of mods) {
      for (const [k, v] of m.members()) {
        if (!(v instanceof Parameter) || seen.has(v)) continue;
        seen.add(v);
        yield [mp ? `${mp}.${k}` : k, v];
      }
    }
  }
  /** Every parameter, as the optimizer wants them. */
  parameters(recurse = true): Parameter[] { return [...this.namedParameters({ recurse })].map(([, p]) => p); }

  *namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): Generator<[string, Tensor]> {
    torchOptions("namedBuffers", opts, ["prefix", "recurse"]);
    const seen = new Set<Tensor>();
    const mods = opts.recurse === false ? [[opts.prefix ?? "", this] as [string, Module]] : this.namedModules(opts.prefix ?? "");
    for (const [mp, m] of mods) {
      for (const [k, v] of m.members()) {
        if (!(v instanceof Tensor) || v instanceof Parameter || !m._buffers.has(k) || seen.has(v)) continue;
        seen.add(v);
        yield [mp ? `${mp}.${k}` : k, v];
      }
    }
  }
  buffers(recurse = true): Tensor[] { return [...this.namedBuffers({ recurse })].map(([, b]) => b); }

  // ---- modes ---------------------------------------------------------------------------

  /** Sets training mode here and in every descendant. */
  train(mode = true): this {
    if (typeof mode !== "boolean") throw new TypeError(`train(): expected a boolean mode but received ${String(mode)}`);
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: `train(false)`. */
  eval(): this { return this.train(false); }

  /** Calls `fn` on every submodule (children first) and then on this one, as PyTorch's `apply`. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Clears gradients: sets them to null (default, as PyTorch 2) or zeroes them. */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    torchOptions("zeroGrad", opts, ["setToNone"]);
    zeroGrads(this.parameters(), opts.setToNone ?? true);
  }

  /**
   * Moves or converts every parameter and buffer in place (same Parameter objects, as
   * PyTorch): a dtype converts floating-point tensors only; a device string moves all.
   * @example model.to("cuda"); model.to("float64");
   */
  to(target: DType | string): this {
    const dtype = isDType(target);
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        if (dtype && !t.dtype.startsWith("float") && t.dtype !== "bfloat16") continue;
        const moved = t.to(target);
        native.setData(t._h, moved._h);
        moved.dispose();
        const g = t.grad;
        if (g) { const mg = g.to(target); t.grad = mg; mg.dispose(); g.dispose(); }
      }
    });
    return this;
  }
  cpu(): this { return this.to("cpu"); }
  cuda(index = 0): this { return this.to(`cuda:${index}`); }
  float(): this { return this.to("float32"); }
  double(): this { return this.to("float64"); }
  half(): this { return this.to("float16"); }

  // ---- state -----------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by dotted name, in PyTorch's order (each module's
   * parameters, then its buffers, then its children). The tensors are detached views sharing
   * memory with the module, as in PyTorch; like any new tensor they belong to the current
   * `tidy` scope (disposing them never frees the module's memory).
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): StateDict {
    torchOptions("stateDict", opts, ["prefix", "keepVars"]);
    const out: StateDict = {};
    for (const [mp, m] of this.namedModules(opts.prefix ?? "")) {
      const own: [string, Tensor][] = [];
      for (const [k, v] of m.members()) if (v instanceof Parameter) own.push([k, v]);
      for (const [k, v] of m.members()) if (v instanceof Tensor && !(v instanceof Parameter) && m._buffers.get(k) === true) own.push([k, v]);
      for (const [k, v] of own) out[mp ? `${mp}.${k}` : k] = opts.keepVars ? v : v.detach();
    }
    return out;
  }

  /**
   * Copies tensors from a state dict into this module's parameters and buffers (no grad).
   * With `strict` (default), missing or unexpected keys are an error naming them; either way
   * a shape mismatch is an error and nothing is half-loaded for that tensor.
   */
  loadStateDict(stateDict: Record<string, unknown>, opts: { strict?: boolean } = {}): IncompatibleKeys {
    torchOptions("loadStateDict", opts, ["strict"]);
    if (stateDict === null || typeof stateDict !== "object") {
      throw new TypeError(`loadStateDict(): expected a state dict (an object of name → Tensor) but received ${String(stateDict)}`);
    }
    const strict = opts.strict ?? true;
    const own = new Map<string, Tensor>();
    for (const [mp, m] of this.namedModules()) {
      for (const [k, v] of m.members()) {
        if (v instanceof Parameter || (v instanceof Tensor && m._buffers.get(k) === true)) own.set(mp ? `${mp}.${k}` : k, v);
      }
    }
    const given = stateDict instanceof Map ? Object.fromEntries(stateDict) as Record<string, unknown> : stateDict;
    const missingKeys = [...own.keys()].filter((k) => !(k in given));
    const unexpectedKeys = Object.keys(given).filter((k) => !own.has(k));
    const errors: string[] = [];
    for (const [k, dst] of own) {
      if (!(k in given)) continue;
      const src = given[k];
      if (!(src instanceof Tensor)) { errors.push(`While copying the parameter named "${k}", expected a Tensor but received ${typeof src}.`); continue; }
      const a = src.shape, b = dst.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        errors.push(`size mismatch for ${k}: copying a param with shape [${a.join(", ")}] from checkpoint, the shape in current model is [${b.join(", ")}].`);
      }
    }
    if (strict) {
      if (unexpectedKeys.length) errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`);
      if (missingKeys.length) errors.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`);
    }
    if (errors.length) {
      throw new StateDictError(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}` +
        (strict && (missingKeys.length || unexpectedKeys.length) ? "\n\tPass { strict: false } to load the keys that match." : ""), missingKeys, unexpectedKeys);
    }
    noGrad(() => {
      for (const [k, dst] of own) {
        const src = given[k];
        if (src instanceof Tensor) dst.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- hooks -----------------------------------------------------------------------------

  /** `hook(module, inputs, output)` runs after every forward; a non-undefined return replaces the output. */
  registerForwardHook(hook: ForwardHook): RemovableHandle {
    (this._forwardHooks ??= []).push(hook);
    this.installHooks();
    return { remove: () => { this._forwardHooks = this._forwardHooks?.filter((h) => h !== hook); this.installHooks(); } };
  }
  /** `hook(module, inputs)` runs before every forward; a returned array replaces the inputs. */
  registerForwardPreHook(hook: ForwardPreHook): RemovableHandle {
    (this._forwardPreHooks ??= []).push(hook);
    this.installHooks();
    return { remove: () => { this._forwardPreHooks = this._forwardPreHooks?.filter((h) => h !== hook); this.installHooks(); } };
  }
  // Hooks wrap `forward` on the instance only while some are registered: zero cost otherwise,
  // and `m.forward(x)` (what TypeScript code calls) runs them, as Python's `m(x)` does.
  private installHooks(): void {
    const pre = this._forwardPreHooks ?? [], post = this._forwardHooks ?? [];
    if (pre.length === 0 && post.length === 0) { delete (this as { forward?: unknown }).forward; return; }
    const inner = Object.getPrototypeOf(this).forward as (...a: unknown[]) => unknown;
    Object.defineProperty(this, "forward", {
      value: (...args: unknown[]) => {
        for (const h of this._forwardPreHooks ?? []) { const r = h(this, args); if (Array.isArray(r)) args = r; }
        let out = inner.apply(this, args);
        for (const h of this._forwardHooks ?? []) { const r = h(this, args, out); if (r !== undefined) out = r; }
        return out;
      },
      writable: true, configurable: true, enumerable: false,
    });
  }

  // ---- printing ----------------------------------------------------------------------------

  /** The module's own settings, shown in `toString()` as PyTorch's `extra_repr`. */
  extraRepr(): string { return ""; }
  /** A tree of submodules, as PyTorch prints a module. */
  toString(): string {
    const kids = [...this.namedChildren()];
    const extra = this.extraRepr();
    if (kids.length === 0) return `${this.constructor.name}(${extra})`;
    const lines = kids.map(([k, m]) => `  (${k}): ${m.toString().split("\n").join("\n  ")}`);
    return `${this.constructor.name}(${extra ? `\n  ${extra}` : ""}\n${lines.join("\n")}\n)`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string { return this.toString(); }
}

/** `loadStateDict` failed: the message lists every problem, and the keys are on the error. */
export class StateDictError extends Error {
  override name = "StateDictError";
  readonly code = "TORCH_STATE_DICT_MISMATCH";
  constructor(message: string, readonly missingKeys: string[], readonly unexpectedKeys: string[]) { super(message); }
}

/**
 * Clears the gradients of `params`: to null (`setToNone`, PyTorch 2's default and the
 * fastest), or zeroed in place (PyTorch 1.x's default).
 */
export function zeroGrads(params: Iterable<Tensor>, setToNone: boolean): void {
  for (const p of params) {
    if (setToNone) { native.setGrad(p._h, null); continue; }
    const g = p.grad;
    if (g) { noGrad(() => g.zero_()); g.dispose(); }
  }
}
