"""/api/responsibility and /api/audit on a real worker's web application served in-process (no
Kafka: the summary store is fed summaries through its `apply`, as its reader feeds it).

Against workers on the broker: tests/integration/test_worker_samples.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.domain.events import DossierEvent
from hub.domain.responsibility import department_rows
from hub.domain.stats import ms, summarize
from hub.protocol import clock_key, encode_summary_clock
from hub.service import Service
from hub.settings import Settings
from tests.samples import END_TIME, SAMPLES
from tests.unit.builders import apology, snapshot, step, t
from tests.unit.test_samples_rules import CAL, ENGINE, _events

REPLAY_LEAD_S = 100 * 365 * 86_400
PROVINCE = "province-token-0123456789"
DISTRICT = "district-token-0123456789"
UNIT = "000.00.12.H49"
SHOWN = ("unit", "officer", "overrun_working_days", "late_at_breach", "held_late_now")


def sample_feed() -> dict[str, list[DossierEvent]]:
    return _events()


@asynccontextmanager
async def served(
    tmp_path: Path,
    feed: dict[str, list[DossierEvent]],
    now: Any = END_TIME,
    **fields: Any,
) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(
        app_id="analysis",
        data_dir=tmp_path,
        clock="event",
        max_event_lead_s=REPLAY_LEAD_S,
        **fields,
    )
    service = Service(settings)
    for code, events in feed.items():
        s = summarize(ENGINE.facts(code, events), CAL, 1)
        service.store.apply(0, code.encode(), s.dumps())
    if now is not None:
        service.store.apply(0, clock_key(0), encode_summary_clock(ms(now)))
    web_app = await service.app.web.wsgi()
    async with TestClient(TestServer(web_app)) as client:
        yield client


def expected_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        (SAMPLES / "expected_responsibility.json").read_text(encoding="utf-8")
    )["rows"]
    return rows


def units_of(rows: Iterable[dict[str, Any]]) -> set[str]:
    return {r["unit"] for r in rows}


async def test_responsibility_of_the_sample_feed(tmp_path: Path) -> None:
    async with served(tmp_path, sample_feed()) as client:
        r = await client.get("/api/responsibility")
        assert r.status == 200
        assert r.headers["X-Motcua-As-Of"] == "2026-12-06T17:59:00+07:00"
        body = await r.json()
        assert set(body) == {"as_of", "period", "rows", "departments"}
        assert (body["as_of"], body["period"]) == ("2026-12-06T17:59:00+07:00", "all")
        assert body["rows"] == expected_rows()
        assert body["departments"] == department_rows(expected_rows())

        one = await (await client.get("/api/responsibility?unit=" + UNIT)).json()
        assert one["rows"] == [r for r in expected_rows() if r["unit"] == UNIT]
        assert units_of(one["departments"]) == {UNIT}

        november = await client.get("/api/responsibility?from=2026-11-01&to=2026-11-30")
        body = await november.json()
        assert body["period"] == "2026-11-01/2026-11-30"
        december = await (await client.get("/api/responsibility?from=2026-12-01")).json()
        # steps split between the two periods by their deadline
        for key in ("steps", "steps_overdue", "late_at_breach"):
            total = sum(r[key] for r in expected_rows())
            assert sum(r[key] for r in body["rows"] + december["rows"]) == total, key

        for bad in ("?period=week", "?from=2026-13-01", "?unit=" + "U" * 300):
            assert (await client.get("/api/responsibility" + bad)).status == 400, bad


async def test_audit_of_the_sample_feed_is_empty(tmp_path: Path) -> None:
    async with served(tmp_path, sample_feed()) as client:
        body = await (await client.get("/api/audit")).json()
        assert body == {"as_of": "2026-12-06T17:59:00+07:00", "period": "all", "findings": []}
        assert (await client.get("/api/audit?period=decade")).status == 400


def hand_built() -> dict[str, list[DossierEvent]]:
    """Two units, each with a late apology (§9) and an overdue step (§8)."""
    feed: dict[str, list[DossierEvent]] = {}
    for code in ("000.00.12.H49-261103-0001", "000.00.01.H49-261103-0001"):
        events = [
            snapshot("03/11 08:30", due="05/11 17:00"),
            step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
            step("06/11 09:00", unit="B", officer="Bình"),
            apology("06/11 10:00"),
        ]
        feed[code] = [e.model_copy(update={"dossier_code": code}) for e in events]
    return feed


async def test_audit_lists_findings_by_period_and_unit(tmp_path: Path) -> None:
    async with served(tmp_path, hand_built(), now=t("10/11 12:00")) as client:
        body = await (await client.get("/api/audit")).json()
        assert body["as_of"] == "2026-11-10T12:00:00+07:00"
        assert [(f["kind"], f["unit"], f["at"]) for f in body["findings"]] == [
            ("APOLOGY_AFTER_DUE", "000.00.01.H49", "2026-11-06T10:00:00+07:00"),
            ("APOLOGY_AFTER_DUE", UNIT, "2026-11-06T10:00:00+07:00"),
        ]
        assert all((f["department"], f["officer"]) == ("B", "Bình") for f in body["findings"])
        one = await (await client.get("/api/audit?unit=" + UNIT)).json()
        assert [f["dossier_code"] for f in one["findings"]] == ["000.00.12.H49-261103-0001"]
        none = await (await client.get("/api/audit?from=2026-11-07&to=2026-11-30")).json()
        assert none["findings"] == [] and none["period"] == "2026-11-07/2026-11-30"
        rows = (await (await client.get("/api/responsibility")).json())["rows"]
        # A held each step a day and a half past its deadline (Thu 5, Fri 6) and the dossier
        # at its due date; B holds it, late, now
        assert [tuple(r[k] for k in SHOWN) for r in rows] == [
            ("000.00.01.H49", "An", 2, 1, 0),
            (UNIT, "An", 2, 1, 0),
            ("000.00.01.H49", "Bình", 0, 0, 1),
            (UNIT, "Bình", 0, 0, 1),
        ]


async def test_a_unit_limited_reader_sees_its_units_only(tmp_path: Path) -> None:
    tokens = f"{PROVINCE};{DISTRICT}:{UNIT}"
    async with served(tmp_path, hand_built(), now=t("10/11 12:00"), web_tokens=tokens) as client:
        province = {"Authorization": f"Bearer {PROVINCE}"}
        district = {"Authorization": f"Bearer {DISTRICT}"}
        assert (await client.get("/api/audit")).status == 401
        every = await (await client.get("/api/audit", headers=province)).json()
        mine = await (await client.get("/api/audit", headers=district)).json()
        assert {f["unit"] for f in every["findings"]} == {UNIT, "000.00.01.H49"}
        assert {f["unit"] for f in mine["findings"]} == {UNIT}
        rows = await (await client.get("/api/responsibility", headers=district)).json()
        assert units_of(rows["rows"]) == units_of(rows["departments"]) == {UNIT}
        other = "/api/responsibility?unit=000.00.01.H49"
        assert (await client.get(other, headers=district)).status == 403
        assert (await client.get(other, headers=province)).status == 200


@pytest.mark.parametrize("path", ["/api/responsibility", "/api/audit"])
async def test_no_now_yet_no_rows(tmp_path: Path, path: str) -> None:
    async with served(tmp_path, hand_built(), now=None) as client:
        body = await (await client.get(path)).json()
        assert body["as_of"] is None
        assert body.get("rows", body.get("findings")) == []
