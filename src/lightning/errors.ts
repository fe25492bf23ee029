/**
 * @module torchlight/lightning/errors: the one error class of torchlight/lightning, with a
 * stable `code` per kind of mistake, as Lightning's `MisconfigurationException`.
 */

/** Codes of {@link LightningError}. */
export type LightningErrorCode =
  | "PL_MISCONFIGURATION"   // an option or a combination of options that cannot work
  | "PL_MISSING_METHOD"     // a LightningModule method the requested stage needs is not defined
  | "PL_BAD_LOG"            // self.log() misuse: wrong place, wrong value, conflicting options
  | "PL_BAD_RETURN"         // a step or configureOptimizers returned something unusable
  | "PL_CHECKPOINT"         // a checkpoint that cannot be found, read or applied
  | "PL_MONITOR";           // a monitored metric that was never logged

/** A misuse of the Trainer or the LightningModule; the message says what to change. */
export class LightningError extends Error {
  override name = "LightningError";
  constructor(readonly code: LightningErrorCode, message: string, options?: ErrorOptions) { super(message, options); }
}
