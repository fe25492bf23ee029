/**
 * @module torchlight/torch/sharing: tensors across worker threads without copies (what
 * `torch.multiprocessing`'s shared memory does for Python's worker processes). A thread
 * `share`s a tensor and posts the token; another thread `receive`s it as its own Tensor
 * over the same memory.
 */
import { torchOptions } from "./errors.js";
import { native } from "./native/index.js";
import { handle, wrap, Tensor } from "./tensor.js";

/** A token for `t` that one `receive` (or, with `persistent`, any number until `release`) turns back into a Tensor. */
export function share(t: Tensor, opts: { persistent?: boolean } = {}): number {
  torchOptions("share", opts, ["persistent"]);
  return native.exportTensor(handle(t, "share", "tensor"), opts.persistent ?? false);
}
/** The Tensor behind a token (in this thread's memory scope). */
export const receive = (token: number): Tensor => wrap(native.importTensor(token));
/** Drops tokens that will not be received (their memory is freed when no thread holds it). */
export const release = (tokens: number[]): void => { if (tokens.length) native.releaseTokens(tokens); };
/** How many tokens are outstanding (for tests and leak checks). */
export const outstanding = (): number => native.sharedCount();

const MARK = "__torchlightShared";
/** Replaces every Tensor in a structure (arrays, plain objects) by a token marker; returns the tokens made. */
export function encode(value: unknown, tokens: number[], persistent = false): unknown {
  if (value instanceof Tensor) { const tk = share(value, { persistent }); tokens.push(tk); return { [MARK]: tk }; }
  if (Array.isArray(value)) return value.map((v) => encode(v, tokens, persistent));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v, tokens, persistent)]));
  }
  return value;
}
/** The inverse of {@link encode}: markers become Tensors received in this thread. */
export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const o = value as Record<string, unknown>;
    if (typeof o[MARK] === "number") return receive(o[MARK]);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}
