/**
 * @module torchlight/lightning/call: the one hook dispatcher, as Lightning's `trainer/call.py`.
 * Every hook of a callback or of the LightningModule runs through here, which sets the
 * module's current hook name (what `this.log` reads for its defaults and its errors) and
 * restores the previous one afterwards.
 */
import type { LightningModule } from "./module.js";
import type { Callback, CallbackHook } from "./callbacks/callback.js";
import type { Trainer } from "./trainer.js";

type AnyFn = (...a: unknown[]) => unknown;

/** Runs `fn` with `fx` as the module's current hook (and `batch` as its batch, when given). */
export function withHook<T>(m: LightningModule, fx: string | null, fn: () => T, batch?: unknown): T {
  const prev = m._enter(fx, batch);
  try { return fn(); } finally { m._enter(prev); }
}

/** Every callback's `name` hook, in the trainer's callback order; `only` picks some callbacks. */
export function callCallbackHooks(trainer: Trainer, name: CallbackHook, args: unknown[] = [], only?: (c: Callback) => boolean): void {
  const m = trainer.lightningModule!;
  withHook(m, name, () => {
    for (const c of trainer.callbacks) if (!only || only(c)) (c[name] as AnyFn).call(c, trainer, m, ...args);
  });
}

/** The LightningModule's `name` hook (or step); returns what it returns. */
export function callModuleHook(trainer: Trainer, name: string, ...args: unknown[]): unknown {
  const m = trainer.lightningModule!;
  return withHook(m, name, () => (m as unknown as Record<string, AnyFn>)[name]!.call(m, ...args));
}

/** Callbacks, then the module: Lightning's order for most hooks. */
export function callHooks(trainer: Trainer, name: CallbackHook, ...args: unknown[]): unknown {
  callCallbackHooks(trainer, name, args);
  return callModuleHook(trainer, name, ...args);
}
