// What the train tests compare of a Result: its fields as JSON (used by the fixture driver
// and by the test, which must not import the fixture: importing it would start a run).
import type { Result } from "../../src/train/index.js";

export function summary(r: Result): object {
  return {
    metrics: r.metrics, checkpoint: r.checkpoint?.path ?? null, path: r.path, error: r.error?.message ?? null,
    rows: r.metricsDataframe.rows, best: r.bestCheckpoints.map(([c, m]) => [c.path, m]),
  };
}
