// The controller (train/controller.ts) against a fake worker group: no processes, a fake
// clock. Restarts within maxFailures, raising after, hangs (never joined, silent), errors on
// two ranks grouped, a rank lost after another's error, and the states it goes through.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Controller, MaxFailuresPolicy, type RankStatus, type WorkerGroup, type WorkerGroupStatus } from "../../src/train/controller.js";
import type { RankFailure } from "../../src/train/errors.js";

/** What a fake rank does in an attempt, by the fake clock (ms after the attempt started). */
interface Script {
  joinAt?: number | null;       // null: never joins
  doneAt?: number | null;       // returns from the train function (then exits)
  failAt?: number | null;       // reports an error (then exits)
  error?: Omit<RankFailure, "rank" | "pid">;
  dieAt?: number | null;        // the process dies on its own
  silentFrom?: number | null;   // stops answering heartbeats
}

class FakeGroup implements WorkerGroup {
  t = 0;
  attempts: number[] = [];
  stops: { signal: string; ranks: number[] | "all"; at: number }[] = [];
  private started = 0;
  private ranks: (RankStatus & { script: Script; stopped: boolean })[] = [];
  private failures: RankFailure[] = [];
  closed = false;
  constructor(private readonly plan: (attempt: number) => Script[]) {}
  describe(): string { return "fake"; }
  async start(attempt: number): Promise<void> {
    this.attempts.push(attempt);
    this.started = this.t;
    this.failures = [];
    this.ranks = this.plan(attempt).map((script, rank) => ({ rank, pid: 100 + rank, joined: false, done: false, exited: false, startedAt: this.t, lastSeen: this.t, script, stopped: false }));
  }
  poll(): WorkerGroupStatus {
    const dt = this.t - this.started;
    for (const r of this.ranks) {
      if (r.exited) continue;
      const s = r.script;
      const at = (v: number | null | undefined) => v !== null && v !== undefined && dt >= v;
      if (!r.joined && at(s.joinAt === undefined ? 0 : s.joinAt)) r.joined = true;
      if (r.joined && !(at(s.silentFrom))) r.lastSeen = this.t;
      if (at(s.failAt)) { this.fail({ rank: r.rank, pid: r.pid, ...(s.error ?? { kind: "user", type: "Error", message: `boom on rank ${r.rank}` }) }); r.exited = true; }
      else if (at(s.dieAt)) { if (!r.stopped) this.fail({ rank: r.rank, pid: r.pid, kind: "infrastructure", type: "SIGKILL", message: "the worker process was killed by SIGKILL during training" }); r.exited = true; }
      else if (at(s.doneAt)) { r.done = true; r.exited = true; }
    }
    return { ranks: this.ranks.map(({ script: _s, stopped: _x, ...r }) => r), failures: [...this.failures] };
  }
  private fail(f: RankFailure): void { if (!this.failures.some((x) => x.rank === f.rank)) this.failures.push(f); }
  preempt(): void { /* the controller never preempts by itself: the driver does */ }
  stop(signal: "SIGTERM" | "SIGKILL", ranks?: number[]): void {
    this.stops.push({ signal, ranks: ranks ?? "all", at: this.t - this.started });
    for (const r of this.ranks) if (!ranks || ranks.includes(r.rank)) { r.stopped = true; r.exited = true; }
  }
  async settle(): Promise<RankFailure[]> { return []; }
  async close(): Promise<void> { this.closed = true; }
}

function controller(group: FakeGroup, maxFailures: number, extra: { timeoutMs?: number } = {}) {
  const events: string[] = [];
  const c = new Controller({
    group, policy: new MaxFailuresPolicy(maxFailures), timeoutMs: extra.timeoutMs ?? 10_000, startupTimeoutMs: 60_000, pollIntervalMs: 100,
    now: () => group.t, sleep: async (ms) => { group.t += ms; if (group.t > 3_600_000) throw new Error("the fake run did not end within an hour of fake time"); },
    events: { attemptEnded: (a, e, retry) => { events.push(`${a}:${e ? `${e.kind}${retry ? "+retry" : ""}` : "ok"}`); } },
  });
  return { c, events };
}
const ok = (n = 2): Script[] => Array.from({ length: n }, () => ({ doneAt: 1000 }));

