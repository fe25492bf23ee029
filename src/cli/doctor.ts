/**
 * @module torchlight/cli/doctor: `torchlight doctor`, a machine's set-up as torchlight sees it:
 * Node, the libtorch really loaded (version, file), its BLAS and allocator, threads, oneDNN,
 * CUDA and NCCL, the Python torch of the parity tests, Slurm and MPI, and whether a storage
 * path is writable and (inside a multi-node Slurm allocation) shared by every node. Each
 * problem comes with its fix.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { env } from "../util/env.js";

export type CheckLevel = "ok" | "info" | "warn" | "fail";
export interface Check { name: string; level: CheckLevel; detail: string; fix?: string }

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });

/** Where the process loaded `lib` from (its mapped file), or null. */
function mapped(lib: RegExp): string | null {
  try { return readFileSync("/proc/self/maps", "utf8").split("\n").map((l) => l.split(/\s+/).pop() ?? "").find((f) => lib.test(f)) ?? null; } catch { return null; }
}

/** Every check; `storagePath` is the folder to try (the default storage path). */
export async function doctor(storagePath: string): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  const [major] = process.versions.node.split(".").map(Number);
  add(major! >= 20 ? { name: "node", level: "ok", detail: `Node ${process.versions.node}` } : { name: "node", level: "fail", detail: `Node ${process.versions.node}`, fix: "torchlight needs Node 20 or later" });

  let torch: typeof import("../torch/index.js");
  try { torch = await import("../torch/index.js"); } catch (e) {
    add({ name: "libtorch", level: "fail", detail: `the addon did not load: ${(e as Error).message.split("\n")[0]}`, fix: "npm run build (it says which libtorch it found; LIBTORCH=/path or LIBTORCH_USE_PYTORCH=1 choose another)" });
    return checks;
  }
  const cfg = torch.config();
  const how = process.env.LIBTORCH ? `LIBTORCH=${process.env.LIBTORCH}` : process.env.LIBTORCH_USE_PYTORCH === "1" ? "LIBTORCH_USE_PYTORCH=1" : "the system package";
  add({ name: "libtorch", level: "ok", detail: `${cfg.torchVersion} from ${mapped(/libtorch_cpu\.so/) ?? "?"} (${how})` });
  add(cfg.blas === "openblas" || cfg.blas === "mkl"
    ? { name: "blas", level: "ok", detail: `${cfg.blas} (${cfg.blasLibrary ?? "?"})` }
    : { name: "blas", level: "warn", detail: `${cfg.blas} (${cfg.blasLibrary ?? "?"}): matrix work runs ~3x slower than with OpenBLAS`, fix: "apt-get install libopenblas0-pthread (npm run setup installs it)" });
  const tuned = cfg.allocator !== "glibc malloc" || Boolean(cfg.allocatorTuning);
  add({ name: "allocator", level: tuned ? "ok" : "warn", detail: `${cfg.allocator}${cfg.allocatorTuning ? `, ${cfg.allocatorTuning}` : ""}`, ...(tuned ? {} : { fix: "unset TORCHLIGHT_MALLOPT=0 (glibc's page faults cost ResNet-18 ~15 %), or preload jemalloc" }) });
  const cores = availableParallelism();
  add({ name: "threads", level: cfg.numThreads > cores ? "warn" : "ok", detail: `${cfg.numThreads} intra-op thread${cfg.numThreads > 1 ? "s" : ""} (this process may use ${cores} core${cores > 1 ? "s" : ""}), ${cfg.numInteropThreads} inter-op`,
    ...(cfg.numThreads > cores ? { fix: "oversubscribed: lower TORCHLIGHT_NUM_THREADS / OMP_NUM_THREADS to the cores" } : {}) });
  add({ name: "onednn", level: cfg.mkldnn.startsWith("disabled") ? "info" : "ok", detail: cfg.mkldnn });
  if (!cfg.builtWithCuda) add({ name: "cuda", level: "info", detail: "a CPU build: useGpu and the nccl backend are not available", fix: "for GPUs build against a CUDA libtorch: LIBTORCH_USE_PYTORCH=1 with a pip CUDA torch (npm run build)" });
  else add({ name: "cuda", level: cfg.cudaDeviceCount > 0 ? "ok" : "warn", detail: `built with CUDA; ${cfg.cudaDeviceCount} device${cfg.cudaDeviceCount === 1 ? "" : "s"} visible; NCCL ${cfg.nccl ? "available" : "not built in"}`,
    ...(cfg.cudaDeviceCount > 0 ? {} : { fix: "no GPU visible: check nvidia-smi and CUDA_VISIBLE_DEVICES" }) });

  const python = env("python") ?? "/usr/bin/python3";
  const py = run(python, ["-c", "import torch; print(torch.__version__)"]);
  if (py.status === 0) {
    const v = py.stdout.trim(), same = v.split(".").slice(0, 2).join(".") === cfg.torchVersion.split(".").slice(0, 2).join(".");
    add({ name: "python-torch", level: same ? "ok" : "warn", detail: `${python}: torch ${v}`, ...(same ? {} : { fix: `the parity tests compare with Python torch of the same version as libtorch (${cfg.torchVersion}): point TORCHLIGHT_PYTHON at one` }) });
  } else add({ name: "python-torch", level: "info", detail: `${python} has no torch: the parity tests and Python benchmarks cannot run`, fix: "apt-get install python3-torch (Debian), or TORCHLIGHT_PYTHON=/path/to/python" });

  const srun = run("srun", ["--version"]);
  add(srun.status === 0
    ? { name: "slurm", level: "ok", detail: `${srun.stdout.trim()}${process.env.SLURM_JOB_ID ? `; inside job ${process.env.SLURM_JOB_ID} (nodes ${process.env.SLURM_JOB_NODELIST ?? "?"}): TorchTrainer starts its workers as job steps` : "; not inside an allocation"}` }
    : { name: "slurm", level: "info", detail: "not installed (srun not found): the Slurm launcher is unavailable" });
  const mpi = run("mpirun", ["--version"]);
  add(mpi.status === 0 ? { name: "mpi", level: "ok", detail: mpi.stdout.split("\n")[0]!.trim() } : { name: "mpi", level: "info", detail: "not installed (mpirun not found)" });

  add(storageCheck(storagePath));
  if (process.env.SLURM_JOB_ID && Number(process.env.SLURM_JOB_NUM_NODES ?? 1) > 1) {
    const { slurmNodesNotSharing } = await import("../train/launcher.js");
    try {
      const missing = slurmNodesNotSharing(storagePath, Number(process.env.SLURM_JOB_NUM_NODES));
      add(missing.length
        ? { name: "storage-shared", level: "fail", detail: `${missing.join(", ")} do${missing.length > 1 ? "" : "es"} not see ${storagePath}`, fix: "use a folder every node mounts at the same path (NFS, Lustre...) as RunConfig.storagePath / TORCHLIGHT_STORAGE_PATH" }
        : { name: "storage-shared", level: "ok", detail: `every node of job ${process.env.SLURM_JOB_ID} sees ${storagePath}` });
    } catch (e) { add({ name: "storage-shared", level: "warn", detail: `could not check: ${(e as Error).message}` }); }
  } else add({ name: "storage-shared", level: "info", detail: "one machine: not checked (run doctor inside a multi-node Slurm allocation to check every node sees it)" });
  return checks;
}

/** Whether `storagePath` is writable (a file made and removed there). */
function storageCheck(storagePath: string): Check {
  const probe = join(storagePath, `.torchlight-doctor-${randomBytes(6).toString("hex")}`);
  try {
    mkdirSync(storagePath, { recursive: true });
    writeFileSync(probe, "");
    rmSync(probe);
    return { name: "storage", level: "ok", detail: `${storagePath} is writable` };
  } catch (e) {
    return { name: "storage", level: "fail", detail: `${storagePath} is not writable: ${(e as Error).message}`, fix: "choose a writable folder: RunConfig({ storagePath }) or TORCHLIGHT_STORAGE_PATH (and doctor --storage-path)" };
  }
}

/** The checks as lines: level, name, detail, and the fix under a problem. */
export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.level.toUpperCase().padEnd(5)} ${c.name.padEnd(15)} ${c.detail}${c.fix && c.level !== "ok" ? `\n${" ".repeat(22)}fix: ${c.fix}` : ""}`).join("\n");
}
