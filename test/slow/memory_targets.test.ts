// The memory targets of issue 16, measured by bench/memory.ts in processes of their own (a peak
// RSS is per process): slow (~20 s per libtorch line), so in `npm run test:slow`, not in CI.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** bench/memory.ts in its own process (a peak RSS is per process). */
function memoryBench(workload: string, mode: string): { peakRssMb: number; rssMb: number[]; liveTensors: number; correct?: number; lastLoss?: number } {
  const r = spawnSync(process.execPath, [join(root, "dist", "bench", "memory.js"), workload, mode], { encoding: "utf8", cwd: root });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("memory targets", () => {
  it("targets: an eval loop without tidy peaks within 1.5x of the same loop with tidy; 1,000 training steps without tidy keep a flat RSS", { skip: existsSync("/usr/share/datasets/fashion-mnist") ? false : "FashionMNIST (Debian's dataset-fashion-mnist) not installed" }, () => {
    const tidy = memoryBench("eval", "tidy"), plain = memoryBench("eval", "plain");
    assert.equal(plain.correct, tidy.correct, "same predictions both ways");
    assert.ok(plain.peakRssMb <= 1.5 * tidy.peakRssMb, `eval peak RSS: without tidy ${plain.peakRssMb.toFixed(0)} MB, with tidy ${tidy.peakRssMb.toFixed(0)} MB`);
    const train = memoryBench("train", "plain");
    const afterWarmup = train.rssMb.slice(2);  // samples every 100 steps; warm-up: the first 200
    const growth = afterWarmup[afterWarmup.length - 1]! - afterWarmup[0]!;
    assert.ok(growth < 40, `RSS from step 300 to step 1000 without tidy grew by ${growth} MB: ${train.rssMb.join(", ")}`);
    assert.ok(train.liveTensors < 3000, `live tensors after 1,000 steps without tidy: ${train.liveTensors}`);
  });

});