describe("train controller (fake worker group)", () => {
  it("a clean attempt: initializing → scheduling → running → finished", async () => {
    const g = new FakeGroup(() => ok());
    const { c, events } = controller(g, 0);
    const out = await c.run();
    assert.deepEqual(out, { state: "finished", attempts: 1 });
    assert.deepEqual(c.history, ["initializing", "scheduling", "running", "finished"]);
    assert.deepEqual(events, ["0:ok"]);
    assert.deepEqual(g.stops, []);
  });

  it("restarts on failure within maxFailures, from the next attempt number, then finishes", async () => {
    const g = new FakeGroup((a) => (a < 5 ? [{ doneAt: 1000 }, { dieAt: 300 }] : ok()));
    const { c, events } = controller(g, 2);
    const out = await c.run(3);
    assert.deepEqual(out, { state: "finished", attempts: 3 });
    assert.deepEqual(g.attempts, [3, 4, 5]);
    assert.deepEqual(events, ["3:infrastructure+retry", "4:infrastructure+retry", "5:ok"]);
    assert.deepEqual(c.history, ["initializing", "scheduling", "running", "restarting", "scheduling", "running", "restarting", "scheduling", "running", "finished"]);
  });

  it("the owner's attemptEnded can overrule a restart (its failure callback threw): the run fails with that attempt", async () => {
    const g = new FakeGroup(() => [{ doneAt: 1000 }, { dieAt: 300 }]);
    const c = new Controller({
      group: g, policy: new MaxFailuresPolicy(3), timeoutMs: 10_000, startupTimeoutMs: 60_000, pollIntervalMs: 100,
      now: () => g.t, sleep: async (ms) => { g.t += ms; },
      events: { attemptEnded: (_a, e, retry) => (e && retry ? "raise" : undefined) },
    });
    const out = await c.run();
    assert.equal(out.state, "failed");
    assert.deepEqual(g.attempts, [0], "no second attempt");
  });

  it("raises after maxFailures: the last attempt's error, ranks stopped after the grace period", async () => {
    const g = new FakeGroup(() => [{ doneAt: 60_000 }, { dieAt: 300 }]);
    const { c, events } = controller(g, 1);
    const out = await c.run();
    assert.equal(out.state, "failed");
    if (out.state !== "failed") return;
    assert.equal(out.failedAttempts, 2);
    assert.equal(out.error.attempt, 1);
    assert.deepEqual(out.error.failures.map((f) => [f.rank, f.type]), [[1, "SIGKILL"]]);
    assert.deepEqual(events, ["0:infrastructure+retry", "1:infrastructure"]);
    assert.equal(c.state, "failed");
    // rank 0 kept running: SIGTERM 1.5 s after the failure was seen
    assert.deepEqual(g.stops.map((s) => [s.signal, s.ranks, s.at]), [["SIGTERM", "all", 1800], ["SIGTERM", "all", 1800]]);
  });

  it("maxFailures -1 restarts without limit", async () => {
    const g = new FakeGroup((a) => (a < 6 ? [{ dieAt: 100 }] : ok(1)));
    const { c } = controller(g, -1);
    assert.deepEqual(await c.run(), { state: "finished", attempts: 7 });
  });

  it("a hang: a joined rank that stops answering is killed at the timeout and named; one that never joins, at the start-up timeout", async () => {
    const g = new FakeGroup(() => [{ doneAt: 100_000 }, { silentFrom: 2000 }]);
    const { c } = controller(g, 0, { timeoutMs: 5000 });
    const out = await c.run();
    assert.equal(out.state, "failed");
    if (out.state !== "failed") return;
    const [f] = out.error.failures;
    assert.equal(f!.rank, 1);
    assert.equal(f!.type, "hang");
    assert.match(f!.message, /stopped answering heartbeats for 5\.1 s \(TorchConfig.timeoutS 5 s\)/);
    assert.deepEqual(g.stops[0], { signal: "SIGKILL", ranks: [1], at: 7000 }, "the hung rank is killed as soon as it is found");
    assert.equal(out.error.kind, "infrastructure");
    const g2 = new FakeGroup(() => [{ doneAt: 100_000 }, { joinAt: null }]);
    const out2 = await controller(g2, 0).c.run();
    assert.equal(out2.state, "failed");
    if (out2.state === "failed") assert.match(out2.error.failures[0]!.message, /did not join the run within 60 s of starting/);
  });

  it("an error on two ranks is one group naming both; a rank lost after another's error is listed after it, and the run is a user error", async () => {
    const same = { kind: "user" as const, type: "Error", message: "shape mismatch" };
    const g = new FakeGroup(() => [{ failAt: 500, error: same }, { failAt: 700, error: same }, { doneAt: 100_000 }]);
    const out = await controller(g, 0).c.run();
    assert.equal(out.state, "failed");
    if (out.state !== "failed") return;
    assert.deepEqual(out.error.groups.map((x) => [x.ranks, x.message]), [[[0, 1], "shape mismatch"]]);
    assert.match(out.error.message, /ranks 0, 1: Error: shape mismatch/);
    // rank 0 raises; rank 1 dies on its own during the grace period (its peer is gone); rank 2 is stopped
    const g2 = new FakeGroup(() => [{ failAt: 500, error: { kind: "user", type: "Error", message: "boom" } }, { dieAt: 900 }, { doneAt: 100_000 }]);
    const out2 = await controller(g2, 0).c.run();
    assert.equal(out2.state, "failed");
    if (out2.state !== "failed") return;
    assert.equal(out2.error.kind, "user", "the train function's error is the cause");
    assert.deepEqual(out2.error.failures.map((f) => [f.rank, f.kind]), [[0, "user"], [1, "infrastructure"]]);
    assert.match(out2.error.message.split("\n")[1]!, /rank 0: Error: boom/, "the user error comes first");
    assert.ok(!out2.error.failures.some((f) => f.rank === 2), "the rank the controller stopped is not a failure");
    assert.deepEqual(g2.stops.map((s) => s.signal), ["SIGTERM"]);
  });
});
