// The dashboard: counts, charts, and the live alert stream.

import { h, clear, api, fmtTime, sevBadge, severities } from "./lib.js";

const sevColors = { critical: "#e5484d", high: "#f2763d", medium: "#f5c542", low: "#5fb3f9", informational: "#8ea0b3" };
const palette = ["#4ea1ff", "#f2763d", "#2fd26b", "#c678dd", "#f5c542", "#56b6c2", "#e5484d", "#98c379"];

// streamRows caps the live table: at 1,000 alerts a second the page keeps
// the newest rows and counts the rest.
const streamRows = 200;
const burstRows = 50;

export async function dashboard(view) {
  const cards = h("div", { class: "cards" });
  const charts = {
    series: h("canvas", { id: "chart-series" }), sev: h("canvas", { id: "chart-severity" }),
    det: h("canvas", { id: "chart-detector" }), country: h("canvas", { id: "chart-country" }),
  };
  const tbody = h("tbody", { id: "stream-body" });
  const dot = h("span", { class: "live-dot", id: "live-dot" });
  const streamInfo = h("span", { class: "muted", id: "stream-info" }, "connecting…");
  view.append(
    h("h1", {}, "Dashboard ", h("span", { class: "muted" }, "· last 24 hours")),
    cards,
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h3", {}, "Alerts per 30 min and mean time to detect"), h("div", { class: "chart" }, charts.series)),
      h("div", { class: "panel" }, h("h3", {}, "By severity"), h("div", { class: "chart" }, charts.sev)),
      h("div", { class: "panel" }, h("h3", {}, "By detector"), h("div", { class: "chart" }, charts.det)),
      h("div", { class: "panel" }, h("h3", {}, "By country"), h("div", { class: "chart" }, charts.country))),
    h("h2", {}, dot, "Live alerts ", streamInfo),
    h("div", { class: "panel stream" }, h("table", { id: "stream" },
      h("thead", {}, h("tr", {}, ["detected", "severity", "member", "detector", "rule", "techniques", "count", "incident"].map(t => h("th", {}, t)))),
      tbody)));

  const state = { sum: null, lastEvents: null, lastAt: null, rate: null, live: 0, lost: 0, busy: 0, charts: {} };
  await refresh(state, cards, charts);
  // Marks when the dashboard's figures are on the page, for measuring.
  performance.mark("dashboard-data");
  const timer = setInterval(() => refresh(state, cards, charts).catch(() => {}), 5000);

  // The live stream: batches of alerts every 250 ms at most. Rows are
  // added in one fragment per batch and the table trimmed, so a burst of
  // 1,000 alerts a second costs the page four small updates a second.
  const es = new EventSource("/web/stream");
  const seen = new Map();
  es.addEventListener("open", () => { dot.classList.add("on"); streamInfo.textContent = "live"; });
  es.addEventListener("error", async () => {
    dot.classList.remove("on");
    streamInfo.textContent = "reconnecting…";
    const r = await fetch("/web/session");
    if (r.status === 401) { es.close(); location.href = "/login?expired=1"; }
  });
  es.addEventListener("session", async () => {
    const r = await fetch("/web/session");
    if (r.status === 401) { es.close(); location.href = "/login?expired=1"; }
  });
  es.addEventListener("lost", (e) => { state.lost += Number(e.data) || 0; info(); });
  es.addEventListener("alerts", (e) => {
    const t0 = performance.now();
    const batch = JSON.parse(e.data);
    state.live += batch.length;
    // A burst shows its newest rows only (nobody reads 250 rows in a
    // quarter second; the counter counts them all), without the
    // highlight, so the page stays responsive at 1,000 alerts a second.
    const burst = batch.length > burstRows;
    const frag = document.createDocumentFragment();
    for (const a of batch.slice(-burstRows)) {
      const old = seen.get(a.id);
      if (old) old.remove();
      const tr = row(a, !burst);
      seen.set(a.id, tr);
      frag.prepend(tr);
    }
    tbody.prepend(frag);
    while (tbody.rows.length > streamRows) {
      const last = tbody.rows[tbody.rows.length - 1];
      seen.delete(last.dataset.id);
      last.remove();
    }
    info();
    state.busy += performance.now() - t0;
    streamInfo.dataset.busyMs = Math.round(state.busy);
  });
  function info() {
    streamInfo.textContent = `live · ${state.live} received since opening` + (state.lost ? ` · ${state.lost} skipped (browser too slow)` : "");
  }
  return () => { es.close(); clearInterval(timer); for (const c of Object.values(state.charts)) c.destroy(); };
}

