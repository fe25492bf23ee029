/**
 * @module torchlight/util/version: torchlight's version, from its package.json.
 */
import { readFileSync } from "node:fs";

export const version: string = (() => {
  try { return (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version; } catch { return "0.0.0"; }
})();
