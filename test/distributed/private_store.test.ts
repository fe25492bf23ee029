// The run's private rendezvous store (native/src/auth_store.cpp): it serves only processes that
// present the secret, each secret in its own namespace; another local user (uid 65534, where
// this machine lets the test switch to it) gets nothing, cannot write, cannot stall it with an
// oversized or half-sent request or a flood of silent connections; it listens on loopback only
// when asked to; a plain TCPStore client cannot join it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { c10d } from "../../src/torch/internal.js";
import * as torch from "../../src/torch/index.js";
import * as dist from "../../src/distributed/index.js";
import { ROOT } from "../helpers.js";

const ATTACKER = join(ROOT, "dist", "test", "distributed", "store_attacker.js");
const secretA = "a".repeat(16) + "0123456789abcdef0123456789abcdef", secretB = "b".repeat(48);

/** Whether the attacker can run as another user (root here, with setpriv). */
const otherUser = process.getuid?.() === 0 && spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", "0"]).status === 0;

/** Runs the attacker (as uid 65534 where possible) and parses its line. */
function attack<T>(mode: string, port: number, holdMs = 1500, pid = 0): Promise<T> {
  const argv = [ATTACKER, mode, String(port), String(holdMs), String(pid)];
  const [cmd, args] = otherUser ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ...argv]] : [process.execPath, argv];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`attacker ${mode} did not finish: ${err}`)); }, holdMs + 20000);
    p.on("exit", () => {
      clearTimeout(timer);
      try { resolve(JSON.parse(out.trim().split("\n").at(-1)!) as T); } catch { reject(new Error(`attacker ${mode} printed ${JSON.stringify(out)}: ${err}`)); }
    });
  });
}

/** A process group of one rank over the store, as a worker joins it (its store calls go to the server). */
const join1 = (port: number, secret: string, rdvMs = 10000) => c10d.init("127.0.0.1", port, 1, 0, 10000, false, rdvMs, "", "gloo", secret, "host:127.0.0.1");

