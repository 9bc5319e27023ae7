"""A report table as CSV: UTF-8 with a byte-order mark (without it Excel reads the Vietnamese
headers as Windows-1252), comma-separated, one header row of the Vietnamese column names.

Numbers are written as the JSON API gives them (a share as a fraction: 0.625, a dot for the
decimal point), so a program reading the CSV gets the API's figures; an instant as
`dd/mm/yyyy HH:MM` in local time, the way the province writes dates. The period is in the file
name (the XLSX carries it in a title row; a CSV title row would break programs that read it).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from hub.reports.tables import Table, moment


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, bool):  # before int: a bool is an int
        return "1" if value else "0"
    return str(value)


def to_csv(table: Table) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([c.header for c in table.columns])
    for values in table.values():
        writer.writerow([cell(v) for v in values])
    return out.getvalue().encode("utf-8-sig")
