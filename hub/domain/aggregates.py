"""Maintained §7 aggregates: `unit_stats` over every summary, kept up to date instead of
recomputed per request (issue 14: a province holds a million dossiers).

What is kept, as of one instant `now`:
- per (unit, procedure) and per received *local* day, month, year and overall, the sum of
  `contribution(summary, now).counts` (`hub.domain.stats`, in `COUNTERS` order) of the dossiers
  received then. A day-aligned period `[start, end)` with `end >= now` (today, this month, this
  year, all, from/to dates) is then a sum over at most ~60 days, ~22 months and its years;
- the instant each dossier's contribution changes next: a contribution compares `now` with the
  summary's own times only (receipt, closing, alert raises, pauses, supplements, apologies, and
  whatever a later counter reads), so it is constant between two of them. A heap holds, per
  dossier, its next time after `now`; advancing `now` re-counts only the dossiers popped.
  A dossier with no time after `now` (closed long ago: most of them) is not in the heap;
- per unit, the dossiers open at `now` (the late list of a unit's page);
- per unit, the names its dossiers give it.

Updates: `update(old, new)` subtracts the old summary's contribution and adds the new one's (at
`now`); `advance(now, load)` moves `now` forward (`load` reads a dossier's current summary).
`now` going backwards is an error: the owner rebuilds (`update(None, s)` for every summary).

Exactness: `rows(...)` equals `unit_stats(every summary, start, end, now, ...)` for the periods
it answers (tests/unit/test_aggregates.py checks it on random summaries and nows); it answers
None for the others (an end before `now`, bounds that are not local midnights), which the owner
computes by `unit_stats` over the dossiers received in the period. One choice differs: a unit's
name is the one most of its dossiers give (`unit_stats` takes the period's first in code
order); the two agree whenever a unit's dossiers agree on its name, as they do in every feed.

Memory: a bucket is 4 bytes per counter in a flat array plus a dict entry (~100 bytes); the
heap and the open index hold only dossiers with a future change or still open.
"""

from __future__ import annotations

import heapq
import marshal
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from operator import add
from typing import Any

from hub.domain.calendar import TZ
from hub.domain.stats import COUNTERS, Summary, _row, contribution, ms

NC = len(COUNTERS)
_ZERO = array("i", [0] * NC)
DAY, MONTH, YEAR, ALL = range(4)
_FORMAT = 1  # of `dump`


def _times(value: Any) -> Iterator[int]:
    """Every instant a summary holds, wherever a field (of today or of a later version) has
    one: ints (not bools) inside lists, tuples, dicts and nested dataclasses."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _times(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _times(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from _times(getattr(value, name))


def next_change(s: Summary, now: int) -> int | None:
    """The first instant after `now` at which `contribution(s, t)` may differ from its value
    at `now`: every comparison it makes is of `t` with one of the summary's times."""
    best: int | None = None
    for t in _times(s):
        if t > now and (best is None or t < best):
            best = t
    return best


