"""Live surfaces: what do the WebSocket fan-out and the terminal dashboard cost?

Questions:
1. WebSocket fan-out — with 0 (baseline), 1, 10 and 50 local clients reading
   in another process, how fast does the pipeline push batches into the sink
   (``send`` + the sink's writer tasks, all in the pipeline's process), how
   many messages/s reach the clients, and what is dropped?
2. Dashboard refresh cost — CPU % of the process feeding a 10 ms sample
   stream (100 batches/s) through the ``tui`` sink into a (headless) textual
   dashboard at several redraw rates (the default is at most 5/s), vs the
   same stream with no dashboard. Headless textual still lays out and renders
   every frame; only the terminal write is skipped.

Run:  python benchmarks/surfaces.py [--batches 20000] [--clients 1,10,50] [--paced-seconds 5] [--tui-seconds 5]

Figures are wall-clock on this machine; ratios are against the baseline
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "surfaces"))
from surface_factory import Script

from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.surfaces.websocket import WebSocketSink

# ------------------------------------------------------------------ clients


async def _clients_main(url: str, n: int, last_seq: int) -> None:
    """Child process: n clients read until they see ``last_seq`` (or the server closes)."""
    from trio_websocket import ConnectionClosed, open_websocket_url

    counts = [0] * n  # WebSocket messages
    events = [0] * n
    last = [0] * n
    dropped = [0] * n
    ready = trio.Event()
    connected = 0

    async def client(i: int) -> None:
        nonlocal connected
        try:
            async with open_websocket_url(url, max_message_size=1 << 26) as ws:
                connected += 1
                if connected == n:
                    ready.set()
                while True:
                    msg = json.loads(await ws.get_message())
                    if msg["kind"] != "batch" or msg["snapshot"]:
                        continue
                    counts[i] += 1
                    events[i] += len(msg["events"])
                    last[i] = msg["seq"]
                    dropped[i] = msg["dropped"]
                    if msg["seq"] >= last_seq:
                        return
        except ConnectionClosed:
            return

    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(client, i)
        await ready.wait()
        print("ready", flush=True)
    print(json.dumps({"counts": counts, "events": events, "last": last, "dropped": dropped}), flush=True)


# ---------------------------------------------------------------- fan-out


async def fanout(n_clients: int, batches: list[list[Any]], pace: float | None = None) -> dict[str, float]:
    """Push ``batches`` as fast as possible (``pace`` None) or at ``pace`` batches/s."""
    sink = build_sink({"sink": "websocket", "port": 0}, SinkContext())
    assert isinstance(sink, WebSocketSink)
    await sink.open()
    proc = None
    try:
        if n_clients:
            proc = await trio.lowlevel.open_process(
                [sys.executable, __file__, "--clients-proc", sink.ws_url, str(n_clients), str(len(batches))],
                stdout=subprocess.PIPE,
            )
            assert proc.stdout is not None
            buf = b""
            while b"ready\n" not in buf:
                chunk = await proc.stdout.receive_some()
                if not chunk:
                    raise RuntimeError("client process died")
                buf += chunk
            await sink.wait_clients(n_clients)
        cpu0, t0 = time.process_time(), time.perf_counter()
        start = trio.current_time()
        for i, batch in enumerate(batches):
            if pace is not None:
                await trio.sleep_until(start + i / pace)
            await sink.send(batch)
            await trio.sleep(0)  # the pipeline's checkpoint between batches
        t_sent = time.perf_counter() - t0
        cpu_sent = time.process_time() - cpu0
        result: dict[str, Any] = {}
        if proc is not None:
            assert proc.stdout is not None
            while True:  # the client process ends once every client saw the last batch
                chunk = await proc.stdout.receive_some()
                if not chunk:
                    break
                buf += chunk
            await proc.wait()
            result = json.loads(buf.decode().split("ready\n", 1)[1].strip().splitlines()[-1])
        t_all = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        stats = sink.statistics()
    finally:
        await sink.aclose()
        if proc is not None and proc.returncode is None:
            proc.kill()
    messages = sum(result.get("counts", []))
    delivered = sum(result.get("events", []))
    return {
        "clients": n_clients,
        "send_rate": len(batches) / t_sent,
        "messages_rate": messages / t_all if n_clients else 0.0,
        "delivered_rate": delivered / t_all if n_clients else 0.0,
        "per_client_rate": delivered / t_all / n_clients if n_clients else 0.0,
        "dropped_events": stats.dropped,
        "cpu_per_batch_us": cpu / len(batches) * 1e6,
        "cpu_pct": 100 * cpu_sent / t_sent,
    }


# ---------------------------------------------------------------- dashboard


def dashboard_cpu(seconds: float, with_tui: bool, refresh_interval: float = 0.2) -> dict[str, float]:
    """CPU % of this process while a 10 ms stream flows (startup excluded)."""
    from kcoro_stream.surfaces.tui import TuiHandle, run_tui

    script = Script(batches=int(seconds * 100), window_ms=10, dual=True)
    measured: dict[str, float] = {}

    async def feed(handle: TuiHandle | None) -> int:
        sink = build_sink("tui", SinkContext(dashboard=handle)) if handle is not None else None
        if sink is not None:
            await sink.open()
        await trio.sleep(0.5)  # let the dashboard settle: startup is not refresh cost
        cpu0, t0 = time.process_time(), time.perf_counter()
        start = trio.current_time()
        for i, batch in enumerate(script):
            await trio.sleep_until(start + i * 0.01)  # 10 ms sampling
            if sink is not None:
                await sink.send(batch)
        measured["cpu"], measured["wall"] = time.process_time() - cpu0, time.perf_counter() - t0
        if sink is not None:
            await sink.aclose()
        return 0

    if with_tui:
        run_tui(feed, title="bench", headless=True, size=(160, 50), refresh_interval=refresh_interval)
    else:
        trio.run(feed, None)
    return {"cpu_pct": 100 * measured["cpu"] / measured["wall"], "wall": measured["wall"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=20000)
    ap.add_argument("--clients", default="1,10,50")
    ap.add_argument("--paced-seconds", type=float, default=5.0)
    ap.add_argument("--tui-seconds", type=float, default=5.0)
    ap.add_argument("--clients-proc", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.clients_proc:
        url, n, last = args.clients_proc
        trio.run(_clients_main, url, int(n), int(last))
        return

    script = Script(batches=args.batches, window_ms=10, alert_at=5)
    batches = list(script)
    events = sum(len(b) for b in batches)
    counts = [0] + [int(x) for x in args.clients.split(",")]
    print(
        f"WebSocket fan-out, as fast as possible: {len(batches)} batches ({events / len(batches):.1f} events each)"
    )
    rows = [trio.run(fanout, n, batches) for n in counts]
    base = rows[0]["send_rate"]
    print(
        f"{'clients':>7} {'send batches/s':>15} {'vs 0':>6} {'cpu µs/batch':>13} {'ws msg/s':>9} "
        f"{'events/s out':>13} {'per client':>11} {'dropped ev':>11}"
    )
    for r in rows:
        print(
            f"{r['clients']:>7} {r['send_rate']:>15,.0f} {r['send_rate'] / base:>6.2f} "
            f"{r['cpu_per_batch_us']:>13.1f} {r['messages_rate']:>9,.0f} {r['delivered_rate']:>13,.0f} "
            f"{r['per_client_rate']:>11,.0f} {r['dropped_events']:>11,}"
        )
    paced = batches[: int(args.paced_seconds * 100)]
    print(f"\nWebSocket fan-out at 10 ms sampling (100 batches/s) for {args.paced_seconds:.0f} s")
    rows = [trio.run(fanout, n, paced, 100.0) for n in counts]
    base = rows[0]["send_rate"]
    print(
        f"{'clients':>7} {'ingest batches/s':>17} {'vs 0':>6} {'CPU %':>6} {'ws msg/s':>9} "
        f"{'events/s out':>13} {'dropped ev':>11}"
    )
    for r in rows:
        print(
            f"{r['clients']:>7} {r['send_rate']:>17,.1f} {r['send_rate'] / base:>6.2f} {r['cpu_pct']:>6.1f} "
            f"{r['messages_rate']:>9,.0f} {r['delivered_rate']:>13,.0f} {r['dropped_events']:>11,}"
        )

    if args.tui_seconds > 0:
        print(
            f"\nDashboard refresh cost: 10 ms sampling (100 batches/s, dual mode), "
            f"{args.tui_seconds:.0f} s steady state, 160x50 headless textual"
        )
        headless = dashboard_cpu(args.tui_seconds, with_tui=False)["cpu_pct"]
        print(f"{'':>28} {'CPU %':>7} {'vs headless':>12}")
        print(f"{'headless (no UI)':>28} {headless:>7.1f} {1.0:>12.2f}")
        for interval in (0.2, 0.5, 1.0):
            tui = dashboard_cpu(args.tui_seconds, with_tui=True, refresh_interval=interval)["cpu_pct"]
            label = f"dashboard, redraw ≤{1 / interval:.0f}/s"
            print(f"{label:>28} {tui:>7.1f} {tui / max(headless, 0.01):>12.2f}")


if __name__ == "__main__":
    main()
