/**
 * @module torchlight/torch/distributed_state: the default process group's rank and world size,
 * as part of torch's own state (Python's `torch.distributed` keeps it in torch). The
 * distributed layer sets it when the default group is created and destroyed; the data layer's
 * `DistributedSampler` reads it for its defaults. Neither layer imports the other.
 */
export interface DefaultGroupInfo { rank: number; worldSize: number }

let current: DefaultGroupInfo | null = null;

/** @internal set by torchlight/distributed (null when the default group is destroyed). */
export function setDefaultGroupInfo(info: DefaultGroupInfo | null): void { current = info; }
/** The default process group's rank and world size, or null when none is initialised. */
export function defaultGroupInfo(): DefaultGroupInfo | null { return current; }

let announced: (() => () => void) | null = null;
/**
 * @internal DistributedDataParallel's forward announces that the next backward averages
 * gradients across ranks: `enter` marks this rank as inside that collective for the watchdog
 * and returns the function that marks it out. `Tensor.backward` takes it.
 */
export function announceSyncBackward(enter: (() => () => void) | null): void { announced = enter; }
/** @internal Runs a backward, inside the announced DDP collective (if any) for the watchdog. */
export function syncBackward(run: () => void): void {
  const enter = announced;
  announced = null;
  const leave = enter?.();
  try { run(); } finally { leave?.(); }
}
