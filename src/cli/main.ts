#!/usr/bin/env node
/**
 * @module torchlight/cli/main: the `torchlight` command, `--help` on every command:
 * `launch` starts a node's workers with torchrun's contract (./launch_config, ./agent);
 * `runs` lists the runs of a storage path and `show` one run in full (./runs). Modules that
 * load libtorch are imported only by the commands that need it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { entryScriptCommand } from "../distributed/launch.js";
import { ENV } from "../util/env.js";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { LaunchError, launchCommand, parseLaunchArgs } from "./launch_config.js";
import { CliError, defaultStoragePath, formatRun, formatRuns, listRuns, metricsCsv, readRun, resolveRun } from "./runs.js";
import { version } from "../util/version.js";


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
    const { Agent } = await import("./agent.js");
    return new Agent(cfg).run();
  }
  const out = (s: string) => { process.stdout.write(s.endsWith("\n") ? s : `${s}\n`); };
  const program = new Command("torchlight")
    .description("torchlight: distributed deep-learning training for TypeScript")
    .version(version)
    .enablePositionalOptions()
    .addCommand(launchCommand())
    .exitOverride();
  program.command("runs").argument("[storagePath]", `the storage path (default: TORCHLIGHT_STORAGE_PATH, else ${defaultStoragePath()})`)
    .summary("one line per run of a storage path")
    .description("One line per run of a storage path: name, status (running, finished, failed, interrupted, preempted), attempts, workers, last metrics, best checkpoint, start, duration. Newest first.")
    .option("--json", "the runs as JSON")
    .action((storagePath: string | undefined, o: { json?: boolean }) => {
      const runs = listRuns(storagePath ?? defaultStoragePath());
      out(o.json ? JSON.stringify(runs, null, 2) : formatRuns(runs));
    });
  program.command("show").argument("<run>", "a run folder, or a run's name under the storage path")
    .summary("one run in full: config, errors by rank, metrics, checkpoints")
    .description("One run in full: status and attempts, errors by rank with their stacks, the config, every report's metrics, the kept checkpoints with their scores.")
    .option("--storage-path <path>", "where to look for a run given by name", defaultStoragePath())
    .option("--csv", "only the metrics, as CSV (every rank)")
    .option("--json", "everything, as JSON")
    .action((run: string, o: { storagePath: string; csv?: boolean; json?: boolean }) => {
      if (o.csv && o.json) throw new CliError("CLI_USAGE", "give --csv or --json, not both");
      const d = readRun(resolveRun(run, o.storagePath));
      out(o.csv ? metricsCsv(d.rows) : o.json ? JSON.stringify(d, null, 2) : formatRun(d));
      for (const p of o.csv || o.json ? d.problems : []) process.stderr.write(`torchlight show: ${p}\n`);
    });
  program.command("run").argument("<script>", "a TorchTrainer script (.js, or .ts through tsx)").argument("[args...]", "the script's arguments")
    .summary("run a TorchTrainer script and print its run folder")
    .description("Runs a TorchTrainer script (TypeScript included) with this Node, its output as it comes, then prints the run folder of each TorchTrainer.fit() it made; exits with the script's code. Ctrl-C and SIGTERM go to the script.")
    .passThroughOptions()
    .action(async (script: string, args: string[]) => { process.exitCode = await runScript(script, args); });
  program.command("doctor").summary("this machine's set-up as torchlight sees it, each problem with its fix")
    .description("Node, the libtorch really loaded (version, file), its BLAS and allocator, threads, oneDNN, CUDA and NCCL, the Python torch of the parity tests, Slurm and MPI, and whether the storage path is writable (and, inside a multi-node Slurm allocation, seen by every node). Exits 1 when a check fails.")
    .option("--storage-path <path>", "the storage path to check", defaultStoragePath())
    .option("--json", "the checks as JSON")
    .action(async (o: { storagePath: string; json?: boolean }) => {
      const { doctor, formatChecks } = await import("./doctor.js");
      const checks = await doctor(o.storagePath);
      out(o.json ? JSON.stringify(checks, null, 2) : formatChecks(checks));
      if (checks.some((c) => c.level === "fail")) process.exitCode = 1;
    });
  program.command("dashboard").argument("[storagePath]", `the storage path (default: TORCHLIGHT_STORAGE_PATH, else ${defaultStoragePath()})`)
    .summary("serve a runs dashboard in the browser (and Prometheus /metrics)")
    .description("Serves the runs of a storage path in the browser: the list of runs; for a run, live curves per rank and merged, images/s and step time by rank, worker status and restarts, errors by rank with stacks, kept checkpoints (download), the config; /metrics in Prometheus' format. It only reads the run folders. Binds 127.0.0.1 unless --host says otherwise.")
    .option("--port <port>", "the port (0: a free one)", "8265")
    .option("--host <host>", "the address to listen on (0.0.0.0: every interface; the dashboard has no login)", "127.0.0.1")
    .action(async (storagePath: string | undefined, o: { port: string; host: string }) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) throw new CliError("CLI_USAGE", `--port must be a TCP port (0 for a free one), got ${JSON.stringify(o.port)}`);
      const { startDashboard } = await import("./dashboard.js");
      const d = await startDashboard({ storagePath: storagePath ?? defaultStoragePath(), host: o.host, port: Number(o.port) });
      out(`torchlight dashboard: ${d.url} (runs of ${resolve(storagePath ?? defaultStoragePath())}; Ctrl-C stops it)`);
      await new Promise<void>((r) => { const stop = () => { void d.close().then(r); }; process.once("SIGINT", stop); process.once("SIGTERM", stop); });
    });
  // a mistyped option or argument points at the command's help
  for (const c of program.commands) c.exitOverride().showHelpAfterError(`(see torchlight ${c.name()} --help)`);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  if (argv.length === 0) program.outputHelp();
  return 0;
}

/** `torchlight run`: the script in a child process, then the run folders it opened. */
async function runScript(script: string, args: string[]): Promise<number> {
  if (!existsSync(script)) throw new CliError("CLI_USAGE", `no script ${JSON.stringify(script)} (give the path of a .js or .ts file)`);
  const dir = mkdtempSync(join(tmpdir(), "torchlight-run-"));
  const folders = join(dir, "folders");
  const cmd = entryScriptCommand([process.execPath, resolve(script), ...args], []);
  const child = spawn(cmd.file, cmd.args, { stdio: "inherit", env: { ...process.env, [ENV.runFoldersFile]: folders } });
  const forward = (sig: NodeJS.Signals) => { child.kill(sig); };
  process.on("SIGINT", forward); process.on("SIGTERM", forward);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => { child.on("exit", (c, s) => r([c, s])); child.on("error", () => r([127, null])); });
  process.off("SIGINT", forward); process.off("SIGTERM", forward);
  const paths = existsSync(folders) ? [...new Set(readFileSync(folders, "utf8").split("\n").filter(Boolean))] : [];
  rmSync(dir, { recursive: true, force: true });
  if (paths.length) for (const p of paths) process.stdout.write(`run folder: ${p}\n`);
  else process.stderr.write("torchlight run: the script made no TorchTrainer run\n");
  return code ?? 128 + (signal ? constants.signals[signal] ?? 1 : 1);
}

/** Whether this module is the program (the bin, or `node dist/src/cli/main.js`), not imported. */
function isProgram(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try { return realpathSync(entry) === fileURLToPath(import.meta.url); } catch { return false; }
}

if (isProgram()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode ||= code; }, (e: unknown) => {
    if (e instanceof LaunchError) console.error(`torchlight launch: ${e.message} [${e.code}]`);
    else if (e instanceof CliError) console.error(`torchlight: ${e.message} [${e.code}]`);
    else console.error(e instanceof Error ? e.stack ?? e.message : String(e));
    process.exitCode = 1;
  });
}