def local_day(t_ms: int) -> date:
    return datetime.fromtimestamp(t_ms // 1000, TZ).date()


def _is_midnight(t: datetime) -> bool:
    return t.astimezone(TZ).time() == time(0)


def _ordinal(d: date) -> int:
    return d.toordinal()


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def pieces(lo: int, hi: int) -> list[tuple[int, int]]:
    """Local days `[lo, hi)` (ordinals) as whole years, whole months and single days:
    (level, period) with period a day ordinal, `year * 12 + month - 1`, or a year."""
    out: list[tuple[int, int]] = []
    d = lo
    while d < hi:
        day = date.fromordinal(d)
        if day.month == 1 and day.day == 1 and _ordinal(date(day.year + 1, 1, 1)) <= hi:
            out.append((YEAR, day.year))
            d = _ordinal(date(day.year + 1, 1, 1))
        elif day.day == 1 and _ordinal(_next_month(day)) <= hi:
            out.append((MONTH, day.year * 12 + day.month - 1))
            d = _ordinal(_next_month(day))
        else:
            out.append((DAY, d))
            d += 1
    return out


class _Level:
    """Buckets of one granularity: period -> (unit, procedure) id -> slot in a flat array."""

    __slots__ = ("data", "slots")

    def __init__(self) -> None:
        self.slots: dict[int, dict[int, int]] = {}
        self.data = array("i")

    def add(self, period: int, pair: int, counts: list[tuple[int, int]]) -> None:
        """Add (counter index, signed value) pairs, the non-zero ones, to a bucket."""
        by_pair = self.slots.get(period)
        if by_pair is None:
            by_pair = self.slots[period] = {}
        slot = by_pair.get(pair)
        if slot is None:
            slot = by_pair[pair] = len(self.data)
            self.data.extend(_ZERO)
        data = self.data
        for i, v in counts:
            data[slot + i] += v


class Aggregates:
    """The §7 figures of every summary, as of `now` (ms), kept up to date."""

    def __init__(self, now: int, heap_slack: int = 1024) -> None:
        self.now = now
        self.dossiers = 0  # summaries counted (received or not yet)
        self._levels = [_Level() for _ in range(4)]
        self._pairs: dict[tuple[str, str], int] = {}
        self._pair_keys: list[tuple[str, str]] = []
        self._unit_pairs: dict[str, list[int]] = {}
        self._names: dict[str, Counter[str]] = {}
        self._open: dict[str, set[str]] = {}
        self._next: dict[str, int] = {}  # code -> its entry in the heap (others are stale)
        self._heap: list[tuple[int, str]] = []
        self._heap_slack = heap_slack
        self._days: tuple[int, int] | None = None  # lowest and highest day with a bucket

    # -- maintaining --------------------------------------------------------------------------
    def update(self, old: Summary | None, new: Summary | None) -> None:
        """A summary arrived (`old` None), changed, or was deleted (`new` None)."""
        if old is not None:
            self.dossiers -= 1
            self._count(old, self.now, -1)
            if old.unit_name is not None:
                names = self._names[old.unit]
                names[old.unit_name] -= 1
                if names[old.unit_name] <= 0:
                    del names[old.unit_name]
        if new is not None:
            self.dossiers += 1
            self._count(new, self.now, +1)
            if new.unit_name is not None:
                self._names.setdefault(new.unit, Counter())[new.unit_name] += 1
            self._schedule(new, self.now)
        elif old is not None:
            self._next.pop(old.code, None)

    def advance(self, now: int, load: Callable[[str], Summary | None]) -> int:
        """Move to `now` (not before the current one); returns how many dossiers changed."""
        if now < self.now:
            raise ValueError(f"the aggregates are as of {self.now}, not before: {now}")
        heap, moved = self._heap, 0
        while heap and heap[0][0] <= now:
            t, code = heapq.heappop(heap)
            if self._next.get(code) != t:
                continue  # stale: the summary changed since it was pushed
            del self._next[code]
            s = load(code)
            if s is None:
                continue
            self._count(s, self.now, -1)
            self._count(s, now, +1)
            self._schedule(s, now)
            moved += 1
        self.now = now
        return moved

    def _schedule(self, s: Summary, now: int) -> None:
        t = next_change(s, now)
        if t is None:
            self._next.pop(s.code, None)
            return
        if self._next.get(s.code) == t:
            return
        self._next[s.code] = t
        heapq.heappush(self._heap, (t, s.code))
        if len(self._heap) > 2 * len(self._next) + self._heap_slack:
            # stale entries of changed summaries: keep the heap proportional to the dossiers
            self._heap = [(t, c) for c, t in self._next.items()]
            heapq.heapify(self._heap)

    def _count(self, s: Summary, now: int, sign: int) -> None:
        opened = s.received is not None and (s.closed is None or s.closed[0] > now)
        if opened:
            codes = self._open.setdefault(s.unit, set())
            if sign > 0:
                codes.add(s.code)
            else:
                codes.discard(s.code)
        got = contribution(s, now)
        if got is None or s.received is None:
            return
        key = (got.unit, got.procedure or "")
        pair = self._pairs.get(key)
        if pair is None:
            pair = self._pairs[key] = len(self._pair_keys)
            self._pair_keys.append(key)
            self._unit_pairs.setdefault(got.unit, []).append(pair)
        c = got.counts
        counts = [(i, sign * c[k]) for i, k in enumerate(COUNTERS) if c[k]]
        day = local_day(s.received)
        d = day.toordinal()
        levels = self._levels
        levels[DAY].add(d, pair, counts)
        levels[MONTH].add(day.year * 12 + day.month - 1, pair, counts)
        levels[YEAR].add(day.year, pair, counts)
        levels[ALL].add(0, pair, counts)
        if self._days is None:
            self._days = (d, d)
        elif not self._days[0] <= d <= self._days[1]:
            self._days = (min(d, self._days[0]), max(d, self._days[1]))

    # -- a snapshot (the owner keeps it beside the summaries it was counted from) ------------
    def dump(self) -> bytes:
        """Everything, as bytes (marshal: builtin types only, a few hundred ms at a million
        dossiers; the counters' names are in it, so a later version with other counters
        refuses it)."""
        state = (
            _FORMAT,
            COUNTERS,
            self.now,
            self.dossiers,
            [(level.slots, level.data.tobytes()) for level in self._levels],
            self._pair_keys,
            {unit: dict(names) for unit, names in self._names.items()},
            {unit: list(codes) for unit, codes in self._open.items()},
            self._next,
            self._days,
        )
        return marshal.dumps(state)

    @classmethod
    def restore(cls, blob: bytes) -> Aggregates | None:
        """The aggregates `dump` wrote, or None when the blob is of another format."""
        try:
            state = marshal.loads(blob)
        except (EOFError, ValueError, TypeError):
            return None
        if not isinstance(state, tuple) or len(state) != 10 or state[:2] != (_FORMAT, COUNTERS):
            return None
        _, _, now, dossiers, levels, pair_keys, names, opened, nxt, days = state
        agg = cls(now)
        agg.dossiers = dossiers
        for level, (slots, data) in zip(agg._levels, levels, strict=True):
            level.slots = slots
            level.data.frombytes(data)
        agg._pair_keys = [tuple(k) for k in pair_keys]
        agg._pairs = {k: i for i, k in enumerate(agg._pair_keys)}
        for i, (unit, _) in enumerate(agg._pair_keys):
            agg._unit_pairs.setdefault(unit, []).append(i)
        agg._names = {unit: Counter(n) for unit, n in names.items()}
        agg._open = {unit: set(codes) for unit, codes in opened.items()}
        agg._next = nxt
        agg._heap = [(t, c) for c, t in nxt.items()]
        heapq.heapify(agg._heap)
        agg._days = days
        return agg

    # -- reading ------------------------------------------------------------------------------
    def open_codes(self, unit: str) -> list[str]:
        """The unit's dossiers received and not closed at `now` (not yet received ones too:
        the caller reads each at its instant), in code order."""
        return sorted(self._open.get(unit, ()))

    def pending(self) -> int:
        """Dossiers whose figures change after `now` (the heap's live entries)."""
        return len(self._next)

    def answers(self, start: datetime | None, end: datetime | None, now: int) -> bool:
        """Whether `rows` can answer the period from the buckets."""
        if now != self.now:
            return False
        if end is not None and (ms(end) < now or not _is_midnight(end)):
            return False
        return start is None or _is_midnight(start)

    def rows(
        self,
        start: datetime | None,
        end: datetime | None,
        now: int,
        *,
        by_procedure: bool = False,
        unit: str | None = None,
    ) -> list[dict[str, Any]] | None:
        """`unit_stats(every summary, start, end, now, ...)`, or None when not answerable
        here (see `answers`)."""
        if not self.answers(start, end, now):
            return None
        if start is None and end is None:
            parts = [(ALL, 0)]
        elif self._days is None:
            parts = []
        else:
            # no bucket lies outside the years of the lowest and highest days
            first = date(date.fromordinal(self._days[0]).year, 1, 1).toordinal()
            last = date(date.fromordinal(self._days[1]).year + 1, 1, 1).toordinal()
            lo = local_day(ms(start)).toordinal() if start is not None else first
            hi = local_day(ms(end)).toordinal() if end is not None else last
            parts = pieces(max(lo, first), min(hi, last))
        pairs = None if unit is None else self._unit_pairs.get(unit, [])
        totals: dict[int, list[int]] = {}
        for level, period in parts:
            by_pair = self._levels[level].slots.get(period)
            if not by_pair:
                continue
            data = self._levels[level].data
            found = by_pair.items() if pairs is None else _some(by_pair, pairs)
            for pair, slot in found:
                chunk = data[slot : slot + NC]
                acc = totals.get(pair)
                totals[pair] = list(chunk) if acc is None else list(map(add, acc, chunk))
        keyed = {self._pair_keys[pair]: counts for pair, counts in totals.items()}
        return table(keyed, by_procedure, self.name)

    def name(self, unit: str) -> str | None:
        return _most(self._names.get(unit))


def _most(names: Counter[str] | None) -> str | None:
    """The name most dossiers give (ties: the first in code-point order)."""
    if not names:
        return None
    return min(names.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def table(
    totals: dict[tuple[str, str], list[int]],
    by_procedure: bool,
    name: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """`unit_stats`'s rows from the counts per (unit, procedure) (in `COUNTERS` order)."""
    units: dict[str, list[int]] = {}
    procs: dict[str, list[tuple[str, list[int]]]] = {}
    for (code, proc), counts in totals.items():
        if counts[0] <= 0:  # "received": no dossier of the period left in the bucket
            continue
        acc = units.get(code)
        units[code] = list(counts) if acc is None else list(map(add, acc, counts))
        procs.setdefault(code, []).append((proc, counts))
    out = []
    for code in sorted(units):
        row = _row(code, name(code), dict(zip(COUNTERS, units[code], strict=True)))
        if by_procedure:
            rows = []
            for proc, counts in sorted(procs[code]):
                prow = _row(code, None, dict(zip(COUNTERS, counts, strict=True)))
                del prow["unit_code"], prow["unit_name"]
                rows.append({"procedure_code": proc or None, **prow})
            row["procedures"] = rows
        out.append(row)
    return out


class PeriodScan:
    """`unit_stats` over summaries added one at a time, keeping none of them: the periods the
    aggregates do not answer, over the dossiers received in them (a year of a province is
    hundreds of thousands of summaries: they must not all be held at once; the caller can
    yield between them). Names as the aggregates give them, from the period's dossiers."""

    def __init__(
        self,
        start: datetime | None,
        end: datetime | None,
        now: datetime | None,
        unit: str | None = None,
    ) -> None:
        bounds = [ms(t) for t in (end, now) if t is not None]
        self.as_of = min(bounds) if bounds else 2**62
        self.lo = ms(start) if start is not None else None
        self.hi = ms(end) if end is not None else None
        self.unit = unit
        self.totals: dict[tuple[str, str], list[int]] = {}
        self.names: dict[str, Counter[str]] = {}

    def add(self, s: Summary) -> None:
        if s.received is None or (self.lo is not None and s.received < self.lo):
            return
        if (self.hi is not None and s.received >= self.hi) or (
            self.unit is not None and s.unit != self.unit
        ):
            return
        got = contribution(s, self.as_of)
        if got is None:
            return
        key = (got.unit, got.procedure or "")
        counts = [got.counts[k] for k in COUNTERS]
        acc = self.totals.get(key)
        self.totals[key] = counts if acc is None else list(map(add, acc, counts))
        if got.unit_name is not None:
            self.names.setdefault(got.unit, Counter())[got.unit_name] += 1

    def rows(self, by_procedure: bool = False) -> list[dict[str, Any]]:
        return table(self.totals, by_procedure, lambda code: _most(self.names.get(code)))


def scan_rows(
    summaries: Iterable[Summary],
    start: datetime | None,
    end: datetime | None,
    now: datetime | None,
    *,
    by_procedure: bool = False,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """`unit_stats(summaries, start, end, now, ...)` in one pass (`PeriodScan`)."""
    scan = PeriodScan(start, end, now, unit)
    for s in summaries:
        scan.add(s)
    return scan.rows(by_procedure)


def _some(by_pair: dict[int, int], pairs: list[int]) -> Iterator[tuple[int, int]]:
    for pair in pairs:
        slot = by_pair.get(pair)
        if slot is not None:
            yield pair, slot
