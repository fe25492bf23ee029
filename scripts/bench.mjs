#!/usr/bin/env node
// npm run bench [-- engine] [-- --rounds N]: runs torchlight and Python PyTorch side by side,
// alternating, and prints medians and ratios (>1 means torchlight is faster).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const rounds = Number(argv[argv.indexOf("--rounds") + 1] ?? 0) || 5;
const suite = argv.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "engine";
if (suite !== "engine") { console.error(`unknown benchmark '${suite}'; available: engine`); process.exit(2); }
const python = process.env.TORCHLIGHT_PYTHON ?? "/usr/bin/python3";

function runSide(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, BENCH_THREADS: process.env.BENCH_THREADS ?? "2" } });
  if (r.status !== 0) { console.error(r.stderr); throw new Error(`${cmd} ${args.join(" ")} failed`); }
  return r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const results = [];
for (const workload of ["add", "mlp", "resnet18"]) {
  const tl = [], py = [];
  // alternate sides so that machine noise hits both alike
  for (let k = 0; k < 2; k++) {
    tl.push(...runSide(process.execPath, [join(root, "dist", "bench", "engine.js"), workload, String(Math.ceil(rounds / 2))]));
    py.push(...runSide(python, [join(root, "bench", "engine.py"), workload, String(Math.ceil(rounds / 2))]));
  }
  if (workload === "add") {
    const t = median(tl.map((r) => r.nsPerOp)), tt = median(tl.map((r) => r.nsPerOpTidy)), p = median(py.map((r) => r.nsPerOp));
    results.push({ workload: "tiny add, per op (dispose each)", torchlight: `${t.toFixed(0)} ns`, python: `${p.toFixed(0)} ns`, ratio: `${(t / p).toFixed(2)}x time` });
    results.push({ workload: "tiny add, per op (tidy per 100)", torchlight: `${tt.toFixed(0)} ns`, python: `${p.toFixed(0)} ns`, ratio: `${(tt / p).toFixed(2)}x time` });
  } else {
    const t = median(tl.map((r) => r.imagesPerSecond)), p = median(py.map((r) => r.imagesPerSecond));
    results.push({ workload: `${workload} train step, images/s`, torchlight: t.toFixed(0), python: p.toFixed(0), ratio: `${(t / p).toFixed(2)}x speed` });
  }
}
console.log(`engine benchmark: medians of ${2 * Math.ceil(rounds / 2)} rounds per side, ${process.env.BENCH_THREADS ?? 2} threads`);
console.table(results);
