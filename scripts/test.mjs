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
const r = spawnSync(process.execPath, ["--expose-gc", "--test", "--test-concurrency=1", ...files], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
