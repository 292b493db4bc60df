// SPDX-License-Identifier: Apache-2.0
// funkd web UI: talks to this funkd's OpenFaaS API; every value from the server goes into the
// page as text (textContent, text nodes), never as markup.
"use strict";

const POLL_MS = 2000;
const HISTORY = 180; // samples kept for the graphs (6 minutes at POLL_MS)
const LOG_LINES_MAX = 2000;
const BODY_SHOW_MAX = 256 * 1024;

const $ = (id) => document.getElementById(id);
// Absolute URLs from the origin: a page opened as http://user:pass@host/ui/ has a base URL with
// credentials, from which fetch() refuses to resolve relative URLs (the browser still sends the
// credentials it cached for this origin).
const url = (path) => location.origin + path;

const state = {
  ns: "openfaas-fn",
  functions: [],
  samples: [], // {t, fns: {key: {count, sum, errors}}, replicas: {key: n}, idle, busy}
  logs: null, // {name, ns, abort}
};

// el("td", {class: "num"}, "text", childNode): builds DOM; strings become text nodes.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    } else {
      e.setAttribute(k, String(v));
    }
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
  }
  return e;
}

function setText(node, text) {
  node.textContent = text === undefined || text === null ? "" : String(text);
}

function connState(ok, why) {
  const c = $("conn");
  setText(c, ok ? "live" : why);
  c.className = "pill " + (ok ? "ok" : "bad");
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(url(path), opts);
  if (r.status === 401) connState(false, "unauthorized: reload the page to sign in");
  return r;
}

function fnKey(f) {
  return f.name + "." + (f.namespace || state.ns);
}

// ---- metrics (Prometheus text from /metrics) -------------------------------------------------

function parseLabels(s) {
  const out = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(s)) !== null) out[m[1]] = m[2].replace(/\\(.)/g, "$1");
  return out;
}

function parseMetrics(text) {
  const fns = {};
  let idle = 0, busy = 0;
  const get = (k) => (fns[k] = fns[k] || { count: 0, sum: 0, errors: 0 });
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1], labels = parseLabels(m[2] || ""), v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    if (name === "gateway_functions_seconds_count" && labels.function_name) {
      const s = get(labels.function_name);
      s.count += v;
      if (Number(labels.code) >= 400) s.errors += v;
    } else if (name === "gateway_functions_seconds_sum" && labels.function_name) {
      get(labels.function_name).sum += v;
    } else if (name === "funk_instances") {
      if (labels.state === "idle") idle = v;
      if (labels.state === "busy") busy = v;
    }
  }
  return { fns, idle, busy };
}

// ---- the function list ---------------------------------------------------------------------------

function fmtMs(sec) {
  if (!Number.isFinite(sec)) return "-";
  const ms = sec * 1000;
  return ms < 10 ? ms.toFixed(2) + " ms" : ms < 1000 ? ms.toFixed(1) + " ms" : (ms / 1000).toFixed(2) + " s";
}

function labelText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => k + "=" + v).join(", ");
}

function selectFunction(name) {
  for (const id of ["i-fn", "l-select", "m-fn"]) {
    const s = $(id);
    if ([...s.options].some((o) => o.value === name)) s.value = name;
  }
  followLogs();
  drawCharts();
}

async function deleteFunction(name) {
  if (!window.confirm("Delete function " + name + "?")) return;
  const r = await api("DELETE", "/system/functions", { functionName: name, namespace: state.ns });
  setText($("d-result"), r.ok ? "deleted " + name : "delete failed: " + r.status + " " + (await r.text()));
  refresh(true);
}

