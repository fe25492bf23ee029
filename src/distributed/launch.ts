/**
 * @module torchlight/distributed/launch: re-running the entry script as another process, the
 * way Node's `cluster` module and Lightning's subprocess launcher start their workers: the same
 * Node binary, Node flags (`--import`, loaders, `--expose-gc`) and script arguments, with the
 * given environment. Both Lightning's DDPStrategy (devices > 1 without a launcher) and the
 * TorchTrainer driver start their processes through here.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

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

const TS_ENTRY = /\.[cm]?tsx?$/;
const LOADER_FLAG = /^(--import|--loader|--experimental-loader|--require|-r|--experimental-strip-types|--experimental-transform-types)(=|$)/;

/** tsx's loader (what `--import tsx` loads), found from the script's folder, the working folder, or torchlight's own. */
function tsxLoader(script: string): string | null {
  for (const from of [script, join(process.cwd(), "noop.js"), import.meta.url]) {
    try { return pathToFileURL(createRequire(from).resolve("tsx")).href; } catch { /* next */ }
  }
  return null;
}

/**
 * The command that re-runs this process's entry script: Node, its flags, the script and its
 * arguments. A TypeScript entry script started by a runner that registers itself in-process
 * (no `--import`/`--require` flag to copy, as ts-node's CLI) is re-run through tsx's loader
 * (Node 20 has no type stripping); `npx tsx script.ts` passes its flags, which are copied.
 */
export function entryScriptCommand(argv: readonly string[] = process.argv, execArgv: readonly string[] = process.execArgv): { file: string; args: string[] } {
  const script = argv[1];
  const flags = [...execArgv];
  if (script && TS_ENTRY.test(script) && !execArgv.some((a) => LOADER_FLAG.test(a))) {
    const loader = tsxLoader(script);
    if (loader) flags.unshift("--import", loader);
  }
  return { file: process.execPath, args: [...flags, ...argv.slice(1)] };
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
