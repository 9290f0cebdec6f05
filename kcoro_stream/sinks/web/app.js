// kcoro-stream live dashboard: reads derived events from /ws and draws them.
// Messages: {"kind":"hello"}, {"kind":"batch","seq","dropped","snapshot","events":[...]}, {"kind":"pong"}.
// Drawing is throttled to one repaint per animation frame; histories are bounded.
"use strict";

const HISTORY = 600; // points kept per chart
const $ = (id) => document.getElementById(id);
const fmtInt = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
const fmtPct = (v) => (v == null ? "–" : (100 * v).toFixed(1) + " %");
const fmtFix = (v, d) => (v == null ? "–" : Number(v).toFixed(d));
const fmtUs = (ns) => (ns == null ? "–" : (ns / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " µs");

const state = {
  dirty: false,
  throughput: [[], [], []], // ts, tasks/s, msgs/s
  ratios: [[], [], [], []], // ts, fast path, steal, utilisation
  latency: new Map(), // "metric · pool" → [ts, p50, p90, p99, p99.9 (µs)]
  latencyScope: new Map(), // "metric · pool" → "window" once a window summary was seen
  latencyKey: null, // the histogram the chart shows (the first seen, or the user's choice)
  latencyKeys: 0, // options in the selector (redrawn when it grows)
  runId: null,
  heatmaps: new Map(), // pool → the pool's last heat-map (dual mode shows both)
  kpi: new Map(), // pool → latest Kpi event
  alerts: [], // newest first: {ts, rule, state, severity, message, kind}
  firing: new Map(),
  current: {},
  status: null, // latest Status: the monitor's own account
  resources: new Map(), // pool → Sample.resources
};

const fmtBytes = (v) => {
  if (v == null) return "–";
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
    if (v >= size) return (v / size).toFixed(1) + " " + unit;
  }
  return Math.round(v) + " B";
};

function pushPoint(series, ts, values) {
  const xs = series[0];
  let i = xs.length - 1;
  if (i < 0 || xs[i] !== ts) {
    xs.push(ts);
    for (let k = 1; k < series.length; k++) series[k].push(null);
    i = xs.length - 1;
    if (xs.length > HISTORY) for (const s of series) s.shift();
    i = xs.length - 1;
  }
  values.forEach((v, k) => {
    if (v !== undefined && v !== null) series[k + 1][i] = v;
  });
}

function resetRun() {
  // a new run (mode switch, next run of a replay): the old run's pools go away
  state.throughput = [[], [], []];
  state.ratios = [[], [], [], []];
  state.latency.clear();
  state.latencyScope.clear();
  state.latencyKey = null;
  state.heatmaps.clear();
  window.kcoroOs.reset();
  state.kpi.clear();
  state.resources.clear();
  state.firing.clear();
  state.current = {};
  $("kpis").replaceChildren();
  $("heatmap").replaceChildren();
  $("resources").replaceChildren();
}

function onSample(ev) {
  if (state.runId !== null && ev.run_id !== state.runId) resetRun();
  state.runId = ev.run_id;
  state.current.run = `${ev.run_id || "run"} · ${ev.mode}`;
  if (ev.tasks_per_s != null) state.current.tasks = ev.tasks_per_s;
  if (ev.msgs_per_s != null) state.current.msgs = ev.msgs_per_s;
  // the EMA the smooth operator computed: shown as it comes, never recomputed here
  if (ev.ema && ev.ema.tasks_per_s != null) state.current.tasksEma = ev.ema.tasks_per_s;
  if (ev.ema && ev.ema.msgs_per_s != null) state.current.msgsEma = ev.ema.msgs_per_s;
  if (ev.gbps != null) state.current.gbps = ev.gbps;
  if (ev.fastpath_ratio != null) state.current.fastpath = ev.fastpath_ratio;
  if (ev.steal_ratio != null) state.current.steal = ev.steal_ratio;
  pushPoint(state.throughput, ev.ts, [ev.tasks_per_s, ev.msgs_per_s]);
  pushPoint(state.ratios, ev.ts, [ev.fastpath_ratio, ev.steal_ratio, ev.utilisation]);
  if (ev.resources) state.resources.set(ev.pool || "all", ev.resources);
}

function onHistogram(ev) {
  // one series per metric and pool; window summaries describe "now", so once a
  // key has one its cumulative summaries are ignored
  const key = `${ev.metric} · ${ev.pool || "all"}`;
  if (ev.scope !== "window" && state.latencyScope.get(key) === "window") return;
  if (ev.scope === "window" && state.latencyScope.get(key) !== "window") {
    state.latencyScope.set(key, "window");
    state.latency.set(key, [[], [], [], [], []]);
  }
  if (!state.latency.has(key)) state.latency.set(key, [[], [], [], [], []]);
  if (state.latencyKey === null) state.latencyKey = key;
  const us = (v) => (v == null ? null : v / 1000);
  pushPoint(state.latency.get(key), ev.ts, [us(ev.p50), us(ev.p90), us(ev.p99), us(ev.p999)]);
  if (key === state.latencyKey) state.current.p99 = ev.p99;
}

