"""Issue 12, item 3: the page's responsibility and audit views, the trace's findings, the charts
and the dd/mm/yyyy period picker, in headless Chromium against two workers on the real broker
with the sample feed (test_views.py's cluster, started once for this module), plus one dossier
whose one-stop due date is moved later without an apology (a §9 finding: the feed has none).

Screenshots are kept under test-output/ (responsibility.png, responsibility-trace.png,
audit.png, charts.png, period-picker.png).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.test_views import (
    DISTRICT,
    DISTRICT_UNITS,
    OUTPUT,
    PROVINCE,
    Cluster,
    _chrome,
    _log_in,
    _wait,
    chromium,
    cluster,  # noqa: F401  (the module's fixture: two workers, the sample feed)
)
from tests.samples import TOPICS, expected_unit_stats

pytestmark = pytest.mark.kafka
EXTENDED = "000.00.01.H49-261102-0901"  # the added dossier: its due date moved, no apology


def _snapshot(due: str) -> bytes:
    return json.dumps(
        [
            {
                "MaHoSo": EXTENDED,
                "MaTTHC": "1.013949",
                "TenTTHC": "Giao đất, cho thuê đất, chuyển mục đích sử dụng đất",
                "MaLinhVuc": "DD",
                "TenLinhVuc": "Đất đai",
                "KenhThucHien": "1",
                "LoaiDoiTuong": "1",
                "NgayTiepNhan": "2026-11-02 09:00:00",
                "NgayHenTra": due,
                "TrangThaiHoSo": 2,
                "NgayKetThucXuLy": "",
                "NgayTra": "",
                "NgayTuChoi": "",
                "DonViXuLy": "Chi nhánh Văn phòng đăng ký đất đai Tam Kỳ",
                "IdHoSo": "4176889901",
            }
        ],
        ensure_ascii=False,
    ).encode()


async def _produce_extension(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for due in ("2026-11-23 17:00:00", "2027-01-15 17:00:00"):
            await producer.send_and_wait(TOPICS["onestop"], _snapshot(due))
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def fed(cluster: Cluster) -> Cluster:  # noqa: F811
    """The feed judged to its end on both workers, and the extended dossier's finding in."""
    want = len(expected_unit_stats())

    def judged() -> bool:
        for w in cluster.workers:
            status, headers, body = w.get("/api/units")
            seen = (status, headers.get("X-Motcua-As-Of"), len(json.loads(body)))
            # the failure message says what was seen last
            assert seen == (200, "2026-12-06T17:59:00+07:00", want), (w.port, seen)
        return True

    _wait("the sample feed judged to its end", judged, 180, every=2)
    asyncio.run(_produce_extension(cluster.env["MOTCUA_KAFKA_BOOTSTRAP"]))
    _wait(
        "the added dossier's DUE_DATE_EXTENDED on both workers",
        lambda: all(
            any(f["dossier_code"] == EXTENDED for f in w.json("/api/audit")["findings"])
            for w in cluster.workers
        ),
        90,
    )
    return cluster


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# -- the API the views read --------------------------------------------------------------------
def test_weekly_series_adds_up_to_the_unit_rows(fed: Cluster) -> None:
    for w in fed.workers:
        units = w.json("/api/units")
        body = w.json("/api/weekly")
        weeks = body["weeks"]
        assert body["as_of"] == "2026-12-06T17:59:00+07:00" and body["period"] == "all"
        assert weeks[0]["start"] <= "2026-11-02" and weeks[-1]["start"] == "2026-11-30"
        mondays = [date.fromisoformat(x["start"]) for x in weeks]
        assert all(d.weekday() == 0 for d in mondays)
        assert all(b - a == timedelta(days=7) for a, b in pairwise(mondays))
        for key in ("received", "finished_on_time", "finished_late"):
            assert sum(x[key] for x in weeks) == sum(r[key] for r in units), key
        # the last week's "late" is taken at now: the map's open past due
        assert weeks[-1]["late"] == sum(r["open_past_due"] for r in units)
        # a district sees its own units' weeks only
        district = w.json("/api/weekly", DISTRICT)["weeks"]
        mine = [r for r in units if r["unit_code"] in DISTRICT_UNITS]
        assert sum(x["received"] for x in district) == sum(r["received"] for r in mine)
        november = w.json("/api/weekly?from=2026-11-01&to=2026-11-30")
        assert november["period"] == "2026-11-01/2026-11-30"
        assert november["weeks"][-1]["start"] == "2026-11-30"
        assert sum(x["received"] for x in november["weeks"]) == sum(
            r["received"] for r in w.json("/api/units?from=2026-11-01&to=2026-11-30")
        )
        for bad in ("?period=week", "?from=2026-12-01&to=2026-11-01", "?from=1900-01-01"):
            assert w.get("/api/weekly" + bad)[0] == 400, bad
        assert w.get("/api/weekly", None)[0] == 401


