#!/usr/bin/env node
// Finds libtorch the way the Rust crate tch-rs does (torch-sys/build.rs):
//   1. LIBTORCH: a folder with include/ and lib/ (an unpacked libtorch zip or a pip torch);
//   2. LIBTORCH_USE_PYTORCH=1: ask python3's torch where its include/ and lib/ are
//      (this is how a CUDA build of PyTorch 2.x is used);
//   3. the system package (Debian/Ubuntu libtorch-dev).
// Prints one field for binding.gyp (`--include`, `--ldflags`, `--libs`, `--defines`, `--cxx11-abi`,
// `--cxx-std`, `--json`), or, when
// no usable libtorch exists, exits 1 with one message that names all three remedies.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";

const REMEDIES = `torchlight could not find a usable libtorch. Pick one:
  1. Debian/Ubuntu: sudo apt-get install libtorch-dev libgloo-dev   (npm test / npm run demo do this for you as root)
  2. LIBTORCH=/path/to/libtorch   (a folder with include/ and lib/, e.g. an unpacked libtorch zip or a pip torch folder)
  3. LIBTORCH_USE_PYTORCH=1       (use the torch package of python3, e.g. a CUDA build of PyTorch 2.x)`;

function fail(why) {
  process.stderr.write(`torchlight: ${why}\n${REMEDIES}\n`);
  process.exit(1);
}

function fromRoot(root, how) {
  const include = join(root, "include");
  const libdir = join(root, "lib");
  if (!existsSync(join(include, "ATen", "ATen.h"))) fail(`${how}: ${include}/ATen/ATen.h does not exist`);
  const hasLib = ["libtorch_cpu.so", "libtorch_cpu.dylib"].some((f) => existsSync(join(libdir, f)));
  if (!hasLib) fail(`${how}: ${libdir} has no libtorch_cpu library`);
  return { how, includes: [include, join(include, "torch", "csrc", "api", "include")], libdir, rpath: true };
}

function pythonTorch() {
  const python = process.env.PYTHON ?? "python3";
  let out;
  try {
    out = execFileSync(python, ["-c", "import torch, os; print(os.path.dirname(torch.__file__))"], { encoding: "utf8" });
  } catch (e) {
    fail(`LIBTORCH_USE_PYTORCH=1 but '${python} -c "import torch"' failed (${String(e.message).split("\n")[0]})`);
  }
  return fromRoot(out.trim(), `LIBTORCH_USE_PYTORCH (${python})`);
}

function system() {
  const include = "/usr/include";
  const api = "/usr/include/torch/csrc/api/include";
  const candidates = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];
  const libdir = candidates.find((d) => existsSync(join(d, "libtorch_cpu.so")));
  if (!existsSync(join(include, "ATen", "ATen.h")) || !libdir) fail("no LIBTORCH set and the system libtorch (libtorch-dev) is not installed");
  if (!existsSync(join(include, "gloo", "config.h"))) fail("libtorch-dev is installed but the gloo headers are missing (apt-get install libgloo-dev)");
  return { how: "system libtorch-dev", includes: [api], libdir, rpath: false };
}

// pip wheels of PyTorch 2.x before 2.7 were built with the pre-C++11 std::string ABI; the
// addon must match or it fails to load with undefined c10::Error symbols.
function cxx11Abi(found) {
  if (process.env.TORCHLIGHT_CXX11_ABI) return process.env.TORCHLIGHT_CXX11_ABI;
  if (found.how.startsWith("LIBTORCH_USE_PYTORCH")) {
    try {
      const py = process.env.PYTHON ?? "python3";
      return execFileSync(py, ["-c", "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"], { encoding: "utf8" }).trim();
    } catch { /* fall through */ }
  }
  return "1";
}

// The folders libtorch's own headers sit under: `includes`, plus the compiler's default
// /usr/include for the system package (a LIBTORCH folder is never read from /usr/include).
const headerRoots = (found) => (found.how.startsWith("system") ? [...found.includes, "/usr/include"] : found.includes);

