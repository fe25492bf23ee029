/**
 * @module torchlight/distributed/record: loaded into each worker by `torchlight launch`
 * (`--import`): an uncaught error or unhandled rejection is written to the worker's
 * TORCHELASTIC_ERROR_FILE before Node ends the process, as Python's `@record` does, so the
 * launcher can report it. It only observes: the process fails exactly as it would without it.
 */
import { writeErrorFile } from "./error_file.js";

process.on("uncaughtExceptionMonitor", (err) => { writeErrorFile(err); });
