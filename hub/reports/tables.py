"""The report tables: each table the web face shows, as a title, typed columns with Vietnamese
headers, and rows, for a period judged as of an instant. Pure: the domain's rows in
(`unit_stats` §7, `officer_rows`/`department_rows` §8, `findings` §9), plain values out; the file
formats (csvfile.py, xlsx.py) only lay them out.

A cell holds a str, an int, a float (a share, 0..1, in a `percent` column), a datetime (aware, in
a `datetime` column: shown in local time) or None (nothing to show: a rate with no dossier to
judge, a unit without a name, an officer the record does not name).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from hub.domain.audit import DUE_DATE_EXTENDED, KIND_LABEL, PAUSE_AFTER_DUE, findings
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.responsibility import department_rows, officer_rows
from hub.domain.stats import COUNTERS, FirstNames, Summary, unit_stats

Kind = Literal["text", "int", "percent", "datetime"]
TABLES = ("units", "procedures", "responsibility", "departments", "audit")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = "int"


@dataclass(frozen=True)
class Period:
    """`[start, end)` (None: unbounded) judged as of `as_of` (None: no "now" known yet)."""

    start: datetime | None
    end: datetime | None
    as_of: datetime | None

    @property
    def last_day(self) -> datetime | None:
        """The period's last day, as a person names it: the day before an exclusive end at
        midnight, the end's own day otherwise."""
        if self.end is None:
            return None
        local = self.end.astimezone(TZ)
        at_midnight = local.hour == local.minute == local.second == local.microsecond == 0
        return local - timedelta(days=1) if at_midnight else local

    def label(self) -> str:
        """`01/11/2026 – 30/11/2026`, with `…` for an open side."""
        if self.start is None and self.end is None:
            return "toàn bộ"
        first = day(self.start) if self.start is not None else "…"
        last = day(self.last_day) if self.last_day is not None else "…"
        return f"{first} – {last}"

    def slug(self) -> str:
        """The period in a file name: `2026-11-01_2026-11-30`, `all`, `to-2026-11-30`..."""
        first = self.start.astimezone(TZ).date().isoformat() if self.start else None
        last = self.last_day.date().isoformat() if self.last_day else None
        if first and last:
            return f"{first}_{last}"
        if first:
            return f"from-{first}"
        return f"to-{last}" if last else "all"


@dataclass(frozen=True)
class Table:
    name: str  # the name in the download's path: /api/export/<name>.csv
    sheet: str  # the XLSX sheet's name: at most 31 characters, no []:*?/ nor backslash
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def values(self) -> list[list[Any]]:
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


def day(t: datetime) -> str:
    return t.astimezone(TZ).strftime("%d/%m/%Y")


def moment(t: datetime) -> str:
    return t.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


# §7's figures, in the execution map's order and words (hub/web/app.js)
_STAT_COLUMNS = (
    Column("received", "Tiếp nhận"),
    Column("finished_on_time", "Giải quyết đúng hạn"),
    Column("finished_late", "Giải quyết trễ hạn"),
    Column("open_within_due", "Đang xử lý trong hạn"),
    Column("open_past_due", "Đang xử lý trễ hạn"),
    Column("paused", "Tạm dừng"),
    Column("closed_without_result", "Kết thúc không kết quả"),
    Column("unreported_completions", "Chưa cập nhật kết quả về một cửa"),
    Column("not_received_via_onestop", "Không tiếp nhận qua một cửa"),
    Column("supplements", "Yêu cầu bổ sung"),
    Column("apologies", "Phiếu xin lỗi"),
    Column("audit_findings", "Dấu hiệu che giấu trễ hạn"),  # rules.md §9
    Column("online", "Trực tuyến"),
    Column("online_share", "Tỷ lệ trực tuyến", "percent"),
    Column("on_time_rate", "Tỷ lệ đúng hạn", "percent"),
)
# every figure of a `unit_stats` row: the counters the domain counts, and the two shares
STAT_COLUMNS: tuple[Column, ...] = tuple(
    c for c in _STAT_COLUMNS if c.key in COUNTERS or c.key in ("online_share", "on_time_rate")
)
UNIT_COLUMNS = (Column("unit_code", "Mã đơn vị", "text"), Column("unit_name", "Đơn vị", "text"))


def units_table(rows: Sequence[dict[str, Any]]) -> Table:
    """§7, one row per receiving unit (`unit_stats` rows)."""
    return Table(
        "units",
        "Đơn vị",
        "Tình hình giải quyết hồ sơ theo đơn vị tiếp nhận",
        (*UNIT_COLUMNS, *STAT_COLUMNS),
        [dict(r) for r in rows],
    )


