/// <reference lib="dom" />
// `torchlight dashboard` over run folders made by short runs: the HTTP API (runs, one run with
// its telemetry, Server-Sent Events following a run in progress, checkpoint downloads,
// Prometheus /metrics, bad requests), that it never writes; and the page in Debian's chromium
// driven by playwright-core (installed by this test where it can be: root and apt).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers.js";
import { startDashboard } from "../../src/cli/dashboard.js";
import { JsonLinesFollower, readJsonLines } from "../../src/cli/jsonl.js";

const FIXTURE = join(ROOT, "dist", "test", "train", "fixture.js");
const storage = mkdtempSync(join(tmpdir(), "tl-dash-"));
const env = { ...process.env, TORCHLIGHT_NUM_THREADS: "1" };
let dash: Awaited<ReturnType<typeof startDashboard>>;

before(async () => {
  for (const [mode, name] of [["torch", "done"], ["throw", "failed"], ["plain", "ckpt"]] as const) spawnSync(process.execPath, [FIXTURE, mode, storage, name], { env, timeout: 120_000 });
  cpSync(join(storage, "done"), join(storage, "corrupt"), { recursive: true });
  appendFileSync(join(storage, "corrupt", "metrics.jsonl"), "{not json\n");
  dash = await startDashboard({ storagePath: storage, port: 0, pollMs: 200 });
});
after(async () => { await dash?.close(); });

const get = (path: string): Promise<{ status: number; body: string; type: string }> => new Promise((resolve, reject) => {
  request(new URL(path, dash.url), (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d) => { body += d; });
    res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers["content-type"]) }));
  }).on("error", reject).end();
});

/** A run of the `slow` fixture (4 reports 0.7 s apart) in progress; resolves when it ended. */
function slowRun(name: string): { child: ChildProcess; ended: Promise<unknown> } {
  const child = spawn(process.execPath, [FIXTURE, "slow", storage, name], { env, stdio: "ignore" });
  return { child, ended: new Promise((r) => child.on("exit", r)) };
}

