#!/usr/bin/env node
// npm run bench [-- engine|nn ...] [-- --rounds N] [-- --pairs K]: runs torchlight and Python
// PyTorch side by side, alternating K times per workload so machine noise hits both alike,
// and prints medians and ratios (speed > 1 or time < 1 means torchlight is faster).
// Suites: engine (bench/engine.*: models written op by op, tiny-op cost), nn (bench/nn.*:
// nn modules + optim.Adam, optimizer step alone), data (bench/data.*: DataLoader throughput,
// and how much a loader slows training steps), dist (bench/dist.*: all-reduce against a C++
// c10d program, DDP against PyTorch's DDP), lightning (bench/lightning.ts: Trainer.fit against
// a bare loop on the same ResNet-18 steps, and its own per-step cost on a tiny model), train (bench/train.ts: TorchTrainer start-up, report(), the seed
// program's throughput against one process), memory (bench/memory.ts: peak RSS of code written
// without tidy against the same code with it), hosts (bench/hosts.ts: across two namespace
// hosts, root only: all-reduce against the C++ floor, fit() to the first step through torchlight
// launch and Slurm). With no suite named, all but hosts run.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const opt = (name, d) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) || d : d; };
const rounds = opt("--rounds", 5), pairs = opt("--pairs", 2);
const python = process.env.TORCHLIGHT_PYTHON ?? "/usr/bin/python3";
const threads = process.env.BENCH_THREADS ?? "2";

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const speed = (label, key) => (tl, py) => {
  const t = median(tl.map((r) => r[key])), p = median(py.map((r) => r[key]));
  return [{ workload: label, torchlight: t.toFixed(0), python: p.toFixed(0), ratio: `${(t / p).toFixed(2)}x speed` }];
};
const time = (label, key, unit, pyKey = key, note = "") => (tl, py) => {
  const t = median(tl.map((r) => r[key])), p = median(py.filter((r) => pyKey in r).map((r) => r[pyKey]));
  return [{ workload: label + note, torchlight: `${t.toFixed(unit === "ns" ? 0 : 2)} ${unit}`, python: `${p.toFixed(unit === "ns" ? 0 : 2)} ${unit}`, ratio: `${(p / t).toFixed(2)}x speed` }];
};

