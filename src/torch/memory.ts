/**
 * @module torchlight/torch/memory: who frees a tensor's native memory.
 * Three ways, as in tfjs: `dispose()`, scopes (`tidy(fn)` frees everything created inside
 * except what it returns or `keep()`s), and a GC finalizer as a backstop for tensors that
 * live outside any scope. Tensors made inside a scope never pay for finalizer registration.
 */
import { native, type Handle } from "./native/index.js";

/** What memory bookkeeping needs of a tensor. */
export interface Owned {
  _h: Handle;
  _kept: boolean;
}

const registry = new FinalizationRegistry<Handle>((h) => { native.dispose(h); });
let scope: Owned[] | null = null;
let depth = 0;

// Registering with the FinalizationRegistry (and unregistering on dispose) costs more than a
// small op. Tensors made outside a scope wait in `young` and are registered in batches, so
// the many that are disposed soon after creation never pay for it. `young` holds them
// strongly only until the next flush: at most YOUNG_MAX tensors or one macrotask.
const YOUNG_MAX = 1024;
let young: Owned[] = [];
let flushQueued = false;

function flushYoung(): void {
  flushQueued = false;
  const list = young;
  young = [];
  for (const t of list) if (t._h !== 0) registry.register(t, t._h, t);
}

/** Puts a new tensor in the current scope, or under the GC's watch outside any scope. */
export function track(t: Owned): void {
  if (scope !== null) { scope.push(t); return; }
  young.push(t);
  if (young.length >= YOUNG_MAX) flushYoung();
  else if (!flushQueued) { flushQueued = true; setImmediate(flushYoung); }
}

/** Frees a tensor's native memory now. Using it afterwards throws `TORCH_TENSOR_DISPOSED`. */
export function release(t: Owned): void {
  if (t._h === 0) return;
  registry.unregister(t);  // a no-op for tensors still waiting in `young` or in a scope
  native.dispose(t._h);
  t._h = 0;
}

/** Marks a tensor to survive the scope that created it (it is then freed by GC or dispose). */
export function keep<T extends Owned>(t: T): T {
  if (!t._kept) {
    t._kept = true;
    if (scope !== null) registry.register(t, t._h, t);
  }
  return t;
}

function collect(v: unknown, out: Set<Owned>, seen: Set<unknown>): void {
  if (v === null || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  if ("_h" in v && "_kept" in v) { out.add(v as Owned); return; }
  if (Array.isArray(v)) { for (const x of v) collect(x, out, seen); return; }
  if (v instanceof Map) { for (const x of v.values()) collect(x, out, seen); return; }
  if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, seen);
}

/**
 * Runs `fn` and frees every tensor created inside it, except the tensors it returns
 * (in arrays and plain objects too) and those passed to `keep()`. Synchronous only:
 * an `async` fn would let other code's tensors into the scope.
 * @example
 * const loss = torch.tidy(() => model.forward(x).sub(y).pow(2).mean());
 */
export function tidy<T>(fn: () => T): T {
  const outer = scope;
  const mine: Owned[] = [];
  scope = mine;
  depth++;
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new TypeError("tidy(fn): fn returned a Promise; tidy scopes are synchronous. Use tidy inside the async function around each synchronous step.");
  } catch (e) {
    for (const t of mine) if (!t._kept) release(t);
    throw e;
  } finally {
    scope = outer;
    depth--;
  }
  const out = new Set<Owned>();
  collect(result, out, new Set());
  const dead: Handle[] = [];
  for (const t of mine) {
    if (t._h === 0) continue;
    if (out.has(t)) { if (!t._kept) track(t); }
    else if (!t._kept) { dead.push(t._h); t._h = 0; }
  }
  if (dead.length) native.disposeMany(dead);
  return result;
}

/** Frees tensors now: one, or any array/object structure holding tensors. */
export function dispose(v: unknown): void {
  const out = new Set<Owned>();
  collect(v, out, new Set());
  for (const t of out) release(t);
}

/** Live tensors (native handles held by JS) and the bytes they own. */
export function memory(): { numTensors: number; numBytes: number; scopeDepth: number } {
  return { ...native.memory(), scopeDepth: depth };
}