def test_officer_steps_add_up_to_the_responsibility_rows(fed: Cluster) -> None:
    w = fed.workers[1]
    rows = w.json("/api/responsibility")["rows"]
    overdue = [r for r in rows if r["steps_overdue"]]
    assert overdue  # the feed has overdue steps
    for r in overdue:
        params = {"unit": r["unit"], "department": r["department"], "officer": r["officer"]}
        path = "/api/responsibility/steps?" + urllib.parse.urlencode(
            {k: v for k, v in params.items() if v}
        )
        body = w.json(path)
        steps = body["steps"]
        assert len(steps) == r["steps_overdue"], r
        assert sum(s["overrun_working_days"] for s in steps) == r["overrun_working_days"]
        assert sum(s["still_overdue"] for s in steps) == r["still_overdue"]
        for s in steps:
            trace = w.json("/api/dossiers/" + _q(s["dossier_code"]))
            assert trace["unit_code"] == r["unit"]
    other = next(r for r in overdue if r["unit"] not in DISTRICT_UNITS)
    path = "/api/responsibility/steps?unit=" + _q(other["unit"])
    assert w.get(path, DISTRICT)[0] == 403
    assert w.get("/api/responsibility/steps")[0] == 400
    assert w.get("/api/responsibility/steps?unit=x&period=week")[0] == 400


def test_the_views_scripts_are_open_like_the_page_shell(fed: Cluster) -> None:
    for path in ("/views.js", "/charts.js"):
        status, headers, body = fed.workers[0].get(path, None)
        assert status == 200 and headers["Content-Type"].startswith("text/javascript")
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        text = body.decode()
        assert "fetch(" not in text or path == "/views.js"
        for outside in ("https://", "cdn", "googleapis", "unpkg", "jsdelivr"):
            assert outside not in text, (path, outside)


# -- the page ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(fed: Cluster) -> Iterator[Any]:
    with _chrome() as driver:
        driver.get(fed.workers[0].url("/"))
        _log_in(driver, PROVINCE)
        _until(driver, lambda d: d.find_elements("css selector", "#chart-rates rect.bar"))
        yield driver


def _until(driver: Any, check: Any, timeout: float = 30) -> Any:
    """Wait for `check`, trying again when the page re-rendered an element under it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        driver, timeout, ignored_exceptions=(StaleElementReferenceException,)
    ).until(check)


def _click_unit_link(driver: Any, unit: str) -> None:
    """Click a unit's responsibility link, again if the table's refresh replaced the row."""

    def click(d: Any) -> bool:
        d.find_element("css selector", f'#units tr[data-unit="{unit}"] a.resp-link').click()
        return True

    _until(driver, click)


def _unit_rows(driver: Any) -> list[dict[str, str]]:
    """The units table read in one script: its refresh replaces rows, so elements go stale."""
    rows: list[dict[str, str]] = driver.execute_script(
        """return [...document.querySelectorAll('#units tbody tr')].map(tr => ({
            unit: tr.dataset.unit || '',
            text: tr.innerText,
            received: (tr.querySelector('td[data-key=received]') || {}).innerText || ''}))"""
    )
    return rows


def _clean(driver: Any) -> None:
    """No console error (a 401 before the login aside) and no request outside the origin."""
    errors = [
        e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "401" not in e["message"]
    ]
    assert not errors, errors
    origin = driver.execute_script("return location.origin")
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert names, "no request recorded"
    assert all(n.startswith(origin + "/") for n in names), names


def _in_view(driver: Any, selector: str) -> None:
    """The panel is shown fixed at the side, its top within the first screen: where the eye
    is, not below the map's long table."""
    box = driver.execute_script(
        "const e = document.querySelector(arguments[0]); const r = e.getBoundingClientRect();"
        "return [getComputedStyle(e).position, r.top, r.height, innerHeight]",
        selector,
    )
    position, top, height, screen = box
    assert position == "fixed" and 0 <= top < 200 and height > screen / 2, box


def _top_panel(driver: Any) -> str:
    return str(
        driver.execute_script("return document.querySelector('.panel.top:not([hidden])').id")
    )


