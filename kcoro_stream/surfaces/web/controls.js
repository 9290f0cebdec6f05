// controls.js — the page's run controls: pause / resume and the sampling interval.
// They call the run's control methods (kcoro_stream/control) as JSON-RPC 2.0 over the
// page's WebSocket: {"kind":"rpc","request":{...}} → {"kind":"rpc","response":{...}}.
// app.js hands over each new socket (attach) and every "rpc" message (answer).
"use strict";

window.kcsControls = (() => {
  let ws = null;
  let nextId = 1;
  // The run's token, from the URL the owner opened (http://HOST:PORT/#token=...; its file,
  // control.sock.token, only the owner can read): without it the page shows, but cannot steer.
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const pending = new Map(); // id -> method

  const el = (id) => document.getElementById(id);

  function say(text, cls) {
    const out = el("ctl-result");
    out.textContent = text;
    out.className = `ctl-result ${cls || ""}`;
  }

  function call(method, params) {
    if (!ws || ws.readyState !== WebSocket.OPEN) { say("not connected", "error"); return; }
    const id = nextId++;
    pending.set(id, method);
    const request = { jsonrpc: "2.0", id, method };
    if (params !== undefined) request.params = params;
    ws.send(JSON.stringify({ kind: "rpc", request, token }));
    say(`${method}…`, "");
  }

  function showPaused(paused) {
    el("ctl-pause").disabled = paused;
    el("ctl-resume").disabled = !paused;
  }

  function answer(msg) {
    const r = msg.response;
    if (!r) return;
    const method = pending.get(r.id) || "call";
    pending.delete(r.id);
    if (r.error) { say(`${method}: ${r.error.message}`, "error"); return; }
    const res = r.result || {};
    if (method === "pause" || method === "resume") showPaused(res.paused);
    if (method === "status") {
      showPaused(!!res.paused);
      if (res.interval_ms) el("ctl-interval").value = `${res.interval_ms}ms`;
      say(res.mode ? `${res.mode}, ${res.interval_ms} ms${res.paused ? ", paused" : ""}` : "", "");
      return;
    }
    if (method === "set_interval") { say(`interval ${res.interval_ms} ms`, "ok"); return; }
    say(`${method}: ok`, "ok");
  }

  function attach(socket) {
    ws = socket;
    socket.addEventListener("open", () => call("status"));
  }

  el("ctl-pause").addEventListener("click", () => call("pause"));
  el("ctl-resume").addEventListener("click", () => call("resume"));
  el("ctl-form").addEventListener("submit", (e) => {
    e.preventDefault();
    call("set_interval", [el("ctl-interval").value.trim()]);
  });

  return { attach, answer, call };
})();
