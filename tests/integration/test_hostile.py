"""Hostile and broken records against a real worker on a real broker (issue 9).

Stray records on the hub's own topics (the summary topic, the common event stream) neither stop
the worker nor change what it says about the real feed: the sample feed produced after them gives
exactly the expected alerts, before and after a restart (the summary topic is compacted and read
again from its start at every start). Requests out of range are answered 400, not 500.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hub import testing
from hub.codec import decode_alert
from hub.protocol import (
    KIND_CLAIM,
    KIND_CLOCK,
    KIND_EVENT,
    KIND_HEADER,
    KIND_WITHDRAW,
    clock_key,
    parse_dead_letter_headers,
)
from hub.settings import Settings
from hub.testing import LocalBroker, RawRecord, produce, read_topic, running_worker
from hub.topics import ALERTS, DEADLETTER, DOSSIER_EVENTS, DOSSIER_SUMMARY
from tests.integration.harness import wait_for_alerts
from tests.samples import SECURITY_CODE, TOPICS, expected_keys, scheduled

pytestmark = pytest.mark.kafka
YEAR_9999_MS = 253_402_300_799_000
GOOD_SUMMARY = json.dumps({"code": "X-1", "unit": "X"}).encode()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Settings]:
    with LocalBroker(tmp_path / "broker") as kafka:
        yield kafka.settings


def poison() -> list[RawRecord]:
    """Records another program, an old version or a bug could leave on the internal topics."""
    summaries: list[RawRecord] = [
        (DOSSIER_SUMMARY, key, value, [], 0)
        for key, value in [
            # (a record without a key the broker itself refuses on a compacted topic)
            (b"\xff\xfe", GOOD_SUMMARY),
            (b"X-1", b"not json"),
            (b"X-1", b"[" * 200_000),
            (b"X-1", b'{"code": "X-1", "unit": 7}'),
            (b"X-1", b'{"code": "X-1", "unit": "X", "received": "soon"}'),
            (b"X-1", b'{"code": "X-1", "unit": "X", "alerts": [["EVIL", 0, null]]}'),
            (clock_key(0), b"tomorrow"),
            (clock_key(1), str(YEAR_9999_MS).encode()),
        ]
    ]
    far = {"agency.onestop.status:0": [YEAR_9999_MS, True]}
    events: list[RawRecord] = [
        (DOSSIER_EVENTS, b"X-1", b"\x00garbage avro", [(KIND_HEADER, KIND_EVENT)], p)
        for p in range(2)
    ]
    events += [
        (DOSSIER_EVENTS, b"X-1", b"{}", [(KIND_HEADER, b"nonsense")], 0),
        (DOSSIER_EVENTS, b"", b"{not json", [(KIND_HEADER, KIND_CLOCK)], 0),
        (
            DOSSIER_EVENTS,
            b"",
            json.dumps({"wall": 0, "marks": far}).encode(),
            [(KIND_HEADER, KIND_CLOCK)],
            1,
        ),
        (
            DOSSIER_EVENTS,
            b"",
            json.dumps({"wall": 0, "expect": 5_000_000}).encode(),
            [(KIND_HEADER, KIND_CLOCK)],
            2,
        ),
        (DOSSIER_EVENTS, b"tax:1", b'{"code": 7}', [(KIND_HEADER, KIND_CLAIM)], 0),
        (DOSSIER_EVENTS, b"X-1", b'{"ids": 1}', [(KIND_HEADER, KIND_WITHDRAW)], 0),
        (DOSSIER_EVENTS, b"X-1", None, [(KIND_HEADER, KIND_EVENT)], 0),  # a tombstone
    ]
    return summaries + events


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_poison_on_internal_topics_neither_stops_nor_fools_a_worker(
    own_broker: Settings, tmp_path: Path
) -> None:
    boot = own_broker.kafka_bootstrap
    env = testing.worker_env(
        boot,
        tmp_path / "data",
        app_id="hostile",
        clock="event",
        idle_timeout_s=3,
        land_security_code=SECURITY_CODE,
        max_event_lead_s=100 * 365 * 86_400,  # the feed runs to 2026-12-06
    )
    port = int(env["MOTCUA_WEB_PORT"])
    stray = poison()
    asyncio.run(produce(boot, stray))
    with running_worker(env, tmp_path / "worker.log") as worker:
        time.sleep(3)  # the worker meets the poison before the feed
        asyncio.run(produce(boot, [(TOPICS[line.source], None, line.raw) for line in scheduled()]))
        alerts = wait_for_alerts(boot, at_least=len(expected_keys()))
        assert worker.popen.poll() is None
        status, body = get(port, "/api/units")
        assert status == 200, body[:500]
        units = json.loads(body)
        assert units and all(isinstance(row["unit_code"], str) for row in units)
        assert "X-1" not in json.loads(get(port, "/api/search?q=X-1")[1])
        assert get(port, "/api/units?to=9999-12-31")[0] == 400
        assert get(port, "/api/units?from=nonsense")[0] == 400
        assert get(port, "/health")[0] == 200
    kept = [a for a in alerts if a.details.get("reason") != "late-data"]
    assert (
        sorted((a.type.value, a.state.value, a.dossier_code, a.condition_at) for a in kept)
        == expected_keys()
    )
    # each stray record on the event stream is dead-lettered once, as INTERNAL, from the judge
    dead = asyncio.run(read_topic(boot, DEADLETTER))
    internal = [parse_dead_letter_headers(r.headers) for r in dead]
    internal = [d for d in internal if d.topic == DOSSIER_EVENTS]
    stray_events = [r for r in stray if r[0] == DOSSIER_EVENTS]
    refused_clocks = 1  # the far-future mark is refused inside a valid record: counted, not dead
    assert len(internal) == len(stray_events) - refused_clocks - 1  # -1: expect 5M is ignored
    assert all(d.reason == "INTERNAL" and d.connector == "judge" for d in internal)

    # restarted, the worker reads the compacted summary topic, poison included, from its start
    with running_worker(env, tmp_path / "again.log") as worker:
        time.sleep(5)
        assert worker.popen.poll() is None
        assert get(port, "/api/units")[0] == 200
    again = asyncio.run(read_topic(boot, ALERTS))
    assert len(again) == len(alerts)  # the poison raised nothing on the way back up
    assert all(
        decode_alert(r.value).condition_at < datetime(2027, 1, 1).astimezone() for r in again
    )