@chromium
def test_charts_render_from_the_api(fed: Cluster, page: Any) -> None:
    w = fed.workers[0]
    units = w.json("/api/units")
    judged = [r for r in units if r["on_time_rate"] is not None]
    bars = page.find_elements("css selector", "#chart-rates rect.bar")
    assert len(bars) == len(judged) > 0
    got = {b.get_attribute("data-unit"): float(b.get_attribute("data-rate")) for b in bars}
    assert got == {r["unit_code"]: pytest.approx(r["on_time_rate"]) for r in judged}
    widths = [float(b.get_attribute("width")) for b in bars]
    assert widths == sorted(widths, reverse=True)  # best first
    weeks = w.json("/api/weekly")["weeks"]
    _until(page, lambda d: len(d.find_elements("css selector", "#chart-weekly circle.pt")) > 0)
    for key in ("received", "finished_on_time", "finished_late", "late"):
        points = page.find_elements(
            "css selector", f'#chart-weekly g[data-series="{key}"] circle.pt'
        )
        assert [int(p.get_attribute("data-value")) for p in points] == [x[key] for x in weeks]
        assert page.find_elements("css selector", f'#chart-weekly g[data-series="{key}"] polyline')
    page.execute_script("document.querySelector('.charts').scrollIntoView()")
    page.save_screenshot(str(OUTPUT / "charts.png"))
    page.execute_script("window.scrollTo(0, 0)")
    _clean(page)


@chromium
def test_responsibility_view_from_a_unit_row_to_a_trace(fed: Cluster, page: Any) -> None:
    w = fed.workers[0]
    api = w.json("/api/responsibility")
    unit = api["rows"][0]["unit"]  # the most overrun holder's unit
    want_rows = [r for r in api["rows"] if r["unit"] == unit]
    want_depts = [r for r in api["departments"] if r["unit"] == unit]
    _click_unit_link(page, unit)
    _until(page, lambda d: d.find_elements("css selector", "#resp-officers tr.officer-row"))
    _in_view(page, "#resp")
    assert not page.find_element("id", "drill").is_displayed()  # the link is not the row

    def figures(tr: Any) -> dict[str, int]:
        return {
            str(td.get_attribute("data-key")): int(td.text.rstrip(" ▸"))
            for td in tr.find_elements("css selector", "td[data-key]")
        }

    names = ["steps", "steps_overdue", "still_overdue", "overrun_working_days"]
    names += ["late_at_breach", "held_late_now"]
    officers = page.find_elements("css selector", "#resp-officers tr.officer-row")
    assert [
        (tr.get_attribute("data-department") or None, tr.get_attribute("data-officer") or None)
        for tr in officers
    ] == [(r["department"], r["officer"]) for r in want_rows]
    assert [figures(tr) for tr in officers] == [{k: r[k] for k in names} for r in want_rows]
    depts = page.find_elements("css selector", "#resp-departments tr.dept-row")
    assert [figures(tr) for tr in depts] == [{k: r[k] for k in names} for r in want_depts]
    assert [tr.get_attribute("data-department") or None for tr in depts] == [
        r["department"] for r in want_depts
    ]
    page.save_screenshot(str(OUTPUT / "responsibility.png"))
    # the download asks for the officers' table of this unit and period, with the token
    page.find_element("css selector", '#resp a[data-export="responsibility.csv"]').click()
    wanted = f"/api/export/responsibility.csv?unit={_q(unit)}"
    _until(
        page,
        lambda d: any(
            n.endswith(wanted)
            for n in d.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
        ),
    )
    status, _, body = w.get(wanted)
    assert status == 200 and len(body.decode("utf-8-sig").splitlines()) > len(want_rows)

    # an officer's overdue steps, then one step's dossier: its trace opens over the panel
    i = next(n for n, r in enumerate(want_rows) if r["steps_overdue"])
    officers[i].find_element("css selector", "a.steps-link").click()
    _until(page, lambda d: d.find_elements("css selector", "#resp-officers tr.step-row"))
    steps = page.find_elements("css selector", "#resp-officers tr.step-row")
    assert len(steps) == want_rows[i]["steps_overdue"]
    link = steps[0].find_element("css selector", "a[data-code]")
    code = link.text
    link.click()
    _until(page, lambda d: code in d.find_element("id", "trace-title").text)
    _until(page, lambda d: d.find_elements("css selector", "#trace-events tbody tr"))
    _in_view(page, "#trace")
    assert _top_panel(page) == "trace"
    # the step shown first is the API's first, and the trace shows its deadline
    holder = {k: want_rows[i][k] for k in ("unit", "department", "officer") if want_rows[i][k]}
    first = w.json("/api/responsibility/steps?" + urllib.parse.urlencode(holder))["steps"][0]
    assert first["dossier_code"] == code
    trace = w.json("/api/dossiers/" + _q(code))
    assert trace["unit_code"] == unit
    assert first["deadline"] in {h["step_deadline"] for h in trace["handovers"]}
    deadline = page.find_element("css selector", "#resp-officers tr.step-row td:nth-child(3)")
    assert deadline.text in {
        c.text for c in page.find_elements("css selector", "#trace-handovers td")
    }
    page.save_screenshot(str(OUTPUT / "responsibility-trace.png"))
    page.find_element("css selector", "#trace > button.close").click()
    assert not page.find_element("id", "trace").is_displayed()
    assert page.find_element("id", "resp").is_displayed() and _top_panel(page) == "resp"
    page.find_element("css selector", "#resp > button.close").click()
    assert not page.find_element("id", "resp").is_displayed()
    _clean(page)


