"""The numbers the province's systems hand out: receipt codes, case ids, event ids, tax notices.

One `Serials` per simulation: the sequences run across dossiers in the order they are made, which
is the order of their receipt, so the same seed numbers them the same way.
"""

from __future__ import annotations

from datetime import date, datetime


class Serials:
    def __init__(self) -> None:
        self._receipts: dict[tuple[str, date], int] = {}
        self._land = 1000
        self._civil = 500
        self._civil_event = 3000
        self._notice = 60000

    def receipt_code(self, unit_code: str, t: datetime) -> str:
        """The one-stop code (MaHoSo): the unit's receipts of that day, counted from 1."""
        k = (unit_code, t.date())
        self._receipts[k] = self._receipts.get(k, 0) + 1
        return f"{unit_code}-{t:%y%m%d}-{self._receipts[k]:04d}"

    def land_id(self, t: datetime) -> str:
        """The land system's case id (MaHoSoVBDLIS)."""
        self._land += 1
        return f"VBD-{t.year}-{self._land:07d}"

    def civil_id(self, t: datetime) -> str:
        """The civil-status system's case number (SoHoSo)."""
        self._civil += 1
        return f"HT.49.{t.year}.{self._civil:06d}"

    def civil_event_id(self, t: datetime) -> str:
        self._civil_event += 1
        return f"HT-49-{t:%Y-%m%d}-{self._civil_event:06d}"

    def notice_no(self) -> str:
        self._notice += 1
        return f"TB-{self._notice}"
