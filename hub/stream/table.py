"""The judge's state: every dossier of the partitions this worker judges, and its changelog.

Two layers:

- a `LocalStore` holds what is committed, per partition of hub.dossier.events (dossier key ->
  stored state, hub/stream/state.py; the clock key of a partition -> its watermark), together
  with the changelog offset each partition's data reaches: `RocksStore` on disk
  (hub/stream/rocks.py, the worker's default), `MemoryStore` in the process (tests);
- `DossierTable`, the judge's view: the store's partitions this worker judges, under the writes
  of the batch in hand (the overlay).

The judge writes into the overlay; the judge loop sends the overlay's records to the changelog
topic `<app id>-dossiers-changelog` (compacted, partitioned like hub.dossier.events) inside the
transaction that commits the batch's input offsets and outputs, and only once that transaction
has committed does it `commit` the overlay to the store, with the changelog offsets the records
got. So the store never holds a state whose transaction did not commit: it is at most one batch
behind the changelog (a crash between the two commits), and reading the changelog from the
stored offset on catches it up. An aborted batch is `discard`ed.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from hub.protocol import is_internal_key

log = logging.getLogger(__name__)

Change = tuple[bytes, bytes | None, int]  # (key, value or None: deleted, partition)


@dataclass(frozen=True)
class Stored:
    """What a store holds of a partition: the changelog offset its data reaches (the next
    record to read), when it was written (wall time, seconds), how many dossiers."""

    offset: int
    at: float
    count: int


class LocalStore(ABC):
    """Committed states per partition, with the changelog offset they reach."""

    # an on-disk store keeps the partitions judged elsewhere (their changelog's tail is all a
    # later assignment reads); an in-memory one drops them
    keeps_revoked = True

    @abstractmethod
    def get(self, partition: int, key: bytes) -> bytes | None: ...

    @abstractmethod
    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of the partition, internal keys included."""

    @abstractmethod
    def stored(self, partition: int) -> Stored | None: ...

    @abstractmethod
    def partitions(self) -> set[int]:
        """The partitions the store has data (and an offset) for."""

    @abstractmethod
    def apply(
        self, changes: Iterable[Change], offsets: Mapping[int, int], at: float | None = None
    ) -> None:
        """The changes and the partitions' new offsets, all or nothing. `at`: the time the
        data is known complete as of (the last record's time; by default now)."""

    @abstractmethod
    def wipe(self, partition: int) -> None:
        """Forget the partition: its data and its offset."""

    def disk_bytes(self) -> int:
        return 0

    def close(self) -> None:
        return None


class MemoryStore(LocalStore):
    """The store in the process: gone with it; revoked partitions are dropped (memory)."""

    keeps_revoked = False

    def __init__(self) -> None:
        self.data: dict[int, dict[bytes, bytes]] = {}
        self._stored: dict[int, Stored] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get(partition, {}).get(key)

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        yield from list(self.data.get(partition, {}).items())

    def stored(self, partition: int) -> Stored | None:
        return self._stored.get(partition)

    def partitions(self) -> set[int]:
        return set(self._stored)

    def apply(
        self, changes: Iterable[Change], offsets: Mapping[int, int], at: float | None = None
    ) -> None:
        counts = {p: s.count for p, s in self._stored.items()}
        touched = set(offsets)
        for key, value, p in changes:
            part = self.data.setdefault(p, {})
            existed = key in part
            if value is None:
                part.pop(key, None)
            else:
                part[key] = value
            if not is_internal_key(key):
                counts[p] = counts.get(p, 0) + (value is not None) - existed
            touched.add(p)
        when = time.time() if at is None else at
        for p in touched:
            s = self._stored.get(p)
            offset = offsets.get(p, s.offset if s else 0)
            self._stored[p] = Stored(offset, when, counts.get(p, 0))

    def wipe(self, partition: int) -> None:
        self.data.pop(partition, None)
        self._stored.pop(partition, None)


class DossierTable(Mapping[bytes, bytes]):
    """The judge's table: the judged partitions of the local store, under the batch's writes."""

    def __init__(self, store: LocalStore | None = None) -> None:
        self.store: LocalStore = store if store is not None else MemoryStore()
        self.active: set[int] = set()  # partitions judged here, restored
        self.overlay: dict[tuple[int, bytes], bytes | None] = {}

    # -- reads ------------------------------------------------------------------------------------
    def get_in(self, partition: int, key: bytes) -> bytes | None:
        """The state of `key` on `partition`, as the batch in hand left it."""
        found = self.overlay.get((partition, key), _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        return self.store.get(partition, key)

    def __getitem__(self, key: bytes) -> bytes:
        """A key on any judged partition (the web face, which knows no partition)."""
        for p in sorted(self.active):
            value = self.get_in(p, key)
            if value is not None:
                return value
        raise KeyError(key)

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a partition, as the batch in hand left it (the deadline
        index's rebuild)."""
        over = {k: v for (p, k), v in self.overlay.items() if p == partition}
        for key, value in self.store.scan(partition):
            if key not in over:
                yield key, value
        for key, written in over.items():
            if written is not None:
                yield key, written

    def __iter__(self) -> Iterator[bytes]:
        for p in sorted(self.active):
            for key, _ in self.scan(p):
                yield key

    def __len__(self) -> int:
        return self.dossier_count()

    def dossier_count(self) -> int:
        """Dossiers of the judged partitions, as committed (kept by the store, not counted)."""
        return sum(s.count for p in self.active if (s := self.store.stored(p)) is not None)

    # -- the batch ---------------------------------------------------------------------------
    def write(self, key: bytes, value: bytes | None, partition: int) -> None:
        """The judge's writer: seen at once by reads, stored once the batch commits."""
        self.overlay[(partition, key)] = value

    def take(self) -> list[Change]:
        """The batch's records for the changelog (the last write of each key)."""
        return [(key, value, p) for (p, key), value in self.overlay.items()]

    def commit(self, offsets: Mapping[int, int]) -> None:
        """The batch's transaction committed: its writes, and the changelog offsets they reach
        (per partition, past the last record sent), go to the store together."""
        changes = self.take()
        self.overlay = {}
        if changes or offsets:
            self.store.apply(changes, offsets)

    def touch(self, partitions: set[int]) -> None:
        """The store is known to be caught up with these partitions' changelog now (the judge
        of a partition is its changelog's one writer; a standby read to the end): their data's
        time moves on, so it stays usable for as long as the changelog keeps tombstones."""
        offsets = {p: s.offset for p in partitions if (s := self.store.stored(p)) is not None}
        if offsets:
            self.store.apply([], offsets)

    def discard(self) -> None:
        """The batch's transaction did not commit: its writes never happened."""
        self.overlay = {}

    # -- partitions come and go -------------------------------------------------------------------
    def restored(
        self,
        partition: int,
        records: list[tuple[bytes, bytes | None]],
        to: int,
        at: float | None = None,
    ) -> None:
        """Changelog records read back (committed ones, in order), up to offset `to`; `at`:
        the last one's time (None: the changelog was read to its end now)."""
        self.store.apply([(k, v, partition) for k, v in records], {partition: to}, at)

    def revoke(self, partitions: set[int]) -> None:
        """Partitions judged elsewhere now: out of the view. An on-disk store keeps their data,
        so a later assignment reads only the changelog's tail; an in-memory one drops it."""
        self.active -= partitions
        if not self.store.keeps_revoked:
            for p in partitions:
                self.store.wipe(p)

    def close(self) -> None:
        self.overlay = {}
        self.active.clear()
        self.store.close()


_MISSING = object()
