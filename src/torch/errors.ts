/** @module torchlight/torch/errors: the error classes every torchlight tensor call can throw. */
import { checkOptions } from "../util/validate.js";

/** Stable codes of {@link TorchError}: one per kind of libtorch failure. */
export type TorchErrorCode =
  | "TORCH_ERROR"
  | "TORCH_INDEX_ERROR"
  | "TORCH_TYPE_ERROR"
  | "TORCH_VALUE_ERROR"
  | "TORCH_NOT_IMPLEMENTED"
  | "TORCH_OUT_OF_MEMORY"
  | "TORCH_TENSOR_DISPOSED";

/**
 * A failure inside libtorch (shape mismatch, dtype mismatch, out-of-range index, out of
 * memory...), carrying libtorch's own message and the operator that failed.
 * @example
 * try { a.matmul(b) } catch (e) { if (e instanceof TorchError) console.log(e.code, e.op) }
 */
export class TorchError extends Error {
  override name = "TorchError";
  readonly code: TorchErrorCode;
  /** The ATen operator that failed, e.g. `mm` or `add.Tensor`. */
  readonly op: string;
  constructor(code: TorchErrorCode, message: string, op: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.op = op;
  }
}

/**
 * A wrong argument from JS: a string where a Tensor was expected, a fractional dimension...
 * @example
 * try { t.sum(1.5) } catch (e) { if (e instanceof TorchArgumentError) console.log(e.code) }
 */
export class TorchArgumentError extends TypeError {
  override name = "TorchArgumentError";
  readonly code = "TORCH_ARGUMENT_ERROR" as const;
  readonly op: string;
  constructor(message: string, op: string, options?: ErrorOptions) {
    super(message, options);
    this.op = op;
  }
}

/** The native addon could not be loaded or built; the message names the fix. */
export class TorchLoadError extends Error {
  override name = "TorchLoadError";
  readonly code = "TORCH_LOAD_ERROR" as const;
}

const CODES: Record<string, TorchErrorCode> = {
  torch: "TORCH_ERROR",
  index: "TORCH_INDEX_ERROR",
  type: "TORCH_TYPE_ERROR",
  value: "TORCH_VALUE_ERROR",
  not_implemented: "TORCH_NOT_IMPLEMENTED",
  out_of_memory: "TORCH_OUT_OF_MEMORY",
  disposed: "TORCH_TENSOR_DISPOSED",
};

/** Called by the addon to build the error it throws (registered once at load). */
export function makeNativeError(kind: string, message: string, op: string): Error {
  if (kind === "argument") return new TorchArgumentError(message, op);
  return new TorchError(CODES[kind] ?? "TORCH_ERROR", message, op);
}

/** Builds the "expected X but received Y" message used by the JS-side checks. */
export function argumentError(op: string, what: string, expected: string, got: unknown): TorchArgumentError {
  const shown = typeof got === "string" ? `'${got}' of type string`
    : got === null || got === undefined ? String(got)
    : typeof got === "object" ? (Array.isArray(got) ? "an array" : `an object (${(got as object).constructor?.name ?? "Object"})`)
    : `${String(got)} of type ${typeof got}`;
  return new TorchArgumentError(`${op}(): expected ${expected} for ${what} but received ${shown}`, op);
}

/**
 * A parameter that PyTorch lets you give positionally or by name, followed by the options: when
 * `value` is itself a plain object it is the options object (carrying `name` or not); a value
 * given both ways is an error. Returns the value and the checked options.
 * @example const [dim, o] = argAndOptions("sum", "dim", dim, opts, ["keepdim", "dtype"]);  // t.sum({ dim: 1 })
 */
export function argAndOptions<V, O extends object>(op: string, name: string, value: unknown, opts: O | undefined, keys: readonly string[]): [V | undefined, O] {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) {
    if (value !== undefined && opts !== undefined && name in opts) throw new TorchArgumentError(`${op}: ${name} was given both positionally and as an option; give it once`, op);
    return [value as V | undefined, torchOptions(op, opts, keys)];
  }
  if (opts !== undefined && Object.keys(opts).length) throw new TorchArgumentError(`${op}: the options object must come last, but another argument followed it`, op);
  const { [name]: v, ...rest } = torchOptions(op, value as Record<string, unknown>, [name, ...keys]);
  return [v as V | undefined, rest as O];
}

/** Checks an options object of torch function `op` (util/validate's rule), throwing TorchArgumentError. */
export function torchOptions<T extends object>(op: string, opts: T | undefined, keys: readonly string[]): T {
  return checkOptions(op, opts, keys, (m) => new TorchArgumentError(m, op));
}
