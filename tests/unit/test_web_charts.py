"""/api/weekly and /api/responsibility/steps (hub/web/charts.py) on a real worker's web
application served in-process (no Kafka: the summary store is fed the sample feed's summaries,
as its reader feeds it): the domain's answers over the reader's units, judged in a thread as
the summary map is read, never listed.

Against workers on the broker: tests/integration/test_views_pages.py.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from hub.domain.responsibility import officer_rows, overdue_steps
from hub.domain.stats import Summary, at, summarize
from hub.domain.weekly import weeks
from hub.web import charts, period_bounds
from hub.web.streamed import judge_streamed
from hub.web.trace import iso
from tests.samples import END_TIME
from tests.unit.test_samples_rules import CAL, ENGINE
from tests.unit.test_web_analysis import sample_feed, served

PROVINCE = "province-token-0123456789"
DISTRICT = "district-token-0123456789"
UNIT = "000.00.12.H49"
OTHER = "000.00.01.H49"
TOKENS = f"{PROVINCE};{DISTRICT}:{UNIT}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sample_summaries() -> list[Summary]:
    return [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in sample_feed().items()]


def of(unit: str | None) -> list[Summary]:
    return [s for s in sample_summaries() if unit is None or s.unit == unit]


async def test_weekly_is_the_series_of_the_readers_units(tmp_path: Path) -> None:
    async with served(tmp_path, sample_feed(), web_tokens=TOKENS) as client:
        for query in ("", "?from=2026-11-01&to=2026-11-30", "?from=2026-11-20", "?period=month"):
            start, end = period_bounds(dict(urllib.parse.parse_qsl(query[1:])), END_TIME)
            for token, unit in ((PROVINCE, None), (DISTRICT, UNIT)):
                r = await client.get("/api/weekly" + query, headers=auth(token))
                assert r.status == 200, query
                body = await r.json()
                assert body["as_of"] == iso(END_TIME)
                want = weeks(of(unit), start, end, END_TIME)
                assert body["weeks"] == want, (query, token)
        province = await (await client.get("/api/weekly", headers=auth(PROVINCE))).json()
        district = await (await client.get("/api/weekly", headers=auth(DISTRICT))).json()
        assert sum(w["received"] for w in province["weeks"]) == len(
            [s for s in sample_summaries() if s.received is not None]
        )
        assert (
            0
            < sum(w["received"] for w in district["weeks"])
            < sum(w["received"] for w in province["weeks"])
        )
        assert (await client.get("/api/weekly?period=week", headers=auth(PROVINCE))).status == 400


def holders() -> list[tuple[str, str | None, str | None]]:
    rows = officer_rows(sample_summaries(), CAL, None, None, END_TIME)
    return [(r["unit"], r["department"], r["officer"]) for r in rows if r["steps_overdue"]]


async def test_steps_are_the_holders_overdue_steps(tmp_path: Path) -> None:
    assert {unit for unit, _, _ in holders()} >= {UNIT, OTHER}
    async with served(tmp_path, sample_feed(), web_tokens=TOKENS) as client:
        for unit, department, officer in holders():
            query = {"unit": unit, "department": department or "", "officer": officer or ""}
            r = await client.get(
                "/api/responsibility/steps?" + urllib.parse.urlencode(query),
                headers=auth(PROVINCE),
            )
            assert r.status == 200
            body = await r.json()
            assert (body["unit"], body["department"], body["officer"]) == (
                unit,
                department,
                officer,
            )
            want = overdue_steps(of(None), CAL, (unit, department, officer), None, None, END_TIME)
            assert want  # the sample feed's holders with overdue steps
            for x in want:
                for key in ("at", "deadline", "followed_at"):
                    x[key] = iso(at(x[key])) if x[key] is not None else None
            assert body["steps"] == want
        mine = "/api/responsibility/steps?unit=" + UNIT
        other = "/api/responsibility/steps?unit=" + OTHER
        assert (await client.get(mine, headers=auth(DISTRICT))).status == 200
        assert (await client.get(other, headers=auth(DISTRICT))).status == 403
        assert (await client.get("/api/responsibility/steps", headers=auth(PROVINCE))).status == 400


@pytest.mark.parametrize(
    "path",
    ["/api/weekly", "/api/responsibility/steps?unit=" + UNIT],
)
async def test_the_map_is_streamed_to_a_judgement_in_a_thread(
    tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[type, int, bool]] = []  # what was read, how much, and off the loop

    async def spy(values: Iterable[Summary], judge: Callable[[Iterable[Summary]], Any]) -> Any:
        loop = threading.get_ident()
        read = 0

        def counted(summaries: Iterable[Summary]) -> Any:
            def each() -> Iterable[Summary]:
                nonlocal read
                for s in summaries:
                    read += 1
                    yield s

            out = judge(each())
            seen.append((type(values), read, threading.get_ident() != loop))
            return out

        return await judge_streamed(values, counted)

    monkeypatch.setattr(charts, "judge_streamed", spy)
    async with served(tmp_path, sample_feed(), web_tokens=TOKENS) as client:
        assert (await client.get(path, headers=auth(DISTRICT))).status == 200
    # the whole map, a summary at a time, the reader's units kept inside the judgement
    assert len(seen) == 1
    kind, read, in_thread = seen[0]
    assert not issubclass(kind, list)
    assert read == len(sample_summaries())
    assert in_thread


async def test_no_now_yet_no_weeks(tmp_path: Path) -> None:
    async with served(tmp_path, sample_feed(), now=None) as client:
        body = await (await client.get("/api/weekly")).json()
        assert body["as_of"] is None and body["weeks"] == []
        steps = await (await client.get("/api/responsibility/steps?unit=" + UNIT)).json()
        assert steps["steps"] == []
