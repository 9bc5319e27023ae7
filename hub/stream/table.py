"""The judge's state: every dossier of the partitions this worker judges, and its changelog.

A plain mapping (dossier key -> stored state, hub/stream/state.py; the clock key of a partition
-> its watermark) for the partitions assigned to this worker. Every write is also queued for the
changelog topic `<app id>-dossiers-changelog` (compacted, partitioned like hub.dossier.events):
the judge loop sends the queue inside the transaction that commits the batch's input offsets and
outputs, so the changelog never holds a state whose outputs were not committed, nor misses one
whose were. A worker that is assigned a partition rebuilds its part of the table from the
changelog (read committed) before judging anything of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping

from hub.protocol import clock_partition
from hub.stream.state import peek

log = logging.getLogger(__name__)

Change = tuple[bytes, bytes | None, int]  # (key, value or None: deleted, partition)


class DossierTable(MutableMapping[bytes, bytes]):
    """The stored states of the assigned partitions; writes are queued for the changelog."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.pending: list[Change] = []

    # -- the mapping the judge reads --------------------------------------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        return self.data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    # -- writes -----------------------------------------------------------------------------------
    def write(self, key: bytes, value: bytes | None, partition: int) -> None:
        """The judge's writer: the value now, its changelog record with the batch."""
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        self.pending.append((key, value, partition))

    def take(self) -> list[Change]:
        out, self.pending = self.pending, []
        return out

    # -- partitions come and go -------------------------------------------------------------------
    def restore(self, key: bytes | None, value: bytes | None) -> None:
        """A changelog record read back (the last record of a key wins)."""
        if key is None:
            return
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value

    def drop_partitions(self, partitions: set[int]) -> int:
        """Forget the states of partitions this worker no longer judges; how many."""
        gone = [
            k for k, v in self.data.items() if (p := _partition_of(k, v)) is None or p in partitions
        ]
        for key in gone:
            del self.data[key]
        return len(gone)

    def clear_all(self) -> None:
        self.data.clear()
        self.pending.clear()



def _partition_of(key: bytes, value: bytes) -> int | None:
    try:
        p = clock_partition(key)
        return p if p is not None else peek(value)[0]
    except Exception:  # an unreadable value: kept out of every partition's count
        return None
