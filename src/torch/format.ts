/** @module torchlight/torch/format: prints tensors the way PyTorch's `_tensor_str` does. */
import type { Tensor } from "./tensor.js";

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const LINEWIDTH = 80;
const DEFAULT_DTYPES = new Set(["float32", "int64", "bool"]);

interface Fmt { width: number; fmt: (x: number) => string }

function floatFormatter(values: number[]): Fmt {
  const finite = values.filter((v) => Number.isFinite(v));
  const nonzero = finite.map(Math.abs).filter((v) => v !== 0);
  const intMode = finite.every((v) => Math.round(v) === v);
  let fmt: (x: number) => string;
  if (finite.length === 0) fmt = (x) => String(x);
  else if (intMode) {
    const max = Math.max(...nonzero, 0);
    fmt = max > 1e8 ? (x) => x.toExponential(PRECISION).replace(/e([+-])(\d)$/, "e$10$2") : (x) => `${x.toFixed(0)}.`;
  } else {
    const max = Math.max(...nonzero), min = Math.min(...nonzero);
    const sci = max / min > 1000 || max > 1e8 || min < 1e-4;
    fmt = sci ? (x) => x.toExponential(PRECISION).replace(/e([+-])(\d)$/, "e$10$2") : (x) => x.toFixed(PRECISION);
  }
  const show = (x: number) => (Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : fmt(x));
  const width = Math.max(...values.map((v) => show(v).length), 1);
  return { width, fmt: show };
}

/** Renders `tensor([...], dtype=torch.float64, requires_grad=True)` like PyTorch. */
export function formatTensor(t: Tensor): string {
  const shape = t.shape;
  const dtype = t.dtype;
  const numel = shape.reduce((a, b) => a * b, 1);
  const summarize = numel > THRESHOLD;
  const arr = t.toArray();
  const flat: number[] = [];
  const gather = (v: unknown, k: number): void => {
    if (!Array.isArray(v)) { flat.push(typeof v === "boolean" ? Number(v) : (v as number)); return; }
    const n = v.length;
    const idx = summarize && n > 2 * EDGEITEMS ? [...Array(EDGEITEMS).keys(), ...Array.from({ length: EDGEITEMS }, (_, i) => n - EDGEITEMS + i)] : [...Array(n).keys()];
    for (const i of idx) gather(v[i], k + 1);
  };
  gather(arr, 0);
  const isFloat = dtype.startsWith("float") || dtype === "bfloat16";
  const f: Fmt = dtype === "bool" ? { width: 5, fmt: (x) => (x ? "True" : "False") }
    : isFloat ? floatFormatter(flat)
    : { width: Math.max(...flat.map((v) => String(v).length), 1), fmt: (x) => String(x) };
  if (dtype === "bool") f.width = Math.max(...flat.map((v) => (v ? 4 : 5)), 1);
  const prefix = "tensor(";
  const render = (v: unknown, indent: number): string => {
    if (!Array.isArray(v)) return f.fmt(typeof v === "boolean" ? Number(v) : (v as number)).padStart(f.width);
    const n = v.length;
    const skip = summarize && n > 2 * EDGEITEMS;
    const items = skip ? [...v.slice(0, EDGEITEMS), "...", ...v.slice(n - EDGEITEMS)] : v;
    if (v.length === 0) return "[]";
    if (!Array.isArray(v[0])) {
      const parts = items.map((x) => (x === "..." ? " ..." : render(x, indent + 1)));  // PyTorch pads it so
      const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (f.width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < parts.length; i += perLine) lines.push(parts.slice(i, i + perLine).join(", "));
      return `[${lines.join(",\n" + " ".repeat(indent + 1))}]`;
    }
    const depthOf = (x: unknown): number => (Array.isArray(x) ? 1 + depthOf(x[0]) : 0);
    const sep = ",\n" + "\n".repeat(Math.max(0, depthOf(v) - 2)) + " ".repeat(indent + 1);
    return `[${items.map((x) => (x === "..." ? "..." : render(x, indent + 1))).join(sep)}]`;
  };
  const body = shape.length === 0 ? f.fmt(typeof arr === "boolean" ? Number(arr) : (arr as number)) : render(arr, prefix.length);
  const suffix: string[] = [];
  if (t.device !== "cpu") suffix.push(`device='${t.device}'`);
  if (numel === 0 && shape.length !== 1) suffix.push(`size=(${shape.join(", ")}${shape.length === 1 ? "," : ""})`);
  if (!DEFAULT_DTYPES.has(dtype)) suffix.push(`dtype=torch.${dtype}`);
  const gf = t.gradFn;
  if (gf) suffix.push(`grad_fn=<${gf}>`);
  else if (t.requiresGrad) suffix.push("requires_grad=True");
  return `${prefix}${body}${suffix.map((s) => ", " + s).join("")})`;
}