const SUITES = {
  engine: {
    ts: "dist/bench/engine.js", py: "bench/engine.py",
    workloads: {
      add: (tl, py) => [...time("tiny add, per op (dispose each)", "nsPerOp", "ns")(tl, py), ...time("tiny add, per op (tidy per 100)", "nsPerOpTidy", "ns", "nsPerOp")(tl, py)],
      mlp: speed("MLP op by op, train images/s", "imagesPerSecond"),
      resnet18: speed("ResNet-18 op by op, train images/s", "imagesPerSecond"),
    },
  },
  data: {
    ts: "dist/bench/data.js", py: "bench/data.py",
    workloads: {
      loader0: speed("FashionMNIST loader, 0 workers, images/s", "imagesPerSecond"),
      loader2: speed("FashionMNIST loader, 2 workers, images/s", "imagesPerSecond"),
      epoch: Object.assign((tl) => {
        const o = median(tl.map((r) => r.overhead));
        return [{ workload: "ResNet-18 steps fed by a 2-worker loader vs pre-built batches", torchlight: `${(median(tl.map((r) => r.loaderSeconds)) * 1000 / 5).toFixed(0)} ms/step`, python: "-", ratio: `${(o * 100).toFixed(1)}% overhead` }];
      }, { torchlightOnly: true }),
    },
  },
  dist: {
    ts: "dist/bench/dist.js", py: "bench/dist.py",
    workloads: {
      rendezvous: (tl, py) => {
        const m = (xs, k) => median(xs.map((r) => r[k]));
        return [
          { workload: "initProcessGroup, 4 processes: TCPStore (rank 0 hosts)", torchlight: `${m(tl, "initMsTcp").toFixed(0)} ms`, python: `${m(py, "initMs").toFixed(0)} ms`, ratio: `${(m(py, "initMs") / m(tl, "initMsTcp")).toFixed(2)}x speed` },
          { workload: "  the same over the private store (secret, loopback)", torchlight: `${m(tl, "initMsPrivate").toFixed(0)} ms`, python: `${m(py, "initMs").toFixed(0)} ms (TCPStore)`, ratio: `${(m(py, "initMs") / m(tl, "initMsPrivate")).toFixed(2)}x speed` },
          { workload: "all-reduce of 1 float, 4 processes: TCPStore", torchlight: `${m(tl, "allReduceUsTcp").toFixed(0)} us`, python: `${m(py, "allReduceUs").toFixed(0)} us`, ratio: `${(m(py, "allReduceUs") / m(tl, "allReduceUsTcp")).toFixed(2)}x speed` },
          { workload: "  the same over the private store", torchlight: `${m(tl, "allReduceUsPrivate").toFixed(0)} us`, python: `${m(py, "allReduceUs").toFixed(0)} us (TCPStore)`, ratio: `${(m(py, "allReduceUs") / m(tl, "allReduceUsPrivate")).toFixed(2)}x speed` },
        ];
      },
      allreduce: time("all-reduce 64 MiB float32, 2 processes", "msPerAllReduce", "ms", "msPerAllReduce", " vs C++ c10d"),
      ddp: speed("ResNet-18 DDP step, 2 processes x 1 thread, images/s", "imagesPerSecond"),
    },
  },
  lightning: {
    ts: "dist/bench/lightning.js", py: null,
    workloads: {
      trainer: Object.assign((tl) => {
        const pct = (k) => `${(median(tl.map((r) => r[k])) * 100).toFixed(1)}%`;
        return [
          { workload: "ResNet-18 FashionMNIST steps: Trainer.fit vs a bare loop (wall)", torchlight: `${median(tl.map((r) => r.trainerMs)).toFixed(0)} ms/step`, python: `${median(tl.map((r) => r.bareMs)).toFixed(0)} ms/step (bare)`, ratio: `${pct("overhead")} overhead` },
          { workload: "  the same, process CPU time", torchlight: `${median(tl.map((r) => r.trainerCpuMs)).toFixed(0)} ms/step`, python: `${median(tl.map((r) => r.bareCpuMs)).toFixed(0)} ms/step (bare)`, ratio: `${pct("cpuOverhead")} overhead` },
        ];
      }, { torchlightOnly: true }),
      loop: Object.assign((tl) => [{ workload: "Trainer's own per-step cost (8-16-2 MLP, 2000-step fits vs bare)", torchlight: `${median(tl.map((r) => r.trainerMs)).toFixed(3)} ms/step`, python: `${median(tl.map((r) => r.bareMs)).toFixed(3)} ms/step (bare)`, ratio: `+${median(tl.map((r) => r.perStepUs)).toFixed(0)} us/step` }], { torchlightOnly: true }),
    },
  },
  train: {
    ts: "dist/bench/train.js", py: null,
    workloads: {
      start: Object.assign((tl) => [{ workload: "TorchTrainer.fit() to the first training step, 2 workers", torchlight: `${median(tl.map((r) => r.firstStepMs)).toFixed(0)} ms`, python: "-", ratio: `target <= 2000 ms` }], { torchlightOnly: true }),
      report: Object.assign((tl) => [
        { workload: "report() without a checkpoint, 2 workers", torchlight: `${median(tl.map((r) => r.plainMs)).toFixed(2)} ms`, python: "-", ratio: "-" },
        { workload: "report() with a ResNet-18 checkpoint (model + Adam, 134 MB)", torchlight: `${median(tl.map((r) => r.checkpointMs)).toFixed(0)} ms`, python: `${median(tl.map((r) => r.saveMs)).toFixed(0)} ms to serialise + write it`, ratio: "-" },
      ], { torchlightOnly: true }),
      e2e: Object.assign((tl) => {
        const d = median(tl.map((r) => r.ddpImagesPerSecond)), s = median(tl.map((r) => r.singleImagesPerSecond));
        const dw = median(tl.map((r) => r.ddpWallImagesPerSecond)), sw = median(tl.map((r) => r.singleWallImagesPerSecond));
        return [
          { workload: "seed program steps: TorchTrainer 2 workers x 1 thread vs 1 process x 2 threads, images/s", torchlight: d.toFixed(0), python: `${s.toFixed(0)} (single process)`, ratio: `${(d / s).toFixed(2)}x speed` },
          { workload: "  the same, end to end (start-up and tear-down included)", torchlight: dw.toFixed(0), python: `${sw.toFixed(0)} (single process)`, ratio: `${(dw / sw).toFixed(2)}x speed` },
        ];
      }, { torchlightOnly: true }),
    },
  },
  memory: {
    ts: "dist/bench/memory.js", py: null,
    workloads: {
      eval: Object.assign((tl) => [
        { workload: "ResNet-18 eval over FashionMNIST test (batch 1000): peak RSS without tidy vs with", torchlight: `${median(tl.map((r) => r.plainPeakMb)).toFixed(0)} MB`, python: `${median(tl.map((r) => r.tidyPeakMb)).toFixed(0)} MB (tidy)`, ratio: `${median(tl.map((r) => r.ratio)).toFixed(2)}x (target <= 1.5x)` },
        { workload: "  the same, seconds", torchlight: `${median(tl.map((r) => r.plainSecs)).toFixed(1)} s`, python: `${median(tl.map((r) => r.tidySecs)).toFixed(1)} s (tidy)`, ratio: "-" },
      ], { torchlightOnly: true }),
      train: Object.assign((tl) => [
        { workload: "MLP 1,000 Adam steps: peak RSS without tidy vs with", torchlight: `${median(tl.map((r) => r.plainPeakMb)).toFixed(0)} MB`, python: `${median(tl.map((r) => r.tidyPeakMb)).toFixed(0)} MB (tidy)`, ratio: `${median(tl.map((r) => r.ratio)).toFixed(2)}x` },
        { workload: "  RSS growth from step 300 to 1,000 without tidy (flat = ~0)", torchlight: `${median(tl.map((r) => r.plainGrowthMb)).toFixed(0)} MB`, python: `${median(tl.map((r) => r.tidyGrowthMb)).toFixed(0)} MB (tidy)`, ratio: "-" },
        { workload: "  the same, seconds", torchlight: `${median(tl.map((r) => r.plainSecs)).toFixed(1)} s`, python: `${median(tl.map((r) => r.tidySecs)).toFixed(1)} s (tidy)`, ratio: "-" },
      ], { torchlightOnly: true }),
    },
  },
  // two hosts of scripts/hosts-local.sh (root, Linux namespaces); Slurm across them when installed
  hosts: {
    ts: "dist/bench/hosts.js", py: "bench/dist.py", env: { BENCH_HOSTS: "h1,h2" },
    before: () => {
      sh("bash", ["scripts/hosts-local.sh", "up", "2"]);
      if (spawnSync("sh", ["-c", "command -v slurmctld && command -v slurmd"]).status === 0) sh("bash", ["scripts/slurm-local.sh", "start"], { SLURM_LOCAL_HOSTS: "2" });
    },
    after: () => { spawnSync("bash", ["scripts/slurm-local.sh", "stop"], { cwd: root }); spawnSync("bash", ["scripts/hosts-local.sh", "down"], { cwd: root }); },
    workloads: {
      allreduce: time("all-reduce 64 MiB float32, one rank on each of 2 hosts", "msPerAllReduce", "ms", "msPerAllReduce", " vs C++ c10d"),
      start: Object.assign((tl) => {
        const m = (k) => { const xs = tl.map((r) => r[k]).filter((x) => x !== null); return xs.length ? `${median(xs).toFixed(0)} ms` : "(no Slurm)"; };
        return [
          { workload: "fit() to the first step, 2 workers on 2 hosts: torchlight launch (from each rank's fit())", torchlight: m("launchFromFitMs"), python: "-", ratio: "target <= 2000 ms" },
          { workload: "  the same from the moment both agents are started (node, libtorch, rendezvous included)", torchlight: m("launchFirstStepMs"), python: "-", ratio: "-" },
          { workload: "  the same through Slurm (sbatch across the hosts, from the driver's fit())", torchlight: m("slurmFirstStepMs"), python: "-", ratio: "target <= 2000 ms" },
        ];
      }, { torchlightOnly: true }),
    },
  },
  nn: {
    ts: "dist/bench/nn.js", py: "bench/nn.py",
    workloads: {
      mlp: speed("MLP nn+optim.Adam, train images/s", "imagesPerSecond"),
      resnet18: speed("ResNet-18 nn+optim.Adam, train images/s", "imagesPerSecond"),
      adam: (tl, py) => [...time("Adam step, ResNet-18 params", "msPerStep", "ms", "msPerStep", " vs foreach=False")(tl, py),
        ...time("Adam step, ResNet-18 params", "msPerStep", "ms", "msPerStepForeach", " vs foreach=True")(tl, py)],
    },
  },
};

