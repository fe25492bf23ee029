/**
 * @module torchlight/lightning/loops/loop: the base of the loops, as Lightning's `_Loop`: a
 * loop owns its state, saves it (`stateDict`) and, loaded from a checkpoint, knows it is
 * `restarting` until its first iteration has run again.
 */
import type { Trainer } from "../trainer.js";

export abstract class Loop {
  /** Loaded from a checkpoint and not yet past its first iteration since. */
  restarting = false;
  constructor(protected readonly trainer: Trainer) {}
  /** This loop's state (and its children's), as it goes into a checkpoint's `loops`. */
  abstract stateDict(): Record<string, unknown>;
  /** Restores `stateDict()`'s output; the loop is then `restarting`. */
  loadStateDict(_s: Record<string, unknown>): void { this.restarting = true; }
}