function renderFunctions(list, metrics) {
  const tb = $("functions").tBodies[0];
  const rows = [];
  for (const f of list) {
    const m = metrics.fns[fnKey(f)] || { count: 0, sum: 0, errors: 0 };
    const labels = labelText(f.labels);
    const row = el("tr", { "data-name": f.name, class: "fn-row" },
      el("td", { class: "name" }, f.name),
      el("td", { class: "image", title: f.image || "" }, f.image || ""),
      el("td", {}, f.mode || ""),
      el("td", {}, f.isolation || ""),
      el("td", { class: "num" }, (f.availableReplicas ?? "-") + "/" + (f.replicas ?? "-")),
      el("td", { class: "num invocations" }, f.invocationCount ?? m.count),
      el("td", { class: "num latency" }, m.count ? fmtMs(m.sum / m.count) : "-"),
      el("td", { class: "num" }, m.errors),
      el("td", { class: "labels", title: labels }, labels),
      el("td", {}, el("button", { type: "button", class: "small danger",
        on: { click: (ev) => { ev.stopPropagation(); deleteFunction(f.name); } } }, "Delete")));
    row.addEventListener("click", () => selectFunction(f.name));
    rows.push(row);
  }
  tb.replaceChildren(...rows);
  $("fn-empty").hidden = list.length > 0;
  setText($("fn-count"), list.length ? "(" + list.length + ")" : "");
  for (const [id, first] of [["i-fn", null], ["l-select", null], ["m-fn", "all functions"]]) {
    const s = $(id), keep = s.value;
    const opts = first ? [el("option", { value: "" }, first)] : [];
    for (const f of list) opts.push(el("option", { value: f.name }, f.name));
    s.replaceChildren(...opts);
    if ([...s.options].some((o) => o.value === keep)) s.value = keep;
  }
}

async function refresh(force) {
  if (document.hidden && force !== true) return; // a background tab does not poll
  try {
    const [rf, rm] = await Promise.all([
      api("GET", "/system/functions?namespace=" + encodeURIComponent(state.ns)),
      fetch(url("/metrics"), { credentials: "same-origin" }),
    ]);
    if (!rf.ok) {
      if (rf.status !== 401) connState(false, "functions: HTTP " + rf.status);
      return;
    }
    const list = await rf.json();
    const metrics = rm.ok ? parseMetrics(await rm.text()) : { fns: {}, idle: 0, busy: 0 };
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    state.functions = list;
    renderFunctions(list, metrics);
    const replicas = {};
    for (const f of list) replicas[fnKey(f)] = f.replicas || 0;
    state.samples.push({ t: Date.now() / 1000, fns: metrics.fns, replicas, idle: metrics.idle, busy: metrics.busy });
    if (state.samples.length > HISTORY) state.samples.shift();
    drawCharts();
    if (!state.logs && $("l-select").value) followLogs();
    connState(true);
  } catch (e) {
    connState(false, "offline: " + e.message);
  }
}

// ---- graphs (canvas) -------------------------------------------------------------------------------

