"""What a simulation run is asked for: seed, size, span, and the shares of each kind of trouble.

Shares (all per the model's intent, recorded in `Dossier` and `Msg.note`):
- `late_share`: of dossiers with a due date that finish with a result, the share that finish after
  their (pause-moved) due date; a share of those get an apology, most dated before the due date;
- `unreported_share`: of dossiers with a one-stop code closed by a sectoral system (land or civil),
  the share whose one-stop system never records the closing;
- `bypass_share`: of land and civil dossiers, the share that never pass the one-stop desk (their
  land or civil events carry no one-stop code);
- `step_overdue_share`: of dossiers with at least one hand-over, the share with one hand-over whose
  step deadline passes before anything follows it;
- `duplicate_share`, `out_of_order_share`, `malformed_share`: per valid message, the chance of a
  redelivered copy, of being sent late (minutes; one in ten by about a day), of an extra malformed
  copy (every dead-letter reason its source can produce).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from hub.domain.calendar import TZ


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    dossiers: int = 1000
    start: date = date(2026, 11, 2)
    days: int = 30
    late_share: float = 0.15
    unreported_share: float = 0.05
    bypass_share: float = 0.03
    step_overdue_share: float = 0.10
    malformed_share: float = 0.005
    duplicate_share: float = 0.02
    out_of_order_share: float = 0.03
    security_code: str = "QNAM-VBDLIS-7f3a9c"
    max_message_bytes: int = 524288

    def __post_init__(self) -> None:
        if self.dossiers < 0:
            raise ValueError("dossiers must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        for name in (
            "late_share",
            "unreported_share",
            "bypass_share",
            "step_overdue_share",
            "malformed_share",
            "duplicate_share",
            "out_of_order_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")

    @property
    def horizon(self) -> datetime:
        """The end of the feed: nothing is sent at or after it."""
        return datetime.combine(self.start + timedelta(days=self.days), time(0), tzinfo=TZ)
