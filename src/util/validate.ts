/**
 * @module torchlight/util/validate: the one way options are checked, in the manner of sharp's
 * `lib/is.js` and `invalidParameterError`. Every public function and constructor that takes
 * an options object refuses keys it does not know (naming the accepted ones, and the camelCase
 * spelling of a snake_case key), accepts every keyword of the Python signature in the options
 * object too (positional ones included), and refuses a value given both positionally and as an
 * option. Messages say what was expected and what came:
 * "Conv2d: expected a positive integer or a list of 2 for kernelSize but received 1.5 of type number".
 *
 * Imports nothing of torchlight: every layer uses it and passes its own error class.
 */

/** Builds the caller's error (its class and stable code) from a message. */
export type MakeError = (message: string) => Error;

/** The error of a bad argument where the caller names no error class of its own. */
export class InvalidArgumentError extends TypeError {
  override name = "InvalidArgumentError";
  readonly code = "INVALID_ARGUMENT" as const;
}

const defaultError: MakeError = (m) => new InvalidArgumentError(m);

/** How a received value reads in a message: `1.5 of type number`, `[7,7] of type array`. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `${short(v)} of type array`;
  if (typeof v === "object") return `an object of class ${(v as object).constructor?.name ?? "Object"}`;
  if (typeof v === "function") return "a function";
  return `${short(v)} of type ${typeof v}`;
}
function short(v: unknown): string {
  let s: string;
  try { s = typeof v === "bigint" ? `${v}n` : JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** snake_case → camelCase ("padding_mode" → "paddingMode"). */
export const camel = (k: string): string => k.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** The accepted key the user probably meant, or null. */
export function suggest(key: string, accepted: readonly string[]): string | null {
  const c = camel(key);
  const exact = accepted.find((k) => k === c || k.toLowerCase() === key.toLowerCase() || k.toLowerCase() === c.toLowerCase());
  if (exact) return exact;
  let best: string | null = null, bestD = Infinity;
  for (const k of accepted) {
    const dd = distance(c.toLowerCase(), k.toLowerCase());
    if (dd < bestD) { best = k; bestD = dd; }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(c.length / 4)) ? best : null;
}

/**
 * Checks an options object: it must be a plain object (or undefined) whose keys are all in
 * `accepted`. Returns it (an empty object for undefined).
 */
export function checkOptions<T extends object>(where: string, opts: T | undefined, accepted: readonly string[], err: MakeError = defaultError): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw err(`${where}: expected an options object ({ ${accepted.slice(0, 4).join(", ")}${accepted.length > 4 ? ", ..." : ""} }) but received ${describe(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (accepted.includes(k)) continue;
    const s = suggest(k, accepted);
    throw err(`${where}: unknown option "${k}"${s ? `; did you mean ${s}?` : ""} (accepted: ${accepted.join(", ")})`);
  }
  return opts;
}

/**
 * Python-style arguments: `positional` are the values given positionally (undefined when not
 * given), `opts` the options object that may also carry them by name. A value given both ways
 * is an error. Returns the merged options.
 */
export function mergeArgs<T extends Record<string, unknown>>(where: string, positional: Partial<T>, opts: Partial<T>, err: MakeError = defaultError): Partial<T> {
  const out: Record<string, unknown> = { ...opts };
  for (const [k, v] of Object.entries(positional)) {
    if (v === undefined) continue;
    if (opts[k] !== undefined) throw err(`${where}: ${k} was given both positionally (${short(v)}) and as an option (${short(opts[k])}); give it once`);
    out[k] = v;
  }
  return out as Partial<T>;
}

/** Throws the caller's error in sharp's shape: "where: expected X for name but received V". */
export function invalid(where: string, name: string, expected: string, got: unknown, err: MakeError = defaultError, fix?: string): never {
  throw err(`${where}: expected ${expected} for ${name} but received ${describe(got)}${fix ? `; ${fix}` : ""}`);
}

/** Predicates, as sharp's `is`. */
export const is = {
  defined: (v: unknown): boolean => v !== undefined && v !== null,
  number: (v: unknown): v is number => typeof v === "number" && !Number.isNaN(v),
  finite: (v: unknown): v is number => typeof v === "number" && Number.isFinite(v),
  integer: (v: unknown): v is number => Number.isInteger(v),
  positiveInteger: (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0,
  nonNegativeInteger: (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0,
  bool: (v: unknown): v is boolean => typeof v === "boolean",
  string: (v: unknown): v is string => typeof v === "string" && v.length > 0,
  plainObject: (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype,
  inArray: <T>(v: unknown, list: readonly T[]): v is T => list.includes(v as T),
};

/** An int or a tuple of `n` ints (PyTorch's `_pair`/`_triple`), checked with `ok`; returns the tuple. */
export function tupleOf(where: string, name: string, v: unknown, n: number, ok: (x: number) => boolean, what: string, err: MakeError = defaultError): number[] {
  if (typeof v === "number" && Number.isInteger(v) && ok(v)) return Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === "number" && Number.isInteger(x) && ok(x))) return [...v] as number[];
  return invalid(where, name, `${what} or a list of ${n} such integers`, v, err);
}

/**
 * Reads a Python-style call: `passed` are the arguments as given; the first plain object among
 * them ends the positional ones and is the options object (PyTorch's keywords). Returns one
 * record of every value by its keyword name, after refusing unknown keys (naming the accepted
 * ones) and a value given both positionally and by name.
 * @example
 * // new Conv2d(1, 64, 7, { stride: 2 }) and new Conv2d(1, 64, { kernelSize: 7, stride: 2 }) read the same
 * const a = pyArgs("Conv2d", ["inChannels", "outChannels", "kernelSize"], args, CONV2D_OPTIONS);
 */
export function pyArgs(where: string, names: readonly string[], passed: readonly unknown[], accepted: readonly string[], err: MakeError = defaultError): Record<string, unknown> {
  const at = passed.findIndex((v) => is.plainObject(v));
  const positional = at === -1 ? passed : passed.slice(0, at);
  if (at !== -1 && at < passed.length - 1 && passed.slice(at + 1).some((v) => v !== undefined)) {
    throw err(`${where}: the options object must come last, but ${passed.length - at - 1} more argument(s) followed it`);
  }
  if (positional.length > names.length) {
    throw err(`${where}: expected at most ${names.length} positional argument(s) (${names.join(", ")}) before the options object but received ${positional.length}`);
  }
  const opts = at === -1 ? {} : checkOptions(where, passed[at] as Record<string, unknown>, [...new Set([...names, ...accepted])], err);
  const out: Record<string, unknown> = { ...opts };
  positional.forEach((v, i) => {
    if (v === undefined) return;
    const k = names[i]!;
    if (opts[k] !== undefined) throw err(`${where}: ${k} was given both positionally (${short(v)}) and as an option (${short(opts[k])}); give it once`);
    out[k] = v;
  });
  return out;
}

/** Throws when a required argument is missing after `pyArgs`. */
export function required<T>(where: string, name: string, v: T | undefined, err: MakeError = defaultError): T {
  if (v === undefined) throw err(`${where}: missing the required argument ${name} (pass it positionally or as { ${name} })`);
  return v;
}
