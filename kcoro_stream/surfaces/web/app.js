// kcoro-stream live dashboard: reads derived events from /ws and draws them.
// Messages: {"kind":"hello"}, {"kind":"batch","seq","dropped","snapshot","events":[...]}, {"kind":"pong"},
// {"kind":"rpc","response":{...}} (answers to controls.js).
// Drawing is throttled to one repaint per animation frame; histories are bounded.
"use strict";

const HISTORY = 600; // points kept per chart
const HEAT_WINDOWS = 120; // heat-map windows kept per pool for the workers × windows strip
const $ = (id) => document.getElementById(id);
const fmtInt = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
const fmtPct = (v) => (v == null ? "–" : (100 * v).toFixed(1) + " %");
const fmtFix = (v, d) => (v == null ? "–" : Number(v).toFixed(d));
// A latency in the unit that keeps it short ("16 µs", "24.08 ms"): "24,080.5 µs" overflowed its card at 800 px.
function fmtUs(ns) {
  if (ns == null || !isFinite(ns)) return "–";
  if (ns < 1e3) return Math.round(ns) + " ns";
  if (ns < 1e6) return +(ns / 1e3).toFixed(1) + " µs";
  if (ns < 1e9) return +(ns / 1e6).toFixed(2) + " ms";
  return +(ns / 1e9).toFixed(2) + " s";
}