function row(a, highlight) {
  const tr = h("tr", { class: highlight ? "clickable fresh" : "clickable", "data-id": a.id },
    h("td", { class: "mono" }, fmtTime(a.detected)), h("td", {}, sevBadge(a.severity)), h("td", {}, a.member),
    h("td", {}, a.detector), h("td", { class: "wrap" }, a.rule_title), h("td", {}, (a.techniques || []).join(" ")),
    h("td", {}, a.count), h("td", {}, a.incident ? h("a", { href: `#/incidents/${encodeURIComponent(a.incident)}` }, a.incident.slice(0, 10) + "…") : ""));
  tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.hash = `#/alerts/${encodeURIComponent(a.id)}`; });
  return tr;
}

async function refresh(state, cards, canvases) {
  const s = await api("GET", "/web/summary?hours=24");
  const now = Date.parse(s.now);
  if (state.lastEvents !== null && now > state.lastAt) state.rate = (s.events - state.lastEvents) / ((now - state.lastAt) / 1000);
  state.lastEvents = s.events; state.lastAt = now;
  const bySev = {}, byDet = {}, byCountry = {};
  for (const g of s.groups || []) {
    bySev[g.severity] = (bySev[g.severity] || 0) + g.count;
    byDet[g.detector] = (byDet[g.detector] || 0) + g.count;
    const c = s.countries[g.member] || "?";
    byCountry[c] = (byCountry[c] || 0) + g.count;
  }
  const open = (s.by_status.new || 0) + (s.by_status.acknowledged || 0);
  clear(cards);
  const card = (k, v, id) => h("div", { class: "card", id }, h("div", { class: "v" }, v), h("div", { class: "k" }, k));
  cards.append(
    card("alerts, 24 h", s.total, "card-total"),
    card("open (new or acknowledged)", open, "card-open"),
    card("critical + high", (bySev.critical || 0) + (bySev.high || 0), "card-severe"),
    card("events stored since start", Math.round(s.events).toLocaleString("en"), "card-events"),
    card("ingest rate", state.rate === null ? "measuring…" : `${Math.round(state.rate).toLocaleString("en")} events/s`, "card-rate"),
    card("detection latency p50 / p99", s.latency_p50_ms < 0 ? "no alerts yet" : `${fmtMs(s.latency_p50_ms)} / ${fmtMs(s.latency_p99_ms)}`, "card-latency"));
  if (!window.Chart) return;
  const labels = s.series.map(b => new Date(b.start).toISOString().slice(11, 16));
  chart(state, "series", canvases.series, {
    data: { labels, datasets: [
      { type: "bar", label: "alerts", data: s.series.map(b => b.count), backgroundColor: "#4ea1ff", yAxisID: "y" },
      { type: "line", label: "mean time to detect (s)", data: s.series.map(b => b.count ? b.mean_ttd_ms / 1000 : null), borderColor: "#f5c542", yAxisID: "y1", spanGaps: true, pointRadius: 0 },
    ] },
    options: { scales: { y: { position: "left", beginAtZero: true }, y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } },
  });
  const sevs = severities.filter(x => bySev[x]).reverse();
  chart(state, "sev", canvases.sev, { type: "doughnut",
    data: { labels: sevs, datasets: [{ data: sevs.map(x => bySev[x]), backgroundColor: sevs.map(x => sevColors[x]) }] },
    options: { plugins: { legend: { position: "right" } } } });
  bar(state, "det", canvases.det, byDet);
  bar(state, "country", canvases.country, byCountry);
}

function fmtMs(ms) { return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`; }

function bar(state, key, canvas, counts) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 12);
  chart(state, key, canvas, { type: "bar",
    data: { labels: entries.map(e => e[0]), datasets: [{ label: "alerts", data: entries.map(e => e[1]), backgroundColor: entries.map((_, i) => palette[i % palette.length]) }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } } } });
}

// chart draws a Chart.js chart, or updates the one already drawn.
function chart(state, key, canvas, cfg) {
  const Chart = window.Chart;
  Chart.defaults.color = "#8ea0b3";
  Chart.defaults.borderColor = "#263443";
  const c = state.charts[key];
  if (c) {
    c.data.labels = cfg.data.labels;
    cfg.data.datasets.forEach((d, i) => { if (c.data.datasets[i]) Object.assign(c.data.datasets[i], d); else c.data.datasets.push(d); });
    c.update("none");
    return;
  }
  state.charts[key] = new Chart(canvas, { type: cfg.type || "bar", data: cfg.data,
    options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, cfg.options) });
}