/** Every file under `dir` with its size and mtime (to show the dashboard wrote nothing). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else { const s = statSync(p); out.push(`${p} ${s.size} ${s.mtimeMs}`); } } };
  walk(dir);
  return out.sort();
}

test("the API: runs with their statuses, a run with errors by rank and telemetry by rank, checkpoint downloads, Prometheus /metrics; bound to 127.0.0.1, read-only", async () => {
  assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const before = snapshot(storage);
  const runs = JSON.parse((await get("/api/runs")).body) as { name: string; status: string; problems: string[] }[];
  assert.deepEqual(runs.map((r) => [r.name, r.status]).sort(), [["ckpt", "finished"], ["corrupt", "finished"], ["done", "finished"], ["failed", "failed"]]);
  assert.match(runs.find((r) => r.name === "corrupt")!.problems.join(" "), /metrics\.jsonl line 7 is not a metrics row \(corrupted\)/);
  const failed = JSON.parse((await get("/api/runs/failed")).body) as { failures: { rank: number; message: string; stack: string }[] };
  assert.equal(failed.failures[0]!.rank, 1);
  assert.match(failed.failures[0]!.stack, /Error: boom on rank 1\n\s+at throwFunc/);
  const done = JSON.parse((await get("/api/runs/done")).body) as { telemetry: { rank: number; samples: number; batches: number; imagesPerSecond: number; stepTimeS: number }[] };
  assert.deepEqual(done.telemetry.map((t) => [t.rank, t.samples, t.batches]), [[0, 144, 18], [1, 144, 18]], "3 epochs of 48 samples in 6 batches per rank");
  for (const t of done.telemetry) assert.ok(t.imagesPerSecond > 0 && t.stepTimeS > 0, JSON.stringify(t));
  const ckpt = JSON.parse((await get("/api/runs/ckpt")).body) as { checkpoints: { name: string; files: string[] }[] };
  const ck = ckpt.checkpoints.at(-1)!;
  assert.deepEqual(ck.files, [".metadata.json", "model.json", "rank1.txt"]);
  const dl = await get(`/api/runs/ckpt/checkpoints/${ck.name}/model.json`);
  assert.equal(dl.status, 200);
  assert.equal(dl.body, readFileSync(join(storage, "ckpt", ck.name, "model.json"), "utf8"));
  const metrics = await get("/metrics");
  assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.body, /^torchlight_run_status\{run="done",status="finished"\} 1$/m);
  assert.match(metrics.body, /^torchlight_run_status\{run="failed",status="failed"\} 1$/m);
  assert.match(metrics.body, /^torchlight_samples_total\{run="done",rank="1"\} 144$/m);
  assert.match(metrics.body, /^torchlight_steps_total\{run="done",rank="0"\} 18$/m);
  assert.match(metrics.body, /^torchlight_images_per_second\{run="done",rank="0"\} [\d.]+$/m);
  assert.match(metrics.body, /^torchlight_run_restarts_total\{run="done"\} 0$/m);
  // bad requests: a missing run, a path out of the storage, a file outside the checkpoint, a write
  assert.deepEqual([(await get("/api/runs/nope")).status, JSON.parse((await get("/api/runs/nope")).body).code], [404, "CLI_NO_RUN"]);
  assert.equal((await get("/api/runs/..%2F..%2Fetc")).status, 404);
  assert.equal((await get(`/api/runs/ckpt/checkpoints/${ck.name}/..%2F..%2Frun.json`)).status, 404);
  assert.equal((await get("/api/runs/done/checkpoints/checkpoint_000000/nothing.bin")).status, 404);
  const post = await new Promise<number>((r) => request(new URL("/api/runs", dash.url), { method: "POST" }, (res) => { res.resume(); r(res.statusCode ?? 0); }).end());
  assert.equal(post, 405);
  assert.deepEqual(snapshot(storage), before, "the dashboard wrote nothing");
});

test("Server-Sent Events follow a run in progress: its metrics arrive as it reports, then its final status", async () => {
  const { ended } = slowRun("live");
  for (let i = 0; i < 100 && !existsSync(join(storage, "live", "run.json")); i++) await new Promise((r) => setTimeout(r, 100));
  const seen: { event: string; data: unknown }[] = [];
  await new Promise<void>((resolve, reject) => {
    const req = request(new URL("/api/runs/live/events", dash.url), (res) => {
      assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buf += d;
        for (let k = buf.indexOf("\n\n"); k >= 0; k = buf.indexOf("\n\n")) {
          const chunk = buf.slice(0, k); buf = buf.slice(k + 2);
          const event = /^event: (.*)$/m.exec(chunk)?.[1], data = /^data: (.*)$/m.exec(chunk)?.[1];
          if (event && data) seen.push({ event, data: JSON.parse(data) });
          if (event === "run" && (JSON.parse(data!) as { status: string }).status === "finished") { req.destroy(); resolve(); }
        }
      });
    });
    req.on("error", (e) => { if (!seen.length) reject(e); });
    req.end();
    setTimeout(() => { req.destroy(); resolve(); }, 60_000).unref();
  });
  await ended;
  const batches = seen.filter((s) => s.event === "metrics").map((s) => (s.data as { metrics: { step: number } }[]).filter((r) => (r as unknown as { rank: number }).rank === 0).map((r) => r.metrics.step));
  assert.ok(batches.length >= 2, `metrics arrived in several events as the run reported: ${JSON.stringify(batches)}`);
  assert.deepEqual(batches.flat(), [0, 1, 2, 3], "every report once, in order");
  const statuses = seen.filter((s) => s.event === "run").map((s) => (s.data as { status: string }).status);
  assert.equal(statuses[0], "running");
  assert.equal(statuses.at(-1), "finished");
});

test("a JSON-lines file followed as it grows: each poll parses only the lines appended since, waits for a line's newline, names a corrupt line, starts over when the file is cut", () => {
  const path = join(mkdtempSync(join(tmpdir(), "tl-jsonl-")), "metrics.jsonl");
  const isRow = (v: unknown): v is { i: number } => typeof (v as { i?: unknown })?.i === "number";
  const f = new JsonLinesFollower(path, isRow, "a row");
  assert.deepEqual(f.poll(), { added: [], reset: false }, "no file yet");
  writeFileSync(path, '{"i":0}\n{"i":1}\n{"i":');
  assert.deepEqual(f.poll().added, [{ i: 0 }, { i: 1 }], "the half-written line waits");
  appendFileSync(path, '2}\n{not json\n{"j":3}\n');
  assert.deepEqual(f.poll().added, [{ i: 2 }]);
  assert.deepEqual(f.problems, ["metrics.jsonl line 4 is not a row (corrupted); it was skipped", "metrics.jsonl line 5 is not a row (corrupted); it was skipped"]);
  assert.deepEqual(f.poll(), { added: [], reset: false }, "nothing new");
  appendFileSync(path, '{"i":"é"}\n{"i":4}\n');
  assert.deepEqual(f.poll().added, [{ i: 4 }], "a multi-byte character does not shift the offset");
  writeFileSync(path, '{"i":9}\n');
  assert.deepEqual(f.poll(), { added: [{ i: 9 }], reset: true }, "a file cut shorter starts over");
  assert.deepEqual([f.rows, f.problems], [[{ i: 9 }], []]);
  // one-shot: a last line without its newline is read too, or named half-written
  writeFileSync(path, '{"i":1}\n{"i":2}');
  assert.deepEqual(readJsonLines(path, isRow, "a row").rows, [{ i: 1 }, { i: 2 }]);
  writeFileSync(path, '{"i":1}\n{"i":');
  assert.deepEqual(readJsonLines(path, isRow, "a row").problems, ["metrics.jsonl line 2 is not a row (the last line, half-written: the run is writing it, or crashed mid-write)"]);
});

test("the command: `torchlight dashboard PATH --port 0` prints its URL and serves until SIGTERM; a bad port or storage path is refused with its code", async () => {
  const cli = join(ROOT, "dist", "src", "cli", "main.js");
  const p = spawn(process.execPath, [cli, "dashboard", storage, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      p.stdout!.on("data", (d) => { out += d; const m = /torchlight dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(runs of /.exec(out); if (m) resolve(m[1]!); });
      p.on("exit", (c) => reject(new Error(`exited ${c}: ${out}`)));
    });
    const runs = await new Promise<string>((resolve) => request(new URL("/api/runs", url), (res) => { let b = ""; res.on("data", (d) => { b += d; }); res.on("end", () => resolve(b)); }).end());
    assert.ok((JSON.parse(runs) as { name: string }[]).some((r) => r.name === "done"));
  } finally { p.kill("SIGTERM"); }
  assert.equal(await new Promise((r) => p.on("exit", (c) => r(c))), 0, "SIGTERM stops it cleanly");
  const bad = spawnSync(process.execPath, [cli, "dashboard", storage, "--port", "http"], { encoding: "utf8" });
  assert.match(bad.stderr, /--port must be a TCP port \(0 for a free one\), got "http" \[CLI_USAGE\]/);
  const none = spawnSync(process.execPath, [cli, "dashboard", join(storage, "nope")], { encoding: "utf8" });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /nope is not a folder; give the storage path your runs use .* \[CLI_NO_STORAGE\]/);
});

/** Debian's chromium, installed with apt where this test may (root); null with the reason where it cannot be. */
function chromium(): { path: string } | { skip: string } {
  const have = () => ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
  if (have()) return { path: have()! };
  if (process.env.TORCHLIGHT_BROWSER_INSTALL === "0") return { skip: "chromium is not installed and TORCHLIGHT_BROWSER_INSTALL=0 says not to install it (.ci/run's Debian 13 line: the page does not depend on libtorch, and the host line runs this test)" };
  if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v apt-get"]).status !== 0) return { skip: "chromium is not installed and this test cannot install it (needs root and apt-get): apt-get install chromium" };
  console.log("[dashboard test] installing Debian's chromium (apt-get install chromium)");
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { encoding: "utf8", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return have() ? { path: have()! } : { skip: `apt-get install chromium failed: ${(r.stderr || r.error?.message || "").slice(-300)}` };
}

test("the page in a browser (Debian's chromium, headless, driven by playwright-core): the runs listed, a running run's curve gains points, an error shows its rank and stack; screenshots kept", async (t) => {
  const c = chromium();
  if ("skip" in c) { t.skip(c.skip); return; }
  const { chromium: pw } = await import("playwright-core");
  const shots = join(ROOT, "test-artifacts", "dashboard");
  mkdirSync(shots, { recursive: true });
  const browser = await pw.launch({ executablePath: c.path, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(dash.url);
    await page.waitForSelector('#runs tr[data-run="failed"]');
    const names = await page.$$eval("#runs tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.run));
    for (const n of ["done", "failed", "corrupt", "ckpt"]) assert.ok(names.includes(n), `${n} listed: ${names.join(", ")}`);
    assert.equal(await page.textContent('#runs tr[data-run="failed"] td:nth-child(2)'), "failed");
    await page.screenshot({ path: join(shots, "runs.png"), fullPage: true });
    // a run in progress: its step curve gains points while it trains
    const { child, ended } = slowRun("browser-live");
    try {
      for (let i = 0; i < 100 && !existsSync(join(storage, "browser-live", "metrics.jsonl")); i++) await new Promise((r) => setTimeout(r, 100));
      await page.goto(`${dash.url}#/run/browser-live`);
      await page.waitForFunction(() => (window as unknown as { __charts: Record<string, { data: unknown[][] }> }).__charts["metric:step"]?.data[0]?.length! >= 1);
      const first = await page.evaluate(() => (window as unknown as { __charts: Record<string, { data: unknown[][] }> }).__charts["metric:step"]!.data[0]!.length);
      await page.waitForFunction((n) => (window as unknown as { __charts: Record<string, { data: unknown[][] }> }).__charts["metric:step"]!.data[0]!.length > n, first, { timeout: 30_000 });
      await page.screenshot({ path: join(shots, "live.png"), fullPage: true });
      await ended;
      await page.waitForFunction(() => document.querySelector("#status")?.textContent === "finished", undefined, { timeout: 30_000 });
    } finally { child.kill("SIGKILL"); }
    // a failed run: the error with its rank and stack
    await page.goto(`${dash.url}#/run/failed`);
    await page.waitForSelector('#errors details[data-rank="1"]');
    const err = await page.textContent('#errors details[data-rank="1"]');
    assert.match(err!, /attempt 0, rank 1 \(user\): Error: boom on rank 1/);
    assert.match(err!, /at throwFunc/);
    await page.screenshot({ path: join(shots, "failed.png"), fullPage: true });
    // the seed-like run: curves per rank and merged, images/s by rank
    await page.goto(`${dash.url}#/run/done`);
    await page.waitForSelector('[data-chart="metric:loss"] canvas');
    await page.waitForSelector('[data-chart="rate:images"] canvas');
    assert.equal(await page.$$eval('#workers tbody tr', (r) => r.length), 2);
    await page.screenshot({ path: join(shots, "done.png"), fullPage: true });
  } finally { await browser.close(); }
});
