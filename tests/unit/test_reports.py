"""hub/reports: the report tables (numbers, Vietnamese headers, types) and their CSV and XLSX
files, checked against the domain's own rows over the contract's sample feed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from hub.domain.audit import DUE_DATE_EXTENDED, PAUSE_AFTER_DUE, Finding, findings
from hub.domain.calendar import TZ
from hub.domain.responsibility import department_rows, officer_rows
from hub.domain.stats import Summary, ms, summarize, unit_stats
from hub.reports.csvfile import to_csv
from hub.reports.tables import Column, Period, Table, build_tables
from hub.reports.xlsx import FIRST_DATA_ROW, HEADER_ROW, to_xlsx
from tests.samples import END_TIME, SAMPLES, expected_unit_stats
from tests.unit.test_samples_rules import CAL, ENGINE, _events

NOVEMBER = Period(datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ), END_TIME)
ALL = Period(None, None, END_TIME)
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def summaries() -> list[Summary]:
    return [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]


def sheet_rows(ws: Worksheet) -> list[dict[str, Any]]:
    """The data rows of a sheet, keyed by header."""
    headers = [str(c.value) for c in ws[HEADER_ROW]]
    return [
        dict(zip(headers, row, strict=True))
        for row in ws.iter_rows(min_row=FIRST_DATA_ROW, values_only=True)
    ]


def same(cell: Any, value: Any) -> bool:
    """A cell holds the API's value; a share to 15 significant digits, as a spreadsheet keeps
    it (openpyxl writes 0.42857142857142855 as 0.4285714285714285)."""
    if isinstance(value, float):
        return isinstance(cell, (int, float)) and cell == pytest.approx(value, rel=1e-14)
    return bool(cell == value)


def test_units_table_is_unit_stats_with_vietnamese_headers(summaries: list[Summary]) -> None:
    table = build_tables(summaries, ALL, CAL)["units"]
    assert table.rows == unit_stats(summaries, now=END_TIME)
    for row, want in zip(table.rows, expected_unit_stats(), strict=True):
        assert {k: row[k] for k in want} == want
    headers = {c.key: c.header for c in table.columns}
    assert headers["unit_code"] == "Mã đơn vị"
    assert headers["open_past_due"] == "Đang xử lý trễ hạn"
    assert headers["on_time_rate"] == "Tỷ lệ đúng hạn"
    kinds = {c.key: c.kind for c in table.columns}
    assert kinds["received"] == "int" and kinds["unit_name"] == "text"
    assert kinds["online_share"] == kinds["on_time_rate"] == "percent"
    # every figure of the API's row has its column, and no column is made up
    assert {c.key for c in table.columns} == set(table.rows[0])


def test_procedures_table_breaks_each_unit_down(summaries: list[Summary]) -> None:
    table = build_tables(summaries, NOVEMBER, CAL)["procedures"]
    units = {
        r["unit_code"]: r for r in unit_stats(summaries, NOVEMBER.start, NOVEMBER.end, END_TIME)
    }
    assert table.rows and {r["unit_code"] for r in table.rows} == set(units)
    for code, unit in units.items():
        mine = [r for r in table.rows if r["unit_code"] == code]
        for key in ("received", "finished_on_time", "open_past_due", "online"):
            assert sum(r[key] for r in mine) == unit[key], (code, key)
    named = [r for r in table.rows if r["procedure_code"]]
    assert named and all(r["procedure_name"] for r in named)
    assert table.columns[2].header == "Mã thủ tục" and table.columns[3].header == "Thủ tục"


def test_a_reader_limited_to_units_sees_only_theirs(summaries: list[Summary]) -> None:
    mine = frozenset({"000.31.05.H49", "land"})
    tables = build_tables(summaries, ALL, CAL, units=mine)
    want = [r for r in unit_stats(summaries, now=END_TIME) if r["unit_code"] in mine]
    assert tables["units"].rows == want and len(want) == 2
    assert {r["unit_code"] for r in tables["procedures"].rows} == mine
    assert build_tables(summaries, ALL, CAL, units=frozenset())["units"].rows == []


def test_period_label_and_file_name() -> None:
    assert NOVEMBER.label() == "01/11/2026 – 30/11/2026"
    assert NOVEMBER.slug() == "2026-11-01_2026-11-30"
    assert ALL.label() == "toàn bộ" and ALL.slug() == "all"
    since = Period(datetime(2026, 12, 1, tzinfo=TZ), None, END_TIME)
    assert since.label() == "01/12/2026 – …" and since.slug() == "from-2026-12-01"
    # an end that is not a midnight names its own day
    until = Period(None, END_TIME, END_TIME)
    assert until.label() == "… – 06/12/2026" and until.slug() == "to-2026-12-06"


def test_csv_has_a_bom_vietnamese_headers_and_the_apis_numbers(summaries: list[Summary]) -> None:
    table = build_tables(summaries, ALL, CAL)["units"]
    api = unit_stats(summaries, now=END_TIME)
    data = to_csv(table)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [c.header for c in table.columns]
    assert len(rows) == 1 + len(api)
    for got, want in zip(rows[1:], api, strict=True):
        for column, text in zip(table.columns, got, strict=True):
            value = want[column.key]
            if value is None:
                assert text == ""
            elif column.kind == "percent":
                assert float(text) == value
            elif column.kind == "int":
                assert int(text) == value
            else:
                assert text == value


def test_xlsx_has_the_same_numbers_as_unit_stats(summaries: list[Summary]) -> None:
    tables = build_tables(summaries, NOVEMBER, CAL)
    wb = load_workbook(io.BytesIO(to_xlsx(tables.values(), NOVEMBER)))
    assert wb.sheetnames == ["Đơn vị", "Đơn vị - thủ tục", "Cán bộ", "Bộ phận", "Kiểm tra hồ sơ"]
    want = unit_stats(summaries, NOVEMBER.start, NOVEMBER.end, END_TIME)
    units = wb["Đơn vị"]
    got = sheet_rows(units)
    assert len(got) == len(want) > 0
    headers = {c.key: c.header for c in tables["units"].columns}
    for row, json_row in zip(got, want, strict=True):
        for key, value in json_row.items():
            assert same(row[headers[key]], value), (json_row["unit_code"], key)
    by_procedure = unit_stats(summaries, NOVEMBER.start, NOVEMBER.end, END_TIME, by_procedure=True)
    flat = [(u["unit_code"], p) for u in by_procedure for p in u["procedures"]]
    got = sheet_rows(wb["Đơn vị - thủ tục"])
    assert [(r["Mã đơn vị"], r["Mã thủ tục"], r["Tiếp nhận"]) for r in got] == [
        (code, p["procedure_code"], p["received"]) for code, p in flat
    ]


def test_xlsx_layout_title_period_formats_frozen_header(summaries: list[Summary]) -> None:
    table = build_tables(summaries, NOVEMBER, CAL)["units"]
    ws = load_workbook(io.BytesIO(to_xlsx([table], NOVEMBER)))["Đơn vị"]
    title = str(ws["A1"].value)
    assert table.title in title
    assert "01/11/2026 – 30/11/2026" in title and "06/12/2026 17:59" in title
    # the period as real dates, the as-of as a date and time (local: Excel has no zones)
    assert ws["B2"].value == datetime(2026, 11, 1) and ws["B2"].number_format == "dd/mm/yyyy"
    assert ws["D2"].value == datetime(2026, 11, 30) and ws["D2"].number_format == "dd/mm/yyyy"
    assert ws["F2"].value == datetime(2026, 12, 6, 17, 59)
    assert ws["F2"].number_format == "dd/mm/yyyy hh:mm"
    assert ws.freeze_panes == "A4"
    assert [c.value for c in ws[HEADER_ROW]] == [c.header for c in table.columns]
    first = list(ws[FIRST_DATA_ROW])
    kinds = [c.kind for c in table.columns]
    for cell, kind in zip(first, kinds, strict=True):
        if kind == "percent":
            assert cell.number_format == "0.0%"
            assert cell.value is None or isinstance(cell.value, (int, float))
        elif kind == "int":
            assert isinstance(cell.value, int)
    # a column of unit names is wider than one of small counts, within bounds
    widths = {c.key: ws.column_dimensions[chr(65 + i)].width for i, c in enumerate(table.columns)}
    assert widths["unit_name"] > widths["received"] >= 8
    assert max(widths.values()) <= 60


def test_an_instant_is_a_local_date_and_time_cell() -> None:
    at = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # 30/11 03:00 in Vietnam
    table = Table(
        "t",
        "Thử",
        "Bảng thử",
        (Column("code", "Mã", "text"), Column("at", "Thời điểm", "datetime")),
        [{"code": "A", "at": at}, {"code": "B", "at": None}],
    )
    ws = load_workbook(io.BytesIO(to_xlsx([table], ALL)))["Thử"]
    assert ws.cell(FIRST_DATA_ROW, 2).value == datetime(2026, 11, 30, 3, 0)
    assert ws.cell(FIRST_DATA_ROW, 2).number_format == "dd/mm/yyyy hh:mm"
    assert ws.cell(FIRST_DATA_ROW + 1, 2).value is None
    assert ws["B2"].value == "…"  # no start: the period is open on that side
    text = to_csv(table).decode("utf-8-sig").splitlines()
    assert text[1] == "A,30/11/2026 03:00" and text[2] == "B,"


def keyed(table: Table, ws: Worksheet) -> list[dict[str, Any]]:
    """A sheet's rows keyed by the table's column keys."""
    header = {c.header: c.key for c in table.columns}
    return [{header[h]: v for h, v in row.items()} for row in sheet_rows(ws)]


def test_responsibility_tables_are_officer_and_department_rows(summaries: list[Summary]) -> None:
    tables = build_tables(summaries, ALL, CAL)
    officers = officer_rows(summaries, CAL, None, None, END_TIME)
    table = tables["responsibility"]
    assert [{k: r[k] for k in officers[0]} for r in table.rows] == officers
    names = {r["unit_code"]: r["unit_name"] for r in expected_unit_stats()}
    assert all(r["unit_name"] == names[r["unit_code"]] for r in table.rows)
    assert [c.header for c in table.columns][:4] == ["Mã đơn vị", "Đơn vị", "Bộ phận", "Cán bộ"]
    assert {c.key: c.header for c in table.columns}["overrun_working_days"] == (
        "Số ngày làm việc quá hạn"
    )
    # the contract's expected rows, in its order (§8: overrun days, then steps overdue)
    want = json.loads((SAMPLES / "expected_responsibility.json").read_text(encoding="utf-8"))
    assert [{k: r[k] for k in w} for r, w in zip(table.rows, want["rows"], strict=True)] == (
        want["rows"]
    )
    departments = tables["departments"]
    assert [
        {k: r[k] for k in d}
        for r, d in zip(departments.rows, department_rows(officers), strict=True)
    ] == department_rows(officers)
    assert "officer" not in {c.key for c in departments.columns}
    # and the workbook holds them, cell for cell
    wb = load_workbook(io.BytesIO(to_xlsx(tables.values(), ALL)))
    for name, sheet in (("responsibility", "Cán bộ"), ("departments", "Bộ phận")):
        got = keyed(tables[name], wb[sheet])
        assert got == [{c.key: r[c.key] for c in tables[name].columns} for r in tables[name].rows]
        assert len(got) > 3


def test_responsibility_and_audit_need_a_now(summaries: list[Summary]) -> None:
    tables = build_tables(summaries, Period(None, None, None), CAL)
    assert tables["units"].rows  # judged as of the period's end, as /api/units does
    assert tables["responsibility"].rows == tables["departments"].rows == []
    assert tables["audit"].rows == []


def test_audit_table_keeps_dates_as_dates() -> None:
    at = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)
    later = datetime(2026, 11, 27, 17, 0, tzinfo=TZ)
    s = Summary(
        code="000.31.05.H49-261101-0009",
        unit="000.31.05.H49",
        unit_name="UBND phường Điện Bàn",
        procedure="1.001",
        received=ms(at) - 10 * DAY_MS,
        holder_initial="Bộ phận một cửa",
        holders=[(ms(at) - DAY_MS, "onestop", "Phòng Tư pháp", "Trần Văn A")],
        findings=[
            Finding(DUE_DATE_EXTENDED, ms(at), ms(at), ms(later), None),
            Finding(PAUSE_AFTER_DUE, ms(at) + DAY_MS, ms(at), None, "supplement"),
        ],
    )
    period = Period(None, None, later)
    table = build_tables([s], period, CAL)["audit"]
    listed = findings([s], None, None, later)
    assert len(table.rows) == len(listed) == 2
    for row, finding in zip(table.rows, listed, strict=True):
        for key, value in finding.items():  # the API's line, its times as instants
            got = row[key]
            assert (got.isoformat() if isinstance(got, datetime) else got) == value, key
    extended, paused = table.rows
    assert extended["at"] == at and extended["extended_to"] == later
    assert extended["label"] == "Gia hạn ngày hẹn trả không có phiếu xin lỗi"
    assert extended["pause_kind"] is None and paused["extended_to"] is None
    assert paused["pause_kind"] == "chờ bổ sung"
    assert extended["department"] == "Phòng Tư pháp" and extended["officer"] == "Trần Văn A"
    ws = load_workbook(io.BytesIO(to_xlsx([table], period)))["Kiểm tra hồ sơ"]
    got = keyed(table, ws)
    assert got[0]["at"] == datetime(2026, 11, 20, 17, 0)
    assert got[0]["extended_to"] == datetime(2026, 11, 27, 17, 0)
    assert got[0]["dossier_code"] == s.code and got[1]["pause_kind"] == "chờ bổ sung"
    at_column = 1 + [c.key for c in table.columns].index("at")
    assert ws.cell(FIRST_DATA_ROW, at_column).number_format == "dd/mm/yyyy hh:mm"
    text = to_csv(table).decode("utf-8-sig").splitlines()
    assert text[1].startswith("20/11/2026 17:00,Gia hạn ngày hẹn trả")
    # a finding after "now" is not listed yet
    early = build_tables([s], Period(None, None, at), CAL)["audit"].rows
    assert [r["kind"] for r in early] == [DUE_DATE_EXTENDED]