@chromium
def test_audit_view_and_the_traces_findings(fed: Cluster, page: Any) -> None:
    w = fed.workers[0]
    findings = w.json("/api/audit")["findings"]
    assert [f["kind"] for f in findings if f["dossier_code"] == EXTENDED] == ["DUE_DATE_EXTENDED"]
    page.find_element("id", "audit-btn").click()
    _until(page, lambda d: d.find_elements("css selector", "#audit-findings tr.finding-row"))
    _in_view(page, "#audit")
    rows = page.find_elements("css selector", "#audit-findings tr.finding-row")
    assert len(rows) == len(findings)
    row = next(r for r in rows if EXTENDED in r.text)
    cells = [c.text for c in row.find_elements("css selector", "td")]
    f = next(f for f in findings if f["dossier_code"] == EXTENDED)
    assert cells[0] == "Gia hạn ngày hẹn trả không có phiếu xin lỗi"
    assert cells[1] == EXTENDED
    assert cells[3] == "23/11/2026 17:00"  # its time: the due date it extends, dd/mm/yyyy
    assert cells[5] == (f["department"] or "(không rõ phòng ban)")
    assert cells[7] == "Ngày hẹn mới: 15/01/2027 17:00"
    page.save_screenshot(str(OUTPUT / "audit.png"))
    row.find_element("css selector", "a[data-code]").click()
    _until(page, lambda d: d.find_elements("css selector", "#trace-findings tr.finding-row"))
    assert _top_panel(page) == "trace"
    found = page.find_elements("css selector", "#trace-findings tr.finding-row")
    assert len(found) == 1 and "Gia hạn ngày hẹn trả" in found[0].text
    page.find_element("css selector", "#trace > button.close").click()
    page.find_element("css selector", "#audit > button.close").click()
    _clean(page)


@chromium
def test_period_picker_takes_dd_mm_yyyy(fed: Cluster, page: Any) -> None:
    w = fed.workers[0]
    before = [r["text"] for r in _unit_rows(page)]
    cases = [  # from, to, the field marked wrong (None: both empty, only the message)
        ("31/02/2026", "", "from"),
        ("2026-11-01", "", "from"),
        ("01/11/2026", "31/13/2026", "to"),
        ("01/12/2026", "01/11/2026", "to"),
        ("", "", None),
    ]
    for start, end, wrong in cases:
        for field, value in (("from", start), ("to", end)):
            box = page.find_element("id", field)
            box.clear()
            box.send_keys(value)
        page.find_element("id", "range-btn").click()
        assert page.find_element("id", "range-msg").text, (start, end)
        for field in ("from", "to"):
            marked = "invalid" in (page.find_element("id", field).get_attribute("class") or "")
            assert marked == (field == wrong), (start, end, field)
        assert [r["text"] for r in _unit_rows(page)] == before
    for field, value in (("from", "01/11/2026"), ("to", "30/11/2026")):
        box = page.find_element("id", field)
        box.clear()
        box.send_keys(value)
    page.find_element("id", "range-btn").click()
    want = w.json("/api/units?from=2026-11-01&to=2026-11-30")
    weeks = w.json("/api/weekly?from=2026-11-01&to=2026-11-30")["weeks"]

    def shown() -> bool:
        got = {r["unit"]: r["received"] for r in _unit_rows(page)}
        return got == {r["unit_code"]: str(r["received"]) for r in want}

    _until(page, lambda d: shown())
    assert page.find_element("id", "range-msg").text == ""
    assert page.find_element("id", "charts-period").text == "từ 01/11/2026 đến 30/11/2026"
    _until(
        page,
        lambda d: (
            len(d.find_elements("css selector", '#chart-weekly g[data-series="late"] circle'))
            == len(weeks)
        ),
    )
    # the responsibility view follows the period
    unit = next(r["unit_code"] for r in want)
    _click_unit_link(page, unit)
    _until(page, lambda d: "01/11/2026" in d.find_element("id", "resp-period").text)
    page.save_screenshot(str(OUTPUT / "period-picker.png"))
    page.find_element("css selector", "#resp > button.close").click()
    _clean(page)
