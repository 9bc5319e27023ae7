"""/api/export/...: the downloads of a real worker's web application served in-process (no
Kafka: the summary store is fed the sample feed's summaries through its `apply`, as its reader
feeds it). The files hold the numbers the JSON API gives for the same period and instant.

Against a worker on the broker: tests/integration/test_report.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from hub.domain.stats import Summary, ms, summarize
from hub.protocol import clock_key, encode_summary_clock
from hub.reports.tables import TABLES, responsibility_table
from hub.reports.xlsx import HEADER_ROW
from hub.service import Service
from hub.settings import ClockMode, Settings
from tests.samples import END_TIME
from tests.unit.test_reports import same, sheet_rows
from tests.unit.test_samples_rules import CAL, ENGINE, _events

PROVINCE = "province-token-0123456789"
DISTRICT = "district-token-0123456789"
UNIT = "000.31.05.H49"
REPLAY_LEAD_S = 100 * 365 * 86_400
# the §8 sheets' headers by the API's keys
HEADERS = {c.key: c.header for c in responsibility_table([], {}).columns}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sample_summaries() -> list[Summary]:
    return [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]


@asynccontextmanager
async def served(tmp_path: Path, **fields: Any) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(
        app_id="exports",
        data_dir=tmp_path,
        clock=ClockMode.EVENT,
        max_event_lead_s=REPLAY_LEAD_S,  # the feed's "now" may be ahead of today's date
        **fields,
    )
    service = Service(settings)
    for s in sample_summaries():
        service.store.apply(0, s.code.encode(), s.dumps())
    service.store.apply(0, clock_key(0), encode_summary_clock(ms(END_TIME)))
    web_app = await service.app.web.wsgi()
    async with TestClient(TestServer(web_app)) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_xlsx_and_csv_hold_the_apis_numbers(tmp_path: Path) -> None:
    query = "?from=2026-11-01&to=2026-11-30"
    async with served(tmp_path) as client:
        api = await (await client.get("/api/units" + query)).json()
        assert api  # the sample feed has November dossiers
        r = await client.get("/api/export/units.xlsx" + query)
        assert r.status == 200 and r.content_type == XLSX
        assert r.headers["Content-Disposition"] == (
            'attachment; filename="motcua-units-2026-11-01_2026-11-30.xlsx"'
        )
        assert r.headers["X-Motcua-As-Of"] == "2026-12-06T17:59:00+07:00"
        ws = load_workbook(io.BytesIO(await r.read()))["Đơn vị"]
        assert "01/11/2026 – 30/11/2026" in str(ws["A1"].value)
        assert "06/12/2026 17:59" in str(ws["A1"].value)
        headers = [c.value for c in ws[HEADER_ROW]]
        rows = sheet_rows(ws)
        assert len(rows) == len(api)
        for row, want in zip(rows, api, strict=True):
            values = list(row.values())
            assert values[0] == want["unit_code"] and values[2] == want["received"]
            assert len(values) == len(want) == len(headers)
            for value, key in zip(values, want, strict=True):  # the API's order of figures
                assert same(value, want[key]), (want["unit_code"], key)

        r = await client.get("/api/export/units.csv" + query)
        assert r.status == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
        body = await r.read()
        assert body.startswith(b"\xef\xbb\xbf")
        lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert lines[0] == headers
        assert [(x[0], int(x[2])) for x in lines[1:]] == [
            (w["unit_code"], w["received"]) for w in api
        ]


async def test_the_report_has_every_table_one_sheet_each(tmp_path: Path) -> None:
    async with served(tmp_path) as client:
        r = await client.get("/api/export/report.xlsx")
        assert r.status == 200
        assert 'filename="motcua-report-all.xlsx"' in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(await r.read()))
        assert len(wb.sheetnames) == len(TABLES)
        api = await (await client.get("/api/units?by_procedure=1")).json()
        units = sheet_rows(wb["Đơn vị"])
        assert [(u["Mã đơn vị"], u["Tiếp nhận"]) for u in units] == [
            (a["unit_code"], a["received"]) for a in api
        ]
        procedures = sheet_rows(wb["Đơn vị - thủ tục"])
        assert len(procedures) == sum(len(a["procedures"]) for a in api)
        # §8 and §9 as their APIs give them, judged as of the same "now" (the feed's end)
        body = await (await client.get("/api/responsibility")).json()
        assert body["rows"] and body["as_of"] == "2026-12-06T17:59:00+07:00"
        for sheet, rows in (("Cán bộ", body["rows"]), ("Bộ phận", body["departments"])):
            got = [{**r, "unit": r["Mã đơn vị"]} for r in sheet_rows(wb[sheet])]
            assert len(got) == len(rows), sheet
            for row, want in zip(got, rows, strict=True):
                assert [row[HEADERS.get(k, k)] for k in want] == list(want.values()), sheet
        audit = await (await client.get("/api/audit")).json()
        assert sheet_rows(wb["Kiểm tra hồ sơ"]) == audit["findings"] == []
        for name in TABLES:  # each table alone, too
            for ext in ("csv", "xlsx"):
                assert (await client.get(f"/api/export/{name}.{ext}")).status == 200, name


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/export/units.xlsx?from=2026-13-01", 400),
        ("/api/export/units.csv?to=9999-12-31", 400),
        ("/api/export/units.csv?from=2026-12-01&to=2026-11-01", 400),
        ("/api/export/units.csv?period=week", 400),
        ("/api/export/units.csv?unit=%01", 400),
        ("/api/export/units.pdf", 404),
        ("/api/export/nothing.csv", 404),
        ("/api/export/report.csv", 404),
        ("/api/export/units", 404),
    ],
)
async def test_a_bad_request_says_why(tmp_path: Path, path: str, status: int) -> None:
    async with served(tmp_path) as client:
        r = await client.get(path)
        assert r.status == status, await r.text()
        assert (await r.json())["error"]


async def test_a_reader_limited_to_a_unit_downloads_only_its_rows(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=f"{PROVINCE};{DISTRICT}:{UNIT}") as client:
        assert (await client.get("/api/export/report.xlsx")).status == 401
        r = await client.get("/api/export/report.xlsx", headers=auth(DISTRICT))
        wb = load_workbook(io.BytesIO(await r.read()))
        for ws in wb:
            codes = {row["Mã đơn vị"] for row in sheet_rows(ws)}
            assert codes <= {UNIT}, ws.title
        for sheet in ("Đơn vị", "Đơn vị - thủ tục", "Cán bộ", "Bộ phận"):  # its rows are there
            assert {row["Mã đơn vị"] for row in sheet_rows(wb[sheet])} == {UNIT}, sheet
        r = await client.get("/api/export/units.csv", headers=auth(PROVINCE))
        lines = (await r.read()).decode("utf-8-sig").splitlines()
        assert len(lines) - 1 > 10  # every unit
        # one unit asked for: its rows only; another unit than the token's: refused
        r = await client.get(f"/api/export/responsibility.csv?unit={UNIT}", headers=auth(PROVINCE))
        assert r.status == 200
        assert (
            f'filename="motcua-responsibility-{UNIT}-all.csv"' in r.headers["Content-Disposition"]
        )
        rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))[1:]
        assert rows and {row[0] for row in rows} == {UNIT}
        other = "civil:UBND xã Bình Minh"
        r = await client.get(f"/api/export/units.csv?unit={other}", headers=auth(DISTRICT))
        assert r.status == 403
        r = await client.get(f"/api/export/units.csv?unit={other}", headers=auth(PROVINCE))
        assert (
            'filename="motcua-units-civil-UBND-x-B-nh-Minh-all.csv"'
            in (r.headers["Content-Disposition"])
        )
        assert (await r.read()).decode("utf-8-sig").splitlines()[1].startswith(other)
