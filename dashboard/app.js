// The dashboard's page: the runs of the storage path, and one run live (Server-Sent Events).
// Plain browser JavaScript served by `torchlight dashboard` (no build step, no CDN); charts
// with uPlot. window.__charts holds the charts (tests read their points).
"use strict";
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const num = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4)) : JSON.stringify(v));
const metricsText = (m, max = 4) => (m ? Object.entries(m).slice(0, max).map(([k, v]) => `${k}=${num(v)}`).join(" ") : "-");
const duration = (s) => (s == null ? "-" : s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`);
async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// ---- the list of runs ------------------------------------------------------------------------
async function showRuns() {
  $("#runs-view").hidden = false; $("#run-view").hidden = true; $("#where").textContent = "";
  const runs = await getJSON("/api/runs");
  $("#runs tbody").innerHTML = runs.map((r) => `<tr data-run="${esc(r.name)}"><td><a href="#/run/${encodeURIComponent(r.name)}">${esc(r.name)}</a></td>` +
    `<td class="status-${esc(r.status)}">${esc(r.status)}</td><td>${r.attempts}</td><td>${r.workers}</td><td>${esc(metricsText(r.lastMetrics))}</td>` +
    `<td>${r.best ? esc(`${r.best.name} ${metricsText(r.best.metrics, 2)}`) : "-"}</td><td>${esc((r.startedAt || "").replace("T", " ").slice(0, 19))}</td><td>${duration(r.durationS)}</td></tr>`).join("");
  $("#runs-empty").hidden = runs.length > 0;
}

// ---- one run -----------------------------------------------------------------------------------
let source = null;
let state = null;
window.__charts = {};

function chart(holder, key, title, xs, series) {
  const width = 460, height = 220;
  const data = [xs, ...series.map((s) => s.values)];
  const existing = window.__charts[key];
  if (existing && existing.series.length === series.length + 1) { existing.setData(data); return; }
  if (existing) { existing.destroy(); existing.root.parentElement?.remove(); }
  const box = document.createElement("div");
  box.className = "chart"; box.dataset.chart = key;
  box.innerHTML = `<h3>${esc(title)}</h3>`;
  holder.appendChild(box);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
  const u = new uPlot({ width, height, scales: { x: { time: false } }, series: [{ label: "report" }, ...series.map((s, i) => ({ label: s.label, stroke: s.label === "mean" ? "#000" : colors[i % colors.length], width: s.label === "mean" ? 2 : 1, spanGaps: true }))] }, data, box);
  window.__charts[key] = u;
}

/** Metric curves: one chart per numeric metric, a line per rank and their mean. */
function drawMetrics() {
  const rows = state.rows;
  const iterations = [...new Set(rows.map((r) => r.iteration))].sort((a, b) => a - b);
  const ranks = [...new Set(rows.map((r) => r.rank))].sort((a, b) => a - b);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics).filter((k) => typeof r.metrics[k] === "number")))];
  for (const key of keys) {
    const at = new Map(rows.filter((r) => typeof r.metrics[key] === "number").map((r) => [`${r.rank}/${r.iteration}`, r.metrics[key]]));
    const perRank = ranks.map((rank) => ({ label: `rank ${rank}`, values: iterations.map((i) => at.get(`${rank}/${i}`) ?? null) }));
    const mean = iterations.map((_, j) => { const vs = perRank.map((s) => s.values[j]).filter((v) => v != null); return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null; });
    chart($("#charts"), `metric:${key}`, key, iterations, ranks.length > 1 ? [...perRank, { label: "mean", values: mean }] : perRank);
  }
}

/** Images/s and step time by rank, per report (a straggler's line stands apart). */
function drawRates() {
  const rows = state.telemetry.filter((r) => r.kind === "report" && r.sinceS > 0);
  if (!rows.length) return;
  const iterations = [...new Set(rows.map((r) => r.iteration))].sort((a, b) => a - b);
  const ranks = [...new Set(rows.map((r) => r.rank))].sort((a, b) => a - b);
  for (const [key, title, f] of [["rate:images", "images/s by rank", (r) => (r.samples ? r.samples / r.sinceS : null)], ["rate:step", "step time (s) by rank", (r) => (r.batches ? r.sinceS / r.batches : null)]]) {
    const at = new Map(rows.map((r) => [`${r.rank}/${r.iteration}`, f(r)]));
    const series = ranks.map((rank) => ({ label: `rank ${rank}`, values: iterations.map((i) => at.get(`${rank}/${i}`) ?? null) }));
    if (series.some((s) => s.values.some((v) => v != null))) chart($("#rate-charts"), key, title, iterations, series);
  }
}

function drawRun(d) {
  $("#run-name").textContent = d.name;
  $("#where").textContent = d.path;
  $("#run-status").innerHTML = `<span class="status-${esc(d.status)}" id="status">${esc(d.status)}</span> · ${d.workers} worker${d.workers === 1 ? "" : "s"} · ${d.attempts} attempt${d.attempts === 1 ? "" : "s"} (${Math.max(0, d.attempts - 1)} restart${d.attempts === 2 ? "" : "s"}) · started ${esc(d.startedAt)} · ${duration(d.durationS)}${d.error ? ` · <b>${esc(d.error)}</b>` : ""}`;
  $("#run-problems").innerHTML = d.problems.map((p) => `<li>${esc(p)}</li>`).join("");
  const rates = d.telemetry.map((t) => t.imagesPerSecond).filter((v) => v != null).sort((a, b) => a - b);
  const median = rates.length ? rates[Math.floor(rates.length / 2)] : null;
  $("#workers tbody").innerHTML = d.telemetry.map((t) => `<tr data-rank="${t.rank}" class="${median && t.imagesPerSecond != null && t.imagesPerSecond < 0.8 * median ? "straggler" : ""}"><td>${t.rank}</td><td>${esc(t.host ?? "-")}</td>` +
    `<td>${t.alive == null ? "-" : t.alive ? "yes" : "no"}</td><td>${t.imagesPerSecond == null ? "-" : t.imagesPerSecond.toFixed(1)}</td><td>${t.stepTimeS == null ? "-" : `${(t.stepTimeS * 1000).toFixed(1)} ms`}</td>` +
    `<td>${t.lastWaitS == null ? "-" : `${(t.lastWaitS * 1000).toFixed(0)} ms`}</td><td>${t.reports}</td></tr>`).join("");
  $("#errors").innerHTML = d.failures.length ? d.failures.map((f) => `<details class="error" data-rank="${f.rank}" open><summary>attempt ${f.attempt}, rank ${f.rank} (${esc(f.kind)}): ${esc(f.type)}: ${esc(f.message)}</summary>${f.stack ? `<pre>${esc(f.stack)}</pre>` : ""}</details>`).join("") : '<p class="none">none</p>';
  $("#attempts tbody").innerHTML = d.attemptList.map((a) => `<tr><td>${a.attempt}</td><td>${esc(a.startedAt)}</td><td>${esc(a.endedAt ?? "-")}</td><td>${a.error ? esc(String(a.error.message ?? a.error).split("\n")[0]) : "-"}</td></tr>`).join("");
  const base = `/api/runs/${encodeURIComponent(d.name)}/checkpoints`;
  $("#checkpoints tbody").innerHTML = d.checkpoints.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.iteration}</td><td>${esc(metricsText(c.metrics, 6))}</td><td>${c.exists ? (c.files ?? []).map((f) => `<a href="${base}/${c.name}/${encodeURIComponent(f)}" download>${esc(f)}</a>`).join(" ") : "missing"}</td></tr>`).join("");
  $("#config").textContent = JSON.stringify(d.config, null, 2);
}

