// native/find-libtorch.mjs: what binding.gyp is told about a libtorch folder (LIBTORCH=...): its
// version, the C++ standard its headers ask for, and the one error that names the remedies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./helpers.js";

const SCRIPT = join(ROOT, "native", "find-libtorch.mjs");

/** A libtorch folder with just the files find-libtorch reads. */
function fakeLibtorch(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tl-libtorch-"));
  for (const [path, text] of Object.entries({ "lib/libtorch_cpu.so": "", ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
const find = (root: string, arg = "--json") => execFileSync(process.execPath, [SCRIPT, arg], { env: { ...process.env, LIBTORCH: root }, encoding: "utf8" });

describe("find-libtorch", () => {
  it("a 2.14-style folder: the version from torch/headeronly/version.h, C++20 because ATen.h asks for it", () => {
    const root = fakeLibtorch({
      "include/ATen/ATen.h": "#pragma once\n#if !defined(_MSC_VER) && __cplusplus < 202002L\n#error C++20 or later compatible compiler is required to use ATen.\n#endif\n",
      "include/torch/csrc/api/include/torch/version.h": "#pragma once\n#include <torch/headeronly/version.h>\n",
      "include/torch/headeronly/version.h": "#pragma once\n#define TORCH_VERSION_MAJOR 2\n\n#define TORCH_VERSION_MINOR 14\n#define TORCH_VERSION_PATCH 1\n#define TORCH_VERSION \\\n  \"2.14.1\"\n",
    });
    try {
      const t = JSON.parse(find(root)) as { version: string; cxxStd: string; cuda: boolean };
      assert.equal(t.version, "2.14");
      assert.equal(t.cxxStd, "c++20");
      assert.equal(t.cuda, false);
      assert.equal(find(root, "--cxx-std").trim(), "-std=c++20");
    } finally { rmSync(root, { recursive: true, force: true }); }
  });

  it("a 2.6-style folder: the version from torch/version.h, C++17", () => {
    const root = fakeLibtorch({
      "include/ATen/ATen.h": "#pragma once\n#if !defined(_MSC_VER) && __cplusplus < 201703L\n#error C++17 or later compatible compiler is required to use ATen.\n#endif\n",
      "include/torch/csrc/api/include/torch/version.h": "#pragma once\n#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 6\n#define TORCH_VERSION \"2.6.0\"\n",
    });
    try {
      const t = JSON.parse(find(root)) as { version: string; cxxStd: string };
      assert.equal(t.version, "2.6.0");
      assert.equal(t.cxxStd, "c++17");
      assert.equal(find(root, "--cxx-std").trim(), "-std=c++17");
    } finally { rmSync(root, { recursive: true, force: true }); }
  });

  it("a folder without ATen.h: exit 1 with the three remedies", () => {
    const root = fakeLibtorch({});
    try {
      const r = spawnSync(process.execPath, [SCRIPT, "--include"], { env: { ...process.env, LIBTORCH: root }, encoding: "utf8" });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /LIBTORCH: .*ATen\/ATen\.h does not exist/);
      assert.match(r.stderr, /libtorch-dev[\s\S]*LIBTORCH=[\s\S]*LIBTORCH_USE_PYTORCH=1/);
    } finally { rmSync(root, { recursive: true, force: true }); }
  });
});
