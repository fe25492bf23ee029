/**
 * @module torchlight/train/lease: one driver per run folder. The driver holds `.lease.json` in
 * the run folder (its host, pid, start, and a heartbeat it renews every few seconds); a second
 * driver on the same folder is refused with an error naming the holder. A lease whose heartbeat
 * is stale, or whose pid is dead (checked only on the holder's own host), is taken over with a
 * message. Creation is exclusive (O_EXCL) and a takeover moves the stale file aside with an
 * atomic rename, so two drivers racing for one folder cannot both win; it relies only on file
 * operations that shared filesystems (NFS) keep atomic.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { TrainConfigError } from "./errors.js";

export const LEASE_FILE = ".lease.json";
/** How often the holder renews its heartbeat, and after how long without one a lease is stale. */
export const LEASE_RENEW_MS = 5_000;
export const LEASE_STALE_MS = 30_000;

export interface LeaseInfo { id: string; host: string; pid: number; startedAt: string; heartbeat: number }

/** Whether `pid` is a live process on this host (a zombie counts as dead). */
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return true; }
}

/**
 * Whether the driver holding a lease lives: its heartbeat is fresh, and its pid lives when it is
 * on this host (checked only there).
 */
export function leaseHolderAlive(held: Pick<LeaseInfo, "heartbeat" | "host" | "pid">, now = Date.now()): boolean {
  return now - held.heartbeat <= LEASE_STALE_MS && !(held.host === hostname() && !pidAlive(held.pid));
}

function read(path: string): LeaseInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as LeaseInfo;
    return typeof v.id === "string" && typeof v.pid === "number" && typeof v.heartbeat === "number" ? v : null;
  } catch { return null; }
}

export class RunLease {
  private timer: NodeJS.Timeout | null = null;
  private constructor(readonly path: string, readonly info: LeaseInfo, readonly tookOver: LeaseInfo | null) {}

  /** Takes the run folder's lease, or throws TRAIN_RUN_LOCKED naming the driver that holds it. */
  static acquire(runPath: string, now = Date.now()): RunLease {
    const path = join(runPath, LEASE_FILE);
    const info: LeaseInfo = { id: randomBytes(8).toString("hex"), host: hostname(), pid: process.pid, startedAt: new Date(now).toISOString(), heartbeat: now };
    let tookOver: LeaseInfo | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, "wx");
        try { writeSync(fd, JSON.stringify(info)); } finally { closeSync(fd); }
        return new RunLease(path, info, tookOver);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const held = read(path);
      if (held) {
        if (leaseHolderAlive(held, now)) {
          throw new TrainConfigError("TRAIN_RUN_LOCKED", `RunConfig: the run folder ${runPath} is in use by another driver (host ${held.host}, pid ${held.pid}, since ${held.startedAt}, alive ${((now - held.heartbeat) / 1000).toFixed(1)} s ago); wait for it to end, or choose another RunConfig.name`);
        }
        tookOver = held;
      }
      // move the stale (or unreadable) lease aside; a rename only one racer can win
      const aside = `${path}.stale-${info.id}`;
      try { renameSync(path, aside); } catch { continue; }
      const moved = read(aside);
      if (held && moved?.id !== held.id) {
        // between our read and our rename another driver took the lease: put it back, and lose
        if (!existsSync(path)) try { renameSync(aside, path); } catch { /* it is theirs either way */ }
        throw new TrainConfigError("TRAIN_RUN_LOCKED", `RunConfig: another driver took over the run folder ${runPath} at the same moment (host ${moved?.host ?? "?"}, pid ${moved?.pid ?? "?"}); choose another RunConfig.name`);
      }
      rmSync(aside, { force: true });
    }
    throw new TrainConfigError("TRAIN_RUN_LOCKED", `RunConfig: could not take the lease of ${runPath} (other drivers keep changing it); choose another RunConfig.name`);
  }

  /** Renews the heartbeat now and every LEASE_RENEW_MS until release(). */
  start(): void {
    this.renew();
    this.timer = setInterval(() => this.renew(), LEASE_RENEW_MS);
    this.timer.unref();
  }

  renew(): void {
    const held = read(this.path);
    if (held && held.id !== this.info.id) { console.error(`TorchTrainer: the lease of ${this.path} was taken by host ${held.host} pid ${held.pid}; this driver's run folder is no longer its own`); return; }
    this.info.heartbeat = Date.now();
    const tmp = `${this.path}.${this.info.id}.tmp`;
    try { writeFileSync(tmp, JSON.stringify(this.info)); renameSync(tmp, this.path); } catch { /* a full disk: the next renewal tries again */ }
  }

  /** Gives the folder up (only if the lease is still this driver's). */
  release(): void {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    if (read(this.path)?.id === this.info.id) rmSync(this.path, { force: true });
  }
}
