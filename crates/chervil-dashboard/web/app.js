// chervil dashboard: one page, three views (workflows, a workflow, a task), drawn from
// the JSON routes. A view of a run still going is fetched again every 2 s.
"use strict";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const live = document.getElementById("live");
const COLORS = { pending: "#b8860b", queued: "#8fb3ee", running: "#2f6fd6", done: "#2f9e62", failed: "#d64545", cpu: "#5b3fc4", rss: "#1b998b" };
const LABELS = { done: "done", failed: "failed", running: "running", queued: "queued", pending: "pending" };
// HTEX reports when a try began running with its result: while a run goes, a try running
// on a worker reads as queued until it returns; afterwards the two are told apart.
const HINTS = {
  done: "exec_done and memo_done", failed: "failed and dep_fail",
  running: "running on a worker (running, running_ended), or joining",
  queued: "handed to an executor (launched) and not known to run yet: queued there for a worker, or running on HTEX until its result comes back",
  pending: "waiting for dependencies, or for a retry",
};
// What each counter narrows the task list to.
const FILTER_OF = { done: "done", failed: "failures", running: "active", queued: "queued", pending: "waiting" };
const GROUPS = { done: "done (exec_done, memo_done)", failures: "failed or dep_fail", active: "running", queued: "queued (launched)", waiting: "pending or retrying" };
let timer = null;
let charts = [];

