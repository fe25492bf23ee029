/**
 * @module torchlight/train/hang: names a hung rank from the workers' watchdog records (written
 * by each worker's native watchdog thread into the run's private store, see
 * native/src/watchdog.cpp). Pure: the worker group reads the records and acts on the verdict.
 */

/** One rank's watchdog record (`tl_watch/<rank>`). Times are ms since the epoch. */
export interface WatchRecord {
  beat: number;
  pid: number;
  /** The oldest collective in flight on this rank, or null (user code). */
  inside: { stream: string; op: string; seq: number; since: number } | null;
  /** Per stream (a process group's collectives, a DDP's steps): the highest sequence number entered. */
  reached: Record<string, number>;
}

/** A hang the driver acts on: the ranks to blame, and what to say. */
export interface Hang {
  /** The ranks that hold the others up (never reached the collective, or stopped beating). */
  culprits: number[];
  message: string;
}

/** "allReduce(float32[4], sum) @ site" → "allReduce"; "DDP backward (gradient all-reduce)" stays. */
const opName = (op: string) => op.split(" @ ")[0]!.replace(/(?<=\w)\(.*$/, "");
const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

/** Parses `tl_watch/<rank>` values (null where a rank has not written one). */
export function parseRecords(values: (string | null)[]): (WatchRecord | null)[] {
  return values.map((v) => {
    if (v === null) return null;
    try { return JSON.parse(v) as WatchRecord; } catch { return null; }
  });
}

/**
 * The hang, if one lasted `hangTimeoutMs`: a rank waiting that long in a collective that some
 * other rank never reached (that rank is named, with where it is instead); every rank waiting
 * that long in the same collective (the backend is stuck); or a rank whose watchdog stopped
 * beating for that long (its process is stopped). Ranks without a record yet are not judged.
 */
export function findHang(records: (WatchRecord | null)[], now: number, hangTimeoutMs: number): Hang | null {
  const live = records.map((r, rank) => ({ r, rank })).filter((x): x is { r: WatchRecord; rank: number } => x.r !== null);
  const silent = live.filter(({ r }) => now - r.beat > hangTimeoutMs);
  if (silent.length) {
    return { culprits: silent.map((x) => x.rank), message: silent.map(({ r, rank }) => `rank ${rank} (pid ${r.pid}) stopped: its watchdog has not written for ${secs(now - r.beat)} (the process is stopped or starved)`).join("; ") };
  }
  if (live.length < records.length) return null;
  const waiting = live.filter(({ r }) => r.inside && now - r.inside.since > hangTimeoutMs).sort((a, b) => a.r.inside!.since - b.r.inside!.since);
  for (const { r: w, rank: wr } of waiting) {
    const { stream, seq, op, since } = w.inside!;
    const inSame = live.filter(({ r }) => r.inside?.stream === stream && r.inside.seq === seq).map((x) => x.rank);
    const behind = live.filter(({ r, rank }) => !inSame.includes(rank) && (r.reached[stream] ?? 0) < seq);
    const name = `${opName(op)} #${seq}${stream === "world" ? "" : ` (${stream})`}`;
    const where = op.includes(" @ ") ? ` (called at ${op.split(" @ ")[1]})` : "";
    if (behind.length) {
      const what = behind.map(({ r, rank }) => `rank ${rank} ${r.inside ? `waits in ${opName(r.inside.op)} #${r.inside.seq}${r.inside.stream === "world" ? "" : ` (${r.inside.stream})`} instead` : "is in its own code (no collective in flight)"}`);
      return {
        culprits: behind.map((x) => x.rank),
        message: `${behind.length === 1 ? `rank ${behind[0]!.rank} has` : `ranks ${behind.map((x) => x.rank).join(", ")} have`} not reached ${name} for ${secs(now - since)}; ` +
          `rank${inSame.length > 1 ? "s" : ""} ${inSame.join(", ")} wait${inSame.length > 1 ? "" : "s"} in it${where}; ${what.join("; ")} (FailureConfig.hangTimeoutS ${hangTimeoutMs / 1000})`,
      };
    }
    if (inSame.length === records.length) {
      return { culprits: [wr], message: `every rank has waited in ${name} for ${secs(now - since)}${where}: the collective itself is stuck (the network or the backend), not a rank (FailureConfig.hangTimeoutS ${hangTimeoutMs / 1000})` };
    }
  }
  return null;
}
