"""Stage 2: per dossier partition, keep each dossier's state and judge it against the clock.

Independent of faust: it reads and writes a mapping (the changelog-backed table in the worker,
a dict in tests) and returns the alerts to send; records for hub.dossier.events itself wait in
`outbox` for the stream layer to send.

Sectoral ids (sources.md, "Redelivery and identity"): an event without a one-stop code lands on
`<source>:<id>`. When a dossier first sees an event carrying both its code and a sectoral id, it
sends a *claim* to `<source>:<id>`; that dossier then forwards every event it holds, and every
later one, to the claiming code (the smallest code wins; a smaller claim later makes it
*withdraw* the events from the previous owner), and its own timeline becomes empty, so what it
raised is retracted as late data. Forwarded events travel behind the watermark, so the owner
may meet them as late data too; the rules then correct themselves as §5 says.

Closed dossiers expire `MOTCUA_RETENTION_DAYS` after closing (event time), so the state that
de-duplicates redeliveries lives and dies with the dossier.

The deadline index is a heap per partition of (wake-up time, dossier), rebuilt from the table
after a restart or rebalance, so a clock tick costs in proportion to the dossiers that are due,
not to the open ones. It holds at most the `MOTCUA_WAKE_INDEX_MAX` earliest entries of a
partition (and those pushed since that fall before them): the others, mostly closed dossiers
waiting for their expiry, stay in the table only, and the partition is scanned again when the
clock passes the last entry held. So the index does not grow with the closed dossiers.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.codec import decode_event
from hub.domain.alerts import Alert
from hub.domain.dossier import DossierFacts
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent, Source
from hub.domain.rules import Transition
from hub.domain.watermark import Watermark, parse_mark
from hub.metrics import HubMetrics
from hub.protocol import (
    KIND_CLAIM,
    KIND_CLOCK,
    KIND_EVENT,
    KIND_WITHDRAW,
    ProtocolError,
    clock_key,
    dossier_key,
    encode_claim,
    encode_withdraw,
    is_internal_key,
    parse_claim,
    parse_clock,
    parse_withdraw,
)
from hub.settings import ClockMode, Settings
from hub.stream.clock import Clock
from hub.stream.state import Bounds, DossierFull, DossierState, StateCache, from_ms, peek, to_ms
from hub.stream.table import DossierTable

log = logging.getLogger(__name__)
_ABSENT = object()
_DAY_MS = 86_400_000
_MARK_SLACK_MS = 300_000  # clock skew between workers
_MAX_INBOUND_PARTITIONS = 100_000
# "<topic>:<partition>", a Kafka topic name; a key no worker reports again is forgotten
_INBOUND_MARK = re.compile(r"[A-Za-z0-9._-]{1,249}:\d{1,5}")


@dataclass
class Judge:
    settings: Settings
    engine: Engine
    clock: Clock
    # the worker's DossierTable (partitioned, on disk or not), or a plain dict (tests)
    table: MutableMapping[bytes, bytes] | DossierTable
    metrics: HubMetrics = field(default_factory=HubMetrics)
    cache: StateCache = field(default_factory=StateCache)
    _heaps: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    # per partition, the last (wake-up, dossier) a scan put in its heap: entries past it are
    # not held (None: the heap holds them all)
    _bounds: dict[int, tuple[int, bytes] | None] = field(default_factory=dict)
    _now: dict[int, int] = field(default_factory=dict)
    _marks: dict[int, Watermark] = field(default_factory=dict)
    # called with each evaluation's facts and timeline, and whether they are those of the
    # dossier's last evaluation (hub/stream/publisher.py makes the summaries)
    on_facts: Callable[[bytes, DossierFacts, list[Transition], bool], None] | None = None
    # (key, value, kind) records for hub.dossier.events: claims, withdrawals, forwarded events
    outbox: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    # writes a table value (None: delete) to its partition; None: write `table` directly, at once
    writer: Callable[[bytes, bytes | None, int], None] | None = None
    _tax_only: set[bytes] = field(default_factory=set)
    _full: set[bytes] = field(default_factory=set)  # dossiers that refused an event (Bounds)
    _dirty: dict[bytes, DossierState | None] = field(default_factory=dict)
    _dirty_partition: dict[bytes, int] = field(default_factory=dict)

    # -- the clock ---------------------------------------------------------------------------
    def now_ms(self, partition: int) -> int | None:
        if self.settings.clock is ClockMode.WALL:
            return to_ms(self.clock()) - int(self.settings.allowed_lateness_s * 1000)
        return self._now.get(partition)

    def _watermark(self, partition: int) -> Watermark:
        wm = self._marks.get(partition)
        if wm is None:
            stored = self._get(clock_key(partition), partition)
            try:
                read_at = to_ms(self.clock())
                wm = Watermark.from_json(json.loads(stored), read_at) if stored else Watermark()
            except Exception:  # a stray changelog record: the marks are reported again
                self._unreadable(clock_key(partition))
                wm = Watermark()
            self._marks[partition] = wm
            if (value := wm.value_ms()) is not None:
                self._now[partition] = value
        return wm

    def on_clock(self, partition: int, payload: bytes) -> list[Alert]:
        record = parse_clock(payload)
        if self.settings.clock is ClockMode.EVENT:
            wall = to_ms(self.clock())
            # No valid event lies beyond wall + the lead the intake accepts (BAD_TIME past it),
            # so no honest mark does: a later one is a stray record's and would move the
            # watermark for good (highs only grow).
            limit = wall + int(self.settings.max_event_lead_s * 1000) + _MARK_SLACK_MS
            # nor one before any plausible time (as "now", it must still be a date)
            floor = _EARLIEST_MS
            wm = self._watermark(partition)
            before = wm.to_json(with_seen=False)
            if 0 < record.expect <= _MAX_INBOUND_PARTITIONS:
                wm.expected = record.expect  # the latest count, so a stray one cannot freeze it
            # a record another program wrote may carry anything as a mark: each is read as an
            # object (parse_mark), not as the list the type says (compiled, a cast would fail)
            marks: Mapping[str, object] = record.marks
            for key, values in marks.items():
                high, idle, waiting = parse_mark(values)
                if not _INBOUND_MARK.fullmatch(key) or (
                    high is not None and not floor <= high <= limit
                ):
                    self.metrics.skipped.labels("hub.dossier.events:clock").inc()
                    continue
                wm.merge(key, high, idle, waiting, seen_ms=wall)
            wm.forget_stale(wall, self._stale_ms)
            if wm.to_json(with_seen=False) != before:
                self._write(clock_key(partition), json.dumps(wm.to_json()).encode(), partition)
            value = wm.value_ms()
            if value is not None and value > self._now.get(partition, value - 1):
                self._now[partition] = value
        now = self.now_ms(partition)
        if now is None:
            return []
        self.metrics.watermark.set(now / 1000)
        return self._wake_due(partition, now)

    @property
    def _stale_ms(self) -> int:
        return int(max(10 * self.settings.idle_timeout_s, 60.0) * 1000)

    # -- the deadline index ------------------------------------------------------------------
    def forget_partitions(self) -> None:
        """After a rebalance: rebuild the indexes, re-read the marks, drop cached states."""
        self.flush()
        self._heaps.clear()
        self._bounds.clear()
        self._marks.clear()
        self._now.clear()
        self.cache.clear()

    def _heap(self, partition: int) -> list[tuple[int, bytes]]:
        heap = self._heaps.get(partition)
        if heap is None:
            heap = self._scan_wakes(partition)
        return heap

    def build_index(self, partitions: Iterable[int]) -> int:
        """Build the partitions' deadline indexes now (the judge loop does, off its event loop,
        before judging); how many entries they hold."""
        return sum(len(self._scan_wakes(p)) for p in sorted(partitions))

    def _index_ready(self, partition: int) -> None:
        """Build the partition's index, or scan it again once superseded entries (a dossier's
        earlier wake-ups, left until they come due) have made it grow past three times its
        size: it follows the dossiers held, not how often they changed."""
        heap = self._heap(partition)
        if len(heap) > 3 * self.settings.wake_index_max:
            self._scan_wakes(partition)

    def _scan_wakes(self, partition: int) -> list[tuple[int, bytes]]:
        """The partition's heap from its stored states (only each value's prefix is read): the
        earliest `wake_index_max` entries."""
        self.flush()  # the states judged in this batch so far are part of what is scanned
        held = self.settings.wake_index_max
        found = heapq.nsmallest(held + 1, self._wakes(partition))
        bound = found[held - 1] if len(found) > held else None
        heap = found[:held]
        heapq.heapify(heap)
        self._heaps[partition] = heap
        self._bounds[partition] = bound
        return heap

    def _wakes(self, partition: int) -> Iterator[tuple[int, bytes]]:
        for key, value in self._scan(partition):
            if is_internal_key(key):
                continue
            try:
                p, wake = peek(value)
            except Exception:  # a stray changelog record: judged afresh when it is next read
                self._unreadable(key)
                continue
            if wake is not None and p == partition:
                yield wake, key

    def _scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        if isinstance(self.table, DossierTable):
            return self.table.scan(partition)
        return iter(list(self.table.items()))  # a dict: every partition, filtered by the caller

    def _push(self, partition: int, wake: int, key: bytes) -> None:
        heap = self._heap(partition)
        bound = self._bounds.get(partition)
        if bound is None or (wake, key) <= bound:
            heapq.heappush(heap, (wake, key))
        # else: found by the scan that follows when the clock passes the bound

    def _wake_due(self, partition: int, now: int) -> list[Alert]:
        self._index_ready(partition)
        heap = self._heap(partition)
        alerts: list[Alert] = []
        while True:
            if not (heap and heap[0][0] <= now):
                bound = self._bounds.get(partition)
                if bound is None or bound[0] > now:
                    break
                heap = self._scan_wakes(partition)  # the clock passed what the heap held
                continue
            wake, key = heapq.heappop(heap)

            def wake_one(key: bytes = key, wake: int = wake) -> list[Alert]:
                state = self._load_for_update(key, partition)
                if state is None or state.next_wake_ms != wake:
                    return []  # superseded by a later evaluation
                return self._evaluate(key, state, now)

            try:
                alerts += self._isolated(key, wake_one)
            except Exception:  # one dossier's failure must not stop the others' deadlines
                log.exception("judging %r at its deadline failed; left as it was", key)
                self.metrics.judge_failures.inc()
        return alerts

    # -- dossiers ----------------------------------------------------------------------------
    def _get(self, key: bytes, partition: int) -> bytes | None:
        if isinstance(self.table, DossierTable):
            return self.table.get_in(partition, key)
        return self.table.get(key)

    def _write(self, key: bytes, value: bytes | None, partition: int) -> None:
        if self.writer is not None:
            self.writer(key, value, partition)
        elif isinstance(self.table, DossierTable):
            raise TypeError("a DossierTable is written through its writer")
        elif value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value

    def _save(self, key: bytes, state: DossierState | None, partition: int) -> None:
        """Written at the next `flush` (once per dossier per batch), or at once without a writer."""
        if state is None:
            self.cache.drop(key)
        else:
            self.cache.put(key, state)  # the copy judged is now the dossier's state
        self._dirty[key] = state
        self._dirty_partition[key] = partition
        if self.writer is None:
            self.flush()

    def flush(self) -> None:
        """Write the states changed since the last flush to the table (and its changelog)."""
        for key, state in self._dirty.items():
            self._write(key, None if state is None else state.dumps(), self._dirty_partition[key])
        self._dirty.clear()
        self._dirty_partition.clear()

    def _load(self, key: bytes, partition: int) -> DossierState | None:
        if key in self._dirty:
            return self._dirty[key]
        state = self.cache.get(key)
        if state is None:
            stored = self._get(key, partition)
            if stored is None:
                return None
            try:
                state = DossierState.loads(stored)
            except Exception:  # a stray changelog record: the dossier starts afresh
                self._unreadable(key)
                return None
            self.cache.put(key, state)
        return state

    def _load_for_update(self, key: bytes, partition: int) -> DossierState | None:
        """A copy to change: the loaded state stays as it was until the change succeeds."""
        state = self._load(key, partition)
        return None if state is None else _copy(state)

    def _unreadable(self, key: bytes) -> None:
        log.error("unreadable stored state for %r: skipped", key[:80])
        self.metrics.skipped.labels("changelog").inc()

    # -- isolation -----------------------------------------------------------------------------
    def handle(
        self, kind: bytes, partition: int, key: bytes | None, value: bytes | None
    ) -> list[Alert]:
        """One record of hub.dossier.events. If judging it fails, the dossier's stored and
        cached state, the outbox and the index are left as they were, and the error is raised
        for the caller to dead-letter the record (INTERNAL)."""
        if value is None:
            raise ProtocolError("a record without a value")
        if kind == KIND_CLOCK:
            return self.on_clock(partition, value)
        dossier_key(key)
        assert key is not None
        handler = {KIND_CLAIM: self.on_claim, KIND_WITHDRAW: self.on_withdraw}.get(
            kind, self.on_event
        )
        # the partition's index is built (or compacted) before judging, not amid it: a scan
        # flushes the batch's states to the table, which a failed judgement could not take back
        self._index_ready(partition)
        return self._isolated(key, lambda: handler(partition, key, value))

    def _isolated(self, key: bytes, judge: Callable[[], list[Alert]]) -> list[Alert]:
        cached = self.cache.get(key)
        dirty = self._dirty.get(key, _ABSENT)
        dirty_partition = self._dirty_partition.get(key)
        outbox = len(self.outbox)
        tax_only = key in self._tax_only
        try:
            return judge()
        except Exception:
            if cached is None:
                self.cache.drop(key)
            else:
                self.cache.put(key, cached)
            if dirty is _ABSENT:
                self._dirty.pop(key, None)
                self._dirty_partition.pop(key, None)
            else:
                self._dirty[key] = dirty  # type: ignore[assignment]
                self._dirty_partition[key] = dirty_partition  # type: ignore[assignment]
            del self.outbox[outbox:]
            (self._tax_only.add if tax_only else self._tax_only.discard)(key)
            raise

    def on_event(self, partition: int, key: bytes, blob: bytes) -> list[Alert]:
        ev = decode_event(blob)
        _plausible_times(ev)
        state = self._load_for_update(key, partition) or DossierState(partition)
        if state.has(ev):
            self.metrics.duplicates.labels(ev.source.value).inc()
            return []
        claim_code = ev.onestop_code
        claims = (
            ev.sector_id is not None
            and ev.onestop_code is not None
            and key.decode() == ev.onestop_code
            and not any(e.sector_id == ev.sector_id for e in state.events)
        )
        try:
            state.add(ev, blob, Bounds.of(self.settings), key.decode())
        except DossierFull:
            # refused, the state as it was: the stream layer dead-letters the event (TOO_LARGE)
            self._full.add(key)
            self.metrics.full_dossiers.set(len(self._full))
            raise
        self.cache.put(key, state)
        if claims and claim_code is not None:
            claim = encode_claim(claim_code)
            self.outbox.append((str(ev.sector_id).encode(), claim, KIND_CLAIM))
        if state.owner is not None:
            self.outbox.append((state.owner.encode(), blob, KIND_EVENT))
        if self.settings.clock is ClockMode.EVENT:
            self._watermark(partition)
        now = self.now_ms(partition)
        at = None if ev.event_time is None else to_ms(ev.event_time)
        if at is not None and (now is None or at > now) and state.owner is None:
            # An event the clock has not reached yet is judged when it does: until then it can
            # make nothing due that was not already, and the events of a dossier that arrive
            # meanwhile are judged together, once.
            if state.next_wake_ms is None or at < state.next_wake_ms:
                state.next_wake_ms = at
                self._push(partition, at, key)
            self._save(key, state, partition)
            return []
        return self._evaluate(key, state, now)

    def on_claim(self, partition: int, key: bytes, payload: bytes) -> list[Alert]:
        """A one-stop code claims this `<source>:<id>` dossier."""
        code = parse_claim(payload)
        state = self._load_for_update(key, partition) or DossierState(partition)
        if state.owner is not None and state.owner <= code:
            return []
        previous, state.owner = state.owner, code
        self.cache.put(key, state)
        for blob in state.blobs:
            self.outbox.append((code.encode(), blob, KIND_EVENT))
        if previous is not None and state.events:
            ids = encode_withdraw([e.identity for e in state.events])
            self.outbox.append((previous.encode(), ids, KIND_WITHDRAW))
        return self._evaluate(key, state, self.now_ms(partition))

    def on_withdraw(self, partition: int, key: bytes, payload: bytes) -> list[Alert]:
        """Events that a smaller code claimed away from this dossier."""
        withdrawn = parse_withdraw(payload)
        state = self._load_for_update(key, partition)
        if state is None:
            return []
        state.remove(withdrawn)
        return self._evaluate(key, state, self.now_ms(partition))

    def _expires_ms(self, closed_at_ms: int | None) -> int | None:
        if closed_at_ms is None:
            return None
        return closed_at_ms + int(self.settings.retention_days * _DAY_MS)

    def _evaluate(self, key: bytes, state: DossierState, now: int | None) -> list[Alert]:
        result = self.engine.evaluate(
            key.decode(),
            state.events if state.owner is None else [],
            state.emitted,
            None if now is None else from_ms(now),
            self.clock(),
            state.judged,
        )
        state.judged = result.judged
        wake = None if result.next_wake is None else to_ms(result.next_wake)
        facts = result.facts
        closed = facts.closed_at if facts is not None else None
        expires = self._expires_ms(None if closed is None else to_ms(closed))
        if expires is not None and wake is None:
            if now is not None and now >= expires and state.owner is None:
                self._expire(key, state.partition)
                return self._alerts(key, result.alerts, facts, result.transitions, result.reused)
            wake = expires
        # the index holds an entry per (wake-up, dossier): one already there is not pushed again
        # (each evaluation would otherwise add one, and stray records could grow it at will)
        pushed = wake is not None and wake != state.next_wake_ms
        state.next_wake_ms = wake
        self._save(key, state, state.partition)
        if pushed and wake is not None:
            self._push(state.partition, wake, key)
        return self._alerts(key, result.alerts, facts, result.transitions, result.reused)

    def _alerts(
        self,
        key: bytes,
        alerts: list[Alert],
        facts: DossierFacts | None,
        transitions: list[Transition],
        unchanged: bool,
    ) -> list[Alert]:
        # tax events never start a dossier: held until another system reports it (rules.md §5)
        if facts is not None and facts.events and all(e.source is Source.TAX for e in facts.events):
            self._tax_only.add(key)
        else:
            self._tax_only.discard(key)
        self.metrics.tax_only.set(len(self._tax_only))
        for alert in alerts:
            self.metrics.alerts.labels(alert.type.value, alert.state.value).inc()
        if self.on_facts is not None and facts is not None:
            self.on_facts(key, facts, transitions, unchanged)
        return alerts

    def _expire(self, key: bytes, partition: int) -> None:
        self.cache.drop(key)
        self._tax_only.discard(key)
        self._full.discard(key)
        self.metrics.full_dossiers.set(len(self._full))
        self._save(key, None, partition)
        self.metrics.expired.inc()


# Every time an event may carry lies within these years: the intake's window (now less
# MOTCUA_MAX_EVENT_AGE_DAYS, now plus a lead) is far inside them. A record another program put
# on hub.dossier.events may carry any time the codec takes (years 1-9999); such an event would
# be stored, and the calendar could then never judge its dossier again.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_EARLIEST_MS = int(_EARLIEST.timestamp() * 1000)


# the event's time fields, found once: the check runs on every judged message
_TIME_FIELDS = tuple(
    name
    for name, spec in DossierEvent.model_fields.items()
    if spec.annotation in (datetime, datetime | None)
)


def _plausible_times(ev: DossierEvent) -> None:
    for name in _TIME_FIELDS:
        value = getattr(ev, name)
        if value is not None and not _EARLIEST <= value < _LATEST:
            raise ProtocolError(f"an event whose {name} is out of range: {value.isoformat()}")


def _copy(state: DossierState) -> DossierState:
    """As deep as judging changes it: the lists, the emitted alerts (changed in place)."""
    return state.copy()
