"""The intake's marks travel in the transaction of the batch that moves them (a real worker, a
broker of its own).

The ticks report the marks only once a batch has committed: a worker killed in between took
the batch's highs with it, and the next intake, with nothing of those partitions left to read,
never reported them, so the event clock stayed below them for good (CI's kill -9 fault test lost
153 alerts so). Here the ticks are turned off (one an hour): the highs must reach
hub.dossier.events all the same, committed with the events they report."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.domain.calendar import TZ
from hub.protocol import KIND_CLOCK, kind_of, parse_clock
from hub.settings import Settings
from hub.simulate.formats import TOPICS as SIM_TOPICS
from hub.stream.state import to_ms
from hub.testing import committed_offsets, end_offsets, produce, read_topic, running_worker
from hub.topics import DOSSIER_EVENTS
from tests.integration.test_worker_clocks import snapshot
from tests.integration.test_worker_samples import (
    own_broker,  # noqa: F401  (fixture)
    worker_env,
)

pytestmark = pytest.mark.kafka


def test_a_batchs_highs_are_committed_with_it_without_a_tick(
    own_broker: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {**worker_env(own_broker, tmp_path, "marks"), "MOTCUA_TICK_INTERVAL_S": "3600"}
    boot = own_broker.kafka_bootstrap
    received = (datetime.now(TZ) - timedelta(days=2)).replace(microsecond=0)
    topic = SIM_TOPICS["onestop"]
    with running_worker(env, tmp_path / "worker.log"):
        asyncio.run(
            produce(boot, [(topic, b"k", snapshot(received, received + timedelta(days=5)))])
        )
        ends = asyncio.run(end_offsets(boot, [topic]))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                done = asyncio.run(committed_offsets(boot, "marks-intake"))
            except Exception:  # the group's coordinator not there yet
                done = {}
            if all(done.get(tp, 0) >= end for tp, end in ends.items()):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the intake did not commit the message")
        records = asyncio.run(read_topic(boot, DOSSIER_EVENTS))

    clocks = [
        (r.partition, parse_clock(r.value)) for r in records if kind_of(r.headers) == KIND_CLOCK
    ]
    partitions = {r.partition for r in records} | {
        p.partition for p in asyncio.run(end_offsets(boot, [DOSSIER_EVENTS]))
    }
    # one clock record to every partition, each with the snapshot's time as its partition's high
    assert {p for p, _ in clocks} == partitions
    want = to_ms(received)
    for _, clock in clocks:
        highs = {key: mark[0] for key, mark in clock.marks.items() if mark[0] is not None}
        assert list(highs.values()) == [want], clock.marks
        (key,) = highs
        assert key.startswith(f"{topic}:")
