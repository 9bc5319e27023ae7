"""One clock (issue 12, item 5): under the demo's warped wall clock, the statistics are judged
at the worker's warped "now", never at the real time.

A worker runs with `MOTCUA_CLOCK=wall` and a warped clock set in the middle of the sample feed
(20/11/2026; the real date is weeks later); the whole feed is produced. `/api/units` must then
give, for the instant in its `X-Motcua-As-Of` header (the warped now less the allowed lateness),
exactly the rows that the engine gives for the same dossiers judged at that instant: and those
differ from the rows at the real time, so a "now" taken from `time.time()` would fail.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub import testing
from hub.domain.calendar import TZ
from hub.domain.stats import Summary, summarize, unit_stats
from hub.settings import Settings
from hub.testing import LocalBroker, produce, running_worker
from tests.samples import SECURITY_CODE, TOPICS, scheduled
from tests.unit.test_samples_rules import CAL, ENGINE, _events

pytestmark = pytest.mark.kafka

ORIGIN = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)  # the feed runs 02/11 to 06/12/2026
SPEED = 30.0  # simulated seconds per real second, as the demo's clock but slower
LATENESS_S = 600


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Settings]:
    with LocalBroker(tmp_path / "broker") as kafka:
        yield kafka.settings


def units(port: int) -> tuple[datetime, list[dict[str, Any]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/units", timeout=10) as res:
        as_of = datetime.fromisoformat(res.headers["X-Motcua-As-Of"])
        return as_of, json.loads(res.read())


def engine_rows(summaries: list[Summary], at: datetime) -> list[dict[str, Any]]:
    return unit_stats(summaries, now=at)


def test_statistics_are_judged_on_the_warped_clock(own_broker: Settings, tmp_path: Path) -> None:
    env = testing.worker_env(
        own_broker.kafka_bootstrap,
        tmp_path / "worker-data",
        app_id="warped",
        clock="wall",
        clock_speed=SPEED,
        clock_origin=ORIGIN.isoformat(),
        allowed_lateness_s=LATENESS_S,
        land_security_code=SECURITY_CODE,
        max_event_lead_s=100 * 365 * 86_400,  # the feed's later days lie ahead of the clock
    )
    summaries = [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]
    port = int(env["MOTCUA_WEB_PORT"])
    records = [(TOPICS[line.source], None, line.raw) for line in scheduled()]
    with running_worker(env, tmp_path / "worker.log"):
        asyncio.run(produce(own_broker.kafka_bootstrap, records))
        # the worker judges as it reads; compare until its rows are the engine's at its as-of
        # (a figure may change between reading the rows and the header's instant moving on)
        deadline = time.monotonic() + 120
        seen: list[tuple[datetime, list[dict[str, Any]], list[dict[str, Any]]]] = []
        while time.monotonic() < deadline:
            as_of, rows = units(port)
            want = engine_rows(summaries, as_of)
            seen.append((as_of, rows, want))
            if rows and rows == want:
                break
            time.sleep(1.0)
        as_of, rows, want = seen[-1]
        assert rows == want, f"at {as_of}: the hub's rows differ from the engine's"
    # the instant is the warped clock's, not the real one
    real_now = datetime.now(TZ)
    assert ORIGIN - timedelta(seconds=LATENESS_S) <= as_of < ORIGIN + timedelta(hours=2)
    assert abs(real_now - as_of) > timedelta(days=7)
    # and it matters: judged at the real time the same dossiers give other figures
    assert engine_rows(summaries, real_now) != rows
    assert sum(r["received"] for r in rows) < len(summaries)
