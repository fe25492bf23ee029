/**
 * @module torchlight/cli/dashboard: `torchlight dashboard`, a runs dashboard served over HTTP
 * from a storage path. It only reads the run folders (run.json, metrics.jsonl,
 * telemetry.jsonl, checkpoint_manager.json), so it shows finished runs, runs in progress and
 * runs of other hosts writing to shared storage alike; it never writes. Routes:
 *   /                         the page (files of the package's `dashboard/` folder; uPlot from npm)
 *   /api/runs                 every run's summary (./runs)
 *   /api/runs/NAME            one run in full, with its telemetry by rank
 *   /api/runs/NAME/events     Server-Sent Events following the run folder as it grows (polled, so NFS works)
 *   /api/runs/NAME/checkpoints/CKPT/FILE   a kept checkpoint's file (download)
 *   /metrics                  Prometheus' text format: steps, images/s, report wait, restarts, by run and rank
 */
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { METRICS_FILE, RUN_FILE, TELEMETRY_FILE, type MetricsRow, type TelemetryRow } from "../train/storage.js";
import { CliError, isMetricsRow, listRuns, readRun, type RunDetail } from "./runs.js";
import { JsonLinesFollower } from "./jsonl.js";

const STATIC = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "dashboard");
const UPLOT = dirname(createRequire(import.meta.url).resolve("uplot/package.json"));
const FILES: Record<string, [string, string]> = {
  "/": [join(STATIC, "index.html"), "text/html; charset=utf-8"],
  "/static/app.js": [join(STATIC, "app.js"), "text/javascript; charset=utf-8"],
  "/static/style.css": [join(STATIC, "style.css"), "text/css; charset=utf-8"],
  "/static/uplot.js": [join(UPLOT, "dist", "uPlot.iife.min.js"), "text/javascript; charset=utf-8"],
  "/static/uplot.css": [join(UPLOT, "dist", "uPlot.min.css"), "text/css; charset=utf-8"],
};

/** A rank's telemetry, summed over its reports (the last few for rates). */
export interface RankTelemetry {
  rank: number;
  reports: number;
  samples: number;
  batches: number;
  /** Samples per second over the rank's last 5 report intervals (null before its second report). */
  imagesPerSecond: number | null;
  /** Seconds per batch over the same window. */
  stepTimeS: number | null;
  /** How long it waited at its last report's barrier. */
  lastWaitS: number | null;
  host: string | null;
  alive: boolean | null;
  lastSeenS: number | null;
}

const isTelemetryRow = (v: unknown): v is TelemetryRow => v !== null && typeof v === "object" && !Array.isArray(v);