function renderLatencySelect() {
  const sel = $("latency-select");
  if (state.latency.size === state.latencyKeys && sel.value === (state.latencyKey || "")) return;
  state.latencyKeys = state.latency.size;
  sel.replaceChildren(...[...state.latency.keys()].sort().map((k) => {
    const o = document.createElement("option");
    o.value = k;
    o.textContent = k;
    return o;
  }));
  sel.value = state.latencyKey || "";
}

function onAlert(ev) {
  state.alerts.unshift({ ts: ev.ts, rule: ev.rule, state: ev.state, severity: ev.severity, message: ev.message, kind: ev.state });
  if (ev.state === "firing") state.firing.set(ev.rule, ev);
  else state.firing.delete(ev.rule);
  state.alerts.length = Math.min(state.alerts.length, 100);
}

function onAnomaly(ev) {
  state.alerts.unshift({ ts: ev.ts, rule: ev.metric, state: "anomaly", severity: ev.method, kind: "anomaly",
    message: ev.message || `${ev.metric} = ${fmtFix(ev.value, 2)} (score ${fmtFix(ev.score, 1)}, ${ev.method})` });
  state.alerts.length = Math.min(state.alerts.length, 100);
}

function handle(ev) {
  switch (ev.type) {
    case "sample": onSample(ev); break;
    case "histogram": onHistogram(ev); break;
    case "heatmap": state.heatmaps.set(ev.pool || "all", ev); break;
    case "kpi": state.kpi.set(ev.pool || "all", ev); break;
    case "alert": onAlert(ev); break;
    case "anomaly": onAnomaly(ev); break;
    case "summary": state.current.run = `${ev.run_id || "run"} · ${ev.mode} · ended`; break;
    case "status": state.status = ev; break;
    case "os": window.kcoroOs.feed(ev); break;
    default: break;
  }
}

// ------------------------------------------------------------------ charts
const axis = { stroke: "#8b95a1", grid: { stroke: "#2b323b", width: 1 }, ticks: { stroke: "#2b323b" } };
function makeChart(el, series, extra) {
  const opts = Object.assign({
    width: Math.max(el.clientWidth, 300), height: 220,
    scales: { x: { time: true } },
    axes: [axis, Object.assign({}, axis, { size: 70 })],
    series: [{}].concat(series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))),
    legend: { live: false },
  }, extra || {});
  return new uPlot(opts, Array.from({ length: series.length + 1 }, () => []), el);
}

const charts = {};
function initCharts() {
  charts.throughput = makeChart($("chart-throughput"), [["tasks/s", "#58a6ff"], ["msgs/s", "#3fb950"]]);
  charts.ratios = makeChart($("chart-ratios"), [["fast path", "#58a6ff"], ["steal success", "#d29922"], ["utilisation", "#bc8cff"]],
    { scales: { x: { time: true }, y: { range: [0, 1] } } });
  charts.latency = makeChart($("chart-latency"), [["p50", "#3fb950"], ["p90", "#d29922"], ["p99", "#da3633"], ["p99.9", "#bc8cff"]],
    { scales: { x: { time: true }, y: { distr: 3 } } });
  window.addEventListener("resize", () => {
    for (const [name, c] of Object.entries(charts)) {
      c.setSize({ width: Math.max($("chart-" + name).clientWidth, 300), height: 220 });
    }
  });
}

// ------------------------------------------------------------------ render
function heatColor(u) {
  if (u == null) return "#444c56";
  const hue = 210 - 210 * Math.max(0, Math.min(1, u));
  return `hsl(${hue} 75% 58%)`;
}

function renderHeatmap() {
  if (!state.heatmaps.size) return;
  const cells = [];
  const imbalance = [];
  const labelled = state.heatmaps.size > 1;
  for (const [pool, hm] of state.heatmaps) {
    hm.workers.forEach((w, i) => {
      const cell = document.createElement("div");
      cell.className = "cell";
      cell.dataset.pool = pool;
      cell.style.background = heatColor(hm.utilisation[i]);
      cell.title = `${pool} worker ${w}: utilisation ${fmtPct(hm.utilisation[i])}, fast path ${fmtPct(hm.fastpath_ratio[i])}`;
      const b = document.createElement("b");
      const cpu = window.kcoroOs.cpuOf(pool, w);
      const who = (labelled ? `${pool} w${w}` : `w${w}`) + (cpu == null ? "" : ` cpu${cpu}`);
      b.textContent = `${who} ${hm.utilisation[i] == null ? "–" : Math.round(100 * hm.utilisation[i]) + "%"}`;
      cell.append(b, `steal ${hm.steals_succeeded[i] ?? 0}/${hm.steals_failed[i] ?? 0}`);
      cells.push(cell);
    });
    if (hm.imbalance != null) imbalance.push(`${labelled ? pool + " " : ""}imbalance ${fmtFix(hm.imbalance, 2)}`);
  }
  $("heatmap").replaceChildren(...cells);
  $("imbalance").textContent = imbalance.join(" · ");
}

