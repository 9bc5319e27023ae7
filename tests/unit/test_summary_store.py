"""The summary store (hub/stream/summaries.py) on RocksDB and in memory: what it keeps across a
reopen (summaries, consumer positions, clocks, worker entries), tombstones, the received-time
index, and its statistics against `unit_stats` over what it holds."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.domain.alerts import AlertType
from hub.domain.calendar import TZ
from hub.domain.stats import Summary, ms, unit_stats
from hub.protocol import clock_key, encode_summary_clock, encode_worker, worker_key
from hub.settings import Settings, StateStore
from hub.stream import summaries
from hub.stream.clock import system_clock
from hub.stream.summaries import SummaryStore
from hub.stream.summary_db import StoreLockedError

DAY = 86_400_000
NOW = datetime(2026, 11, 20, 10, tzinfo=TZ)
T = ms(NOW)


def summary(code: str, received: int | None, unit: str = "000.00.01.H12", **kw: object) -> Summary:
    return Summary(code=code, unit=unit, unit_name="UBND xã Một", received=received, **kw)  # type: ignore[arg-type]


def late(code: str, received: int) -> Summary:
    """Open, PROCESSING_LATE raised two days after receipt."""
    due = received + DAY
    return summary(
        code,
        received,
        due=[(received, due)],
        alerts=[(AlertType.PROCESSING_LATE.value, due + DAY, None)],
    )


def make(tmp_path: Path, kind: StateStore) -> SummaryStore:
    cfg = Settings(clock="event", data_dir=tmp_path, state_store=kind, instance_id="t")
    store = SummaryStore(cfg, system_clock)
    store.open()
    return store


def fill(store: SummaryStore) -> list[Summary]:
    made = [
        summary("A-1", T - 40 * DAY, closed=(T - 35 * DAY, True)),
        summary("A-2", T - 3 * DAY, channel="2"),
        late("A-3", T - 10 * DAY),
        replace(late("B-1", T - 2 * DAY), unit="B", unit_name=None),
        summary("A-4", None),
        summary("A-5", T + 5 * DAY),  # received after now: not counted yet
    ]
    records = [(i % 3, s.code.encode(), s.dumps()) for i, s in enumerate(made)]
    records.append((0, clock_key(0), encode_summary_clock(T)))
    records.append((1, worker_key("w1"), encode_worker("http://127.0.0.1:1", [0, 1], T)))
    store.apply_batch(records, {0: 17, 1: 9, 2: 4})
    return made


def figures(store: SummaryStore, summaries: list[Summary]) -> None:
    """The store's statistics equal unit_stats over `summaries`, for several periods."""
    now = store.as_of()
    assert now is not None
    month = datetime(2026, 11, 1, tzinfo=TZ)
    periods = [(None, None), (month, None), (month, month + timedelta(days=30))]
    periods += [(month - timedelta(days=30), month)]  # ends before now: the received index
    periods += [(NOW - timedelta(days=5), None)]  # not a midnight: the received index
    for start, end in periods:
        for by_procedure in (False, True):
            want = unit_stats(summaries, start, end, now, by_procedure=by_procedure)
            got = asyncio.run(store.unit_rows(start, end, now, by_procedure=by_procedure))
            assert got == want


@pytest.mark.parametrize("kind", [StateStore.MEMORY, StateStore.ROCKSDB])
def test_the_store_answers_like_unit_stats(tmp_path: Path, kind: StateStore) -> None:
    store = make(tmp_path, kind)
    made = fill(store)
    asyncio.run(store.load())
    figures(store, made)
    assert len(store.summaries) == 6 and "A-3" in store.summaries and "Z" not in store.summaries
    assert sorted(store.summaries) == sorted(s.code for s in made)
    assert sorted(s.code for s in store.summaries.values()) == sorted(s.code for s in made)
    assert store.summaries["A-2"] == made[1] and store.partition_of["A-2"] == 1
    assert [s.code for s in store.open_summaries("000.00.01.H12", NOW)] == ["A-2", "A-3", "A-5"]
    assert [s.code for s in store.in_partitions({0})] == ["A-1", "B-1"]
    store.close()


def test_a_reopened_store_keeps_everything_and_resumes_from_its_positions(tmp_path: Path) -> None:
    store = make(tmp_path, StateStore.ROCKSDB)
    made = fill(store)
    store.close()
    again = make(tmp_path, StateStore.ROCKSDB)
    assert again.positions == {0: 17, 1: 9, 2: 4}  # where the reader goes on from
    assert again.clocks == {0: T} and again.as_of() == NOW
    assert again.owner_url(1) == "http://127.0.0.1:1"
    assert again.count == 6 and again.summaries["A-3"] == made[2]
    assert again.read_messages == 0
    asyncio.run(again.load())
    figures(again, made)
    again.close()


