"""The event clock's watermark over the inbound partitions (rules.md §6). Pure.

Each worker reports, for every inbound partition it reads, the highest event time read there,
whether the partition is idle, and whether it is *waiting*: it has delivered no valid message yet
but has messages not read yet. The marks of every worker meet here. A partition that never
delivered a valid message does not count (§6), unless it is waiting: then its events are simply
not in yet, and the watermark holds, since judging without them is what §6 exists to prevent.
For the same reason the watermark holds until every inbound partition has been reported once
(`expected`): a worker still joining the group has not yet said what its partitions hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mark:
    high_ms: int | None  # highest event time read on the partition; None: no valid message yet
    idle: bool
    waiting: bool = False  # no valid message yet, but a backlog not read yet
    seen_ms: int | None = None  # wall time of the last report (None: not known)


@dataclass
class Watermark:
    """Marks per inbound partition (`topic:partition`), merged from every worker's reports."""

    marks: dict[str, Mark] = field(default_factory=dict)
    expected: int = 0  # how many inbound partitions there are, as the workers see it

    def merge(
        self,
        key: str,
        high_ms: int | None,
        idle: bool,
        waiting: bool = False,
        seen_ms: int | None = None,
    ) -> None:
        # highs only grow: a worker that just took a partition over may not have read it yet
        old = self.marks.get(key)
        if old is not None and old.high_ms is not None:
            high_ms = old.high_ms if high_ms is None else max(old.high_ms, high_ms)
        self.marks[key] = Mark(high_ms, idle, waiting and high_ms is None, seen_ms)

    def forget_stale(self, now_ms: int, max_age_ms: int) -> None:
        """Drop the marks nobody has reported for `max_age_ms`: a partition with no reader
        then counts as unreported (the watermark holds until it is reported again), and a mark
        that no worker reports (a stray record's invention) cannot hold the watermark for good."""
        for key in [k for k, m in self.marks.items() if m.seen_ms is not None]:
            seen = self.marks[key].seen_ms
            if seen is not None and now_ms - seen > max_age_ms:
                del self.marks[key]

    def value_ms(self) -> int | None:
        """Min over non-idle partitions that delivered; all idle: the max anywhere; None while
        a partition is unreported or waiting."""
        if len(self.marks) < self.expected:
            return None
        if any(m.waiting and not m.idle for m in self.marks.values()):
            return None
        seen = [m.high_ms for m in self.marks.values() if m.high_ms is not None]
        if not seen:
            return None
        active = [m.high_ms for m in self.marks.values() if not m.idle and m.high_ms is not None]
        return min(active) if active else max(seen)

    def to_json(self, with_seen: bool = True) -> dict[str, object]:
        def mark(m: Mark) -> list[int | bool | None]:
            return (
                [m.high_ms, m.idle, m.waiting, m.seen_ms]
                if with_seen
                else [
                    m.high_ms,
                    m.idle,
                    m.waiting,
                ]
            )

        return {"expected": self.expected, "marks": {k: mark(m) for k, m in self.marks.items()}}

    @classmethod
    def from_json(cls, data: dict[str, object], read_at_ms: int | None = None) -> Watermark:
        """The marks as `to_json` wrote them. `read_at_ms`: when a judge reads them back from
        its store; every mark then counts as reported at that instant. A stored mark's own time
        is when the stored value last *changed* (a report that changes nothing is not written
        again), so after a restart it can be minutes old while the mark is reported every
        tick: judged by it, `forget_stale` would drop every mark, with the highs that only
        grow, at the first clock record that does not name them all (one sent before its
        intake had partitions, one of another worker's intake), and the new intake, with
        nothing left to read, reports no high: the clock stops for good."""
        wm = cls()
        expected = data.get("expected", 0)
        wm.expected = expected if isinstance(expected, int) else 0
        marks = data.get("marks", {})
        if isinstance(marks, dict):
            for k, values in marks.items():
                seen = values[3] if isinstance(values, list) and len(values) > 3 else None
                seen_ms = seen if isinstance(seen, int) and not isinstance(seen, bool) else None
                if read_at_ms is not None:
                    seen_ms = read_at_ms
                wm.merge(str(k), *parse_mark(values), seen_ms=seen_ms)
        return wm


def parse_mark(values: object) -> tuple[int | None, bool, bool]:
    """`[high, idle]` or `[high, idle, waiting]`, as a clock record carries them."""
    if not isinstance(values, list | tuple) or len(values) < 2:
        return None, True, False
    high = values[0] if isinstance(values[0], int) and not isinstance(values[0], bool) else None
    waiting = bool(values[2]) if len(values) > 2 else False
    return high, bool(values[1]), waiting
