"""The event clock's watermark over the inbound partitions (rules.md §6). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mark:
    high_ms: int | None  # highest event time read on the partition; None: no valid message yet
    idle: bool


@dataclass
class Watermark:
    """Marks per inbound partition (`topic:partition`), merged from every worker's reports."""

    marks: dict[str, Mark] = field(default_factory=dict)

    def merge(self, key: str, high_ms: int | None, idle: bool) -> None:
        # highs only grow: a worker that just took a partition over may not have read it yet
        old = self.marks.get(key)
        if old is not None and old.high_ms is not None:
            high_ms = old.high_ms if high_ms is None else max(old.high_ms, high_ms)
        self.marks[key] = Mark(high_ms, idle)

    def value_ms(self) -> int | None:
        """Min over non-idle partitions that delivered; all idle: the max anywhere."""
        seen = [m for m in self.marks.values() if m.high_ms is not None]
        if not seen:
            return None
        active = [m.high_ms for m in seen if not m.idle and m.high_ms is not None]
        if active:
            return min(active)
        return max(m.high_ms for m in seen if m.high_ms is not None)

    def to_json(self) -> dict[str, list[int | bool | None]]:
        return {k: [m.high_ms, m.idle] for k, m in self.marks.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[int | bool | None]]) -> Watermark:
        wm = cls()
        for k, (high, idle) in data.items():
            wm.marks[k] = Mark(
                high if isinstance(high, int) and not isinstance(high, bool) else None, bool(idle)
            )
        return wm
