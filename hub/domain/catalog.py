"""The procedure catalogue (procedures.csv): procedure code -> time limit in working days."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError

_REQUIRED = ("code", "name", "time_limit_wd")


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    sector: str
    time_limit_wd: int


@dataclass(frozen=True)
class Catalog:
    procedures: dict[str, Procedure]

    def get(self, code: str | None) -> Procedure | None:
        return self.procedures.get(code) if code else None

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        """Load and validate; a bad row stops the hub naming its line."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"catalogue file {path}: {exc}") from exc
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"catalogue file {path}, line 1: missing column(s) {missing}")
        procedures: dict[str, Procedure] = {}
        for lineno, row in enumerate(reader, start=2):
            code = (row.get("code") or "").strip()
            if not code:
                raise ConfigError(f"catalogue file {path}, line {lineno}: empty procedure code")
            raw = (row.get("time_limit_wd") or "").strip()
            if not raw.isascii() or not raw.isdigit():
                raise ConfigError(
                    f"catalogue file {path}, line {lineno}: time_limit_wd {raw!r} "
                    "is not a whole number of working days"
                )
            if code in procedures:
                raise ConfigError(f"catalogue file {path}, line {lineno}: duplicate code {code}")
            procedures[code] = Procedure(
                code, (row.get("name") or "").strip(), (row.get("sector") or "").strip(), int(raw)
            )
        return cls(procedures)
