/**
 * @module torchlight/distributed/launch: re-running the entry script as another process, the
 * way Node's `cluster` module and Lightning's subprocess launcher start their workers: the same
 * Node binary, Node flags (`--import`, loaders, `--expose-gc`) and script arguments, with the
 * given environment. Both Lightning's DDPStrategy (devices > 1 without a launcher) and the
 * TorchTrainer driver start their processes through here.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";

/**
 * Why this process's entry script cannot be re-run (it came from `node -e`/`-p`, standard
 * input or the REPL), or null when it can.
 */
export function entryScriptProblem(): string | null {
  const script = process.argv[1];
  if (script !== undefined && script !== "-") return null;
  const evalFlag = process.execArgv.find((a) => /^(-e|--eval|-p|--print)(=|$)/.test(a));
  return evalFlag ? `the program came from \`node ${evalFlag.split("=")[0]}\`` : process.stdin.isTTY ? "the program runs in the REPL" : "the program came from standard input";
}

/** The command that re-runs this process's entry script: Node, its flags, the script and its arguments. */
export function entryScriptCommand(): { file: string; args: string[] } {
  return { file: process.execPath, args: [...process.execArgv, ...process.argv.slice(1)] };
}

export interface SpawnEntryOptions {
  stdio?: StdioOptions;
  /** Wraps the command (a cluster launcher: `srun ... node script.js`). */
  wrap?: (file: string, args: string[]) => { file: string; args: string[] };
}

/** Starts the entry script again with `env`. */
export function spawnEntryScript(env: NodeJS.ProcessEnv, opts: SpawnEntryOptions = {}): ChildProcess {
  const base = entryScriptCommand();
  const cmd = opts.wrap ? opts.wrap(base.file, base.args) : base;
  return spawn(cmd.file, cmd.args, { env, stdio: opts.stdio ?? "inherit" });
}
