/**
 * @module torchlight/distributed/error_file: TorchElastic's error file. A launcher (torchrun,
 * `torchlight launch`) gives each worker a path in `TORCHELASTIC_ERROR_FILE`; a worker that fails
 * writes its error there (as Python's `@record` does), and the launcher reports the first
 * failure's file. The format is torchrun's: `{"message": {"message", "extraInfo": {...}}}`,
 * with the JavaScript stack in `extraInfo.js_callstack` (torchrun's own files have
 * `py_callstack`, read too).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface ErrorFileRecord { message: string; stack: string | null; code: string | null; timestamp: number }

/** Writes `e` into the error file (default: TORCHELASTIC_ERROR_FILE) unless one is there already; whether it wrote. */
export function writeErrorFile(e: unknown, path = process.env.TORCHELASTIC_ERROR_FILE): boolean {
  if (!path) return false;
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  const body = {
    message: {
      message: `${err.name}: ${err.message}`,
      extraInfo: { js_callstack: err.stack ?? "", timestamp: String(Math.floor(Date.now() / 1000)), ...(typeof code === "string" ? { code } : {}) },
    },
  };
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(body), { flag: "wx" });  // the first error wins
    return true;
  } catch { return false; }
}

/** The record of an error file, or null when there is none (or it is not one). */
export function readErrorFile(path: string): ErrorFileRecord | null {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as { message?: { message?: unknown; extraInfo?: Record<string, unknown> } | string };
    const m = typeof v.message === "string" ? { message: v.message, extraInfo: {} as Record<string, unknown> } : v.message;
    if (!m || typeof m.message !== "string") return null;
    const x = m.extraInfo ?? {};
    const stack = typeof x.js_callstack === "string" ? x.js_callstack : typeof x.py_callstack === "string" ? x.py_callstack : null;
    return { message: m.message, stack, code: typeof x.code === "string" ? x.code : null, timestamp: Number(x.timestamp ?? 0) };
  } catch { return null; }
}
