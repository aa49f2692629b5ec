// The Sluice dashboard: a single page over the JobManager's REST API (Flink's paths), with a
// hash router, a refresh every `refresh-interval`, and the REST token asked for when the API
// requires one. Plain JavaScript modules, served as they are: there is no build step.

const view = document.getElementById("view");
let refreshMs = 3000;
let timer = null;
let token = sessionStorage.getItem("sluice-token");

/** Text made safe to put into HTML. */
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

/** A REST call; asks for the token when the API answers 401. */
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    await askForToken();
    return api(path, options);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error((body.errors || [response.statusText]).join("; "));
  }
  return body;
}

function askForToken() {
  const dialog = document.getElementById("token-dialog");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      token = document.getElementById("token-input").value;
      sessionStorage.setItem("sluice-token", token);
      resolve();
    }, { once: true });
    if (!dialog.open) dialog.showModal();
  });
}

function duration(ms) {
  if (ms < 0 || ms === undefined) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

function time(ms) {
  return ms > 0 ? new Date(ms).toLocaleString() : "-";
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

function percent(ratio) {
  return `${Math.round(100 * (ratio || 0))}%`;
}

function rate(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K/s`;
  return `${n.toFixed(n < 10 ? 1 : 0)}/s`;
}

function watermark(value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= -9.2e18) return "no watermark";
  if (n >= 9.2e18) return "end of input";
  return new Date(n).toISOString().replace("T", " ").replace("Z", "");
}

const state = (s) => `<span class="state ${esc(s)}">${esc(s)}</span>`;

function card(label, value) {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div></div>`;
}

function jobsTable(jobs) {
  if (!jobs.length) return `<p class="muted">No jobs.</p>`;
  const rows = jobs.map((j) => `
    <tr class="link" data-href="#/job/${esc(j.jid)}/overview">
      <td>${esc(j.name)}<div class="muted">${esc(j.jid)}</div></td>
      <td>${state(j.state)}</td>
      <td>${time(j["start-time"])}</td>
      <td>${duration(j.duration)}</td>
      <td>${j.tasks ? esc(j.tasks.total) : "-"}</td>
    </tr>`).join("");
  return `<table><thead><tr><th>Job</th><th>State</th><th>Started</th><th>Duration</th><th>Tasks</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function overviewPage() {
  const [overview, jobs] = await Promise.all([api("/overview"), api("/jobs/overview")]);
  document.getElementById("version").textContent = `version ${overview["flink-version"] || ""}`;
  document.getElementById("warnings").innerHTML = (overview.warnings || [])
    .map((w) => `<div>${esc(w)}</div>`).join("");
  const running = jobs.jobs.filter((j) => !["FINISHED", "FAILED", "CANCELED"].includes(j.state));
  const ended = jobs.jobs.filter((j) => ["FINISHED", "FAILED", "CANCELED"].includes(j.state));
  return `<h1>Cluster overview</h1>
    <div class="cards">
      ${card("Task managers", overview.taskmanagers)}
      ${card("Slots available", `${overview["slots-available"]} / ${overview["slots-total"]}`)}
      ${card("Running jobs", overview["jobs-running"])}
      ${card("Finished", overview["jobs-finished"])}
      ${card("Canceled", overview["jobs-cancelled"])}
      ${card("Failed", overview["jobs-failed"])}
    </div>
    <h2>Running jobs</h2>${jobsTable(running)}
    <h2>Completed jobs</h2>${jobsTable(ended)}`;
}

async function jobsPage() {
  const jobs = await api("/jobs/overview");
  return `<h1>Jobs</h1>${jobsTable(jobs.jobs)}`;
}

async function taskManagersPage() {
  const managers = (await api("/taskmanagers")).taskmanagers;
  const rows = managers.map((m) => `
    <tr><td>${esc(m.id)}</td><td>${esc(m.host)}</td>
      <td>${esc(m.freeSlots)} / ${esc(m.slotsNumber)}</td>
      <td>${esc(m.assignedTasks ?? 0)}</td>
      <td>${esc(m.hardware?.cpuCores ?? "")}</td>
      <td class="memory">${bytes(m.memoryUsed ?? 0)} / ${bytes(m.hardware?.physicalMemory ?? 0)}</td>
      <td>${time(m.timeSinceLastHeartbeat)}</td></tr>`).join("");
  return `<h1>Task managers</h1>
    <table><thead><tr><th>Id</th><th>Host</th><th>Free slots</th><th>Tasks</th><th>CPU cores</th>
      <th>Memory used / physical</th><th>Last heartbeat</th></tr></thead>
    <tbody>${rows || `<tr><td colspan="7" class="muted">No task managers registered.</td></tr>`}</tbody></table>`;
}

async function jobManagerPage() {
  const config = await api("/jobmanager/config");
  const rows = config.map((e) => `<tr><td>${esc(e.key)}</td><td>${esc(e.value)}</td></tr>`).join("");
  return `<h1>Job manager</h1><h2>Configuration</h2>
    <table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Layers of the job graph: each vertex one column right of its furthest input. */
function layout(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const depthOf = (node, seen = new Set()) => {
    if (depth.has(node.id)) return depth.get(node.id);
    if (seen.has(node.id)) return 0;
    seen.add(node.id);
    const inputs = (node.inputs || []).map((i) => byId.get(i.id)).filter(Boolean);
    const d = inputs.length ? Math.max(...inputs.map((i) => depthOf(i, seen))) + 1 : 0;
    depth.set(node.id, d);
    return d;
  };
  nodes.forEach((n) => depthOf(n));
  const columns = [];
  nodes.forEach((n) => {
    const d = depth.get(n.id);
    (columns[d] = columns[d] || []).push(n);
  });
  return columns;
}

/** The job graph as SVG: vertices with name, parallelism, records/s, watermark, the busiest
 * subtask's busy and backpressured shares, and a border coloured by backpressure. */
function graph(job, extras) {
  const W = 240, H = 110, GX = 70, GY = 24;
  const columns = layout(job.plan.nodes);
  const vertices = new Map(job.vertices.map((v) => [v.id, v]));
  const pos = new Map();
  columns.forEach((column, x) => column.forEach((n, y) => pos.set(n.id, { x: 20 + x * (W + GX), y: 20 + y * (H + GY) })));
  const width = 40 + columns.length * (W + GX) - GX;
  const height = 40 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const edges = job.plan.nodes.flatMap((n) => (n.inputs || []).map((input) => {
    const from = pos.get(input.id), to = pos.get(n.id);
    if (!from || !to) return "";
    const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
    const mx = (x1 + x2) / 2;
    return `<path class="edge" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 4},${y2}"/>
      <text class="edge-label" x="${mx}" y="${(y1 + y2) / 2 - 4}" text-anchor="middle">${esc(input.ship_strategy)}</text>`;
  })).join("");
  const boxes = job.plan.nodes.map((n) => {
    const v = vertices.get(n.id) || {};
    const p = pos.get(n.id);
    const m = v.metrics || {};
    const level = (extras.backpressure[n.id] || "ok");
    const full = v.name || n.description || "";
    const name = full.length > 30 ? `${full.slice(0, 29)}…` : full;
    return `<g class="vertex" data-vertex="${esc(n.id)}" transform="translate(${p.x},${p.y})">
      <title>${esc(v.name)}</title>
      <rect width="${W}" height="${H}" class="bp-${esc(level)}"></rect>
      <text class="title" x="12" y="22">${esc(name)}</text>
      <text class="detail" x="12" y="42">Parallelism ${esc(v.parallelism)} · ${esc(v.status)}</text>
      <text class="detail" x="12" y="60">In ${rate(m["read-records-per-second"] || 0)} · Out ${rate(m["write-records-per-second"] || 0)}</text>
      <text class="detail" x="12" y="78">Watermark ${esc(extras.watermarks[n.id] || "-")}</text>
      <text class="detail busy" x="12" y="96">Busy ${percent(extras.busy[n.id])} · Backpressured ${percent(extras.backpressured[n.id])}</text>
    </g>`;
  }).join("");
  return `<div class="graph" id="job-graph"><svg width="${width}" height="${height}" role="img" aria-label="job graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
    <path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>${edges}${boxes}</svg></div>`;
}

function verticesTable(job) {
  const rows = job.vertices.map((v) => `<tr><td>${esc(v.name)}</td><td>${state(v.status)}</td>
    <td>${esc(v.parallelism)}</td><td>${esc(v.metrics["read-records"])}</td><td>${esc(v.metrics["write-records"])}</td>
    <td>${bytes(v.metrics["read-bytes"])}</td><td>${bytes(v.metrics["write-bytes"])}</td>
    <td>${esc(v.metrics["accumulated-busy-time"])} ms</td><td>${esc(v.metrics["accumulated-idle-time"])} ms</td>
    <td>${esc(v.metrics["accumulated-backpressured-time"])} ms</td></tr>`).join("");
  return `<table><thead><tr><th>Vertex</th><th>State</th><th>Parallelism</th><th>Records in</th><th>Records out</th>
    <th>Bytes in</th><th>Bytes out</th><th>Busy</th><th>Idle</th><th>Backpressured</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Duration and size of the recent checkpoints as two lines. */
function checkpointChart(history) {
  const points = [...history].reverse();
  if (points.length < 2) return `<p class="muted">The chart appears after two checkpoints.</p>`;
  const W = 640, H = 160, P = 30;
  const line = (values, cls) => {
    const max = Math.max(...values, 1);
    const d = values.map((v, i) => `${P + (i * (W - 2 * P)) / (values.length - 1)},${H - P - (v / max) * (H - 2 * P)}`).join(" ");
    return `<polyline class="${cls}" points="${d}"/>`;
  };
  return `<svg class="chart" id="checkpoint-chart" width="${W}" height="${H}">
    ${line(points.map((c) => c.end_to_end_duration), "duration")}
    ${line(points.map((c) => c.checkpointed_size), "size")}
    <text x="${P}" y="16">— duration (max ${duration(Math.max(...points.map((c) => c.end_to_end_duration)))}</text>
    <text x="${W / 2}" y="16" fill="#d97706">— size (max ${bytes(Math.max(...points.map((c) => c.checkpointed_size)))})</text>
  </svg>`;
}

async function checkpointsTab(id) {
  const stats = await api(`/jobs/${id}/checkpoints`);
  const config = await api(`/jobs/${id}/checkpoints/config`).catch(() => null);
  const c = stats.counts;
  const rows = stats.history.map((h) => `<tr><td>${esc(h.id)}</td><td>${h.is_savepoint ? "savepoint" : "checkpoint"}</td>
    <td>${time(h.trigger_timestamp)}</td><td>${duration(h.end_to_end_duration)}</td><td>${bytes(h.checkpointed_size)}</td>
    <td class="muted">${esc(h.external_path)}</td></tr>`).join("");
  return `<div class="cards">${card("Completed", c.completed)}${card("Failed", c.failed)}${card("Restored", c.restored)}
      ${card("Interval", config ? duration(config.interval) : "off")}</div>
    ${checkpointChart(stats.history)}
    <h2>History</h2>
    <table id="checkpoint-history"><thead><tr><th>Id</th><th>Type</th><th>Triggered</th><th>Duration</th><th>Size</th><th>Path</th></tr></thead>
    <tbody>${rows || `<tr><td colspan="6" class="muted">No checkpoint completed yet.</td></tr>`}</tbody></table>`;
}

async function exceptionsTab(id) {
  const entries = (await api(`/jobs/${id}/exceptions`)).exceptionHistory.entries;
  if (!entries.length) return `<p class="muted">No exceptions.</p>`;
  return entries.map((e) => `<div class="panel"><strong>${time(e.timestamp)}</strong>
    ${e.taskName ? `<span class="muted"> in ${esc(e.taskName)}</span>` : ""}<pre>${esc(e.stacktrace)}</pre></div>`).join("");
}

async function configTab(id) {
  const config = await api(`/jobs/${id}/config`);
  const ec = config["execution-config"] || {};
  const user = Object.entries(ec["user-config"] || {}).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("");
  return `<table><tbody>
    <tr><td>Parallelism</td><td>${esc(ec["job-parallelism"])}</td></tr>
    <tr><td>Restart strategy</td><td>${esc(ec["restart-strategy"])}</td></tr>
    ${user}</tbody></table>`;
}

async function graphExtras(job) {
  const backpressure = {}, watermarks = {}, busy = {}, backpressured = {};
  await Promise.all(job.vertices.map(async (v) => {
    const [bp, wm] = await Promise.all([
      api(`/jobs/${job.jid}/vertices/${v.id}/backpressure`).catch(() => ({})),
      api(`/jobs/${job.jid}/vertices/${v.id}/watermarks`).catch(() => []),
    ]);
    backpressure[v.id] = bp["backpressure-level"] || "ok";
    const most = (key) => (bp.subtasks || []).reduce((a, s) => Math.max(a, s[key] || 0), 0);
    busy[v.id] = most("busyRatio");
    backpressured[v.id] = most("ratio");
    const lowest = wm.map((w) => Number(w.value)).reduce((a, b) => Math.min(a, b), Infinity);
    watermarks[v.id] = wm.length ? watermark(lowest) : "-";
  }));
  return { backpressure, watermarks, busy, backpressured };
}

async function jobPage(id, tab) {
  const job = await api(`/jobs/${id}`);
  const tabs = ["overview", "checkpoints", "exceptions", "configuration"].map((t) =>
    `<a href="#/job/${esc(id)}/${t}" class="${t === tab ? "active" : ""}" data-tab="${t}">${t[0].toUpperCase()}${t.slice(1)}</a>`).join("");
  const running = job.state === "RUNNING";
  let body;
  if (tab === "checkpoints") body = await checkpointsTab(id);
  else if (tab === "exceptions") body = await exceptionsTab(id);
  else if (tab === "configuration") body = await configTab(id);
  else body = `${graph(job, await graphExtras(job))}<h2>Vertices</h2>${verticesTable(job)}`;
  return `<h1>${esc(job.name)} ${state(job.state)}
      <span class="actions">
        <button id="savepoint" ${running ? "" : "disabled"}>Trigger savepoint</button>
        <button id="cancel" class="danger" ${running ? "" : "disabled"}>Cancel job</button>
        <span id="action-message" class="message"></span>
      </span></h1>
    <div class="muted">${esc(job.jid)} · started ${time(job["start-time"])} · ${duration(job.duration)}</div>
    <nav class="tabs">${tabs}</nav>${body}`;
}

function wireJobActions(id) {
  const message = (text) => { document.getElementById("action-message").textContent = text; };
  document.getElementById("cancel")?.addEventListener("click", async () => {
    if (!confirm("Cancel this job?")) return;
    try {
      await api(`/jobs/${id}?mode=cancel`, { method: "PATCH" });
      message("Cancelling…");
      render();
    } catch (e) { message(e.message); }
  });
  document.getElementById("savepoint")?.addEventListener("click", async () => {
    try {
      const trigger = (await api(`/jobs/${id}/savepoints`, { method: "POST", body: JSON.stringify({ "cancel-job": false }) }))["request-id"];
      message("Savepoint in progress…");
      for (;;) {
        const status = await api(`/jobs/${id}/savepoints/${trigger}`);
        if (status.status.id === "COMPLETED") {
          const op = status.operation || {};
          message(op.location ? `Savepoint at ${op.location}` : `Savepoint failed: ${op["failure-cause"]?.["stack-trace"]}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (e) { message(e.message); }
  });
}

async function render() {
  clearTimeout(timer);
  const [page, id, tab] = location.hash.replace(/^#\/?/, "").split("/");
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.classList.toggle("active", a.dataset.nav === (page === "job" ? "jobs" : page || "overview")));
  // An open dialog or a message of an action is not refreshed away.
  const keep = document.getElementById("action-message")?.textContent;
  try {
    let html;
    if (page === "job" && id) html = await jobPage(id, tab || "overview");
    else if (page === "jobs") html = await jobsPage();
    else if (page === "taskmanagers") html = await taskManagersPage();
    else if (page === "jobmanager") html = await jobManagerPage();
    else html = await overviewPage();
    view.innerHTML = html;
    view.querySelectorAll("tr[data-href]").forEach((row) =>
      row.addEventListener("click", () => { location.hash = row.dataset.href; }));
    if (page === "job" && id) {
      wireJobActions(id);
      if (keep) document.getElementById("action-message").textContent = keep;
    }
  } catch (e) {
    view.innerHTML = `<div class="panel"><strong>Cannot load this page:</strong> ${esc(e.message)}</div>`;
  }
  timer = setTimeout(render, refreshMs);
}

async function start() {
  try {
    const config = await api("/config");
    refreshMs = config["refresh-interval"] || refreshMs;
  } catch (e) { /* the page says so on its first render */ }
  window.addEventListener("hashchange", render);
  render();
}

start();
