"""The summary store on disk with a real worker and a real broker: a worker restarted on its data
directory (stopped, or killed -9) serves the same /api/units and late lists as before, and reads
only what was written to hub.dossier.summary since, not the topic from its start."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bench.state import make_summaries
from hub import testing
from hub.domain.calendar import TZ
from hub.domain.stats import Summary, ms, unit_stats
from hub.protocol import clock_key, encode_summary_clock
from hub.testing import LocalBroker, Process, produce
from hub.topics import DOSSIER_SUMMARY
from hub.web import period_bounds

pytestmark = pytest.mark.kafka
QUERIES = [
    "period=all",
    "period=month",
    "period=year&by_procedure=1",
    "from=2026-01-01&to=2026-06-30",  # may end before now: the received index
]


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def serving(worker: Process, port: int, dossiers: int, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.popen.poll() is None, worker.tail()
        try:
            status: dict[str, Any] = get(port, "/health")["summaries"]
            if status["loaded"] and status["caught_up"] and status["dossiers"] == dossiers:
                return status
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not serving {dossiers} dossiers: {worker.tail()}")


def check(port: int, summaries: dict[str, Summary], now: datetime) -> int:
    """The worker's figures are unit_stats over `summaries`; how many late dossiers it listed."""
    for query in QUERIES:
        q = dict(p.split("=") for p in query.split("&"))
        start, end = period_bounds(q, now)
        want = unit_stats(summaries.values(), start, end, now, by_procedure="by_procedure" in q)
        assert get(port, f"/api/units?{query}") == json.loads(json.dumps(want)), query
    t, listed = ms(now), 0
    for unit in sorted({s.unit for s in summaries.values()})[:5]:
        late = {s.code for s in summaries.values() if s.unit == unit and s.past_due(t)}
        body = get(port, f"/api/units/{urllib.request.quote(unit)}")
        assert {d["code"] for d in body["late"]} == late
        listed += len(late)
    return listed


def test_a_restarted_worker_resumes_from_its_stored_positions(tmp_path: Path) -> None:
    now = datetime.now(TZ).replace(microsecond=0)
    made = {s.code: s for s in make_summaries(1500, ms(now), seed=3)}
    clock = (DOSSIER_SUMMARY, clock_key(0), encode_summary_clock(ms(now)))
    with LocalBroker(tmp_path / "broker") as kafka:
        boot = kafka.bootstrap
        records = [(DOSSIER_SUMMARY, c.encode(), s.dumps()) for c, s in made.items()]
        asyncio.run(produce(boot, [*records, clock]))
        port = testing.free_ports(1)[0]
        env = testing.worker_env(
            boot, tmp_path / "data", app_id="st", web_port=port, instance_id="w0", clock="event"
        )
        worker = testing.start_worker(env, tmp_path / "w0.log")
        try:
            first = serving(worker, port, len(made))
            assert first["messages_read"] >= len(made) + 1  # the whole topic
            assert check(port, made, now) > 0
        finally:
            assert worker.stop()
        # while it is away: some dossiers close, some are dropped
        codes = sorted(made)
        changed = {c: replace(made[c], closed=(ms(now) - 1000, True)) for c in codes[:60]}
        gone = codes[60:80]
        made |= changed
        for c in gone:
            del made[c]
        later = [(DOSSIER_SUMMARY, c.encode(), s.dumps()) for c, s in changed.items()]
        later += [(DOSSIER_SUMMARY, c.encode(), None) for c in gone]
        asyncio.run(produce(boot, later))
        (tmp_path / "w0.log").rename(tmp_path / "w0-first.log")
        worker = testing.start_worker(env, tmp_path / "w0.log")
        try:
            again = serving(worker, port, len(made))
            # the 80 records since, and the worker entries of its own (every 10 s): not 1 500
            assert 80 <= again["messages_read"] < 200
            assert worker.logged(" dossiers restored in ")  # the aggregates of the clean stop
            check(port, made, now)
            worker.popen.send_signal(signal.SIGKILL)
            worker.popen.wait(10)
        finally:
            worker.stop()
        (tmp_path / "w0.log").rename(tmp_path / "w0-second.log")
        with testing.running_worker(env, tmp_path / "w0.log") as worker:
            killed = serving(worker, port, len(made))
            assert killed["messages_read"] < 100  # a kill -9 loses no stored position
            assert worker.logged(" dossiers counted in ")  # no saved aggregates: counted
            check(port, made, now)