function renderKpis() {
  if (!state.kpi.size) return;
  const badges = [];
  for (const [pool, k] of state.kpi) {
    for (const [name, st] of Object.entries(k.states)) {
      const b = document.createElement("span");
      b.className = `badge ${st}`;
      b.dataset.kpi = name;
      const v = k.values[name];
      const where = pool === "all" ? "" : `${pool} `;
      b.textContent = `${where}${name} ${st}${v == null ? "" : " · " + fmtFix(v, 2)}`;
      badges.push(b);
    }
  }
  $("kpis").replaceChildren(...badges);
}

function renderAlerts() {
  const ul = $("alerts");
  if (!state.alerts.length) return;
  ul.replaceChildren(...state.alerts.map((a) => {
    const li = document.createElement("li");
    li.className = a.kind;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = new Date(a.ts * 1000).toISOString().slice(11, 19);
    li.append(when, `${a.rule} · ${a.state} · ${a.message}`);
    return li;
  }));
  $("alerts-firing").textContent = state.firing.size ? `(${state.firing.size} firing)` : "";
}

function row(cells, bad) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => {
    const td = document.createElement(i === 0 ? "th" : "td");
    td.textContent = c;
    if (bad && bad[i]) td.className = "bad";
    tr.append(td);
  });
  return tr;
}

function renderMonitor() {
  const st = state.status;
  if (!st) return;
  $("monitor-state").textContent = `${st.state} · up ${fmtFix(st.uptime_s, 0)} s`;
  $("monitor-message").textContent = st.message || "";
  const rows = [];
  const r = st.reader;
  if (r) {
    rows.push(row(["ring", `${fmtInt(r.frames)} frames`, `${fmtInt(r.dropped_frames)} dropped`,
      `${fmtInt(r.corrupt_frames)} corrupt`, `${fmtInt(r.undecodable_frames)} undecodable`],
    [false, false, r.dropped_frames > 0, r.corrupt_frames > 0, r.undecodable_frames > 0]));
  }
  if (st.log) rows.push(row(["log", fmtBytes(st.log.frame_bytes), `${fmtBytes(st.log.disk_bytes)} on disk`, "", ""]));
  for (const s of st.sinks || []) {
    const reasons = Object.entries(s.drop_reasons || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    const clients = s.clients && s.clients.length ? `${s.clients.length} client(s), dropped ${s.clients.map((c) => c.dropped).join("/")}` : "";
    rows.push(row([s.name, `queue ${s.queued}/${s.queue_capacity}`, `${fmtInt(s.dropped)} dropped${reasons ? " (" + reasons + ")" : ""}`, clients, ""],
      [false, false, s.dropped > 0, false, false]));
  }
  $("monitor").replaceChildren(...rows);
}

function renderResources() {
  if (!state.resources.size) return;
  const rows = [row(["pool", "cpu", "stack", "coroutines", "process cpu", "rss"])];
  const pct = (v) => (v == null ? "–" : Math.round(v) + " %");
  for (const [pool, r] of state.resources) {
    rows.push(row([pool, pct(r.cpu_pct), fmtBytes(r.stack_bytes), fmtInt(r.live_coroutines), pct(r.process_cpu_pct), fmtBytes(r.rss_bytes)]));
  }
  $("resources").replaceChildren(...rows);
}

function render() {
  state.dirty = false;
  const c = state.current;
  if (c.run) $("run").textContent = c.run;
  $("tasks-per-s").textContent = fmtInt(c.tasks);
  $("msgs-per-s").textContent = fmtInt(c.msgs);
  $("tasks-ema").textContent = fmtInt(c.tasksEma);
  $("msgs-ema").textContent = fmtInt(c.msgsEma);
  $("gbps").textContent = fmtFix(c.gbps, 3);
  $("fastpath").textContent = fmtPct(c.fastpath);
  $("steal").textContent = fmtPct(c.steal);
  $("p99").textContent = fmtUs(c.p99);
  charts.throughput.setData(state.throughput);
  charts.ratios.setData(state.ratios);
  renderLatencySelect();
  charts.latency.setData(state.latency.get(state.latencyKey) || [[], [], [], [], []]);
  renderHeatmap();
  renderKpis();
  renderAlerts();
  renderMonitor();
  renderResources();
  window.kcoroOs.render();
}

function scheduleRender() {
  if (!state.dirty) {
    state.dirty = true;
    requestAnimationFrame(render);
  }
}

// ------------------------------------------------------------------ socket
let backoff = 250;
function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = `status ${cls}`;
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  setStatus("connecting", "connecting");
  ws.onopen = () => { backoff = 250; setStatus("live", "connected"); };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch (e) { return; }
    if (msg.kind !== "batch") return;
    $("dropped").textContent = fmtInt(msg.dropped);
    for (const ev of msg.events) handle(ev);
    scheduleRender();
  };
  ws.onclose = (e) => {
    setStatus(`closed (${e.code})`, "closed");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  };
}

initCharts();
$("latency-select").addEventListener("change", (e) => {
  state.latencyKey = e.target.value;
  scheduleRender();
});
connect();
