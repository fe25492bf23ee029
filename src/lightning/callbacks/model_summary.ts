/**
 * @module torchlight/lightning/callbacks/model_summary: `ModelSummary`, as Lightning's: at the
 * start of fit, rank 0 prints the module's children with their type and parameter counts,
 * then trainable / non-trainable / total parameters and their size in MB.
 */
import { pyArgs } from "../../util/validate.js";
import { LightningError } from "../errors.js";
import { Callback } from "./callback.js";
import type { Trainer } from "../trainer.js";
import type { LightningModule } from "../module.js";
import type { nn } from "../../torch/index.js";

/** 1234567 → "1.2 M", as Lightning's get_human_readable_count. */
export function humanCount(n: number): string {
  const units = ["", "K", "M", "B", "T"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? String(n) : `${v.toFixed(1)} ${units[i]}`;
}

const count = (m: nn.Module, trainable?: boolean) =>
  m.parameters().filter((p) => trainable === undefined || p.requiresGrad === trainable).reduce((s, p) => s + p.numel(), 0);

/** The summary table of `model` down to `maxDepth` levels of children. */
export function summarize(model: LightningModule, maxDepth = 1): string {
  const rows: [string, string, string, string][] = [];
  let i = 0;
  for (const [name, m] of model.namedModules()) {
    const depth = name === "" ? 0 : name.split(".").length;
    if (depth === 0 || (maxDepth >= 0 && depth > maxDepth)) continue;
    rows.push([String(i++), name, m.constructor.name, humanCount(count(m))]);
  }
  const head: [string, string, string, string] = ["", "Name", "Type", "Params"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((x, c) => x.padEnd(widths[c]!)).join(" | ");
  const rule = "-".repeat(line(head).length);
  const trainable = count(model, true), frozen = count(model, false), total = trainable + frozen;
  const bytes = model.parameters().reduce((s, p) => s + p.numel() * (p.dtype === "float64" || p.dtype === "int64" ? 8 : p.dtype === "float16" || p.dtype === "bfloat16" ? 2 : 4), 0);
  return [line(head), rule, ...rows.map(line), rule,
    `${humanCount(trainable).padEnd(10)}Trainable params`, `${humanCount(frozen).padEnd(10)}Non-trainable params`,
    `${humanCount(total).padEnd(10)}Total params`, `${(bytes / 1e6).toFixed(3).padEnd(10)}Total estimated model params size (MB)`].join("\n");
}

export class ModelSummary extends Callback {
  readonly maxDepth: number;
  constructor(maxDepth?: number);
  constructor(opts: { maxDepth?: number });
  constructor(...args: unknown[]) {
    super();
    this.maxDepth = (pyArgs("ModelSummary", ["maxDepth"], args, [], (m) => new LightningError("PL_MISCONFIGURATION", m)).maxDepth as number | undefined) ?? 1;
  }
  override onFitStart(trainer: Trainer, plModule: LightningModule): void {
    if (!trainer.isGlobalZero || this.maxDepth === 0) return;
    console.log(summarize(plModule, this.maxDepth));
  }
}
