/**
 * @module torchlight/distributed/internal: what torchlight's own layers (Lightning's strategies,
 * the train driver) and tests use beyond the public `torch.distributed` API. Not public.
 */
export { _broadcastFlagSync as broadcastFlagSync } from "./process_group.js";
export { entryScriptCommand, entryScriptProblem, spawnEntryScript, type SpawnEntryOptions } from "./launch.js";
