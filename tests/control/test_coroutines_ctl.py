"""``ctl RUN coroutines`` / ``ctl RUN channels`` against a real ``--coroutines --stuck`` run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kcoro_stream.control import call

from .test_live import ks, start, wait_for, wait_started


def test_ctl_coroutines_and_channels_name_the_stuck_coroutine_and_its_channel(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = start("-m", "channel", "--workers", "2", "-d", "60", "--coroutines", "--stuck", "--log", str(run))
    try:
        wait_started(run, proc)

        def parked() -> Any:
            rows = call(run, "coroutines", {"state": "parked"})["coroutines"]
            return [r for r in rows if r["name"] == "stuck"]

        (stuck,) = wait_for("stuck in the snapshot", parked, proc)
        assert stuck["wait"] == "channel" and stuck["state"] == "parked" and stuck["worker"] == -1
        chans = {c["name"]: c for c in call(run, "channels", {})["channels"]}
        assert chans["stuck"]["channel"] == stuck["wait_id"]
        assert chans["stuck"]["receivers"] == [stuck["coroutine"]] and chans["stuck"]["senders"] == []
        assert chans["packets"]["closed"] is False
        r = ks("ctl", str(run), "coroutines", "top=1")
        assert r.returncode == 0, r.stderr
        assert len(json.loads(r.stdout)["coroutines"]) == 1
        r = ks("ctl", str(run), "coroutines", "state=asleep")
        assert r.returncode == 1 and "(-32602)" in r.stderr and "state must be one of" in r.stderr
        r = ks("ctl", str(run), "stop")
        assert r.returncode == 0
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
