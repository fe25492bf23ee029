#!/usr/bin/env node
/**
 * @module torchlight/cli/main: the `torchlight` command. `torchlight launch` starts a node's
 * workers with torchrun's contract (./launch_config, ./agent); `--help` on every command.
 */
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { LaunchError, launchCommand, parseLaunchArgs } from "./launch_config.js";
import { Agent } from "./agent.js";

const version = (() => {
  try { return (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version; } catch { return "0.0.0"; }
})();

/** Runs the command line `argv` (after `torchlight`); resolves the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "launch") {
    // --nproc-per-node gpu/auto counts CUDA devices: only then is libtorch loaded here
    const asksGpu = [...argv, `=${process.env.PET_NPROC_PER_NODE ?? ""}`].some((a) => /(^|=)(gpu|auto)$/.test(a));
    const gpus = asksGpu ? (await import("../torch/index.js")).cuda.deviceCount() : 0;
    let cfg;
    try {
      cfg = parseLaunchArgs(argv.slice(1), process.env, () => gpus);
    } catch (e) {
      if (e instanceof CommanderError && e.exitCode === 0) return 0;  // --help
      throw e;
    }
    return new Agent(cfg).run();
  }
  const program = new Command("torchlight")
    .description("torchlight: distributed deep-learning training for TypeScript")
    .version(version)
    .enablePositionalOptions()
    .addCommand(launchCommand())
    .exitOverride();
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  if (argv.length === 0) program.outputHelp();
  return 0;
}

/** Whether this module is the program (the bin, or `node dist/src/cli/main.js`), not imported. */
function isProgram(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try { return realpathSync(entry) === fileURLToPath(import.meta.url); } catch { return false; }
}

if (isProgram()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    if (e instanceof LaunchError) console.error(`torchlight launch: ${e.message} [${e.code}]`);
    else console.error(e instanceof Error ? e.stack ?? e.message : String(e));
    process.exitCode = 1;
  });
}
