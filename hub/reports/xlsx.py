"""Report tables as an XLSX workbook (openpyxl): one sheet per table.

Each sheet: row 1 the table's title with its period and the instant its figures are judged at
(text, as a person reads it); row 2 the same as real cells (the period's first and last day as
dates, the as-of instant as a date and time, all `dd/mm/yyyy`); row 3 the Vietnamese column
headers (frozen, with a filter); then the rows. Counts are numbers, shares are numbers with a
percent format (0.625 shows as 62,5 %), instants are dates with a `dd/mm/yyyy hh:mm` format, in
local time (Excel has no time zones).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hub.domain.calendar import TZ
from hub.reports.tables import Column, Period, Table, moment

TITLE_ROW, PERIOD_ROW, HEADER_ROW = 1, 2, 3
FIRST_DATA_ROW = HEADER_ROW + 1
DATE = "dd/mm/yyyy"
DATETIME = "dd/mm/yyyy hh:mm"
FORMATS = {"int": "#,##0", "percent": "0.0%", "datetime": DATETIME, "text": "@"}
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
MIN_WIDTH, MAX_WIDTH, HEADER_WRAP = 8, 60, 16


def local(t: datetime) -> datetime:
    """An aware instant as the naive local time Excel stores."""
    return t.astimezone(TZ).replace(tzinfo=None)


def title(table: Table, period: Period) -> str:
    as_of = moment(period.as_of) if period.as_of is not None else "chưa có"
    return f"{table.title}. Kỳ báo cáo: {period.label()}. Số liệu tính đến: {as_of}"


def _value(value: Any) -> Any:
    return local(value) if isinstance(value, datetime) else value


def _period_cells(ws: Worksheet, period: Period) -> None:
    cells: list[tuple[str, datetime | None, str]] = [
        ("Từ ngày", period.start, DATE),
        ("Đến ngày", period.last_day, DATE),
        ("Số liệu tính đến", period.as_of, DATETIME),
    ]
    col = 1
    for label, when, fmt in cells:
        ws.cell(PERIOD_ROW, col, label).font = Font(italic=True)
        target = ws.cell(PERIOD_ROW, col + 1)
        if when is None:
            target.value = "…"
        else:
            shown = local(when)
            target.value = shown.date() if fmt == DATE else shown
            target.number_format = fmt
            target.alignment = Alignment(horizontal="left")
        col += 2


def _width(column: Column, values: Iterable[Any]) -> float:
    longest = 0
    for v in values:
        if v is None:
            continue
        if isinstance(v, datetime):
            n = 16
        elif column.kind == "percent":
            n = 7
        else:
            n = len(str(v))
        longest = max(longest, n)
    # a long header wraps over two lines rather than widening a column of short numbers
    header = min(len(column.header), HEADER_WRAP)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2, header + 2)))


def add_sheet(wb: Workbook, table: Table, period: Period) -> Worksheet:
    ws: Worksheet = wb.create_sheet(table.sheet)
    ws.cell(TITLE_ROW, 1, title(table, period)).font = Font(bold=True, size=13)
    _period_cells(ws, period)
    for j, column in enumerate(table.columns, start=1):
        cell = ws.cell(HEADER_ROW, j, column.header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for i, values in enumerate(table.values(), start=FIRST_DATA_ROW):
        for j, (column, value) in enumerate(zip(table.columns, values, strict=True), start=1):
            cell = ws.cell(i, j, _value(value))
            cell.number_format = FORMATS[column.kind]
    for j, column in enumerate(table.columns, start=1):
        width = _width(column, (row.get(column.key) for row in table.rows))
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"  # the title, period and header rows stay
    last = get_column_letter(len(table.columns))
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{max(HEADER_ROW, HEADER_ROW + len(table.rows))}"
    return ws


def to_xlsx(tables: Iterable[Table], period: Period) -> bytes:
    """A workbook of `tables`, one sheet each, in the order given."""
    wb = Workbook()
    if wb.active is not None:  # the empty sheet a new workbook starts with
        wb.remove(wb.active)
    for table in tables:
        add_sheet(wb, table, period)
    wb.properties.creator = "motcua-hub"
    wb.properties.title = "Báo cáo tình hình giải quyết thủ tục hành chính"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