const named = argv.filter((a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1]?.startsWith("--")));
const unknown = named.filter((s) => !(s in SUITES));
if (unknown.length) { console.error(`unknown benchmark suite '${unknown.join("', '")}'; available: ${Object.keys(SUITES).join(", ")}`); process.exit(2); }

/** A set-up command that must succeed (its output is shown). */
function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
}

function runSide(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, BENCH_THREADS: threads, ...env } });
  if (r.status !== 0) { console.error(r.stderr); throw new Error(`${cmd} ${args.join(" ")} failed`); }
  return r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

// the hosts suite needs root and namespaces: it runs only when named
for (const name of named.length ? named : Object.keys(SUITES).filter((n) => n !== "hosts")) {
  const suite = SUITES[name];
  const results = [];
  suite.before?.();
  try {
  for (const [workload, summarize] of Object.entries(suite.workloads)) {
    const tl = [], py = [];
    const per = String(Math.ceil(rounds / pairs));
    for (let k = 0; k < pairs; k++) {
      tl.push(...runSide(process.execPath, [join(root, suite.ts), workload, per], suite.env));
      if (!summarize.torchlightOnly) py.push(...runSide(python, [join(root, suite.py), workload, per], suite.env));
    }
    results.push(...summarize(tl, py));
  }
  } finally { suite.after?.(); }
  console.log(`\n${name} benchmark: medians of ${pairs * Math.ceil(rounds / pairs)} rounds per side (${pairs} alternations), ${threads} threads`);
  console.table(results);
}
