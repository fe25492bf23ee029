/**
 * @module torchlight/train/controller: the driver's control loop, as Ray Train V2's
 * `TrainController`: an explicit state machine (initializing → scheduling → running →
 * restarting … → finished | failed) over a `WorkerGroup` it polls, and a `FailurePolicy` that
 * decides, per failed attempt, to restart or raise. The controller owns the timing: a rank that
 * never joins or stops answering is a hang; after the first failure the other ranks get a
 * moment to report what they saw, then are stopped (SIGTERM, then SIGKILL). It knows nothing
 * of processes, sockets or files, so it is unit-tested with a fake group.
 */
import { WorkerGroupError, type RankFailure } from "./errors.js";

/** One rank as the group sees it. Times are in the controller's clock (ms). */
export interface RankStatus {
  rank: number;
  pid: number | null;
  /** It joined the run (the control channel's handshake). */
  joined: boolean;
  /** Its train function returned. */
  done: boolean;
  /** Its process is gone. */
  exited: boolean;
  /** When it was started. */
  startedAt: number;
  /** When it last answered a heartbeat. */
  lastSeen: number;
}

/** What `WorkerGroup.poll` returns. */
export interface WorkerGroupStatus {
  ranks: RankStatus[];
  /** Failures so far (a rank's error, death, or a broken protocol), at most one per rank, first first. */
  failures: RankFailure[];
}

/** The workers of one attempt, driver-side (processes, Slurm steps; a fake in tests). */
export interface WorkerGroup {
  /** One line for the driver's log. */
  describe(): string;
  /** Starts attempt `attempt`'s workers; resolves once they are started (not joined). */
  start(attempt: number): Promise<void>;
  /** The attempt's state now (never blocks). */
  poll(): WorkerGroupStatus;
  /**
   * Preempts the attempt (a scheduler's SIGTERM): every rank's `shouldStop()` turns true; once
   * all returned, the attempt ends with a "Preempted" failure (code TRAIN_PREEMPTED).
   */
  preempt(reason: string): void;
  /** Stops `ranks` (default: all); their deaths after this are not failures of their own. */
  stop(signal: "SIGTERM" | "SIGKILL", ranks?: number[]): void;
  /** Once every rank exited: settles what the attempt left (partial reports, staging); returns failures doing so. */
  settle(): Promise<RankFailure[]>;
  /** Releases what the group holds for the run (servers, the store). */
  close(): Promise<void>;
}

/** Decides, per failed attempt, whether the group restarts (as Ray Train V2's `FailurePolicy`). */
export interface FailurePolicy {
  decide(error: WorkerGroupError): "restart" | "raise";
}

/** `FailureConfig.maxFailures`: restart up to that many failed attempts (-1: always). */
export class MaxFailuresPolicy implements FailurePolicy {
  /** Failed attempts seen so far. */
  failures = 0;
  constructor(readonly maxFailures: number) {}
  decide(_error: WorkerGroupError): "restart" | "raise" {
    this.failures++;
    return this.maxFailures === -1 || this.failures <= this.maxFailures ? "restart" : "raise";
  }
}

export type ControllerState = "initializing" | "scheduling" | "running" | "restarting" | "finished" | "failed";

/** What the controller tells its owner (the driver writes run.json and calls RunConfig's callbacks). */
export interface ControllerEvents {
  attemptStarted?(attempt: number): void | Promise<void>;
  /**
   * An attempt ended: `error` null when it finished; `willRetry` the policy's decision. Returning
   * "raise" overrules a restart (the owner failed while handling the failure, e.g. its callback threw).
   */
  attemptEnded?(attempt: number, error: WorkerGroupError | null, willRetry: boolean): void | "raise" | Promise<void | "raise">;
  stateChanged?(state: ControllerState): void;
}

export interface ControllerOptions {
  group: WorkerGroup;
  policy: FailurePolicy;
  /** A joined rank silent this long is hung (TorchConfig.timeoutMs). */
  timeoutMs: number;
  /** A rank that has not joined this long after it started is hung. */
  startupTimeoutMs: number;
  /** After the first failure, how long the other ranks may report before SIGTERM (default 1500). */
  graceMs?: number;
  /** After SIGTERM, how long before SIGKILL (default 3000). */
  killAfterMs?: number;
  /** Between polls (default 50). */
  pollIntervalMs?: number;
  events?: ControllerEvents;
  /** The clock and the wait (tests pass fake ones). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type ControllerOutcome =
  | { state: "finished"; attempts: number }
  | { state: "failed"; attempts: number; error: WorkerGroupError; failedAttempts: number };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Controller {
  private _state: ControllerState = "initializing";
  /** Every state the controller went through, in order. */
  readonly history: ControllerState[] = ["initializing"];
  private readonly o: Required<Omit<ControllerOptions, "events">> & { events: ControllerEvents };