// Newer lines' headers need C++20 (2.14's ATen.h refuses anything older); 1.13 and 2.6 are
// C++17 code, kept at C++17. Read from the headers, so any version is built as it asks.
function cxxStd(found) {
  for (const inc of headerRoots(found)) {
    const aten = join(inc, "ATen", "ATen.h");
    if (existsSync(aten)) return /__cplusplus < 202002L/.test(readFileSync(aten, "utf8")) ? "c++20" : "c++17";
  }
  return "c++17";
}

// torch/version.h; in newer lines (2.14) it only includes torch/headeronly/version.h, which has
// the numbers
function torchVersion(found) {
  let version = "unknown";
  for (const inc of headerRoots(found)) {
    const v = join(inc, "torch", "csrc", "api", "include", "torch", "version.h");
    const v2 = join(inc, "torch", "version.h");
    const v3 = join(inc, "torch", "headeronly", "version.h");
    for (const p of [v, v2, v3]) {
      if (existsSync(p)) {
        const text = readFileSync(p, "utf8");
        const m = /TORCH_VERSION "?([0-9.]+)/.exec(text) ?? /TORCH_VERSION_MAJOR (\d+)[\s\S]*TORCH_VERSION_MINOR (\d+)/.exec(text);
        if (m) version = m.length > 2 ? `${m[1]}.${m[2]}` : m[1];
      }
    }
  }
  return version;
}

export function findLibtorch() {
  const found = process.env.LIBTORCH ? fromRoot(process.env.LIBTORCH, "LIBTORCH")
    : process.env.LIBTORCH_USE_PYTORCH === "1" ? pythonTorch()
    : system();
  const cudaLib = ["libtorch_cuda.so", "libc10_cuda.so"].every((f) => existsSync(join(found.libdir, f)));
  const includes = cudaLib ? [...found.includes, ...cudaIncludes(found)] : found.includes;
  return { ...found, includes, cuda: cudaLib, version: torchVersion(found), cxx11abi: cxx11Abi(found), cxxStd: cxxStd(found) };
}

// A CUDA libtorch's headers include the CUDA runtime's (cuda_runtime_api.h) and NCCL's
// (nccl.h). A distribution's packages put them beside libtorch's; a pip torch has them in
// its nvidia-* wheels (site-packages/nvidia/*/include); a toolkit in CUDA_HOME, CUDA_PATH
// or /usr/local/cuda.
function cudaIncludes(found) {
  const dirs = [];
  const has = (d, f) => existsSync(join(d, f));
  const site = dirname(dirname(found.libdir));  // .../site-packages/torch/lib -> .../site-packages
  const nvidia = join(site, "nvidia");
  if (existsSync(nvidia)) {
    for (const pkg of readdirSync(nvidia)) if (existsSync(join(nvidia, pkg, "include"))) dirs.push(join(nvidia, pkg, "include"));
  }
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH, "/usr/local/cuda"]) {
    if (home && has(join(home, "include"), "cuda_runtime_api.h")) { dirs.push(join(home, "include")); break; }
  }
  return dirs.filter((d) => !found.includes.includes(d));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = findLibtorch();
  const arg = process.argv[2] ?? "--json";
  if (arg === "--include") console.log(t.includes.join(" "));
  else if (arg === "--libdir") console.log(t.libdir);
  else if (arg === "--ldflags") console.log([`-L${t.libdir}`, ...(t.rpath ? [`-Wl,-rpath,${t.libdir}`] : [])].join(" "));
  else if (arg === "--libs") console.log(["-ltorch", "-ltorch_cpu", "-lc10", ...(t.cuda ? ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"] : [])].join(" "));
  // USE_C10D_NCCL: ProcessGroupNCCL.hpp declares nothing without it
  else if (arg === "--defines") console.log([...(t.cuda ? ["TL_WITH_CUDA=1", "USE_C10D_NCCL"] : [])].join(" "));
  else if (arg === "--cxx11-abi") console.log(t.cxx11abi);
  else if (arg === "--cxx-std") console.log(`-std=${t.cxxStd}`);

  else console.log(JSON.stringify(t, null, 2));
}