// Series from consecutive samples: rate and mean latency of the chosen function (or all).
function series() {
  const want = $("m-fn").value ? $("m-fn").value + "." + state.ns : null;
  const rate = [], lat = [], rep = [], inst = [];
  const pick = (s) => {
    let count = 0, sum = 0, replicas = 0;
    for (const [k, v] of Object.entries(s.fns)) if (!want || k === want) { count += v.count; sum += v.sum; }
    for (const [k, v] of Object.entries(s.replicas)) if (!want || k === want) replicas += v;
    return { count, sum, replicas };
  };
  for (let i = 0; i < state.samples.length; i++) {
    const s = state.samples[i], cur = pick(s);
    rep.push([s.t, cur.replicas]);
    inst.push([s.t, s.idle + s.busy]);
    if (i === 0) continue;
    const p = state.samples[i - 1], prev = pick(p), dt = s.t - p.t;
    const dc = Math.max(0, cur.count - prev.count);
    if (dt > 0) rate.push([s.t, dc / dt]);
    if (dc > 0) lat.push([s.t, ((cur.sum - prev.sum) / dc) * 1000]);
  }
  return { rate, lat, rep, inst };
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// Seconds between time-axis ticks for a span: at most about six ticks.
function tickStep(span) {
  for (const st of [10, 15, 30, 60, 120]) if (span / st <= 6) return st;
  return 120;
}

// Draws lines with a dot per sample over the time the page has sampled (1 to 6 minutes, newest
// at the right); the canvas's data-points says how many points were drawn.
function drawChart(canvas, lines, unit) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 48, R = 12, T = 10, B = 20;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px sans-serif";
  const now = Date.now() / 1000;
  const first = state.samples.length ? state.samples[0].t : now;
  const span = Math.min((HISTORY * POLL_MS) / 1000, Math.max(60, now - first));
  const t0 = now - span;
  let max = 0;
  for (const l of lines) for (const [, v] of l.points) max = Math.max(max, v);
  max = niceMax(max);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  ctx.strokeStyle = "#d8dde3";
  ctx.fillStyle = "#5b6570";
  ctx.lineWidth = 1;
  ctx.textAlign = "left";
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(W - R, yy); ctx.stroke();
    ctx.fillText((Number.isInteger(v) ? v : v.toFixed(2)) + (i === 4 && unit ? " " + unit : ""), 2, yy + 4);
  }
  const step = tickStep(span);
  for (let a = 0; a <= span; a += step) {
    const xx = x(now - a);
    ctx.textAlign = a === 0 ? "right" : "center";
    ctx.fillText(a === 0 ? "now" : a % 60 ? "-" + a + "s" : "-" + a / 60 + "m", a === 0 ? W - 2 : xx, H - 5);
  }
  ctx.textAlign = "left";
  let drawn = 0;
  lines.forEach((l, li) => {
    const pts = l.points.filter(([t]) => t >= t0);
    ctx.strokeStyle = ctx.fillStyle = l.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
    for (const [t, v] of pts) { ctx.beginPath(); ctx.arc(x(t), y(v), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    drawn += pts.length;
    ctx.fillText(l.label, W - R - 110, T + 12 + 13 * li);
  });
  canvas.dataset.points = String(drawn);
}

function drawCharts() {
  const s = series();
  drawChart($("chart-rate"), [{ label: "invocations/s", color: "#1f6feb", points: s.rate }], "/s");
  drawChart($("chart-latency"), [{ label: "mean latency", color: "#d1242f", points: s.lat }], "ms");
  drawChart($("chart-replicas"), [
    { label: "replicas", color: "#1a7f37", points: s.rep },
    { label: "instances (all)", color: "#8250df", points: s.inst },
  ], "");
}

// ---- deploy ----------------------------------------------------------------------------------------

function parsePairs(text, what) {
  const out = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(what + ": '" + line + "' is not KEY=VALUE");
    out[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return out;
}

async function deploy(ev) {
  ev.preventDefault();
  const res = $("d-result");
  res.className = "result";
  try {
    const spec = { service: $("d-name").value.trim(), image: $("d-image").value.trim(), namespace: state.ns };
    const env = parsePairs($("d-env").value, "environment");
    const labels = parsePairs($("d-labels").value, "labels");
    if (Object.keys(env).length) spec.envVars = env;
    if (Object.keys(labels).length) spec.labels = labels;
    setText(res, "deploying " + spec.service + " ...");
    const r = await api($("d-update").checked ? "PUT" : "POST", "/system/functions", spec);
    const text = (await r.text()).trim();
    res.className = "result " + (r.ok ? "ok" : "bad");
    setText(res, r.ok ? "deployed " + spec.service + " (HTTP " + r.status + ")" : "HTTP " + r.status + ": " + text);
    if (r.ok) {
      await refresh(true);
      selectFunction(spec.service);
    }
  } catch (e) {
    res.className = "result bad";
    setText(res, e.message);
  }
}

// ---- invoke ----------------------------------------------------------------------------------------

async function invoke(ev) {
  ev.preventDefault();
  const name = $("i-fn").value;
  const out = $("i-out"), status = $("i-status"), body = $("i-resp");
  if (!name) return;
  let path = $("i-path").value.trim() || "/";
  if (path[0] !== "/") path = "/" + path;
  const method = $("i-method").value;
  const headers = new Headers();
  out.hidden = false;
  $("i-headers-out").tBodies[0].replaceChildren();
  try {
    for (const raw of $("i-headers").value.split("\n")) {
      const line = raw.trim();
      if (!line) continue;
      const i = line.indexOf(":");
      if (i <= 0) throw new Error("header '" + line + "' is not Name: value");
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const base = $("i-async").checked ? "/async-function/" : "/function/";
    const target = base + encodeURIComponent(name) + "." + encodeURIComponent(state.ns) + path;
    const opts = { method, headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") opts.body = $("i-body").value;
    setText(status, "...");
    status.className = "pill";
    const t0 = performance.now();
    const r = await fetch(url(target), opts);
    const buf = await r.arrayBuffer();
    const ms = performance.now() - t0;
    setText(status, r.status + " " + (r.statusText || ""));
    status.className = "pill " + (r.ok ? "ok" : "bad");
    const d = r.headers.get("X-Duration-Seconds");
    setText($("i-time"), ms.toFixed(1) + " ms round trip" + (d ? ", " + fmtMs(Number(d)) + " in the function" : "") +
      ", " + buf.byteLength + " bytes");
    const rows = [];
    for (const [k, v] of r.headers.entries()) rows.push(el("tr", {}, el("th", {}, k), el("td", {}, v)));
    $("i-headers-out").tBodies[0].replaceChildren(...rows);
    let text = new TextDecoder("utf-8").decode(buf.slice(0, BODY_SHOW_MAX));
    if (buf.byteLength > BODY_SHOW_MAX) text += "\n... (" + (buf.byteLength - BODY_SHOW_MAX) + " more bytes)";
    setText(body, text);
    setTimeout(() => refresh(true), 300);
  } catch (e) {
    setText(status, "error");
    status.className = "pill bad";
    setText($("i-time"), "");
    setText(body, e.message);
  }
}

// ---- logs (GET /system/logs, ndjson, follow streams) ----------------------------------------------

function addLogLine(box, j) {
  const line = el("div", { class: "logline" },
    el("span", { class: "ts" }, (j.timestamp || "").replace("T", " ").replace(/\.\d+Z$/, "Z")), " ",
    el("span", { class: "inst" }, j.instance || ""), " ",
    el("span", { class: "text" }, j.text || ""));
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.appendChild(line);
  while (box.childNodes.length > LOG_LINES_MAX) box.removeChild(box.firstChild);
  if (stick) box.scrollTop = box.scrollHeight;
}

async function streamLogs(job) {
  const box = $("logs");
  let since = null;
  while (!job.abort.signal.aborted) {
    let q = "/system/logs?name=" + encodeURIComponent(job.name) + "&namespace=" + encodeURIComponent(job.ns);
    q += since ? "&since=" + encodeURIComponent(since) : "&tail=200";
    if (job.follow) q += "&follow=true";
    try {
      const r = await fetch(url(q), { credentials: "same-origin", signal: job.abort.signal });
      if (!r.ok) {
        box.appendChild(el("div", { class: "logline bad" }, "logs: HTTP " + r.status));
        if (r.status === 404 || r.status === 401) return;
      } else {
        const reader = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        const seenAtSince = new Set(job.lastTexts);
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const raw = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!raw) continue;
            let j;
            try { j = JSON.parse(raw); } catch { continue; }
            // a reconnect asks from the last timestamp: skip the lines already shown at it
            if (since && j.timestamp === since && seenAtSince.has(j.text)) continue;
            if (j.timestamp !== job.lastTs) { job.lastTs = j.timestamp; job.lastTexts = []; }
            job.lastTexts.push(j.text);
            addLogLine(box, j);
          }
        }
      }
    } catch (e) {
      if (job.abort.signal.aborted) return;
    }
    if (!job.follow) return;
    since = job.lastTs || null;
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

function followLogs() {
  const name = $("l-select").value;
  if (state.logs) state.logs.abort.abort();
  state.logs = null;
  $("logs").replaceChildren();
  setText($("l-fn"), name ? "(" + name + ")" : "");
  if (!name) return;
  const job = { name, ns: state.ns, follow: $("l-follow").checked, abort: new AbortController(), lastTs: null, lastTexts: [] };
  state.logs = job;
  streamLogs(job);
}

// ---- start -----------------------------------------------------------------------------------------

async function start() {
  $("deploy").addEventListener("submit", deploy);
  $("invoke").addEventListener("submit", invoke);
  $("l-select").addEventListener("change", followLogs);
  $("l-follow").addEventListener("change", followLogs);
  $("l-clear").addEventListener("click", () => $("logs").replaceChildren());
  $("m-fn").addEventListener("change", drawCharts);
  $("ns").addEventListener("change", () => {
    state.ns = $("ns").value;
    state.samples = [];
    followLogs();
    refresh(true);
  });
  try {
    const ri = await api("GET", "/system/info");
    if (ri.ok) {
      const i = await ri.json();
      const v = i.version || {};
      setText($("info"), (i.provider && i.provider.provider ? i.provider.provider : "funkd") + " " +
        (v.release || "") + (v.sha ? " (" + v.sha + ")" : ""));
    }
    const rn = await api("GET", "/system/namespaces");
    const nss = rn.ok ? await rn.json() : [];
    if (!nss.includes(state.ns)) nss.unshift(state.ns);
    $("ns").replaceChildren(...nss.map((n) => el("option", { value: n }, n)));
    $("ns").value = state.ns;
  } catch (e) {
    connState(false, "offline: " + e.message);
  }
  await refresh(true);
  setInterval(refresh, POLL_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(true); });
}

document.addEventListener("DOMContentLoaded", start);