def test_a_store_in_use_is_refused(tmp_path: Path) -> None:
    store = make(tmp_path, StateStore.ROCKSDB)
    with pytest.raises(StoreLockedError):
        make(tmp_path, StateStore.ROCKSDB)
    store.close()


@pytest.mark.parametrize("kind", [StateStore.MEMORY, StateStore.ROCKSDB])
def test_tombstones_and_changes(tmp_path: Path, kind: StateStore) -> None:
    store = make(tmp_path, kind)
    made = fill(store)
    asyncio.run(store.load())
    moved = summary("A-2", T - 50 * DAY, closed=(T - 49 * DAY, False))
    store.apply_batch(
        [(1, b"A-3", None), (1, b"A-2", moved.dumps()), (1, worker_key("w1"), None)], {1: 12}
    )
    left = [moved if s.code == "A-2" else s for s in made if s.code != "A-3"]
    assert store.get("A-3") is None and "A-3" not in store.summaries and store.count == 5
    assert store.positions[1] == 12 and store.workers == {}
    # the received index follows the change of receipt: A-2 left the last days (by time)
    recent = [s.code for s in store.received_in(NOW - timedelta(days=5), None)]
    assert recent == ["B-1", "A-5"]
    figures(store, left)
    assert [s.code for s in store.open_summaries("000.00.01.H12", NOW)] == ["A-5"]
    store.apply(1, b"A-9", None)  # a tombstone of a dossier never seen: nothing changes
    assert store.count == 5
    if kind is StateStore.ROCKSDB:
        store.close()
        again = make(tmp_path, kind)
        asyncio.run(again.load())
        assert again.count == 5 and again.positions[1] == 12
        figures(again, left)
        again.close()


def test_now_moving_on_and_back(tmp_path: Path) -> None:
    store = make(tmp_path, StateStore.MEMORY)
    made = fill(store)
    asyncio.run(store.load())
    for days in (1, 3, 6, 2):  # A-5 is received on day 5; back to day 2: recounted
        store.apply(0, clock_key(1), encode_summary_clock(T + days * DAY))
        store.clocks = {1: T + days * DAY}
        figures(store, made)


def test_a_clean_stop_keeps_the_aggregates_until_the_next_write(tmp_path: Path) -> None:
    store = make(tmp_path, StateStore.ROCKSDB)
    made = fill(store)
    asyncio.run(store.load())
    store.save()
    store.close()
    again = make(tmp_path, StateStore.ROCKSDB)
    asyncio.run(again.load())
    assert again._snapshot  # restored, not counted
    figures(again, made)
    again.apply(0, b"A-1", None)  # the first write drops the saved aggregates
    again.close()
    third = make(tmp_path, StateStore.ROCKSDB)
    asyncio.run(third.load())
    assert not third._snapshot
    figures(third, made[1:])
    third.close()


def test_a_request_while_the_store_counts_moves_the_count_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web answers while `load` counts (it yields between chunks): a request at a later
    "now" advances what is counted so far, and the rest is counted at that "now"."""
    monkeypatch.setattr(summaries, "LOAD_CHUNK", 2)
    store = make(tmp_path, StateStore.MEMORY)
    made = fill(store)

    async def counting() -> None:
        task = asyncio.create_task(store.load())
        await asyncio.sleep(0)
        assert not store.loaded and store.aggregates is not None
        later = NOW + timedelta(days=6)  # past A-5's receipt: the heap moves it
        store.clocks = {0: ms(later)}
        await store.unit_rows(None, None, later)
        await task

    asyncio.run(counting())
    assert store.aggregates is not None and store.aggregates.now == ms(NOW + timedelta(days=6))
    figures(store, made)


def test_a_period_the_aggregates_do_not_answer_is_scanned_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other tasks (the judge, the reader) run between the chunks of a long scan."""
    monkeypatch.setattr(summaries, "SCAN_CHUNK", 1)
    store = make(tmp_path, StateStore.MEMORY)
    made = fill(store)
    asyncio.run(store.load())
    start, end = NOW - timedelta(days=60), NOW - timedelta(days=1)
    others: list[int] = []

    async def scanning() -> tuple[list[dict[str, object]], int]:
        async def other() -> None:
            for i in range(20):
                others.append(i)
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)
        before = len(others)
        rows = await store.unit_rows(start, end, NOW)
        during = len(others) - before
        await task
        return rows, during

    rows, during = asyncio.run(scanning())
    assert during > 0
    assert rows == unit_stats(made, start, end, NOW)
