#!/usr/bin/env node
// Runs the compiled test files with node:test. Fast suites run by default (and in CI);
// `--slow` adds the suites under test/slow/.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const slow = process.argv.includes("--slow");
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) { if (e.name !== "slow" || slow) walk(p); }
    else if (e.name.endsWith(".test.js")) files.push(p);
  }
};
walk(join(root, "dist", "test"));
files.sort();
// Where the addon's load-time check finds oneDNN's convolution gradients wrong (Debian 13's
// libtorch 2.6; README "Support matrix"), every process of the run, torchlight's and the Python
// references', must make the same choice: the check is statistical, so it is asked up to three
// times here and, if it ever fails, TORCHLIGHT_MKLDNN=0 holds for the whole run.
const env = { ...process.env };
if (env.TORCHLIGHT_MKLDNN === undefined) {
  for (let i = 0; i < 3; i++) {
    const probe = spawnSync(process.execPath, ["-e", "import('./dist/src/torch/index.js').then((t) => console.log(t.config().mkldnn))"], { cwd: root, encoding: "utf8" });
    if (probe.stdout.startsWith("disabled: oneDNN")) {
      console.log("[test] this libtorch's oneDNN computes wrong convolution gradients here: the run uses TORCHLIGHT_MKLDNN=0 (ATen's kernels) on both sides");
      env.TORCHLIGHT_MKLDNN = "0";
      break;
    }
  }
}
const r = spawnSync(process.execPath, ["--expose-gc", "--test", "--test-concurrency=1", ...files], { stdio: "inherit", cwd: root, env });
process.exit(r.status ?? 1);