describe("the private rendezvous store", () => {
  let store: c10d.PrivateStore;
  before(() => {
    store = c10d.PrivateStore.serve("127.0.0.1");
    store.allow("attempt_0", secretA);
    store.allow("attempt_1", secretB);
  });
  after(() => store.close());

  it("serves only clients presenting a secret it was given, each secret in its own namespace; a revoked one is cut off and its keys dropped", async () => {
    const a = await join1(store.port, secretA);
    c10d.storeSet(a, "source", "/home/user/project/train.ts");
    assert.deepEqual(c10d.storeGetNow(a, ["source", "absent"]), ["/home/user/project/train.ts", null]);
    const b = await join1(store.port, secretB);
    assert.deepEqual(c10d.storeGetNow(b, ["source"]), [null], "attempt 1 sees none of attempt 0's keys");
    c10d.storeSet(b, "source", "b's");
    assert.deepEqual(c10d.storeGetNow(a, ["source"]), ["/home/user/project/train.ts"]);
    assert.equal(await c10d.storeGet(a, "source", 1000), "/home/user/project/train.ts");
    await assert.rejects(c10d.storeGet(a, "never", 300), /timed out/i);

    await assert.rejects(join1(store.port, "c".repeat(48), 3000), /refused this process: wrong secret/);
    // a plain TCPStore client (as PyTorch's ranks, or anyone's script) is not served either
    await assert.rejects(c10d.init("127.0.0.1", store.port, 2, 0, 3000, false, 3000, "", "gloo"));

    const keysBefore = store.stats().keys;
    store.revoke("attempt_0");
    await new Promise((r) => setTimeout(r, 100));
    assert.throws(() => c10d.storeGetNow(a, ["source"]), /went away|refused/);
    assert.ok(store.stats().keys < keysBefore, "attempt 0's keys are dropped");
    assert.deepEqual(c10d.storeGetNow(b, ["source"]), ["b's"]);
    c10d.destroy(a); c10d.destroy(b);
    store.allow("attempt_0", secretA);
  });

  it(`another local user${otherUser ? " (uid 65534)" : " (same uid: this machine cannot switch users)"} reads nothing, writes nothing, and is cut off at once`, async () => {
    const a = await join1(store.port, secretA);
    c10d.storeSet(a, "source", "/home/user/project/train.ts");
    const refused0 = store.stats().refused;
    const read = await attack<{ uid: number; bytes: string; closedAfterMs: number | null }>("read", store.port);
    assert.ok(!read.bytes.includes("/home/user"), `a client without the secret read ${JSON.stringify(read.bytes)}`);
    assert.match(read.bytes, /authenticate first/);
    assert.ok(read.closedAfterMs !== null && read.closedAfterMs < 1000, `the connection was closed (after ${read.closedAfterMs} ms)`);
    const wrong = await attack<{ bytes: string; closedAfterMs: number | null }>("wrong", store.port);
    assert.match(wrong.bytes, /wrong secret/);
    assert.ok(wrong.closedAfterMs !== null);
    assert.deepEqual(c10d.storeGetNow(a, ["tl_seq/1/1/0"]), [null], "the forged bookkeeping key was not written");
    assert.ok(store.stats().refused >= refused0 + 2);
    if (otherUser) {
      // the secret travels in the workers' environment, which only their own user can read
      const worker = spawn(process.execPath, ["-e", "setTimeout(() => {}, 5000)"], { env: { ...process.env, TORCHLIGHT_STORE_SECRET: secretA }, stdio: "ignore" });
      try {
        const env = await attack<{ error?: string; read?: boolean }>("environ", store.port, 0, worker.pid!);
        assert.equal(env.error, "EACCES", `another user read the worker's environment: ${JSON.stringify(env)}`);
      } finally { worker.kill("SIGKILL"); }
    }
    c10d.destroy(a);
  });

  it("an oversized request and a flood of stalled connections cost the store nothing and stall no one else", async () => {
    const a = await join1(store.port, secretA);
    const rss0 = process.memoryUsage().rss;
    const big = attack<{ bytes: string; closedAfterMs: number | null }>("big", store.port, 3000);
    const flood = attack<{ opened: number; closedByServer: number }>("flood", store.port, 3000);
    await new Promise((r) => setTimeout(r, 500));  // both are at it
    let worst = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      c10d.storeSet(a, `k${i}`, String(i));
      assert.deepEqual(c10d.storeGetNow(a, [`k${i}`]), [String(i)]);
      worst = Math.max(worst, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    const [b, f] = await Promise.all([big, flood]);
    assert.ok(worst < 250, `a store round trip took ${worst.toFixed(1)} ms during the attack`);
    assert.match(b.bytes, /request of 1073741824 bytes was refused/);
    assert.ok(b.closedAfterMs !== null && b.closedAfterMs < 1000, `the oversized request's connection was closed after ${b.closedAfterMs} ms`);
    assert.ok(f.closedByServer >= f.opened - 64, `at most 64 silent connections are kept (${f.opened - f.closedByServer} were)`);
    assert.ok(process.memoryUsage().rss - rss0 < 64 * 2 ** 20, `the store grew by ${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MB`);
    assert.ok(store.stats().unauthenticated <= 64);
    c10d.destroy(a);
  });

  it("listens on loopback only when asked to: the machine's other addresses refuse the connection", async (t) => {
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal);
    if (!external) { t.skip("this machine has no non-loopback IPv4 address"); return; }
    const err = await new Promise<string>((resolve) => {
      const s = connect(store.port, external.address);
      s.on("connect", () => { s.destroy(); resolve("connected"); });
      s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.equal(err, "ECONNREFUSED");
  });

  it("a worker's watchdog: its record shows where the rank waits; it hands over the JS stack of a spinning thread; it ends the worker when the store is gone or its secret revoked", async () => {
    const native = join(ROOT, "dist", "src", "torch", "native", "index.js");
    // the child starts its watchdog (interval 100 ms, grace 1.5 s), enters a collective, then spins forever
    const child = (secret: string) => spawn(process.execPath, ["--input-type=module", "-e",
      `import { native } from ${JSON.stringify(native)}; native.watchdogStart("127.0.0.1", ${store.port}, ${JSON.stringify(secret)}, 3, 100, 1500); native.watchEnter("world", "allReduce(float32[1], sum) @ here", 7); function spinInChild() { for (;;) {} } spinInChild();`],
    { stdio: ["ignore", "ignore", "pipe"] });
    const exited = (p: ReturnType<typeof spawn>, ms: number) => new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) => {
      let stderr = "";
      const t0 = Date.now();
      p.stderr!.on("data", (d) => { stderr += d; });
      const timer = setTimeout(() => { p.kill("SIGKILL"); resolve({ code: null, stderr, ms: Date.now() - t0 }); }, ms);
      p.on("exit", (code) => { clearTimeout(timer); resolve({ code, stderr, ms: Date.now() - t0 }); });
    });
    const secret = "watchdog-secret-".padEnd(40, "q");
    const ns = "attempt_7";
    store.allow(ns, secret);
    const p = child(secret);
    const done = exited(p, 20_000);
    let rec: { pid: number; inside: { seq: number; op: string } | null; reached: Record<string, number> } | null = null;
    for (let i = 0; i < 100 && !rec?.inside; i++) { await new Promise((r) => setTimeout(r, 100)); const [v] = store.read(ns, ["tl_watch/3"]); rec = v ? JSON.parse(v) : null; }
    assert.equal(rec?.pid, p.pid);
    assert.equal(rec?.inside?.seq, 7);
    assert.deepEqual(rec?.reached, { world: 7 });
    store.write(ns, "tl_watch_cmd/3", "stack");
    let stack: string | null = null;
    for (let i = 0; i < 50 && stack === null; i++) { await new Promise((r) => setTimeout(r, 100)); stack = store.read(ns, ["tl_watch_stack/3"])[0] ?? null; }
    assert.match(stack ?? "", /at spinInChild \(/, "the stack of the spinning JS thread");
    store.revoke(ns);  // a new attempt started: this worker is a straggler
    const gone = await done;
    assert.equal(gone.code, 70, gone.stderr);
    assert.match(gone.stderr, /worker rank 3 .*has not answered for 1 s .*the driver is gone, so this worker exits/);

    // the store itself goes away (the driver died, and this worker is not its child)
    const other = c10d.PrivateStore.serve("127.0.0.1");
    other.allow(ns, secret);
    const q = spawn(process.execPath, ["--input-type=module", "-e",
      `import { native } from ${JSON.stringify(native)}; native.watchdogStart("127.0.0.1", ${other.port}, ${JSON.stringify(secret)}, 0, 100, 1500); for (;;) {}`], { stdio: ["ignore", "ignore", "pipe"] });
    const qDone = exited(q, 20_000);
    for (let i = 0; i < 100 && other.read(ns, ["tl_watch/0"])[0] === null; i++) await new Promise((r) => setTimeout(r, 50));
    other.close();
    const qGone = await qDone;
    assert.equal(qGone.code, 70, qGone.stderr);
    assert.ok(qGone.ms < 10_000);
  });

  it("a long run's collectives keep the store's size flat: the bookkeeping reuses a rank's slots", async () => {
    const secret = "collectives-secret-".padEnd(40, "k");
    store.allow("attempt_9", secret);
    const saved = { ...process.env };
    Object.assign(process.env, { TORCHLIGHT_STORE_SECRET: secret, TORCHELASTIC_USE_AGENT_STORE: "True", TORCHELASTIC_RESTART_COUNT: "0" });
    try {
      await dist.initProcessGroup({ initMethod: `tcp://127.0.0.1:${store.port}`, worldSize: 1, rank: 0, timeoutMs: 10000 });
      const t = torch.ones([1]);
      const collectives = async (n: number) => { for (let i = 0; i < n; i++) await dist.allReduce(t); };
      await collectives(100);
      const after100 = store.stats();
      await collectives(400);
      const after500 = store.stats();
      assert.equal(after500.keys, after100.keys, "500 collectives hold as many keys as 100");
      assert.ok(after500.bytes - after100.bytes < 64 * 8, `the store grew by ${after500.bytes - after100.bytes} bytes`);
      t.dispose();
    } finally {
      if (dist.isInitialized()) dist.destroyProcessGroup();
      for (const k of ["TORCHLIGHT_STORE_SECRET", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"]) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      store.revoke("attempt_9");
    }
  });

  it("refuses bad arguments with the fix", () => {
    assert.throws(() => store.allow("x", "short"), /16 to 512/);
    assert.throws(() => c10d.PrivateStore.serve("127.0.0.1", 70000), /not a TCP port/);
  });
});
