"""Stage 2: per dossier partition, keep each dossier's state and judge it against the clock.

Independent of faust: it reads and writes a mapping (the changelog-backed table in the worker,
a dict in tests) and returns the alerts to send. The deadline index is a heap per partition of
(wake-up time, dossier), rebuilt from the table after a restart or rebalance, so a clock tick
costs in proportion to the dossiers that are due, not to the open ones.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

from hub import metrics
from hub.codec import decode_event
from hub.domain.alerts import Alert
from hub.domain.dossier import DossierFacts
from hub.domain.engine import Engine
from hub.domain.watermark import Watermark
from hub.settings import ClockMode, Settings
from hub.stream.clock import Clock
from hub.stream.state import DossierState, StateCache, from_ms, peek, to_ms

log = logging.getLogger(__name__)
CLOCK_PREFIX = b"\x00clock/"


def clock_key(partition: int) -> bytes:
    return CLOCK_PREFIX + str(partition).encode()


@dataclass
class Judge:
    settings: Settings
    engine: Engine
    clock: Clock
    table: MutableMapping[bytes, bytes]
    cache: StateCache = field(default_factory=StateCache)
    _heaps: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    _now: dict[int, int] = field(default_factory=dict)
    _marks: dict[int, Watermark] = field(default_factory=dict)
    # called with each evaluation's facts (hub/stream/summaries.py publishes the summaries)
    on_facts: Callable[[bytes, DossierFacts], None] | None = None

    # -- the clock ---------------------------------------------------------------------------
    def now_ms(self, partition: int) -> int | None:
        if self.settings.clock is ClockMode.WALL:
            return to_ms(self.clock()) - int(self.settings.allowed_lateness_s * 1000)
        return self._now.get(partition)

    def _watermark(self, partition: int) -> Watermark:
        wm = self._marks.get(partition)
        if wm is None:
            stored = self.table.get(clock_key(partition))
            wm = Watermark.from_json(json.loads(stored)) if stored else Watermark()
            self._marks[partition] = wm
            if (value := wm.value_ms()) is not None:
                self._now[partition] = value
        return wm

    def on_clock(self, partition: int, payload: bytes) -> list[Alert]:
        record = json.loads(payload)
        if self.settings.clock is ClockMode.EVENT:
            wm = self._watermark(partition)
            before = wm.to_json()
            for key, (high, idle) in record.get("marks", {}).items():
                wm.merge(key, high, bool(idle))
            if wm.to_json() != before:
                self.table[clock_key(partition)] = json.dumps(wm.to_json()).encode()
            value = wm.value_ms()
            if value is not None and value > self._now.get(partition, value - 1):
                self._now[partition] = value
        now = self.now_ms(partition)
        if now is None:
            return []
        metrics.WATERMARK.set(now / 1000)
        return self._wake_due(partition, now)

    # -- the deadline index ------------------------------------------------------------------
    def forget_partitions(self) -> None:
        """After a rebalance: rebuild the indexes, re-read the marks, drop cached states."""
        self._heaps.clear()
        self._marks.clear()
        self._now.clear()
        self.cache.clear()

    def _heap(self, partition: int) -> list[tuple[int, bytes]]:
        heap = self._heaps.get(partition)
        if heap is None:
            heap = []
            for key, value in self.table.items():
                if key.startswith(CLOCK_PREFIX):
                    continue
                p, wake = peek(value)
                if p == partition and wake is not None:
                    heap.append((wake, key))
            heapq.heapify(heap)
            self._heaps[partition] = heap
        return heap

    def _wake_due(self, partition: int, now: int) -> list[Alert]:
        heap = self._heap(partition)
        alerts: list[Alert] = []
        while heap and heap[0][0] <= now:
            wake, key = heapq.heappop(heap)
            state = self._load(key, partition)
            if state is None or state.next_wake_ms != wake:
                continue  # superseded by a later evaluation
            alerts += self._evaluate(key, state, now)
        return alerts

    # -- dossiers ----------------------------------------------------------------------------
    def _load(self, key: bytes, partition: int) -> DossierState | None:
        state = self.cache.get(key)
        if state is None:
            stored = self.table.get(key)
            if stored is None:
                return None
            state = DossierState.loads(stored)
            self.cache.put(key, state)
        return state

    def on_event(self, partition: int, key: bytes, blob: bytes) -> list[Alert]:
        ev = decode_event(blob)
        state = self._load(key, partition) or DossierState(partition)
        if state.has(ev):
            metrics.DUPLICATES.labels(ev.source.value).inc()
            return []
        state.add(ev, blob)
        self.cache.put(key, state)
        if self.settings.clock is ClockMode.EVENT:
            self._watermark(partition)
        return self._evaluate(key, state, self.now_ms(partition))

    def _evaluate(self, key: bytes, state: DossierState, now: int | None) -> list[Alert]:
        result = self.engine.evaluate(
            key.decode(),
            state.events,
            state.emitted,
            None if now is None else from_ms(now),
            self.clock(),
        )
        wake = None if result.next_wake is None else to_ms(result.next_wake)
        state.next_wake_ms = wake
        self.table[key] = state.dumps()
        if wake is not None:
            heapq.heappush(self._heap(state.partition), (wake, key))
        for alert in result.alerts:
            metrics.ALERTS.labels(alert.type.value, alert.state.value).inc()
        if self.on_facts is not None and result.facts is not None:
            self.on_facts(key, result.facts)
        return result.alerts