def procedures_table(rows: Sequence[dict[str, Any]], names: dict[str, str]) -> Table:
    """§7 per unit and procedure (`unit_stats(..., by_procedure=True)` rows); `names` gives a
    procedure's name by its code (the rows carry only the code)."""
    out = []
    for unit in rows:
        for proc in unit.get("procedures", ()):
            code = proc.get("procedure_code")
            out.append(
                {
                    "unit_code": unit["unit_code"],
                    "unit_name": unit["unit_name"],
                    **proc,
                    "procedure_name": names.get(code) if code else None,
                }
            )
    return Table(
        "procedures",
        "Đơn vị - thủ tục",
        "Tình hình giải quyết hồ sơ theo đơn vị và thủ tục",
        (
            *UNIT_COLUMNS,
            Column("procedure_code", "Mã thủ tục", "text"),
            Column("procedure_name", "Thủ tục", "text"),
            *STAT_COLUMNS,
        ),
        out,
    )


# rules.md §8: a row per receiving unit, department and officer (or per department)
HOLDER_FIGURES = (
    Column("steps", "Số bước xử lý"),
    Column("steps_overdue", "Bước quá hạn"),
    Column("still_overdue", "Bước còn quá hạn"),
    Column("overrun_working_days", "Số ngày làm việc quá hạn"),
    Column("late_at_breach", "Hồ sơ trễ hạn lúc đang giữ"),
    Column("held_late_now", "Đang giữ hồ sơ trễ hạn"),
)
DEPARTMENT = Column("department", "Bộ phận", "text")


def _with_names(
    rows: Sequence[dict[str, Any]], names: dict[str, str | None]
) -> list[dict[str, Any]]:
    return [{"unit_code": r["unit"], "unit_name": names.get(r["unit"]), **r} for r in rows]


def responsibility_table(rows: Sequence[dict[str, Any]], names: dict[str, str | None]) -> Table:
    """§8 per officer (`officer_rows`), in §8's order; `names` gives a unit's name by code."""
    return Table(
        "responsibility",
        "Cán bộ",
        "Trách nhiệm theo cán bộ: bước quá hạn và hồ sơ trễ hạn",
        (*UNIT_COLUMNS, DEPARTMENT, Column("officer", "Cán bộ", "text"), *HOLDER_FIGURES),
        _with_names(rows, names),
    )


def departments_table(rows: Sequence[dict[str, Any]], names: dict[str, str | None]) -> Table:
    """§8 summed per department (`department_rows`), in §8's order."""
    return Table(
        "departments",
        "Bộ phận",
        "Trách nhiệm theo bộ phận: bước quá hạn và hồ sơ trễ hạn",
        (*UNIT_COLUMNS, DEPARTMENT, *HOLDER_FIGURES),
        _with_names(rows, names),
    )


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def audit_table(rows: Sequence[dict[str, Any]]) -> Table:
    """§9 findings (`hub.domain.audit.findings` rows), by time; the extended date and the
    pause's kind in columns of their own, so the dates stay dates."""
    out = []
    for r in rows:
        extended = r["kind"] == DUE_DATE_EXTENDED
        out.append(
            {
                **r,
                "at": _instant(r["at"]),
                "due_date": _instant(r["due_date"]),
                "label": KIND_LABEL.get(r["kind"], r["kind"]),
                "extended_to": _instant(r["detail"]) if extended else None,
                "pause_kind": PAUSE_KINDS.get(r["detail"], r["detail"])
                if r["kind"] == PAUSE_AFTER_DUE
                else None,
            }
        )
    return Table(
        "audit",
        "Kiểm tra hồ sơ",
        "Hồ sơ có dấu hiệu che giấu trễ hạn",
        (
            Column("at", "Thời điểm", "datetime"),
            Column("label", "Dấu hiệu", "text"),
            Column("kind", "Mã dấu hiệu", "text"),
            Column("dossier_code", "Mã hồ sơ", "text"),
            Column("unit", "Mã đơn vị", "text"),
            Column("unit_name", "Đơn vị", "text"),
            Column("procedure_code", "Mã thủ tục", "text"),
            Column("due_date", "Hạn trả khi đó", "datetime"),
            Column("extended_to", "Ngày hẹn trả mới", "datetime"),
            Column("pause_kind", "Loại tạm dừng", "text"),
            DEPARTMENT,
            Column("officer", "Cán bộ", "text"),
            Column("message", "Nội dung", "text"),
        ),
        out,
    )