  constructor(opts: ControllerOptions) {
    this.o = { graceMs: 1500, killAfterMs: 3000, pollIntervalMs: 50, now: Date.now, sleep: realSleep, events: {}, ...opts };
  }
  get state(): ControllerState { return this._state; }
  private set(s: ControllerState): void {
    this._state = s;
    this.history.push(s);
    this.o.events.stateChanged?.(s);
  }

  /** Runs attempts from `firstAttempt` until one finishes or the policy raises. */
  async run(firstAttempt = 0): Promise<ControllerOutcome> {
    let failed = 0;
    for (let attempt = firstAttempt; ; attempt++) {
      await this.o.events.attemptStarted?.(attempt);
      const failures = await this.runAttempt(attempt);
      if (!failures) {
        this.set("finished");
        await this.o.events.attemptEnded?.(attempt, null, false);
        return { state: "finished", attempts: attempt - firstAttempt + 1 };
      }
      failed++;
      const error = new WorkerGroupError(failures, attempt);
      const decision = this.o.policy.decide(error);
      const overruled = await this.o.events.attemptEnded?.(attempt, error, decision === "restart");
      if (decision === "restart" && overruled !== "raise") { this.set("restarting"); continue; }
      this.set("failed");
      return { state: "failed", attempts: attempt - firstAttempt + 1, error, failedAttempts: failed };
    }
  }

  /** One attempt: start, watch (hangs, failures, the stop after a failure), settle. Returns null when every rank finished. */
  private async runAttempt(attempt: number): Promise<RankFailure[] | null> {
    const { group, now, sleep } = this.o;
    this.set("scheduling");
    await group.start(attempt);
    this.set("running");
    const own: RankFailure[] = [];  // hangs the controller found
    let failingSince: number | null = null;
    let termed = false, killed = false;
    let s = group.poll();
    for (;;) {
      const t = now();
      if (failingSince === null) {
        for (const r of s.ranks) {
          if (r.exited || r.done) continue;
          const hang = !r.joined && t - r.startedAt > this.o.startupTimeoutMs
            ? `the worker did not join the run within ${this.o.startupTimeoutMs / 1000} s of starting`
            : r.joined && t - r.lastSeen > this.o.timeoutMs
              ? `the worker stopped answering heartbeats for ${((t - r.lastSeen) / 1000).toFixed(1)} s (TorchConfig.timeoutS ${this.o.timeoutMs / 1000} s): its event loop is blocked; it was killed`
              : null;
          if (hang) {
            own.push({ rank: r.rank, pid: r.pid, kind: "infrastructure", type: "hang", message: hang });
            group.stop("SIGKILL", [r.rank]);
          }
        }
      }
      if (failingSince === null && (s.failures.length || own.length)) failingSince = t;
      if (s.ranks.every((r) => r.exited)) break;
      if (failingSince !== null) {
        if (!termed && t - failingSince >= this.o.graceMs) { termed = true; group.stop("SIGTERM"); }
        if (!killed && t - failingSince >= this.o.graceMs + this.o.killAfterMs) { killed = true; group.stop("SIGKILL"); }
      }
      await sleep(this.o.pollIntervalMs);
      s = group.poll();
    }
    const late = await group.settle();
    const failures = [...firstPerRank([...group.poll().failures, ...own]), ...late];
    if (failures.length) return failures;
    if (s.ranks.some((r) => !r.done)) return [{ rank: 0, pid: null, kind: "infrastructure", type: "Unknown", message: "the worker group ended without finishing" }];
    return null;
  }
}

/** Keeps each rank's first failure (a rank's later failures are consequences), ordered by arrival. */
function firstPerRank(failures: RankFailure[]): RankFailure[] {
  const seen = new Set<number>();
  return failures.filter((f) => (seen.has(f.rank) ? false : (seen.add(f.rank), true)));
}
