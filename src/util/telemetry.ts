/**
 * @module torchlight/util/telemetry: counters a training process keeps for its run's telemetry
 * (the dashboard's images/s and step time by rank): DataLoader counts the batches it delivers
 * and their samples; a TorchTrainer worker takes the counts at each `report()`.
 */
let samples = 0, batches = 0;

/** A batch of `size` samples was delivered. */
export function countBatch(size: number): void { samples += size; batches++; }

/** The counts since the last take, and resets them. */
export function takeCounts(): { samples: number; batches: number } {
  const out = { samples, batches };
  samples = 0; batches = 0;
  return out;
}