PAUSE_KINDS = {"supplement": "chờ bổ sung", "financial": "nghĩa vụ tài chính"}


def procedure_names(summaries: Iterable[Summary]) -> dict[str, str]:
    """Each procedure's name, as the first dossier (in code order) that names it gives it."""
    first = FirstNames()
    for s in summaries:
        if s.procedure and s.procedure_name:
            first.offer(s.procedure, s.code, s.procedure_name)
    return {code: name for code, name in first.names().items() if name}


def unit_names(summaries: Iterable[Summary]) -> dict[str, str | None]:
    """Each receiving unit's name, as the first dossier (in code order) naming it gives it
    (as `unit_stats` names it)."""
    first = FirstNames()
    for s in summaries:
        first.offer(s.unit, s.code, s.unit_name)
    return first.names()


# The tables are built from three parts, each a single pass over the summaries (in any order)
# that applies the `units` filter itself: the web face runs them side by side over one read of
# the province (hub/web/exports.py), `build_tables` one after the other over a list.


def _of(summaries: Iterable[Summary], units: frozenset[str] | None) -> Iterator[Summary]:
    return (s for s in summaries if units is None or s.unit in units)


@dataclass(frozen=True)
class UnitFigures:
    """§7's part: `unit_stats` rows with their `procedures`, and the names the rows lack."""

    rows: list[dict[str, Any]]
    unit_names: dict[str, str | None]  # of every unit seen, counted in the period or not
    procedure_names: dict[str, str]


def unit_figures(
    summaries: Iterable[Summary], period: Period, *, units: frozenset[str] | None = None
) -> UnitFigures:
    """§7 for `period`; as /api/units does, with no "now" known yet (no judge has said how far
    it got) the dossiers are judged as of the period's end."""
    unit_first, procedure_first = FirstNames(), FirstNames()

    def named() -> Iterator[Summary]:  # the names, gathered as unit_stats reads
        for s in _of(summaries, units):
            unit_first.offer(s.unit, s.code, s.unit_name)
            if s.procedure and s.procedure_name:
                procedure_first.offer(s.procedure, s.code, s.procedure_name)
            yield s

    rows = unit_stats(named(), period.start, period.end, period.as_of, by_procedure=True)
    procedures = {code: name for code, name in procedure_first.names().items() if name}
    return UnitFigures(rows, unit_first.names(), procedures)


def officer_figures(
    summaries: Iterable[Summary],
    period: Period,
    calendar: WorkingCalendar,
    *,
    units: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """§8's `officer_rows` for `period`; none before the first judge clock (no "now"), as the
    API's. Reads nothing then."""
    if period.as_of is None:
        return []
    return officer_rows(_of(summaries, units), calendar, period.start, period.end, period.as_of)


def audit_findings(
    summaries: Iterable[Summary], period: Period, *, units: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """§9's `findings` for `period`; none before the first judge clock, as `officer_figures`."""
    if period.as_of is None:
        return []
    return findings(_of(summaries, units), period.start, period.end, period.as_of)


def assemble_tables(
    figures: UnitFigures, officers: list[dict[str, Any]], found: list[dict[str, Any]]
) -> dict[str, Table]:
    """Every report table from the three parts, by name, in the workbook's order (TABLES)."""
    plain = [{k: v for k, v in r.items() if k != "procedures"} for r in figures.rows]
    names = figures.unit_names
    tables = {
        "units": units_table(plain),
        "procedures": procedures_table(figures.rows, figures.procedure_names),
        "responsibility": responsibility_table(officers, names),
        "departments": departments_table(department_rows(officers), names),
        "audit": audit_table(found),
    }
    return {name: tables[name] for name in TABLES}


def build_tables(
    summaries: Iterable[Summary],
    period: Period,
    calendar: WorkingCalendar,
    *,
    units: frozenset[str] | None = None,
) -> dict[str, Table]:
    """Every report table for `period`, by name, in the workbook's order (TABLES); only the
    receiving units in `units` when given (a reader limited to some units sees only theirs).
    The parts read `summaries` one after the other: a list is made of any other iterable."""
    listed = summaries if isinstance(summaries, Sequence) else list(summaries)
    return assemble_tables(
        unit_figures(listed, period, units=units),
        officer_figures(listed, period, calendar, units=units),
        audit_findings(listed, period, units=units),
    )
