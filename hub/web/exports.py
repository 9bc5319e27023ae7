"""Downloads: every table of the web face as CSV or XLSX for a period (operations.md "Web").

    /api/export/{table}.csv     one table, CSV (UTF-8 with BOM)
    /api/export/{table}.xlsx    one table, a workbook of one sheet
    /api/export/report.xlsx     every table, one sheet each: the province's monthly report

`table` is one of hub.reports.tables.TABLES: units, procedures (rules.md §7), responsibility,
departments (§8), audit (§9). The period is `?from=YYYY-MM-DD&to=YYYY-MM-DD`
(inclusive days, local time) or `?period=today|month|year|all`, as for /api/units, and
`?unit=` keeps one receiving unit (as /api/responsibility and /api/audit take it); a bad
parameter is a 400 with a message. The figures are judged as of the summary store's "now" (the
worker's injected clock, rules.md §6), the same instant /api/units uses, given in the
`X-Motcua-As-Of` header and in each sheet's title row. A reader limited to some units
(hub/web/access.py) gets only their rows (naming another unit is a 403). The file name names
the table, the unit if one was asked for, and the period.

The province's summaries are read once, on the event loop, a chunk at a time (the judge and the
summary reader that share the loop run in between), and never all held: each chunk goes to the
three parts of the tables (hub.reports.tables: §7's figures, §8's officers, §9's findings), each
a single pass in a thread of its own (hub/web/streamed.py). The tables are then assembled and
the file written in a thread, so a large report does not stall the loop either.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

import faust
from faust import web

from hub.domain.calendar import WorkingCalendar
from hub.domain.stats import Summary
from hub.reports.csvfile import to_csv
from hub.reports.tables import (
    TABLES,
    Period,
    Table,
    assemble_tables,
    audit_findings,
    officer_figures,
    unit_figures,
)
from hub.reports.xlsx import to_xlsx
from hub.web import BadRequest, WebContext, period_bounds, text_param
from hub.web.access import allowed_units, may_see
from hub.web.streamed import judge_streamed_all
from hub.web.trace import iso

REPORT = "report"  # the workbook of every table
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class NoSuchTable(LookupError):
    pass


def parse_name(name: str) -> tuple[str, str]:
    """(table, format) of a download's file name; NoSuchTable when it names none."""
    table, _, ext = name.rpartition(".")
    if ext not in ("csv", "xlsx") or (table not in TABLES and table != REPORT):
        raise NoSuchTable(
            f"không có bảng {name[:60]!r}: tải {', '.join(TABLES)} dạng .csv hoặc .xlsx, "
            f"hoặc {REPORT}.xlsx"
        )
    if table == REPORT and ext != "xlsx":
        raise NoSuchTable(f"{REPORT} chỉ có dạng .xlsx (một trang cho mỗi bảng)")
    return table, ext


def file_name(table: str, ext: str, period: Period, unit: str | None = None) -> str:
    """ASCII only (a header's plain `filename=`): a unit code's other characters become `-`."""
    part = re.sub(r"[^A-Za-z0-9.]+", "-", unit).strip("-") + "-" if unit else ""
    return f"motcua-{table}-{part}{period.slug()}.{ext}"


async def build_tables_streamed(
    values: Iterable[Summary],
    period: Period,
    calendar: WorkingCalendar,
    *,
    units: frozenset[str] | None = None,
) -> dict[str, Table]:
    """`build_tables(values, ...)`, over one read of `values` on the event loop, in bounded
    memory (the three parts judge the chunks as they come), the tables assembled in a thread."""
    figures, officers, found = await judge_streamed_all(
        values,
        [
            lambda summaries: unit_figures(summaries, period, units=units),
            lambda summaries: officer_figures(summaries, period, calendar, units=units),
            lambda summaries: audit_findings(summaries, period, units=units),
        ],
    )
    return await asyncio.to_thread(assemble_tables, figures, officers, found)


def render(tables: dict[str, Table], period: Period, table: str, ext: str) -> bytes:
    if table == REPORT:
        return to_xlsx(tables.values(), period)
    if ext == "csv":
        return to_csv(tables[table])
    return to_xlsx([tables[table]], period)


def install_exports(app: faust.App, ctx: WebContext) -> None:
    store = ctx.store

    @app.page("/api/export/{name}")
    async def export(self: web.View, request: web.Request, name: str) -> web.Response:
        now = store.as_of()
        q = dict(request.query)
        try:
            table, ext = parse_name(name)
            start, end = period_bounds(q, now or ctx.clock())
            unit = text_param(q["unit"], "unit") if q.get("unit") else None
        except NoSuchTable as exc:
            return self.json({"error": str(exc)}, status=404)
        except BadRequest as exc:
            return self.json({"error": str(exc)}, status=400)
        units = allowed_units(request)
        if unit is not None:
            if not may_see(units, unit):
                return self.json({"error": "mã truy cập không được xem đơn vị này"}, status=403)
            units = frozenset({unit})
        period = Period(start, end, now)
        tables = await build_tables_streamed(
            store.summaries.values(), period, ctx.calendar, units=units
        )
        body = await asyncio.to_thread(render, tables, period, table, ext)
        headers = {
            "Content-Type": CSV_TYPE if ext == "csv" else XLSX_TYPE,
            "Content-Disposition": f'attachment; filename="{file_name(table, ext, period, unit)}"',
            "X-Motcua-As-Of": iso(now) or "",
            "Cache-Control": "no-store",
        }
        return self.bytes(body, headers=headers)
