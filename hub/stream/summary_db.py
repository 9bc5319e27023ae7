"""The summary store's key space: ordered bytes keys, on RocksDB or in memory.

Both backends offer the same four operations: `get`, an atomic `write` of a batch of puts and
deletes (the summaries of a fetch and the consumer positions that cover them, together), and an
ordered `scan` of a key range (a prefix, or the received-time index between two instants).
RocksDB (`rocksdict`) keeps it on disk across restarts, in `<data dir>/<app id>/<instance>/
summaries`, locked so that two workers never share it; the memory one is for tests.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import rocksdict

from hub.stream.rocks import StoreLockedError, lock_directory

__all__ = ["StoreLockedError"]  # raised when the directory is in use


class OrderedKV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None: ...

    def scan(self, lo: bytes, hi: bytes) -> Iterator[tuple[bytes, bytes]]: ...

    def disk_bytes(self) -> int: ...

    def close(self) -> None: ...


class MemoryKV:
    """A dict, its keys sorted when a scan needs them after a write (a report reading a whole
    topic record by record must not pay an insertion into a sorted list for each)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] | None = []

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in changes:
            if value is None:
                if self._data.pop(key, None) is not None:
                    self._keys = None
            else:
                if key not in self._data:
                    self._keys = None
                self._data[key] = value

    def scan(self, lo: bytes, hi: bytes) -> Iterator[tuple[bytes, bytes]]:
        if self._keys is None:
            self._keys = sorted(self._data)
        keys = self._keys
        # a slice: a copy, so writes during the scan change neither it nor the order
        for key in keys[bisect.bisect_left(keys, lo) : bisect.bisect_left(keys, hi)]:
            value = self._data.get(key)
            if value is not None:
                yield key, value

    def disk_bytes(self) -> int:
        return 0

    def close(self) -> None:
        pass


def _options(cache_mb: int) -> rocksdict.Options:
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    table = rocksdict.BlockBasedOptions()
    # the block cache is the store's one big memory cost: MOTCUA_ROCKSDB_BLOCK_CACHE_MB
    table.set_block_cache(rocksdict.Cache(cache_mb * 1024 * 1024))
    table.set_bloom_filter(10, False)  # a new dossier's lookup costs no disk read
    table.set_cache_index_and_filter_blocks(True)  # counted in the cache, not beside it
    opts.set_block_based_table_factory(table)
    opts.set_compression_type(rocksdict.DBCompressionType.lz4())  # JSON summaries: ~3x
    opts.set_write_buffer_size(16 * 1024 * 1024)
    opts.set_max_write_buffer_number(2)
    opts.set_max_background_jobs(2)
    opts.set_keep_log_file_num(3)
    return opts


class RocksKV:
    """The store on disk; the directory is locked (fcntl) while a process uses it."""

    def __init__(self, path: Path, cache_mb: int = 64) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock = lock_directory(path.parent / f"{path.name}.lock", "the summary store")
        try:
            self._db = rocksdict.Rdict(str(path), _options(cache_mb))
        except Exception:
            self._lock.close()
            raise

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db.write(batch)

    def scan(self, lo: bytes, hi: bytes) -> Iterator[tuple[bytes, bytes]]:
        it = self._db.iter()
        it.seek(lo)
        while it.valid():
            key: bytes = it.key()
            if key >= hi:
                break
            yield key, it.value()
            it.next()

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def close(self) -> None:
        if self._lock.closed:
            return
        self._db.close()
        self._lock.close()
