// os.js — the OS pane of the browser page: each worker as the OS saw it in the last
// window ("os" lines from ops.os_view), and the CPU each worker runs on for the
// heat-map's labels. app.js hands it the "os" events (feed) and calls render; the
// os_interference anomalies arrive as ordinary anomalies (their message says the cause).
"use strict";
window.kcoroOs = (() => {
  const last = new Map(); // pool → the pool's last OsSample

  function fmtNum(v, digits) {
    return v == null ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  function cpuOf(pool, worker) {
    const s = last.get(pool);
    if (!s) return null;
    const i = s.worker_ids.indexOf(worker);
    return i < 0 ? null : s.cpus[i];
  }

  function render() {
    const table = document.getElementById("os");
    if (!table || !last.size) return;
    const head = document.createElement("tr");
    for (const h of ["worker", "cpu", "run-queue wait", "involuntary/s", "migrations/s", "page faults/s", "IPC"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    const rows = [head];
    const labelled = last.size > 1;
    for (const [pool, s] of last) {
      s.worker_ids.forEach((w, i) => {
        const tr = document.createElement("tr");
        const wait = s.wait_pct[i];
        const cpu = s.cpus[i] == null ? "–" : `${s.cpus[i]}${s.pinned[i] ? " (pinned)" : ""}`;
        const cells = [labelled ? `${pool} w${w}` : `w${w}`, cpu, wait == null ? "–" : `${fmtNum(wait, 1)} %`,
          fmtNum(s.involuntary_cs_per_s[i], 0), fmtNum(s.migrations_per_s[i], 1), fmtNum(s.page_faults_per_s[i], 0),
          fmtNum(s.ipc[i], 2)];
        cells.forEach((c, k) => {
          const td = document.createElement("td");
          td.textContent = c;
          if (k === 2 && wait != null && wait >= 20) td.className = "bad"; // waits a fifth of the time or more
          tr.append(td);
        });
        rows.push(tr);
      });
    }
    table.replaceChildren(...rows);
  }

  return {
    feed: (ev) => last.set(ev.pool || "all", ev),
    reset: () => { // a new run: the old run's workers go away
      last.clear();
      const table = document.getElementById("os");
      if (table) table.replaceChildren();
    },
    cpuOf,
    render,
  };
})();