/** Per-rank figures from telemetry rows (of the latest attempt for rates and liveness). */
export function rankTelemetry(rows: TelemetryRow[]): RankTelemetry[] {
  const reports = rows.filter((r): r is Extract<TelemetryRow, { kind: "report" }> => r.kind === "report");
  const beat = [...rows].reverse().find((r): r is Extract<TelemetryRow, { kind: "beat" }> => r.kind === "beat");
  const ranks = [...new Set([...reports.map((r) => r.rank), ...(beat?.ranks.map((r) => r.rank) ?? [])])].sort((a, b) => a - b);
  return ranks.map((rank) => {
    const mine = reports.filter((r) => r.rank === rank);
    const window = mine.filter((r) => r.sinceS !== null && r.sinceS > 0).slice(-5);
    const secs = window.reduce((a, r) => a + r.sinceS!, 0), samples = window.reduce((a, r) => a + r.samples, 0), batches = window.reduce((a, r) => a + r.batches, 0);
    const live = beat?.ranks.find((r) => r.rank === rank);
    return {
      rank, reports: mine.length, samples: mine.reduce((a, r) => a + r.samples, 0), batches: mine.reduce((a, r) => a + r.batches, 0),
      imagesPerSecond: secs > 0 && samples > 0 ? samples / secs : null, stepTimeS: batches > 0 ? secs / batches : null, lastWaitS: mine.at(-1)?.waitS ?? null,
      host: live?.host ?? null, alive: live ? live.alive : null, lastSeenS: live?.lastSeenS ?? null,
    };
  });
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The runs' figures in Prometheus' text exposition format; `follow` gives a run's files, read up to now. */
export function prometheus(storagePath: string, follow: (runPath: string) => Followed): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: "gauge" | "counter", samples: [Record<string, string | number>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}{${Object.entries(labels).map(([k, x]) => `${k}="${label(String(x))}"`).join(",")}} ${Number.isFinite(v) ? v : 0}`);
  };
  const files = new Map<string, Followed>();  // each run's files read once for this request
  const runs = listRuns(storagePath, Date.now(), (p) => { const f = follow(p); files.set(p, f); return f.metrics; });
  const tel = new Map(runs.map((r) => [r.name, rankTelemetry(files.get(r.path)!.telemetry.rows)]));
  const per = (f: (t: RankTelemetry) => number | null) => runs.flatMap((r) => tel.get(r.name)!.flatMap((t) => { const v = f(t); return v === null ? [] : [[{ run: r.name, rank: t.rank }, v] as [Record<string, string | number>, number]]; }));
  metric("torchlight_run_status", "1 for the run's current status (running, finished, failed, interrupted, preempted)", "gauge", runs.map((r) => [{ run: r.name, status: r.status }, 1]));
  metric("torchlight_run_workers", "the run's world size", "gauge", runs.map((r) => [{ run: r.name }, r.workers]));
  metric("torchlight_run_restarts_total", "restarts of the worker group (attempts after the first)", "counter", runs.map((r) => [{ run: r.name }, Math.max(0, r.attempts - 1)]));
  metric("torchlight_reports_total", "reports of the rank", "counter", per((t) => t.reports));
  metric("torchlight_steps_total", "batches the rank's DataLoaders delivered", "counter", per((t) => t.batches));
  metric("torchlight_samples_total", "samples the rank's DataLoaders delivered", "counter", per((t) => t.samples));
  metric("torchlight_images_per_second", "samples per second over the rank's last 5 report intervals", "gauge", per((t) => t.imagesPerSecond));
  metric("torchlight_step_seconds", "seconds per batch over the same window", "gauge", per((t) => t.stepTimeS));
  metric("torchlight_report_wait_seconds", "how long the rank waited at its last report's barrier (its peers' straggling)", "gauge", per((t) => t.lastWaitS));
  metric("torchlight_rank_alive", "1 while the driver sees the rank's process, from its last liveness beat", "gauge", per((t) => (t.alive === null ? null : t.alive ? 1 : 0)));
  return `${lines.join("\n")}\n`;
}

/** A run's files as a server has read them so far; `generation` grows when one was cut shorter (rows start over). */
export interface Followed { metrics: JsonLinesFollower<MetricsRow>; telemetry: JsonLinesFollower<TelemetryRow>; generation: number }

export interface DashboardOptions { storagePath: string; host?: string; port?: number; pollMs?: number }

/** Starts the dashboard; resolves its URL and a close(). */
export async function startDashboard(o: DashboardOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const storagePath = resolve(o.storagePath);
  const pollMs = o.pollMs ?? 1000;
  listRuns(storagePath);  // CLI_NO_STORAGE now, not at the first request
  const streams = new Set<ServerResponse>();
  const runPath = (name: string): string => {
    const n = decodeURIComponent(name);
    if (!n || n.includes("/") || n.includes("\\") || n === "." || n === ".." || !existsSync(join(storagePath, n, RUN_FILE))) throw new CliError("CLI_NO_RUN", `no run ${JSON.stringify(n)} in ${storagePath}`);
    return join(storagePath, n);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };
  // every route reads a run's metrics and telemetry through one follower per run: a request
  // (the runs list, a run, /metrics, a stream's poll) parses only what the files gained since
  const followed = new Map<string, Followed>();
  const follow = (path: string): Followed => {
    let f = followed.get(path);
    if (!f) {
      followed.set(path, f = { metrics: new JsonLinesFollower<MetricsRow>(join(path, METRICS_FILE), isMetricsRow, "a metrics row"),
        telemetry: new JsonLinesFollower<TelemetryRow>(join(path, TELEMETRY_FILE), isTelemetryRow, "a telemetry row"), generation: 0 });
    }
    const m = f.metrics.poll(), t = f.telemetry.poll();
    if (m.reset || t.reset) f.generation++;
    return f;
  };
  const detail = (path: string, f = follow(path)): RunDetail & { telemetry: RankTelemetry[] } => {
    const d = readRun(path, Date.now(), f.metrics);
    // the kept checkpoints' files, for download links
    const checkpoints = d.checkpoints.map((c) => ({ ...c, files: c.exists ? readdirSync(join(path, c.name)).filter((x) => !x.startsWith(".") || x === ".metadata.json").sort() : [] }));
    return { ...d, checkpoints, telemetry: rankTelemetry(f.telemetry.rows) };
  };

  const events = (req: IncomingMessage, res: ServerResponse, path: string) => {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    streams.add(res);
    // what this stream has sent of the run's rows: each poll sends what the files gained since
    let generation = -1, metricsSent = 0, telemetrySent = 0, runMtime = 0;
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const tick = () => {
      try {
        const f = follow(path);
        const restart = f.generation !== generation;
        if (restart) {
          // a file was cut shorter (a repair): the page starts over from both files' rows
          if (generation !== -1) send("reset", {});
          generation = f.generation; metricsSent = 0; telemetrySent = 0;
        }
        const m = f.metrics.rows.slice(metricsSent), t = f.telemetry.rows.slice(telemetrySent);
        metricsSent = f.metrics.rows.length; telemetrySent = f.telemetry.rows.length;
        if (m.length) send("metrics", m);
        if (t.length) send("telemetry", t);
        const mtime = statSync(join(path, RUN_FILE)).mtimeMs;
        // the run without its rows (they came as metrics events)
        if (mtime !== runMtime || t.length || restart) { runMtime = mtime; const { rows: _rows, ...run } = detail(path, f); send("run", run); }
        else res.write(": keep-alive\n\n");
      } catch (e) { send("problem", { message: (e as Error).message }); }
    };
    tick();
    const timer = setInterval(tick, pollMs);
    req.on("close", () => { clearInterval(timer); streams.delete(res); });
  };

  const server = createServer((req, res) => {
    try {
      if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405, { allow: "GET, HEAD" }); res.end("the dashboard only reads"); return; }
      const url = new URL(req.url ?? "/", "http://dashboard");
      const p = url.pathname;
      const file = FILES[p === "/index.html" ? "/" : p];
      if (file) { res.writeHead(200, { "content-type": file[1] }); createReadStream(file[0]).pipe(res); return; }
      if (p === "/metrics") { res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }); res.end(prometheus(storagePath, follow)); return; }
      if (p === "/api/runs") { json(res, 200, listRuns(storagePath, Date.now(), (x) => follow(x).metrics)); return; }
      let m = /^\/api\/runs\/([^/]+)$/.exec(p);
      if (m) { json(res, 200, detail(runPath(m[1]!))); return; }
      m = /^\/api\/runs\/([^/]+)\/events$/.exec(p);
      if (m) { events(req, res, runPath(m[1]!)); return; }
      m = /^\/api\/runs\/([^/]+)\/checkpoints\/(checkpoint_\d+)\/([^/]+)$/.exec(p);
      if (m) {
        const dir = join(runPath(m[1]!), m[2]!), name = basename(decodeURIComponent(m[3]!));
        const f = join(dir, name);
        if (name.startsWith(".") && name !== ".metadata.json" || !existsSync(f) || !statSync(f).isFile()) { json(res, 404, { error: `no file ${name} in ${m[2]}` }); return; }
        res.writeHead(200, { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${name.replace(/"/g, "")}"`, "content-length": statSync(f).size });
        createReadStream(f).pipe(res);
        return;
      }
      json(res, 404, { error: `no such page: ${p}` });
    } catch (e) {
      json(res, e instanceof CliError ? 404 : 500, { error: (e as Error).message, code: (e as { code?: string }).code ?? null });
    }
  });
  await new Promise<void>((ok, fail) => { server.once("error", fail); server.listen(o.port ?? 8265, o.host ?? "127.0.0.1", () => ok()); });
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}/`, server,
    close: () => new Promise<void>((r) => { for (const s of streams) s.end(); server.close(() => r()); server.closeAllConnections(); }),
  };
}
