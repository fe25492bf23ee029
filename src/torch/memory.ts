/**
 * @module torchlight/torch/memory: who frees a tensor's native memory.
 * Three ways, as in tfjs: `dispose()`, scopes (`tidy(fn)` frees everything created inside
 * except what it returns or `keep()`s), and the garbage collector for tensors that live
 * outside any scope: freed during the GC that finds them unreachable. Tensors made inside a
 * scope never pay for the GC's watch, so `tidy` stays the fastest path.
 */
import { native, type Handle } from "./native/index.js";

/** What memory bookkeeping needs of a tensor. */
export interface Owned {
  _h: Handle;
  _kept: boolean;
}

let scope: Owned[] | null = null;
let depth = 0;

// A tensor made outside any scope is handed to the addon's gcWatch, which ties its native
// memory to the JS object with a GC-time finalizer: the garbage collection that finds the
// Tensor unreachable frees it, even in a loop that never yields to the event loop (a
// FinalizationRegistry's callbacks wait for the loop to turn). Watching costs more than a
// small op, so new tensors wait in `young` and are handed over in batches: the many disposed
// soon after creation never pay for it. `young` holds them strongly only until the next
// flush: at most YOUNG_MAX tensors, YOUNG_BYTES of new native memory, or one macrotask.
const YOUNG_MAX = 256;
const YOUNG_BYTES = 32 * 2 ** 20;
const unwatched = new Float64Array(native.unwatchedBytes);
let young: Owned[] = [];
let flushQueued = false;

function flushYoung(): void {
  flushQueued = false;
  unwatched[0] = 0;
  const list = young;
  young = [];
  const objs: Owned[] = [], hs: Handle[] = [];
  for (const t of list) if (t._h !== 0) { objs.push(t); hs.push(t._h); }
  if (objs.length) native.gcWatch(objs, hs);
}

const watch = (t: Owned): void => native.gcWatch([t], [t._h]);

/** Puts a new tensor in the current scope, or under the GC's watch outside any scope. */
export function track(t: Owned): void {
  if (scope !== null) { scope.push(t); return; }
  young.push(t);
  if (young.length >= YOUNG_MAX || unwatched[0]! >= YOUNG_BYTES) flushYoung();
  else if (!flushQueued) { flushQueued = true; setImmediate(flushYoung); }
}

/** Frees a tensor's native memory now. Using it afterwards throws `TORCH_TENSOR_DISPOSED`. */
export function release(t: Owned): void {
  if (t._h === 0) return;
  native.dispose(t._h);  // a watched tensor's finalizer later finds its slot gone or reused
  t._h = 0;
}

/** Marks a tensor to survive the scope that created it (it is then freed by GC or dispose). */
export function keep<T extends Owned>(t: T): T {
  if (!t._kept) {
    t._kept = true;
    if (scope !== null) watch(t);
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