// ---- small helpers --------------------------------------------------------------

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// Times are the database's wall-clock text as seconds: shown as written, no zone shift.
function when(t) {
  return t == null ? "—" : new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
}
function span(seconds) {
  if (seconds == null || !isFinite(seconds)) return "—";
  if (seconds < 1) return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms";
  if (seconds < 120) return seconds.toFixed(2) + " s";
  const s = Math.round(seconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}
function num(n) { return (n ?? 0).toLocaleString("en-US"); }
async function get(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${(await r.json().catch(() => ({}))).error || ""}`);
  return r.json();
}
function stateBadge(s) { return `<span class="state ${esc(s)}">${esc(s)}</span>`; }
function clearCharts() { charts.forEach(c => c.destroy()); charts = []; window.chartData = {}; }
function utc(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

function lineChart(el, title, x, series, opts = {}) {
  const width = Math.max(360, el.clientWidth - 8);
  const chart = new uPlot({
    title, width, height: opts.height || 240, tzDate: utc,
    // One sample: a minute around it, not uPlot's default of years.
    scales: { x: { time: true, range: (u, min, max) => (min === max ? [min - 30, max + 30] : [min, max]) } },
    series: [{}, ...series.map(s => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale || "y",
                                           fill: s.fill ? s.color + "22" : undefined, points: { show: false } }))],
    axes: [{}, { scale: "y", label: opts.yLabel || "" },
           ...(opts.y2Label ? [{ scale: "y2", side: 1, label: opts.y2Label, grid: { show: false } }] : [])],
  }, [x, ...series.map(s => s.data)], el);
  charts.push(chart);
  // What each chart drew, by title and series label: tests compare it with SQL.
  window.chartData = window.chartData || {};
  window.chartData[title] = Object.fromEntries(series.map(s => [s.label, s.data]));
}

// ---- views --------------------------------------------------------------------------

async function workflowsView() {
  crumbs.innerHTML = "";
  const runs = await get("/api/workflows");
  document.title = "Chervil dashboard";
  const rows = runs.map(w => {
    const going = w.completed == null;
    return `<tr data-run="${esc(w.run_id)}">
      <td><a href="/workflow/${encodeURIComponent(w.run_id)}">${esc(w.name || "(unnamed)")}</a><br><span class="muted">${esc(w.run_id)}</span></td>
      <td>${when(w.began)}</td><td>${going ? '<span class="state live">running</span>' : span(w.completed - w.began)}</td>
      <td class="num">${num(w.tasks)}</td><td class="num">${num(w.tasks_completed)}</td><td class="num">${num(w.tasks_failed)}</td>
      <td>${esc(w.user)}@${esc(w.host)}</td></tr>`;
  }).join("");
  main.innerHTML = `<h1>Workflows</h1>
    <table id="workflows"><thead><tr><th>Workflow</th><th>Began</th><th>Took</th><th class="num">Tasks</th>
    <th class="num">Done</th><th class="num">Failed</th><th>By</th></tr></thead><tbody>${rows ||
      '<tr><td colspan="7" class="muted">No runs recorded yet.</td></tr>'}</tbody></table>`;
  live.hidden = !runs.some(w => w.completed == null);
  return live.hidden ? null : 2000;
}

function grouped(s) {
  const c = s.timeline.counts, at = name => c[s.states.indexOf(name)] || [];
  const sum = (...names) => s.timeline.t.map((_, i) => names.reduce((a, n) => a + (at(n)[i] || 0), 0));
  return {
    pending: sum("pending", "fail_retryable"),
    queued: sum("launched"),
    running: sum("running", "running_ended", "joining"),
    done: sum("exec_done", "memo_done"),
    failed: sum("failed", "dep_fail"),
  };
}

async function workflowView(run) {
  const s = await get(`/api/workflow/${encodeURIComponent(run)}`);
  const w = s.workflow, going = w.completed == null, n = s.now;
  document.title = `${w.name || run} · Chervil`;
  crumbs.innerHTML = `/ <a href="/workflow/${encodeURIComponent(run)}">${esc(w.name || run)}</a>`;
  const now = {
    done: n.exec_done + n.memo_done, failed: n.failed + n.dep_fail,
    running: n.running + n.running_ended + n.joining, queued: n.launched, pending: n.pending + n.fail_retryable,
  };
  const apps = s.apps.map(a => `<tr><td><a href="#tasks" data-app="${esc(a.name)}">${esc(a.name)}</a></td><td class="num">${num(a.tasks)}</td>
      <td class="num">${num(a.done)}</td><td class="num">${a.failed ? `<a href="#tasks" data-app="${esc(a.name)}" data-filter="failures">${num(a.failed)}</a>` : 0}</td><td class="num">${num(a.retries)}</td>
      <td class="num">${span(a.median_s)}</td><td class="num">${span(a.p95_s)}</td><td class="num">${span(a.median_wait_s)}</td>
      <td class="num share"><span class="bar" style="width:${(a.share * 100).toFixed(1)}%"></span><span class="value">${(a.share * 100).toFixed(1)} %</span></td></tr>`).join("");
  const blocks = s.blocks.map(b => `<tr><td>${esc(b.executor)}</td><td>${esc(b.block)}</td><td>${esc(b.job || "")}</td>
      <td>${stateBadge(b.status)}</td><td>${when(b.t)}</td></tr>`).join("");
  // One row per pool (Parsl's database has a node row per heartbeat).
  const nodes = s.pools.map(x => `<tr><td>${esc(x.hostname)}</td><td>${esc(x.block)}</td><td>${esc(x.uid)}</td>
      <td class="num">${x.workers}</td><td>${when(x.first)}</td><td>${x.active ? "connected" : `left ${when(x.last)}`}</td></tr>`).join("");
  clearCharts();
  main.innerHTML = `<h1>${esc(w.name || "(unnamed workflow)")} ${going ? '<span class="state live">running</span>' : '<span class="state finished">finished</span>'}</h1>
    <div class="card"><dl>
      <dt>Run</dt><dd>${esc(w.run_id)}</dd><dt>Version</dt><dd>${esc(w.version || "")}</dd>
      <dt>By</dt><dd>${esc(w.user)}@${esc(w.host)}</dd><dt>Run directory</dt><dd>${esc(w.rundir)}</dd>
      <dt>Began</dt><dd>${when(w.began)}</dd><dt>${going ? "Running for" : "Took"}</dt>
      <dd>${span((going ? (s.timeline.t.at(-1) ?? w.began) : w.completed) - w.began)}</dd></dl></div>
    <div class="counts" id="counts">
      ${["done", "failed", "running", "queued", "pending"].map(k => `<a class="count ${k}" data-state="${k}" title="${HINTS[k]}" href="${k === "failed" ? "#failures" : "#tasks"}" data-filter="${FILTER_OF[k]}"><b>${num(now[k])}</b>${LABELS[k]}</a>`).join("")}
      <div class="count"><b>${num(w.tasks)}</b>tasks</div></div>
    <div class="grid"><div class="card" id="chart-states"></div><div class="card" id="chart-usage"></div></div>
    <h2>Apps</h2>
    <table id="apps"><thead><tr><th>App</th><th class="num">Tasks</th><th class="num">Done</th><th class="num">Failed</th>
      <th class="num">Retries</th><th class="num">Median try</th><th class="num">95th percentile</th>
      <th class="num" title="from launched (handed to the executor) to running">Median queue wait</th>
      <th class="num" title="this app's tries' running time over every app's">Share of time</th></tr></thead><tbody>${apps}</tbody></table>
    <h2>Tries by worker <span class="muted">(${s.tries.length < s.tries_total ? `latest ${num(s.tries.length)} of ${num(s.tries_total)}` : num(s.tries_total)})</span></h2>
    <div id="gantt-wrap"></div>
    <div class="grid"><div><h2>Blocks</h2><table id="blocks"><thead><tr><th>Executor</th><th>Block</th><th>Job</th><th>Status</th><th>At</th></tr></thead><tbody>${blocks ||
      '<tr><td colspan="5" class="muted">No blocks (thread pool).</td></tr>'}</tbody></table></div>
      <div><h2>Nodes</h2><table id="nodes"><thead><tr><th>Host</th><th>Block</th><th>Pool</th><th class="num">Workers</th><th>Joined</th><th>Now</th></tr></thead><tbody>${nodes ||
      '<tr><td colspan="6" class="muted">No pools.</td></tr>'}</tbody></table></div></div>
    <div class="grid"><div class="card" id="chart-capacity"></div></div>
    <div class="grid" id="hosts"></div>
    <h2 id="failures">Failures</h2><div id="failures-card"><p class="muted">Loading…</p></div>
    <h2 id="tasks">Tasks</h2><div class="card" id="task-list"><p class="muted">Loading…</p></div>
    <h2>Task graph</h2><div class="card" id="graph-card"><p class="muted">Loading…</p></div>`;

  const g = grouped(s);
  lineChart(document.getElementById("chart-states"), "Tasks by state", s.timeline.t, [
    { label: "done", data: g.done, color: COLORS.done, fill: true },
    { label: "failed", data: g.failed, color: COLORS.failed },
    { label: "running", data: g.running, color: COLORS.running },
    { label: "queued", data: g.queued, color: COLORS.queued },
    { label: "pending", data: g.pending, color: COLORS.pending },
  ], { yLabel: "tasks" });
  const usage = document.getElementById("chart-usage");
  if (s.usage.t.length) {
    lineChart(usage, "Workers' resource use", s.usage.t, [
      { label: "CPU %", data: s.usage.cpu_percent, color: COLORS.cpu },
      { label: "RSS MiB", data: s.usage.rss_mib, color: COLORS.rss, scale: "y2" },
    ], { yLabel: "CPU % of a core", y2Label: "MiB" });
  } else {
    usage.innerHTML = '<p class="muted">No resource samples (HTEX with resource_monitoring_interval records them).</p>';
  }
  drawCapacity(document.getElementById("chart-capacity"), s, going);
  const hosts = document.getElementById("hosts");
  for (const [host, u] of s.usage_by_host.filter(([, u]) => u.t.length)) {
    const el = document.createElement("div");
    el.className = "card host-usage";
    hosts.appendChild(el);
    lineChart(el, `Resource use on ${host}`, u.t, [
      { label: "CPU %", data: u.cpu_percent, color: COLORS.cpu },
      { label: "RSS MiB", data: u.rss_mib, color: COLORS.rss, scale: "y2" },
    ], { yLabel: "CPU %", y2Label: "MiB", height: 180 });
  }
  drawGantt(document.getElementById("gantt-wrap"), s.tries, run);
  drawFailures(document.getElementById("failures-card"), run);
  taskList(document.getElementById("task-list"), run);
  main.querySelectorAll("a[data-app], a[data-filter]").forEach(a => a.addEventListener("click", () => {
    filters.app = a.dataset.app || "";
    filters.state = a.dataset.filter || "";
    filters.q = filters.host = "";
    taskList(document.getElementById("task-list"), run);
  }));
  drawGraph(document.getElementById("graph-card"), run);
  live.hidden = !going;
  return going ? 2000 : null;
}

// Blocks not yet ended and workers of connected pools, as steps over time.
function drawCapacity(el, s, going) {
  const ended = new Set(["CANCELLED", "COMPLETED", "FAILED", "TIMEOUT", "MISSING", "SCALED_IN"]);
  const events = [
    ...s.blocks.map(b => ({ t: b.t, kind: "block", key: `${b.executor}/${b.block}`, up: !ended.has(b.status) })),
    ...s.nodes.map(n => ({ t: n.t, kind: "node", key: n.uid, up: n.active, workers: n.workers })),
  ].sort((a, b) => a.t - b.t);
  if (!events.length) { el.innerHTML = '<p class="muted">No blocks or pools (thread pool).</p>'; return; }
  const blocks = new Set(), pools = new Map(), t = [], nBlocks = [], nWorkers = [];
  const point = at => { t.push(at); nBlocks.push(blocks.size); nWorkers.push([...pools.values()].reduce((a, b) => a + b, 0)); };
  for (const e of events) {
    if (t.length) point(e.t);  // hold the level until this change (steps, not slopes)
    if (e.kind === "block") e.up ? blocks.add(e.key) : blocks.delete(e.key);
    else e.up ? pools.set(e.key, e.workers) : pools.delete(e.key);
    point(e.t);
  }
  const end = going ? (s.timeline.t.at(-1) ?? t.at(-1)) : (s.workflow.completed ?? t.at(-1));
  if (end > t.at(-1)) point(end);
  lineChart(el, "Blocks and workers", t, [
    { label: "blocks", data: nBlocks, color: COLORS.pending },
    { label: "workers", data: nWorkers, color: COLORS.running, scale: "y2" },
  ], { yLabel: "blocks", y2Label: "workers", height: 200 });
}

// Colours for apps, in the order apps first appear (a run with more apps reuses them).
const PALETTE = ["#2f6fd6", "#2f9e62", "#b8860b", "#5b3fc4", "#1b998b", "#c2410c", "#0e7490", "#9d174d", "#4d7c0f", "#6b7484"];
function appColors(names) {
  const colors = new Map();
  [...new Set(names)].forEach((n, i) => colors.set(n, PALETTE[i % PALETTE.length]));
  return colors;
}
function legend(colors) {
  return `<div class="legend">${[...colors].map(([n, c]) => `<span><i style="background:${c}"></i>${esc(n)}</span>`).join("")}</div>`;
}
// A tick step near a tenth of the span: 1, 2 or 5 times a power of ten seconds.
function tickStep(spanS) {
  const raw = spanS / 8, p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map(m => m * p).find(st => st >= raw) || p * 10;
}

// Tries as bars: one row per worker (the process a try ran in, known from its resource
// samples) under its host and block; tries without a sample are packed into as few rows
// as their overlaps allow. Coloured by app, failed tries outlined in red. Hover for a
// try's details, drag across to zoom in, double-click to zoom out, click a bar for its task.
function drawGantt(wrap, tries, run) {
  const bars = tries.filter(t => t.launched != null).map(t => ({ ...t, start: t.running ?? t.launched, end: t.returned }));
  if (!bars.length) { wrap.innerHTML = '<p class="muted">No tries yet.</p>'; return; }
  bars.sort((a, b) => a.start - b.start);
  const first = Math.min(...bars.map(b => b.start));
  const last = Math.max(...bars.map(b => b.end ?? b.start), first + 1e-3);
  const colors = appColors(bars.map(b => b.app));
  // lane (host · block) → its rows: worker pids first, in order, then packed rows
  const lanes = new Map();
  for (const b of bars) {
    const lane = lanes.get(b.lane) || { workers: new Map(), packed: [] };
    lanes.set(b.lane, lane);
    if (b.worker != null) {
      if (!lane.workers.has(b.worker)) lane.workers.set(b.worker, lane.workers.size);
    }
  }
  let y = 22;
  const rows = [];  // {lane, label, top}
  for (const [name, lane] of lanes) {
    lane.top = y;
    const pids = [...lane.workers.keys()].sort((a, b) => a - b);
    pids.forEach((pid, i) => { lane.workers.set(pid, i); rows.push({ label: i ? `  worker ${pid}` : `${name} · worker ${pid}`, top: y + i * 14 }); });
    let packedRows = 0;
    for (const b of bars.filter(b => b.lane === name && b.worker == null)) {
      let r = lane.packed.findIndex(end => end <= b.start);
      if (r < 0) { r = lane.packed.length; lane.packed.push(0); }
      lane.packed[r] = b.end ?? last; b.packedRow = r; packedRows = Math.max(packedRows, r + 1);
    }
    for (const b of bars.filter(b => b.lane === name)) b.row = b.worker != null ? lane.workers.get(b.worker) : pids.length + b.packedRow;
    for (let i = 0; i < packedRows; i++) rows.push({ label: pids.length + i ? "" : name, top: y + (pids.length + i) * 14 });
    y += (pids.length + packedRows) * 14 + 8;
    lane.height = y - lane.top;
  }
  wrap.innerHTML = `${legend(colors)}<canvas id="gantt"></canvas><div class="tip" hidden></div>
    <p class="muted hint">Drag across to zoom in, double-click to zoom out.</p>`;
  const canvas = wrap.querySelector("canvas"), tip = wrap.querySelector(".tip");
  const labelW = 200, rowH = 14, width = Math.max(700, wrap.clientWidth - 2);
  canvas.width = width; canvas.height = y + 4;
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.lanes = String(lanes.size);
  const ctx = canvas.getContext("2d");
  let view = [first, last];
  const x = t => labelW + (t - view[0]) * (width - labelW - 10) / (view[1] - view[0]);
  const top = b => lanes.get(b.lane).top + b.row * rowH;
  function draw() {
    ctx.clearRect(0, 0, width, canvas.height);
    ctx.font = "11px system-ui, sans-serif";
    const step = tickStep(view[1] - view[0]);
    ctx.strokeStyle = "#e3e7ee"; ctx.fillStyle = "#6b7484"; ctx.textAlign = "center";
    for (let t = Math.ceil((view[0] - first) / step) * step + first; t <= view[1]; t += step) {
      ctx.beginPath(); ctx.moveTo(x(t), 16); ctx.lineTo(x(t), canvas.height); ctx.stroke();
      ctx.fillText(`+${span(t - first)}`, x(t), 12);
    }
    ctx.textAlign = "left";
    ctx.fillText(when(first), 6, 12);
    ctx.fillStyle = "#1d2430";
    for (const r of rows) if (r.label) ctx.fillText(r.label.slice(0, 32), 6, r.top + 11);
    ctx.save(); ctx.beginPath(); ctx.rect(labelW, 16, width - labelW, canvas.height); ctx.clip();
    for (const b of bars) {
      const end = b.end ?? last;
      if (end < view[0] || b.start > view[1]) continue;
      const bx = x(b.start), w = Math.max(1, x(end) - bx);
      ctx.fillStyle = colors.get(b.app);
      ctx.globalAlpha = b.end == null ? 0.5 : 1;
      ctx.fillRect(bx, top(b), w, rowH - 3);
      if (b.failed) { ctx.strokeStyle = COLORS.failed; ctx.lineWidth = 2; ctx.strokeRect(bx, top(b), w, rowH - 3); }
    }
    ctx.restore(); ctx.globalAlpha = 1; ctx.lineWidth = 1;
  }
  draw();
  const hit = ev => {
    const rect = canvas.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    return bars.find(b => px >= x(b.start) - 1 && px <= Math.max(x(b.end ?? last), x(b.start) + 3) && py >= top(b) && py <= top(b) + rowH);
  };
  let dragFrom = null;
  canvas.onmousedown = ev => { dragFrom = ev.clientX - canvas.getBoundingClientRect().left; };
  canvas.onmouseup = ev => {
    const to = ev.clientX - canvas.getBoundingClientRect().left, from = dragFrom; dragFrom = null;
    if (from != null && Math.abs(to - from) > 5 && Math.max(from, to) > labelW) {
      const t = px => view[0] + (Math.max(labelW, px) - labelW) * (view[1] - view[0]) / (width - labelW - 10);
      view = [t(Math.min(from, to)), t(Math.max(from, to))];
      draw();
      return;
    }
    const b = hit(ev);
    if (b) location.href = `/workflow/${encodeURIComponent(run)}/task/${b.task}`;
  };
  canvas.ondblclick = () => { view = [first, last]; draw(); };
  canvas.onmousemove = ev => {
    const b = hit(ev);
    canvas.style.cursor = b ? "pointer" : "crosshair";
    if (!b) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.style.left = `${ev.offsetX + 14}px`; tip.style.top = `${ev.offsetY + 14}px`;
    tip.innerHTML = `<b>task ${b.task}</b> ${esc(b.app)} · try ${b.try_id}${b.failed ? ' · <span class="failed">failed</span>' : ""}<br>
      ${esc(b.lane)}${b.worker != null ? ` · worker ${b.worker}` : ""}<br>
      ${b.running != null ? `waited ${span(b.running - b.launched)}, ` : ""}ran ${b.end != null ? span(b.end - b.start) : "(still running)"}`;
  };
  canvas.onmouseleave = () => { tip.hidden = true; };
}

// Failed and dep_fail tasks, grouped by their error (numbers in it ignored).
async function drawFailures(card, run) {
  const groups = await get(`/api/workflow/${encodeURIComponent(run)}/failures`);
  if (!groups.length) { card.innerHTML = '<p class="muted">No task failed.</p>'; return; }
  const link = id => `<a href="/workflow/${encodeURIComponent(run)}/task/${id}">${id}</a>`;
  card.innerHTML = `<table id="failure-groups"><thead><tr><th class="num">Tasks</th><th>Error</th><th>Apps</th>
    <th class="num">Failed</th><th class="num">Dependency failed</th></tr></thead><tbody>${groups.map(g => `<tr>
      <td class="num"><b>${num(g.count)}</b></td>
      <td><details><summary><code>${esc(g.example.split("\n")[0].slice(0, 160))}</code></summary>
        <pre>${esc(g.example)}</pre><p>Tasks: ${g.tasks.map(link).join(", ")}${g.count > g.tasks.length ? ` … and ${num(g.count - g.tasks.length)} more` : ""}</p></details></td>
      <td>${g.apps.map(([a, n]) => `${esc(a)} (${num(n)})`).join(", ")}</td>
      <td class="num">${num(g.failed)}</td><td class="num">${num(g.dep_fail)}</td></tr>`).join("")}</tbody></table>`;
}

// The task list: every task with its last state, host and error, narrowed by the filters.
const filters = { app: "", state: "", host: "", q: "" };
async function taskList(card, run) {
  const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  const l = await get(`/api/workflow/${encodeURIComponent(run)}/tasks?${params}`);
  const options = (name, values, label) => `<label>${label} <select name="${name}"><option value="">all</option>${values.map(v =>
    `<option${v === filters[name] ? " selected" : ""}>${esc(v)}</option>`).join("")}</select></label>`;
  const rows = l.tasks.map(t => `<tr data-task="${t.task}"><td class="num"><a href="/workflow/${encodeURIComponent(run)}/task/${t.task}">${t.task}</a></td>
      <td>${esc(t.app)}</td><td>${stateBadge(t.state)}</td><td>${esc(t.host || "")}</td><td>${when(t.invoked)}</td>
      <td class="num">${t.invoked != null && t.returned != null ? span(t.returned - t.invoked) : "—"}</td><td class="num">${t.tries}</td>
      <td class="error">${esc((t.error || "").split("\n")[0].slice(0, 120))}</td></tr>`).join("");
  card.innerHTML = `<form id="task-filters">${options("app", l.apps, "App")}
      <label>State <select name="state"><option value="">all</option>${Object.entries(GROUPS).map(([v, label]) =>
        `<option value="${v}"${v === filters.state ? " selected" : ""}>${label}</option>`).join("")}${l.states.map(v =>
        `<option${v === filters.state ? " selected" : ""}>${esc(v)}</option>`).join("")}</select></label>
      ${options("host", l.hosts, "Host")}
      <label>Search <input name="q" type="search" value="${esc(filters.q)}" placeholder="task id, app or error"></label>
      <span class="muted" id="task-count">${num(l.matched)} task${l.matched === 1 ? "" : "s"}${l.matched > l.tasks.length ? `, the first ${num(l.tasks.length)} shown` : ""}</span></form>
    <div class="scroll"><table id="tasks-table"><thead><tr><th class="num">Task</th><th>App</th><th>State</th><th>Host</th><th>Invoked</th>
      <th class="num">Took</th><th class="num">Tries</th><th>Error</th></tr></thead><tbody>${rows ||
      '<tr><td colspan="8" class="muted">No task matches.</td></tr>'}</tbody></table></div>`;
  const form = card.querySelector("form");
  form.addEventListener("change", ev => { filters[ev.target.name] = ev.target.value; taskList(card, run); });
  form.addEventListener("submit", ev => { ev.preventDefault(); filters.q = form.q.value; taskList(card, run); });
}

// The task graph, layered by depth (a task one column right of its deepest dependency).
// Each depth is a block of columns, its tasks grouped by app and packed in a grid, so a
// 10,000-task fan-out is a square, not a 200,000-pixel line. Colour is the app; a red
// ring marks a failure, a hollow dot a task not finished. Drawn on a canvas.
async function drawGraph(card, run) {
  const g = await get(`/api/workflow/${encodeURIComponent(run)}/graph`);
  if (!g.tasks.length) { card.innerHTML = '<p class="muted">No tasks.</p>'; return; }
  const deps = new Map(), depth = new Map();
  for (const [from, to] of g.edges) (deps.get(to) || deps.set(to, []).get(to)).push(from);
  for (const [id] of g.tasks) depth.set(id, 1 + Math.max(-1, ...(deps.get(id) || []).map(d => depth.get(d) ?? 0)));
  const colors = appColors(g.tasks.map(t => t[1]));
  const levels = new Map();
  for (const t of g.tasks) { const d = depth.get(t[0]); (levels.get(d) || levels.set(d, []).get(d)).push(t); }
  const n = g.tasks.length, cell = n > 2000 ? 7 : n > 300 ? 11 : 22, r = Math.max(2, cell / 2 - 1.5);
  const widest = Math.max(...[...levels.values()].map(l => l.length));
  // rows per column: a near-square block for the widest level, at most ~560 px tall
  const rowsMax = Math.max(1, Math.min(Math.ceil(Math.sqrt(widest * 2)), Math.floor(560 / cell)));
  const pos = new Map();
  let x = 16;
  for (const d of [...levels.keys()].sort((a, b) => a - b)) {
    const level = levels.get(d).sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] - b[0]));
    level.forEach((t, i) => pos.set(t[0], [x + Math.floor(i / rowsMax) * cell + cell / 2, 12 + (i % rowsMax) * cell + cell / 2]));
    x += Math.ceil(level.length / rowsMax) * cell + Math.max(24, cell * 2);
  }
  const width = x, height = 24 + Math.min(widest, rowsMax) * cell;
  card.innerHTML = `${g.total > n ? `<p class="muted">The first ${num(n)} of ${num(g.total)} tasks.</p>` : ""}
    ${legend(colors)}<div class="legend"><span><i class="ring"></i>failed</span><span><i class="hollow"></i>not finished</span></div>
    <div class="graph-wrap"><canvas id="graph"></canvas><div class="tip" hidden></div></div>`;
  const canvas = card.querySelector("canvas"), tip = card.querySelector(".tip");
  canvas.width = width; canvas.height = height;
  canvas.dataset.nodes = String(n);
  const ctx = canvas.getContext("2d");
  ctx.strokeStyle = "rgba(110, 120, 140, 0.18)";
  ctx.beginPath();
  for (const [a, b] of g.edges) {
    if (!pos.has(a) || !pos.has(b)) continue;
    const [x1, y1] = pos.get(a), [x2, y2] = pos.get(b);
    ctx.moveTo(x1, y1); ctx.lineTo(x2, y2);
  }
  ctx.stroke();
  const finished = new Set(["exec_done", "memo_done", "failed", "dep_fail"]);
  for (const [id, app, state] of g.tasks) {
    const [cx, cy] = pos.get(id);
    ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.fillStyle = finished.has(state) ? colors.get(app) : "#fff"; ctx.fill();
    ctx.lineWidth = state === "failed" || state === "dep_fail" ? 2 : 1;
    ctx.strokeStyle = state === "failed" || state === "dep_fail" ? COLORS.failed : colors.get(app); ctx.stroke();
  }
  const at = ev => {
    const rect = canvas.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    return g.tasks.find(([id]) => { const [cx, cy] = pos.get(id); return Math.abs(cx - px) <= cell / 2 && Math.abs(cy - py) <= cell / 2; });
  };
  canvas.onclick = ev => { const t = at(ev); if (t) location.href = `/workflow/${encodeURIComponent(run)}/task/${t[0]}`; };
  canvas.onmousemove = ev => {
    const t = at(ev);
    canvas.style.cursor = t ? "pointer" : "default";
    if (!t) { tip.hidden = true; return; }
    tip.hidden = false; tip.style.left = `${ev.offsetX + 14}px`; tip.style.top = `${ev.offsetY + 14}px`;
    tip.innerHTML = `<b>task ${t[0]}</b> ${esc(t[1])}<br>${esc(t[2] || "not started")} · depth ${depth.get(t[0])}`;
  };
  canvas.onmouseleave = () => { tip.hidden = true; };
}

async function taskView(run, task) {
  const t = await get(`/api/workflow/${encodeURIComponent(run)}/task/${task}`);
  document.title = `Task ${task} · Chervil`;
  crumbs.innerHTML = `/ <a href="/workflow/${encodeURIComponent(run)}">${esc(run.slice(0, 8))}…</a> / task ${task}`;
  const last = t.states.at(-1)?.[0] || "";
  const tries = t.tries.map(y => `<tr><td class="num">${y.try_id}</td><td>${esc(y.executor)}</td><td>${esc(y.hostname || "")}</td>
      <td>${esc(y.block || "")}</td><td>${when(y.launched)}</td><td>${when(y.running)}</td><td>${when(y.returned)}</td>
      <td>${y.running != null && y.returned != null ? span(y.returned - y.running) : "—"}</td>
      <td>${y.error ? `<pre>${esc(y.error)}</pre>` : ""}</td></tr>`).join("");
  const states = t.states.map(([name, tryId, at]) => `<tr><td>${stateBadge(name)}</td><td class="num">${tryId}</td><td>${when(at)}</td></tr>`).join("");
  // task_depends is text from the database: escaped in the link as in the label (a crafted
  // database could otherwise write attributes into the page).
  const deps = t.depends ? t.depends.split(",").map(d => d.trim()).filter(Boolean)
    .map(d => `<a href="/workflow/${encodeURIComponent(run)}/task/${encodeURIComponent(d)}">${esc(d)}</a>`).join(", ") : "none";
  clearCharts();
  main.innerHTML = `<h1>Task ${task}: ${esc(t.app)} ${stateBadge(last)}</h1>
    <div class="card" id="task-detail"><dl>
      <dt>Depends on</dt><dd>${deps}</dd><dt>Invoked</dt><dd>${when(t.invoked)}</dd><dt>Returned</dt><dd>${when(t.returned)}</dd>
      <dt>Failures</dt><dd>${t.fail_count} (cost ${t.fail_cost})</dd><dt>Memoized</dt><dd>${t.memoize === "1" ? "yes" : "no"} ${t.hashsum ? `<span class="muted">${esc(t.hashsum)}</span>` : ""}</dd>
      <dt>stdout</dt><dd>${esc(t.stdout || "—")}</dd><dt>stderr</dt><dd>${esc(t.stderr || "—")}</dd>
      <dt>Inputs</dt><dd>${esc(t.inputs || "")}</dd><dt>Outputs</dt><dd>${esc(t.outputs || "")}</dd></dl></div>
    <h2>Tries</h2><table id="tries"><thead><tr><th class="num">Try</th><th>Executor</th><th>Host</th><th>Block</th><th>Launched</th>
      <th>Running</th><th>Returned</th><th>Ran for</th><th>Error</th></tr></thead><tbody>${tries}</tbody></table>
    <div class="grid"><div><h2>States</h2><table id="states"><thead><tr><th>State</th><th class="num">Try</th><th>At</th></tr></thead><tbody>${states}</tbody></table></div>
      <div><h2>Resource use</h2><div class="card" id="chart-task-usage"></div></div></div>`;
  const usage = document.getElementById("chart-task-usage");
  if (t.usage.t.length) {
    lineChart(usage, "This task's worker", t.usage.t, [
      { label: "CPU %", data: t.usage.cpu_percent, color: COLORS.cpu },
      { label: "RSS MiB", data: t.usage.rss_mib, color: COLORS.rss, scale: "y2" },
    ], { yLabel: "CPU %", y2Label: "MiB", height: 200 });
  } else {
    usage.innerHTML = '<p class="muted">No resource samples for this task.</p>';
  }
  const going = !["exec_done", "memo_done", "failed", "dep_fail"].includes(last);
  live.hidden = !going;
  return going ? 2000 : null;
}

async function route() {
  clearTimeout(timer);
  let again = null;
  try {
    // decodeURIComponent throws on a malformed address (/workflow/%FF): shown as an error
    // below, not left on "Loading…".
    const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "workflow" && parts[2] === "task") again = await taskView(parts[1], Number(parts[3]));
    else if (parts[0] === "workflow") again = await workflowView(parts[1]);
    else again = await workflowsView();
  } catch (e) {
    main.innerHTML = `<h1>Cannot show this page</h1><pre id="error">${esc(e.message)}</pre>`;
    again = 5000;
  }
  document.body.dataset.loaded = String(Date.now());  // drawn (tests wait for this)
  if (again) timer = setTimeout(route, again);
}

route();
