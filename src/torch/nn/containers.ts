/** @module torchlight/torch/nn/containers: Sequential, ModuleList, ModuleDict, as in PyTorch. */
import { Module } from "./module.js";

function checkModule(where: string, m: unknown): Module {
  if (!(m instanceof Module)) throw new TypeError(`${where}: expected an nn.Module but received ${m === null ? "null" : typeof m === "object" ? m.constructor.name : typeof m}`);
  return m;
}

/** The i-th registered module (negative counts from the end), with a clear range error. */
function nth<M extends Module>(owner: Module, i: number): M {
  const all = [...owner._registered.values()] as M[];
  const m = all[i < 0 ? all.length + i : i];
  if (!m) throw new RangeError(`${owner.constructor.name}.at(): index ${i} is out of range for ${all.length} modules`);
  return m;
}

/**
 * Runs its modules one after the other. Named "0", "1", ... in stateDict, or by the keys of
 * an object given as the only argument (Python's OrderedDict form).
 * @example new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10))
 */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && !(first instanceof Module) && typeof first === "object" && first !== null) {
      for (const [k, m] of Object.entries(first)) this.registerModule(k, checkModule("Sequential", m));
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), checkModule("Sequential", m)));
    }
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module { return nth(this, i); }
  get length(): number { return this._registered.size; }
  append(m: Module): this { this.registerModule(String(this._registered.size), checkModule("Sequential.append", m)); return this; }
  [Symbol.iterator](): Iterator<Module> { return ([...this._registered.values()] as Module[])[Symbol.iterator](); }
  override forward(input: unknown): any {  // eslint-disable-line @typescript-eslint/no-explicit-any
    let x = input;
    for (const m of this._registered.values()) x = (m as Module).forward(x);
    return x;
  }
}

/** A list of modules whose parameters the parent module sees ("0", "1", ... in stateDict). */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  at(i: number): M { return nth<M>(this, i); }
  get length(): number { return this._registered.size; }
  append(m: M): this { this.registerModule(String(this._registered.size), checkModule("ModuleList.append", m)); return this; }
  extend(ms: Iterable<M>): this { for (const m of ms) this.append(m); return this; }
  [Symbol.iterator](): Iterator<M> { return ([...this._registered.values()] as M[])[Symbol.iterator](); }
}

/** Modules by name, in insertion order. */
export class ModuleDict<M extends Module = Module> extends Module {
  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, M]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }
  get(key: string): M | undefined { return this._registered.get(key) as M | undefined; }
  set(key: string, m: M): this { this.registerModule(key, checkModule("ModuleDict.set", m)); return this; }
  has(key: string): boolean { return this._registered.has(key); }
  keys(): string[] { return [...this._registered.keys()]; }
  values(): M[] { return [...this._registered.values()] as M[]; }
  entries(): [string, M][] { return [...this._registered.entries()] as [string, M][]; }
  get size(): number { return this._registered.size; }
}
