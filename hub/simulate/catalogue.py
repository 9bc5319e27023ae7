"""The procedure catalogue and how often each procedure is asked for in the province."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    sector: str  # land | civil | other
    time_limit_wd: int

    @property
    def field_code(self) -> str:
        return {"land": "DD", "civil": "HT"}.get(self.sector, "KH")

    @property
    def field_name(self) -> str:
        return {"land": "Đất đai", "civil": "Hộ tịch"}.get(self.sector, "Khác")


def load_catalogue(path: Path) -> list[Procedure]:
    """The procedure catalogue (`procedures.csv`)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            Procedure(
                row["code"].strip(),
                row["name"].strip(),
                row["sector"].strip(),
                int(row["time_limit_wd"]),
            )
            for row in csv.DictReader(fh)
            if row.get("code", "").strip()
        ]


# realistic proportions of the catalogue's procedures (dossiers per 100); unknown codes weigh 1
PROCEDURE_WEIGHTS: dict[str, float] = {
    "1.001193": 30,  # birth registration
    "2.000635": 14,  # copy of an extract
    "1.004873": 12,  # marital-status certificate
    "1.000894": 8,  # marriage
    "1.000656": 6,  # death
    "2.000806": 1,  # marriage with a foreign element
    "1.013831": 10,  # land transfer
    "1.013978": 4,  # first registration
    "1.012815": 3,  # change of use without permission
    "1.013949": 2,  # allocation, lease, change of use
}
CIVIL_KIND: dict[str, str] = {
    "1.001193": "KHAI_SINH",
    "1.000894": "KET_HON",
    "2.000806": "KET_HON",
    "1.000656": "KHAI_TU",
    "2.000635": "TRICH_LUC",
    "1.004873": "XAC_NHAN_HON_NHAN",
}
# tax types noticed for land procedures
TAX_TYPES: dict[str, tuple[str, ...]] = {
    "1.013831": ("LPTB", "TNCN"),
    "1.013978": ("LPTB", "TSDD"),
    "1.013949": ("TSDD", "LPTB"),
    "1.012815": ("TSDD",),
}
