#!/usr/bin/env node
// Idempotent set-up that `npm test`, `npm run demo` and `npm run bench` run first. Each step
// runs only when something is missing or stale, and says what it does:
//   1. Debian packages (apt-get, as root; otherwise prints the exact command and stops)
//   2. npm packages (npm ci)
//   3. the native addon (node-gyp, against the libtorch native/find-libtorch.mjs finds)
//   4. the TypeScript build (tsc, incremental)
// Flags: --build-only (skip 1), --native-only (only 3), --force (rebuild the addon).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const say = (msg) => console.log(`[setup] ${msg}`);

// libtorch-dev brings libtorch and its headers; libgloo-dev the c10d Gloo headers;
// libopenblas0-pthread replaces the reference BLAS (3x slower matrix work); libjemalloc2 a
// caching allocator; python3-torch(vision) the reference for parity tests and benchmarks.
// ccache keeps compiled objects, so a rebuild of unchanged sources (a fresh clone, --force, CI) takes
// seconds instead of minutes.
const APT = ["libtorch-dev", "libgloo-dev", "libopenblas0-pthread", "libjemalloc2", "dataset-fashion-mnist", "python3-torch", "python3-torchvision", "ccache"];

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`[setup] failed: ${cmd} ${argv.join(" ")} (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function aptStep() {
  if (process.env.TORCHLIGHT_SKIP_APT === "1" || process.env.LIBTORCH || process.env.LIBTORCH_USE_PYTORCH === "1") return;
  let missing;
  try {
    missing = APT.filter((p) => {
      const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" });
      return !r.stdout?.includes("install ok installed");
    });
  } catch {
    say("not a Debian system (no dpkg-query): skipping apt; set LIBTORCH or LIBTORCH_USE_PYTORCH=1 to point at libtorch");
    return;
  }
  if (missing.length === 0) return;
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (process.getuid?.() !== 0) {
    console.error(`[setup] missing Debian packages: ${missing.join(" ")}\n[setup] run as root:\n  sudo sh -c '${cmd}'`);
    process.exit(1);
  }
  say(`installing Debian packages: ${missing.join(" ")}`);
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

function newest(dir, filter = () => true) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, filter));
    else if (filter(p)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function npmStep() {
  const stamp = join(root, "node_modules", ".package-lock.json");
  if (mtime(stamp) >= mtime(join(root, "package-lock.json")) && existsSync(join(root, "node_modules", "typescript"))) return;
  // npm runs the package's install script, node-gyp rebuild: the native addon is built here
  const cache = compilerCache();
  say(`installing npm packages (npm ci; its install step builds the native addon, ${cache.say})`);
  const t0 = Date.now();
  run("npm", ["ci", "--no-audit", "--no-fund"], { env: { ...process.env, ...cache.env } });
  say(`npm packages and the native addon ready in ${Math.round((Date.now() - t0) / 1000)} s`);
}

function nativeStep() {
  const addon = join(root, "build", "Release", "torchlight.node");
  const src = Math.max(newest(join(root, "native")), mtime(join(root, "binding.gyp")));
  if (!args.has("--force") && mtime(addon) >= src) return;
  // fail early, with the message that names the three remedies, if there is no libtorch
  execFileSync(process.execPath, [join(root, "native", "find-libtorch.mjs"), "--json"], { stdio: ["ignore", "ignore", "inherit"] });
  const gyp = join(root, "node_modules", "node-gyp", "bin", "node-gyp.js");
  const prefix = dirname(dirname(process.execPath));
  const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
  const cache = compilerCache();
  say(`building the native addon against libtorch (node-gyp, ${nodedir.length ? "Node headers in " + prefix : "default Node headers"}; ${cache.say})`);
  const t0 = Date.now();
  run(process.execPath, [gyp, "rebuild", "-j", "max", "--loglevel=warn", ...nodedir], { env: { ...process.env, ...cache.env } });
  say(`native addon built in ${Math.round((Date.now() - t0) / 1000)} s`);
}

/**
 * The compiler node-gyp runs: `ccache g++` when ccache is installed, so unchanged sources
 * compile from its cache (ccache's own settings apply: CCACHE_DIR, default ~/.cache/ccache).
 * A CXX of the user's is kept as given; TORCHLIGHT_CCACHE=0 turns the cache off.
 */
let cacheChoice = null;
function compilerCache() {
  cacheChoice ??= chooseCompilerCache();
  return cacheChoice;
}
function chooseCompilerCache() {
  const off = (why) => ({ env: {}, say: `${why}; a first build takes a few minutes` });
  if (process.env.CXX) return off(`CXX=${process.env.CXX} as given`);
  if (process.env.TORCHLIGHT_CCACHE === "0") return off("TORCHLIGHT_CCACHE=0: without ccache");
  if (process.env.TORCHLIGHT_CCACHE !== undefined && process.env.TORCHLIGHT_CCACHE !== "1") {
    console.error(`[setup] TORCHLIGHT_CCACHE must be 0 or 1, got ${JSON.stringify(process.env.TORCHLIGHT_CCACHE)}`);
    process.exit(1);
  }
  if (spawnSync("ccache", ["--version"], { stdio: "ignore" }).status !== 0) {
    if (process.env.TORCHLIGHT_CCACHE === "1") { console.error("[setup] TORCHLIGHT_CCACHE=1 but ccache is not installed: apt-get install ccache"); process.exit(1); }
    return off("no ccache installed");
  }
  // paths under the checkout hash as relative ones: clones in other folders share the cache
  return { env: { CXX: "ccache g++", CC: "ccache gcc", CCACHE_BASEDIR: root }, say: "through ccache: unchanged sources come from its cache, a first build takes a few minutes" };
}

function tsStep() {
  const out = join(root, "dist", ".tsbuildinfo");
  const src = Math.max(...["src", "test", "bench", "examples"].map((d) => (existsSync(join(root, d)) ? newest(join(root, d), (p) => p.endsWith(".ts")) : 0)), mtime(join(root, "tsconfig.json")));
  if (mtime(out) >= src) return;
  say("compiling TypeScript (tsc)");
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"]);
  // the seed example is written as users write it (untyped parameters): its own, non-strict config
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join("examples", "fashion-mnist", "tsconfig.json")]);
}

if (args.has("--native-only")) {
  nativeStep();
} else {
  if (!args.has("--build-only")) aptStep();
  npmStep();
  nativeStep();
  tsStep();
}
