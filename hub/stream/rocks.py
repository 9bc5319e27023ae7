"""The judge's local store on disk: RocksDB (rocksdict), one directory per worker.

Layout: one key space, each key prefixed by its partition of hub.dossier.events (2 bytes, big
endian), so a partition is one key range: scanned, counted or wiped without touching the
others. The column family `meta` holds, per partition, the changelog offset the stored data
reaches (the next record to read), when it was written, and how many dossiers it holds; it is
written in the same WriteBatch as the data, so the two never disagree, whatever kills the
process (RocksDB recovers a consistent prefix of its write-ahead log).

The directory is locked (fcntl) while a worker uses it: a second worker pointed at it stops
with `StoreLockedError` instead of sharing state.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import rocksdict

from hub.errors import StopError
from hub.protocol import is_internal_key
from hub.stream.table import Change, LocalStore, Stored

_PART = struct.Struct(">H")
_META = "meta"


class StoreLockedError(StopError):
    """Another process holds the store's directory."""


def _prefix(partition: int) -> bytes:
    return _PART.pack(partition)


def _options(cache_mb: int) -> rocksdict.Options:
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.create_missing_column_families(True)
    table = rocksdict.BlockBasedOptions()
    # the block cache is the store's one big memory cost: sized by MOTCUA_ROCKSDB_BLOCK_CACHE_MB
    table.set_block_cache(rocksdict.Cache(cache_mb * 1024 * 1024))
    table.set_bloom_filter(10, False)  # a miss (a new dossier) costs no disk read
    table.set_cache_index_and_filter_blocks(True)  # counted in the cache, not beside it
    opts.set_block_based_table_factory(table)
    # values are zlib-compressed already (hub/stream/state.py): lz4 on top costs little
    opts.set_compression_type(rocksdict.DBCompressionType.lz4())
    opts.set_write_buffer_size(16 * 1024 * 1024)
    # the small `meta` column family would otherwise keep every write-ahead log file alive (a
    # log goes only once every family has flushed what it holds): past this, flush them
    opts.set_max_total_wal_size(64 * 1024 * 1024)
    opts.set_max_write_buffer_number(2)
    opts.set_max_background_jobs(2)
    opts.set_keep_log_file_num(3)
    return opts


class RocksStore(LocalStore):
    """The committed dossier states of every partition this worker has held, on disk."""

    def __init__(self, path: Path, cache_mb: int = 64) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock = lock_directory(path.parent / f"{path.name}.lock")
        try:
            self._db = rocksdict.Rdict(
                str(path),
                _options(cache_mb),
                column_families={_META: rocksdict.Options(raw_mode=True)},
            )
        except Exception:
            self._lock.close()
            raise
        self._meta_cf = self._db.get_column_family_handle(_META)
        self._meta: dict[int, Stored] = {}
        meta = self._db.get_column_family(_META)
        for key, value in meta.items():
            (p,) = _PART.unpack(bytes(key))  # type: ignore[arg-type]
            d = json.loads(value)
            self._meta[p] = Stored(int(d["offset"]), float(d["at"]), int(d["count"]))
        del meta  # a column family object keeps the database open

    # -- reads ------------------------------------------------------------------------------------
    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(_prefix(partition) + key)
        return value

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        prefix = _prefix(partition)
        it = self._db.iter()
        it.seek(prefix)
        while it.valid():
            key: bytes = it.key()
            if not key.startswith(prefix):
                break
            yield key[2:], it.value()
            it.next()

    def stored(self, partition: int) -> Stored | None:
        return self._meta.get(partition)

    def partitions(self) -> set[int]:
        return set(self._meta)

    # -- writes -----------------------------------------------------------------------------------
    def apply(
        self, changes: Iterable[Change], offsets: Mapping[int, int], at: float | None = None
    ) -> None:
        batch = rocksdict.WriteBatch(raw_mode=True)
        listed = list(changes)
        touched = set(offsets) | {p for _, _, p in listed}
        counts = {p: (s.count if (s := self._meta.get(p)) else 0) for p in touched}
        keys: list[Any] = [_prefix(p) + k for k, _, p in listed]
        before: Any = self._db.get(keys) if keys else []  # one multi-get for the batch
        seen: dict[bytes, bool] = {}
        for (key, value, p), full, old in zip(listed, keys, before, strict=True):
            existed = seen.get(full, old is not None)
            if not is_internal_key(key):
                counts[p] += (value is not None) - existed
            seen[full] = value is not None
            if value is None:
                batch.delete(full)
            else:
                batch.put(full, value)
        when = time.time() if at is None else at
        meta = {}
        for p in touched:
            offset = offsets.get(p, s.offset if (s := self._meta.get(p)) else 0)
            meta[p] = Stored(offset, when, counts[p])
            record = {"offset": offset, "at": when, "count": counts[p]}
            batch.put(_prefix(p), json.dumps(record).encode(), self._meta_cf)
        self._db.write(batch)
        self._meta.update(meta)

    def wipe(self, partition: int) -> None:
        # the data first, then the offset: a crash in between leaves an offset, so the next
        # start wipes again rather than trusting a partition with holes
        self._db.delete_range(_prefix(partition), _prefix(partition + 1))
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.delete(_prefix(partition), self._meta_cf)
        self._db.write(batch)
        self._meta.pop(partition, None)

    # -- the store as a whole ---------------------------------------------------------------------
    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def close(self) -> None:
        if self._lock.closed:
            return
        del self._meta_cf
        # the memtables to files: the next open replays no write-ahead log, which is then gone
        with contextlib.suppress(Exception):
            self._db.flush()
            meta = self._db.get_column_family(_META)
            meta.flush()
            del meta
        self._db.close()
        self._lock.close()


def lock_directory(path: Path, what: str = "the local store") -> IO[Any]:
    """An exclusive lock on a store's directory, held while the returned file is open; it
    names the process holding it, for the message another one gets."""
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreLockedError(
            f"{what} {path.with_suffix('')} is in use by {holder}: every worker needs a "
            "directory of its own (MOTCUA_DATA_DIR, MOTCUA_INSTANCE_ID, MOTCUA_WEB_PORT)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    with contextlib.suppress(OSError):
        os.fsync(handle.fileno())
    return handle