async function showRun(name) {
  $("#runs-view").hidden = true; $("#run-view").hidden = false;
  for (const u of Object.values(window.__charts)) { u.destroy(); }
  window.__charts = {};
  $("#charts").innerHTML = ""; $("#rate-charts").innerHTML = "";
  const d = await getJSON(`/api/runs/${encodeURIComponent(name)}`);
  state = { rows: [], telemetry: [] };
  drawRun(d);
  source = new EventSource(`/api/runs/${encodeURIComponent(name)}/events`);
  source.addEventListener("reset", () => { state.rows = []; state.telemetry = []; });
  source.addEventListener("metrics", (e) => { state.rows.push(...JSON.parse(e.data)); drawMetrics(); });
  source.addEventListener("telemetry", (e) => { state.telemetry.push(...JSON.parse(e.data)); drawRates(); });
  source.addEventListener("run", (e) => drawRun(JSON.parse(e.data)));
}

let listTimer = null;
async function route() {
  if (source) { source.close(); source = null; }
  clearInterval(listTimer);
  const m = /^#\/run\/(.+)$/.exec(location.hash);
  try {
    if (m) await showRun(decodeURIComponent(m[1]));
    else { await showRuns(); listTimer = setInterval(() => showRuns().catch(() => undefined), 2000); }
  } catch (e) {
    document.querySelector("main").insertAdjacentHTML("afterbegin", `<p class="problems" id="page-error">${esc(e.message)}</p>`);
  }
}
window.addEventListener("hashchange", route);
route();
