"""The judge's local store (hub/stream/table.py, hub/stream/rocks.py): the batch's overlay, the
commit with its changelog offsets, partitions kept apart, a reopened store, the lock; and where
a restore reads from (hub/stream/restore.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.protocol import clock_key
from hub.stream.restore import start_offset
from hub.stream.rocks import RocksStore, StoreLockedError
from hub.stream.table import DossierTable, LocalStore, MemoryStore, Stored

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "rocksdb"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], LocalStore]]:
    opened: list[LocalStore] = []

    def make() -> LocalStore:
        store: LocalStore = (
            MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "dossiers", 8)
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _table(store: LocalStore, *active: int) -> DossierTable:
    table = DossierTable(store)
    table.active = set(active)
    return table


def test_reads_see_the_batch_and_the_store_only_its_commit(
    make_store: Callable[[], LocalStore],
) -> None:
    table = _table(make_store(), 0, 1)
    table.restored(0, [(b"A", b"a0"), (b"B", b"b0")], 10)
    table.write(b"A", b"a1", 0)
    table.write(b"B", None, 0)
    table.write(b"C", b"c1", 1)
    assert table.get(b"A") == b"a1" and table.get(b"B") is None and table.get(b"C") == b"c1"
    assert table.store.get(0, b"A") == b"a0" and table.store.get(0, b"B") == b"b0"
    assert table.store.get(1, b"C") is None
    assert sorted(table.take()) == [(b"A", b"a1", 0), (b"B", None, 0), (b"C", b"c1", 1)]
    assert dict(table.scan(0)) == {b"A": b"a1"}  # the index rebuild sees the batch too
    table.commit({0: 14, 1: 3})
    assert table.overlay == {}
    assert table.store.get(0, b"A") == b"a1" and table.store.get(0, b"B") is None
    assert table.store.get(1, b"C") == b"c1"
    stored0, stored1 = table.store.stored(0), table.store.stored(1)
    assert stored0 is not None and (stored0.offset, stored0.count) == (14, 1)
    assert stored1 is not None and (stored1.offset, stored1.count) == (3, 1)


def test_a_discarded_batch_leaves_nothing(make_store: Callable[[], LocalStore]) -> None:
    table = _table(make_store(), 0)
    table.restored(0, [(b"A", b"a0")], 5)
    table.write(b"A", b"a1", 0)
    table.write(b"N", b"n1", 0)
    table.discard()
    assert table.get(b"A") == b"a0" and table.get(b"N") is None
    stored = table.store.stored(0)
    assert stored is not None and (stored.offset, stored.count) == (5, 1)


def test_the_last_write_of_a_key_wins_and_is_sent_once(
    make_store: Callable[[], LocalStore],
) -> None:
    table = _table(make_store(), 2)
    table.write(b"K", b"1", 2)
    table.write(b"K", b"2", 2)
    table.write(clock_key(2), b"{}", 2)
    assert sorted(table.take()) == sorted([(b"K", b"2", 2), (clock_key(2), b"{}", 2)])
    table.commit({2: 7})
    assert table.store.get(2, b"K") == b"2"
    assert len(table) == 1  # the clock key is no dossier


def test_partitions_are_apart_and_counted(make_store: Callable[[], LocalStore]) -> None:
    store = make_store()
    table = _table(store, 0, 1)
    table.restored(0, [(b"A", b"x"), (b"B", b"x"), (b"A", None), (b"C", b"x")], 4)
    table.restored(1, [(b"A", b"y")], 1)
    assert store.get(0, b"A") is None and store.get(1, b"A") == b"y"
    assert dict(store.scan(0)) == {b"B": b"x", b"C": b"x"}
    assert len(table) == 3 and table.get(b"A") == b"y"
    store.wipe(0)
    assert store.stored(0) is None and dict(store.scan(0)) == {}
    assert store.get(1, b"A") == b"y" and store.partitions() == {1}


def test_revoked_partitions_leave_the_view(make_store: Callable[[], LocalStore]) -> None:
    store = make_store()
    table = _table(store, 0, 1)
    table.restored(1, [(b"A", b"y")], 1)
    table.revoke({1})
    assert table.get(b"A") is None and len(table) == 0
    # on disk it stays, for a later assignment to read on from; in memory it is dropped
    assert (store.get(1, b"A") == b"y") == store.keeps_revoked


def test_touch_moves_the_time_not_the_offset(make_store: Callable[[], LocalStore]) -> None:
    table = _table(make_store(), 0)
    table.restored(0, [(b"A", b"x")], 9)
    before = table.store.stored(0)
    assert before is not None
    table.touch({0, 5})  # 5: nothing stored, nothing made up
    after = table.store.stored(0)
    assert after is not None and after.offset == 9 and after.count == 1 and after.at >= before.at
    assert table.store.stored(5) is None


def test_a_reopened_rocksdb_store_has_what_was_committed(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "dossiers", 8)
    table = _table(store, 3)
    table.restored(3, [(b"A", b"a0")], 2)
    table.write(b"A", b"a1", 3)
    table.commit({3: 6})
    table.write(b"B", b"b1", 3)  # a batch whose transaction never committed: the process dies
    store.close()
    again = RocksStore(tmp_path / "dossiers", 8)
    try:
        assert again.get(3, b"A") == b"a1" and again.get(3, b"B") is None
        stored = again.stored(3)
        assert stored is not None and (stored.offset, stored.count) == (6, 1)
        assert again.partitions() == {3}
        assert again.disk_bytes() > 0
    finally:
        again.close()


def test_a_store_in_use_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "dossiers", 8)
    try:
        with pytest.raises(StoreLockedError, match="in use by pid"):
            RocksStore(tmp_path / "dossiers", 8)
        # another process too (the lock is the directory's, not the Python object's)
        code = (
            "import sys; from pathlib import Path; from hub.stream.rocks import RocksStore, "
            "StoreLockedError\n"
            "try:\n    RocksStore(Path(sys.argv[1]), 8)\nexcept StoreLockedError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "dossiers")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 3, run.stderr
        assert "a directory of its own" in run.stdout
    finally:
        store.close()
    RocksStore(tmp_path / "dossiers", 8).close()  # free again once closed


@pytest.mark.parametrize(
    ("stored", "begin", "end", "age", "expected"),
    [
        (None, 0, 50, 0.0, 0),  # nothing local: from the start
        (Stored(30, 0.0, 1), 0, 50, 10.0, 30),  # the tail only
        (Stored(50, 0.0, 1), 0, 50, 10.0, 50),  # caught up: nothing to read
        (Stored(30, 0.0, 1), 40, 50, 10.0, 40),  # the log starts past it: from the start
        (Stored(60, 0.0, 1), 0, 50, 10.0, 0),  # past the end: another topic, from the start
        (Stored(30, 0.0, 1), 0, 50, 7_200.0, 0),  # older than tombstones are kept
    ],
)
def test_where_a_restore_reads_from(
    stored: Stored | None, begin: int, end: int, age: float, expected: int
) -> None:
    at = 1_000_000.0
    s = None if stored is None else Stored(stored.offset, at, stored.count)
    assert start_offset(s, begin, end, at + age, max_age_s=3_600.0) == expected


def test_restored_data_is_as_old_as_its_last_record(make_store: Callable[[], LocalStore]) -> None:
    # a standby working through an old backlog: the data is complete as of the last record's
    # time, not as of when it was read (restore.start_offset judges its age by this)
    table = _table(make_store(), 0)
    table.restored(0, [(b"A", b"x")], 3, at=1_000.0)
    stored = table.store.stored(0)
    assert stored is not None and stored.at == 1_000.0
    table.restored(0, [], 3)  # read to the end now
    stored = table.store.stored(0)
    assert stored is not None and stored.at > 1_000_000_000
