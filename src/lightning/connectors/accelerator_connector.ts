/**
 * @module torchlight/lightning/connectors/accelerator_connector: the Trainer's `accelerator`,
 * `devices`, `numNodes`, `strategy`, `plugins` and `precision` options resolved into a device,
 * a strategy (with its cluster environment) and a precision plugin, as Lightning's
 * `_AcceleratorConnector`.
 */
import * as torch from "../../torch/index.js";
import { LightningError } from "../errors.js";
import { Strategy, resolveStrategy } from "../strategies.js";
import { PrecisionPlugin, resolvePrecision } from "../precision.js";
import type { TrainerOptions } from "../types.js";

export class AcceleratorConnector {
  readonly accelerator: "cpu" | "cuda";
  readonly numDevices: number;
  readonly numNodes: number;
  readonly strategy: Strategy;
  readonly precisionPlugin: PrecisionPlugin;

  constructor(opts: Pick<TrainerOptions, "accelerator" | "devices" | "numNodes" | "strategy" | "plugins" | "precision">) {
    const acc = opts.accelerator ?? "auto";
    if (!["cpu", "cuda", "gpu", "auto"].includes(acc)) throw new LightningError("PL_MISCONFIGURATION", `Trainer: accelerator ${JSON.stringify(acc)} is not supported; use "cpu", "cuda" ("gpu") or "auto"`);
    const cuda = torch.cuda.isAvailable();
    if ((acc === "cuda" || acc === "gpu") && !cuda) throw new LightningError("PL_MISCONFIGURATION", `Trainer(accelerator: "${acc}"): this libtorch has no CUDA device; use accelerator "cpu" or "auto", or build torchlight against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1)`);
    this.accelerator = acc === "auto" ? (cuda ? "cuda" : "cpu") : acc === "gpu" ? "cuda" : acc;
    const devices = opts.devices ?? "auto";
    let deviceIds: number[] | null = null;
    if (devices === "auto") this.numDevices = this.accelerator === "cuda" ? torch.cuda.deviceCount() : 1;
    else if (Array.isArray(devices) && devices.length && devices.every((d) => Number.isInteger(d) && d >= 0)) { this.numDevices = devices.length; deviceIds = devices; }
    else if (Number.isInteger(devices) && (devices as number) >= 1) this.numDevices = devices as number;
    else throw new LightningError("PL_MISCONFIGURATION", `Trainer: devices must be a positive integer, a non-empty list of device indices or "auto"; got ${JSON.stringify(devices)}`);
    this.numNodes = opts.numNodes ?? 1;
    if (!Number.isInteger(this.numNodes) || this.numNodes < 1) throw new LightningError("PL_MISCONFIGURATION", `Trainer: numNodes must be a positive integer; got ${JSON.stringify(opts.numNodes)}`);
    this.strategy = resolveStrategy(opts.strategy ?? "auto", this.numDevices, this.numNodes);

    let precisionPlugin: PrecisionPlugin | null = null;
    for (const p of opts.plugins ?? []) {
      if (p instanceof PrecisionPlugin) {
        if (precisionPlugin) throw new LightningError("PL_MISCONFIGURATION", "Trainer: plugins holds two precision plugins; pass one");
        if (opts.precision !== undefined) throw new LightningError("PL_MISCONFIGURATION", `Trainer: both precision ${JSON.stringify(opts.precision)} and a precision plugin (${p.constructor.name}) were given; pass one of the two`);
        precisionPlugin = p;
      } else if (p !== null && typeof p === "object" && "globalRank" in p && "mainAddress" in p) {
        if ("clusterEnvironment" in this.strategy) (this.strategy as { clusterEnvironment: unknown }).clusterEnvironment = p;
        else console.warn(`Trainer: the cluster environment plugin ${p.constructor.name} is not used: the strategy ${this.strategy.constructor.name} runs one process (pass strategy: "ddp" to use it)`);
      } else {
        throw new LightningError("PL_MISCONFIGURATION", `Trainer: plugins may hold cluster environments (LightningEnvironment, SLURMEnvironment, RayLightningEnvironment, ...) and precision plugins (MixedPrecision, ...); got ${p === null ? "null" : (p as object).constructor?.name ?? typeof p}`);
      }
    }
    const local = Number(process.env.LOCAL_RANK ?? 0);
    if (this.accelerator === "cuda") this.strategy.rootDevice = `cuda:${deviceIds ? deviceIds[local] ?? local : local}`;
    this.precisionPlugin = precisionPlugin ?? resolvePrecision(opts.precision, this.accelerator);
  }
}
