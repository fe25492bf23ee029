// findHang: naming a hung rank from the workers' watchdog records (src/train/hang.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { findHang, parseRecords, type WatchRecord } from "../../src/train/hang.js";

const now = 1_000_000;
const rec = (inside: WatchRecord["inside"], reached: Record<string, number>, beat = now - 500): WatchRecord => ({ beat, pid: 100, inside, reached });
const waiting = (seq: number, since: number, stream = "world", op = "allReduce(float32[1], sum) @ train (/x/train.ts:9:3)") => ({ stream, op, seq, since });

test("a rank that never reached the collective the others wait in is named, with where it is instead", () => {
  const h = findHang([rec(waiting(57, now - 61_000), { world: 57 }), rec(null, { world: 56 })], now, 60_000);
  assert.deepEqual(h?.culprits, [1]);
  assert.match(h!.message, /^rank 1 has not reached allReduce #57 for 61 s; rank 0 waits in it \(called at train \(\/x\/train\.ts:9:3\)\); rank 1 is in its own code/);
  // a rank waiting in another group's collective is said to be there
  const cross = findHang([rec(waiting(5, now - 70_000), { world: 5 }), rec(waiting(2, now - 70_000, "group_1", "barrier() @ x"), { world: 4, group_1: 2 }), rec(waiting(5, now - 65_000), { world: 5 })], now, 60_000);
  assert.deepEqual(cross?.culprits, [1]);
  assert.match(cross!.message, /rank 1 has not reached allReduce #5 .*ranks 0, 2 wait in it.*rank 1 waits in barrier #2 \(group_1\) instead/);
});

test("no verdict before the timeout, while a rank has no record yet, or when the waiting rank's peers are all there", () => {
  assert.equal(findHang([rec(waiting(3, now - 59_000), { world: 3 }), rec(null, { world: 2 })], now, 60_000), null);
  assert.equal(findHang([rec(waiting(3, now - 90_000), { world: 3 }), null], now, 60_000), null);
  assert.equal(findHang([rec(null, { world: 3 }), rec(null, { world: 3 })], now, 60_000), null);
});

test("every rank stuck in the same collective blames the collective; a silent watchdog names its rank", () => {
  const all = findHang([rec(waiting(9, now - 70_000), { world: 9 }), rec(waiting(9, now - 69_000), { world: 9 })], now, 60_000);
  assert.match(all!.message, /every rank has waited in allReduce #9 for 70 s.*the collective itself is stuck/);
  const stopped = findHang([rec(null, {}), rec(null, {}, now - 120_000)], now, 60_000);
  assert.deepEqual(stopped?.culprits, [1]);
  assert.match(stopped!.message, /rank 1 \(pid 100\) stopped: its watchdog has not written for 120 s/);
});

test("records that are not JSON are ignored", () => {
  assert.deepEqual(parseRecords(["{", null, JSON.stringify(rec(null, {}))]).map((r) => r === null), [true, true, false]);
});
