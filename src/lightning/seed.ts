/**
 * @module torchlight/lightning/seed: `seedEverything`, as Lightning's: one seed for torch's
 * default generator, recorded in `PL_GLOBAL_SEED` so worker processes and the distributed
 * sampler use the same one.
 */
import { checkOptions } from "../util/validate.js";
import { LightningError } from "./errors.js";
import * as torch from "../torch/index.js";

const MAX_SEED = 4294967295;

/** Seeds torch (and, with `workers`, marks DataLoader workers to derive their seeds from it); returns the seed. */
export function seedEverything(seed?: number, opts: { workers?: boolean } = {}): number {
  checkOptions("seedEverything", opts, ["workers"], (m) => new LightningError("PL_MISCONFIGURATION", m));
  let s = seed ?? (process.env.PL_GLOBAL_SEED !== undefined ? Number(process.env.PL_GLOBAL_SEED) : undefined);
  if (s === undefined || !Number.isInteger(s) || s < 0 || s > MAX_SEED) {
    if (s !== undefined) console.warn(`seedEverything: ${s} is not in bounds [0, ${MAX_SEED}]; using a random seed`);
    s = Math.floor(Math.random() * MAX_SEED);
  }
  process.env.PL_GLOBAL_SEED = String(s);
  process.env.PL_SEED_WORKERS = opts.workers ? "1" : "0";
  torch.manualSeed(s);
  return s;
}