// Compact SI for axis labels and big figures: 12.3M, 450k, 1.5G (never "12,345,678", which clipped).
function fmtSI(v) {
  if (v == null || !isFinite(v)) return "–";
  const a = Math.abs(v);
  for (const [unit, size] of [["G", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (a >= size) return +(v / size).toPrecision(3) + unit;
  }
  return a >= 1 || a === 0 ? String(+v.toPrecision(3)) : String(+v.toPrecision(2));
}
// A figure in a card: whole up to 999,999; from a million on compact SI with 4 digits
// ("12.35M"), so an 8-digit figure fits its card at 800 px (the full number is the title).
function fmtBig(v) {
  if (v == null || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a < 1e6) return fmtInt(v);
  for (const [unit, size] of [["T", 1e12], ["G", 1e9], ["M", 1e6]]) {
    if (a >= size) return +(v / size).toPrecision(4) + unit;
  }
  return fmtInt(v);
}
// Ratio axis ticks on the log scale: 0.1 %, 1 %, 10 %, 100 %.
const fmtRatioTick = (v) => (v == null ? "" : +(100 * v).toPrecision(2) + " %");
const RATIO_FLOOR = 0.001; // the ratio chart's log scale starts here; 0 is drawn on this line

// A chart's data, one series per (pool, quantity) label, added as they first appear:
// data = [ts, series 1, series 2, ...] (uPlot's layout); grew = the chart must be rebuilt.
function newStore() { return { data: [[]], labels: [], grew: true }; }

const state = {
  dirty: false,
  throughput: newStore(), // per pool: tasks/s, msgs/s
  ratios: newStore(), // per pool: fast path, steal success, utilisation
  latency: new Map(), // "metric · pool" → [ts, p50, p90, p99, p99.9 (µs)]
  latencyScope: new Map(), // "metric · pool" → "window" once a window summary was seen
  latencyKey: null, // the histogram the chart shows (the first seen, or the user's choice)
  latencyKeys: 0, // options in the selector (redrawn when it grows)
  runId: null,
  heatmaps: new Map(), // pool → the pool's last heat-map (dual mode shows both)
  heatHistory: new Map(), // pool → its last HEAT_WINDOWS heat-maps: the workers × windows strip
  kpi: new Map(), // pool → latest Kpi event
  alerts: [], // newest first: {ts, rule, state, severity, message, kind}
  firing: new Map(),
  current: {},
  pools: new Map(), // pool → {mode, channel, msgsSeen, values: {...}, p99: [metric, ns]}: the figures
  summaries: new Map(), // pool → the run's Summary (peak, avg, EMA), once it ended
  ended: false,
  previous: null, // the finished run, kept beside the next: {runId, mode, throughput, summaries}
  status: null, // latest Status: the monitor's own account
  resources: new Map(), // pool → Sample.resources
  declared: new Map(), // pool → Sample.declared (the pipeline's own metrics)
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

// values: [[label, value], ...]; a label seen for the first time becomes a new series
function putPoint(store, ts, values) {
  const row = store.labels.map(() => null);
  for (const [label, v] of values) {
    if (v == null) continue;
    let k = store.labels.indexOf(label);
    if (k < 0) {
      store.labels.push(label);
      store.data.push(new Array(store.data[0].length).fill(null));
      store.grew = true;
      k = store.labels.length - 1;
    }
    row[k] = v;
  }
  pushPoint(store.data, ts, row);
}

// A channel pool (pool "channel" in dual mode, or a channel run) has no task figures of its own:
// the few tasks its coroutines complete are bookkeeping (ops' Activity says the same).
const isChannelPool = (pool, mode) => pool === "channel" || (pool === "all" && mode === "channel");

function finishRun() {
  // a new run (mode switch, next run of a replay): the finished one is kept beside it, then the page starts anew
  state.previous = { runId: state.runId, mode: state.mode, throughput: state.throughput, summaries: new Map(state.summaries) };
  renderPrevious();
  resetRun();
}

function resetRun() {
  state.throughput = newStore();
  state.ratios = newStore();
  state.latency.clear();
  state.latencyScope.clear();
  state.latencyKey = null;
  state.heatmaps.clear();
  state.heatHistory.clear();
  window.kcoroOs.reset();
  state.kpi.clear();
  state.resources.clear();
  state.declared.clear();
  state.firing.clear();
  state.current = {};
  state.pools.clear();
  state.summaries.clear();
  state.ended = false;
  state.figuresKey = "";
  $("kpis").replaceChildren();
  $("heatmap").replaceChildren();
  $("resources").replaceChildren();
  $("declared").replaceChildren();
}

function onSample(ev) {
  if (state.runId !== null && ev.run_id !== state.runId) finishRun();
  state.runId = ev.run_id;
  state.mode = ev.mode;
  state.current.run = `${ev.run_id || "run"} · ${ev.mode}`;
  if (ev.frames && ev.span_ns) state.current.interval = ev.span_ns / ev.frames / 1e6; // ms per sample
  state.current.phase = ev.phase;
  const pool = ev.pool || "all";
  if (!state.pools.has(pool)) state.pools.set(pool, { values: {}, msgsSeen: false, p99: null });
  const p = state.pools.get(pool);
  p.mode = ev.mode;
  p.channel = isChannelPool(pool, ev.mode);
  p.msgsSeen = p.msgsSeen || ev.msgs_per_s > 0;
  // the window's own values (null stays null: "no steal probe this window" is "–", not the last 0.0 %);
  // the EMA the smooth operator computed, shown as it comes, never recomputed here
  const ema = ev.ema || {};
  Object.assign(p.values, { tasks: ev.tasks_per_s, msgs: ev.msgs_per_s, gbps: ev.gbps, fastpath: ev.fastpath_ratio,
    steal: ev.steal_ratio, tasksEma: ema.tasks_per_s, msgsEma: ema.msgs_per_s });
  // every pool its own series (dual mode: both pools in every chart), only the figures it produces
  const tag = (what) => (pool === "all" ? what : `${pool} · ${what}`);
  const rates = [];
  if (!p.channel) rates.push([tag("tasks/s"), ev.tasks_per_s]);
  if (p.channel || p.msgsSeen) rates.push([tag("msgs/s"), ev.msgs_per_s]);
  putPoint(state.throughput, ev.ts, rates);
  const r = (v) => (v == null ? null : Math.max(RATIO_FLOOR, v)); // log scale: 0 sits on the floor
  const ratios = p.channel ? [] : [[tag("fast path"), r(ev.fastpath_ratio)], [tag("steal success"), r(ev.steal_ratio)]];
  putPoint(state.ratios, ev.ts, [...ratios, [tag("utilisation"), r(ev.utilisation)]]);
  if (ev.resources) state.resources.set(ev.pool || "all", ev.resources);
  if (ev.declared) state.declared.set(ev.pool || "all", ev.declared);
}

function onHistogram(ev) {
  // one series per metric and pool; window summaries describe "now", so once a
  // key has one its cumulative summaries are ignored
  const owner = state.pools.get(ev.pool || "all");
  if (owner && owner.channel && ev.metric.startsWith("task_")) return; // a channel pool's few bookkeeping tasks
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
  // the pool's p99 figure: its first latency metric (task start, channel send → receive)
  const p = state.pools.get(ev.pool || "all");
  if (p && (!p.p99 || p.p99[0] === ev.metric)) p.p99 = [ev.metric, ev.p99];
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

function onHeatmap(ev) {
  const pool = ev.pool || "all";
  state.heatmaps.set(pool, ev);
  if (!state.heatHistory.has(pool)) state.heatHistory.set(pool, []);
  const h = state.heatHistory.get(pool);
  h.push(ev);
  if (h.length > HEAT_WINDOWS) h.shift();
}

function handle(ev) {
  switch (ev.type) {
    case "sample": onSample(ev); break;
    case "histogram": onHistogram(ev); break;
    case "heatmap": onHeatmap(ev); break;
    case "kpi": state.kpi.set(ev.pool || "all", ev); break;
    case "alert": onAlert(ev); break;
    case "anomaly": onAnomaly(ev); break;
    case "summary": state.summaries.set(ev.pool || "all", ev); state.ended = true; break;
    case "status": state.status = ev; break;
    case "os": window.kcoroOs.feed(ev); break;
    default: break;
  }
}

// ------------------------------------------------------------------ charts
const PALETTE = ["#58a6ff", "#3fb950", "#d29922", "#bc8cff", "#f778ba", "#39c5cf", "#ff7b72", "#a5d6ff"];
const AXIS_PX = 64; // left margin for y labels: compact SI labels ("999.5M") always fit
// time axis: one point (a page that got one cumulative histogram) spans ±5 s, not the
// 1000 days uPlot gives a single timestamp
const xScale = () => ({
  time: true,
  range: (u, min, max) => (u.data[0].length === 1 ? [u.data[0][0] - 5, u.data[0][0] + 5] : [min, max]),
});
const axis = { stroke: "#8b95a1", grid: { stroke: "#2b323b", width: 1 }, ticks: { stroke: "#2b323b" } };
const yAxis = (fmt) => Object.assign({}, axis, { size: AXIS_PX, values: (u, splits) => splits.map(fmt) });
function makeChart(el, series, extra, fmt) {
  const opts = Object.assign({
    width: Math.max(el.clientWidth, 300), height: 220,
    scales: { x: xScale() },
    axes: [axis, yAxis(fmt || fmtSI)],
    series: [{}].concat(series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))),
    legend: { live: false },
  }, extra || {});
  el.replaceChildren();
  return new uPlot(opts, Array.from({ length: series.length + 1 }, () => []), el);
}

const charts = {};
// the charts whose series are the store's labels: rebuilt when a pool (or quantity) appears
const STORE_CHARTS = {
  throughput: { extra: null, fmt: fmtSI },
  ratios: { extra: { scales: { x: xScale(), y: { distr: 3, log: 10, range: [RATIO_FLOOR, 1] } } }, fmt: fmtRatioTick },
};

function syncChart(name) {
  const store = state[name];
  if (!store.grew && charts[name]) return;
  store.grew = false;
  const spec = STORE_CHARTS[name];
  const series = store.labels.map((label, i) => [label, PALETTE[i % PALETTE.length]]);
  charts[name] = makeChart($("chart-" + name), series, spec.extra, spec.fmt);
}

function initCharts() {
  syncChart("throughput");
  syncChart("ratios");
  charts.latency = makeChart($("chart-latency"), [["p50", "#3fb950"], ["p90", "#d29922"], ["p99", "#da3633"], ["p99.9", "#bc8cff"]],
    { scales: { x: xScale(), y: { distr: 3 } } }, (v) => (v == null ? "" : fmtSI(v)));
  window.addEventListener("resize", () => {
    for (const [name, c] of Object.entries(charts)) {
      if (!$("chart-" + name).clientWidth) continue;
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
    hm.worker_ids.forEach((w, i) => {
      const cell = document.createElement("div");
      cell.className = "cell";
      cell.dataset.pool = pool;
      cell.style.background = heatColor(hm.worker_utilisation[i]);
      cell.title = `${pool} worker ${w}: utilisation ${fmtPct(hm.worker_utilisation[i])}, fast path ${fmtPct(hm.worker_fastpath_ratio[i])}`;
      const b = document.createElement("b");
      const cpu = window.kcoroOs.cpuOf(pool, w);
      const who = (labelled ? `${pool} w${w}` : `w${w}`) + (cpu == null ? "" : ` cpu${cpu}`);
      b.textContent = `${who} ${hm.worker_utilisation[i] == null ? "–" : Math.round(100 * hm.worker_utilisation[i]) + "%"}`;
      cell.append(b, `steal ${hm.steals_succeeded[i] ?? 0}/${hm.steals_failed[i] ?? 0}`);
      cells.push(cell);
    });
    if (hm.imbalance != null) imbalance.push(`${labelled ? pool + " " : ""}imbalance ${fmtFix(hm.imbalance, 2)}`);
  }
  $("heatmap").replaceChildren(...cells);
  $("imbalance").textContent = imbalance.join(" · ");
  renderHeatStrip();
}

// Workers × recent windows on a canvas: colour = utilisation, × = failed steals, time axis below.
function renderHeatStrip() {
  const canvas = $("heat-strip");
  const ROW = 14, LABEL = 78, AXIS = 16;
  const rows = [];
  let span = 0;
  for (const [pool, hist] of state.heatHistory) {
    const last = hist[hist.length - 1];
    last.worker_ids.forEach((w) => rows.push({ label: state.heatHistory.size > 1 ? `${pool} w${w}` : `w${w}`, hist, w }));
    span = Math.max(span, hist.length * last.window_ns / 1e9);
  }
  const width = Math.max(canvas.parentElement.clientWidth - 24, 200); // the panel's padding
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = width + "px";
  canvas.style.height = rows.length * ROW + AXIS + "px";
  canvas.width = width * dpr;
  canvas.height = (rows.length * ROW + AXIS) * dpr;
  canvas.dataset.rows = rows.length;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const seen = Math.max(0, ...[...state.heatHistory.values()].map((h) => h.length));
  const cols = Math.min(HEAT_WINDOWS, Math.max(30, seen)), cw = (width - LABEL) / cols;
  rows.forEach((r, y) => {
    ctx.fillStyle = "#8b95a1";
    ctx.fillText(r.label, 0, y * ROW + ROW / 2);
    const offset = cols - r.hist.length; // the newest window on the right
    r.hist.forEach((hm, k) => {
      const i = hm.worker_ids.indexOf(r.w);
      const x = LABEL + (offset + k) * cw;
      ctx.fillStyle = heatColor(i < 0 ? null : hm.worker_utilisation[i]);
      ctx.fillRect(x, y * ROW + 1, Math.max(1, cw - 0.5), ROW - 2);
      if (i >= 0 && hm.steals_failed[i] > 0) {
        ctx.fillStyle = "#111";
        ctx.fillText("×", x + cw / 2 - 3, y * ROW + ROW / 2);
      }
    });
  });
  ctx.fillStyle = "#8b95a1";
  ctx.fillText(`-${span.toFixed(1)} s`, LABEL + (cols - seen) * cw, rows.length * ROW + AXIS / 2);
  ctx.fillText("now", width - 22, rows.length * ROW + AXIS / 2);
}

const TASK_KPIS = ["fastpath_ratio", "steal_ratio"];
function renderKpis() {
  if (!state.kpi.size) return;
  const badges = [];
  for (const [pool, k] of state.kpi) {
    const p = state.pools.get(pool);
    for (const [name, st] of Object.entries(k.states)) {
      if (p && p.channel && TASK_KPIS.includes(name)) continue; // a channel pool has no fast path or steals of its own
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

function renderDeclared() {
  // a generic list: every metric the pipeline declares, its last value per pool
  if (!state.declared.size) return;
  const rows = [row(["pool", "metric", "value"])];
  for (const [pool, values] of state.declared) {
    for (const [name, v] of Object.entries(values)) rows.push(row([pool, name, v == null ? "–" : fmtFix(v, 3)]));
  }
  $("declared").replaceChildren(...rows);
}

// The figures of each pool, only those it produces; in dual mode each card names its pool.
function poolFigures(p) {
  const out = [];
  if (!p.channel) out.push(["tasks", "tasks/s", fmtBig], ["tasksEma", "tasks/s EMA", fmtBig]);
  if (p.channel || p.msgsSeen) out.push(["msgs", "msgs/s", fmtBig], ["msgsEma", "msgs/s EMA", fmtBig], ["gbps", "Gbit/s", (v) => fmtFix(v, 3)]);
  if (!p.channel) out.push(["fastpath", "fast path", fmtPct], ["steal", "steal success", fmtPct]);
  return out;
}

function renderFigures() {
  const named = state.pools.size > 1;
  const cards = [];
  for (const [pool, p] of state.pools) {
    const figures = poolFigures(p).map(([key, label, fmt]) => [key, label, fmt(p.values[key]), p.values[key]]);
    if (p.p99) figures.push(["p99", "p99 latency", fmtUs(p.p99[1]), p.p99[1], p.p99[0]]);
    for (const [key, label, text, raw, what] of figures) {
      cards.push({ id: `fig-${pool}-${key}`, pool, label: named ? `${pool} · ${label}` : label, text, raw, what });
    }
  }
  const key = cards.map((c) => c.id + c.label).join("|");
  if (key !== state.figuresKey) { // pools or figures changed: new cards
    state.figuresKey = key;
    $("figures").replaceChildren(...cards.map((c) => {
      const fig = document.createElement("div");
      fig.className = "figure";
      fig.dataset.pool = c.pool;
      const label = document.createElement("div");
      label.className = "label";
      label.textContent = c.label;
      if (c.what) label.title = c.what; // the histogram the p99 is of
      const value = document.createElement("div");
      value.className = "value";
      value.id = c.id;
      fig.append(label, value);
      return fig;
    }));
  }
  for (const c of cards) {
    const el = $(c.id);
    el.textContent = c.text;
    el.title = c.raw == null ? "" : String(c.raw);
  }
}

function runState() {
  if (state.ended) return "ended";
  const st = state.status && state.status.state;
  if (st === "stalled" || state.current.phase === "stalled") return "stalled";
  if (state.current.phase === "paused") return "paused";
  return state.runId ? "running" : "";
}

function render() {
  state.dirty = false;
  const c = state.current;
  if (c.run) $("run").textContent = c.run;
  const rs = runState();
  $("run-state").textContent = rs;
  $("run-state").className = `status ${rs}`;
  $("sampling").textContent = c.interval ? `sampling ${+c.interval.toPrecision(3)} ms` : "";
  renderFigures();
  for (const name of Object.keys(STORE_CHARTS)) {
    syncChart(name);
    charts[name].setData(state[name].data);
  }
  renderLatencySelect();
  charts.latency.setData(state.latency.get(state.latencyKey) || [[], [], [], [], []]);
  renderHeatmap();
  renderKpis();
  renderAlerts();
  renderMonitor();
  renderResources();
  renderDeclared();
  window.kcoroOs.render();
}

// The finished run, beside the next: its throughput chart as it ended and its summary (peak, average, EMA).
function renderPrevious() {
  const prev = state.previous;
  if (!prev || !prev.throughput.labels.length) return;
  $("previous").hidden = false;
  $("previous-run").textContent = `${prev.runId} · ${prev.mode} · ended`;
  const series = prev.throughput.labels.map((label, i) => [label, PALETTE[i % PALETTE.length]]);
  charts.previous = makeChart($("chart-previous"), series, null, fmtSI);
  charts.previous.setData(prev.throughput.data);
  const rows = [row(["pool", "figure", "peak", "average", "EMA", "samples"])];
  for (const [pool, s] of prev.summaries) {
    for (const [key, label] of [["tasks_per_s", "tasks/s"], ["msgs_per_s", "msgs/s"], ["gbps", "Gbit/s"]]) {
      if (s.peak[key] == null) continue;
      const f = key === "gbps" ? (v) => fmtFix(v, 3) : fmtBig;
      rows.push(row([pool, label, f(s.peak[key]), f(s.avg[key]), f(s.ema[key]), String(s.samples)]));
    }
  }
  if (rows.length === 1) rows.push(row(["no summary (the run was cut short)"]));
  $("previous-summary").replaceChildren(...rows);
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
  if (window.kcsControls) kcsControls.attach(ws); // controls.js: pause/resume/interval over this socket
  ws.onopen = () => { backoff = 250; setStatus("live", "connected"); };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch (e) { return; }
    if (msg.kind === "rpc" && window.kcsControls) { kcsControls.answer(msg); return; }
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
