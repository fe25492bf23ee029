// The layering of ARCHITECTURE.md, checked on the compiled modules (where type-only imports
// are gone, so what remains is what runs): arrows point down only, no import cycles, train
// imports lightning only in train/lightning, the driver side and the worker side of train never
// import each other, and hand-written source files stay within the line budget.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./helpers.js";

const DIST = join(ROOT, "dist", "src");
const walk = (d: string, ext: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(join(d, e.name), ext) : e.name.endsWith(ext) && !e.name.endsWith(".d.ts") ? [join(d, e.name)] : []);

/** Module → the torchlight modules it imports at run time (paths relative to dist/src, without .js). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of walk(DIST, ".js")) {
    const src = readFileSync(f, "utf8");
    const deps = [...src.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|^import\s+"(\.[^"]+)"/gm)]
      .map((m) => relative(DIST, resolve(dirname(f), m[1] ?? m[2]!)).replace(/\.js$/, ""));
    g.set(relative(DIST, f).replace(/\.js$/, ""), deps);
  }
  return g;
}
const layer = (m: string) => m.split("/")[0]!;

/** What each layer may import (ARCHITECTURE.md's table; util is the neutral leaf). */
const MAY: Record<string, string[]> = {
  util: [],
  torch: ["util"],
  data: ["torch", "util"],
  vision: ["torch", "data", "util"],
  distributed: ["torch", "util"],
  lightning: ["torch", "data", "distributed", "util"],
  train: ["torch", "data", "distributed", "lightning", "util"],
  cli: ["torch", "data", "vision", "distributed", "lightning", "train", "util"],
};

describe("architecture", () => {
  const g = graph();

  it("compiled modules exist", () => { assert.ok(g.size > 50, `only ${g.size} modules under dist/src`); });

  it("arrows point down only: each layer imports only the layers below it", () => {
    const bad: string[] = [];
    for (const [m, deps] of g) {
      for (const d of deps) {
        const from = layer(m), to = layer(d);
        if (from === to) continue;
        if (!(MAY[from] ?? []).includes(to)) bad.push(`${m} → ${d}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("train imports lightning only in train/lightning; driver side and worker side never import each other", () => {
    const bad: string[] = [];
    const driverSide = ["train/driver", "train/controller", "train/worker_group", "train/local_group", "train/launcher"];
    for (const [m, deps] of g) {
      if (m.startsWith("train/") && !m.startsWith("train/lightning")) for (const d of deps) if (layer(d) === "lightning") bad.push(`${m} → ${d}`);
      if (driverSide.includes(m)) for (const d of deps) if (d === "train/worker") bad.push(`${m} → ${d}`);
      if (m === "train/worker") for (const d of deps) if (driverSide.includes(d)) bad.push(`${m} → ${d}`);
    }
    assert.deepEqual(bad, []);
  });

  it("no import cycles (type-only imports aside)", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (m: string) => {
      state.set(m, "open");
      stack.push(m);
      for (const d of g.get(m) ?? []) {
        if (!g.has(d)) continue;
        if (state.get(d) === "open") cycles.push([...stack.slice(stack.indexOf(d)), d].join(" → "));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(m, "done");
    };
    for (const m of g.keys()) if (!state.has(m)) visit(m);
    assert.deepEqual(cycles, []);
  });

  it("no hand-written source file over 450 lines (generated files aside)", () => {
    const files = [...walk(join(ROOT, "src"), ".ts"), ...walk(join(ROOT, "native", "src"), ".cpp"), ...walk(join(ROOT, "native", "src"), ".h")]
      .filter((f) => !/generated/.test(f));
    const long = files.map((f) => [relative(ROOT, f), readFileSync(f, "utf8").split("\n").length] as const).filter(([, n]) => n > 450);
    assert.deepEqual(long, []);
  });
});
