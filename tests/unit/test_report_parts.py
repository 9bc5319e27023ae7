"""The report's tables built in one pass from summaries in any order: `unit_stats` and the
tables' names without sorting, and the web face's streamed build (three parts over one read,
hub/web/exports.py) equal to `build_tables` over a list."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from hub.domain.audit import DUE_DATE_EXTENDED, PAUSE_AFTER_DUE, Finding
from hub.domain.calendar import TZ
from hub.domain.stats import Summary, ms, summarize, unit_stats
from hub.reports.tables import Period, build_tables, procedure_names, unit_names
from hub.web import streamed
from hub.web.exports import build_tables_streamed
from tests.samples import END_TIME
from tests.unit.test_reports import ALL, NOVEMBER
from tests.unit.test_samples_rules import CAL, ENGINE, _events

DAY = timedelta(days=1)
START = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)


def shuffled(summaries: list[Summary], seed: int) -> list[Summary]:
    out = list(summaries)
    random.Random(seed).shuffle(out)
    return out


def by_code(summaries: list[Summary]) -> list[Summary]:
    return sorted(summaries, key=lambda s: s.code)


def dossier(code: str, unit: str, name: str | None, received: datetime | None = START) -> Summary:
    return Summary(
        code=code,
        unit=unit,
        unit_name=name,
        procedure=f"P{code[-1]}",
        procedure_name=f"Thủ tục {code}" if code[-1] != "3" else None,
        channel="2" if code.endswith("2") else "1",
        received=ms(received) if received is not None else None,
    )


# U1: its smallest code has no name, the next smallest's name wins over a larger code's, and a
# dossier with a smaller code received before the period is not counted (nor names the row);
# U2: no dossier names it
NAMED = [
    dossier("U1-0001", "U1", None),
    dossier("U1-0003", "U1", "Tên sau"),
    dossier("U1-0002", "U1", "Tên đúng"),
    dossier("U1-0004", "U1", "Tên cuối"),
    dossier("U1-0000", "U1", "Trước kỳ", received=START - 30 * DAY),
    dossier("U1-0005", "U1", "Chưa nhận", received=None),
    dossier("U2-0002", "U2", None),
    dossier("U2-0001", "U2", None),
]


@pytest.mark.parametrize("seed", range(8))
def test_unit_stats_does_not_depend_on_the_order(seed: int) -> None:
    start = START - DAY
    want = unit_stats(by_code(NAMED), start, None, END_TIME, by_procedure=True)
    assert [(r["unit_code"], r["unit_name"]) for r in want] == [("U1", "Tên đúng"), ("U2", None)]
    assert [r["received"] for r in want] == [4, 2]
    got = unit_stats(shuffled(NAMED, seed), start, None, END_TIME, by_procedure=True)
    assert got == want
    # without the period's start the earlier dossier is counted, and its name is the first
    assert unit_stats(shuffled(NAMED, seed), now=END_TIME)[0]["unit_name"] == "Trước kỳ"


@pytest.mark.parametrize("seed", range(4))
def test_unit_stats_on_the_sample_does_not_depend_on_the_order(
    summaries: list[Summary], seed: int
) -> None:
    for period in (ALL, NOVEMBER):
        want = unit_stats(by_code(summaries), period.start, period.end, END_TIME, by_procedure=True)
        got = unit_stats(
            shuffled(summaries, seed), period.start, period.end, END_TIME, by_procedure=True
        )
        assert got == want


def test_the_tables_names_are_the_first_in_code_order() -> None:
    for seed in range(8):
        mixed = shuffled(NAMED, seed)
        # every dossier names its unit here, counted or not (the §8 rows' names)
        assert unit_names(mixed) == {"U1": "Trước kỳ", "U2": None}
        assert procedure_names(mixed) == {
            "P0": "Thủ tục U1-0000",
            "P1": "Thủ tục U1-0001",
            "P2": "Thủ tục U1-0002",
            "P4": "Thủ tục U1-0004",
            "P5": "Thủ tục U1-0005",
        }


@pytest.fixture(scope="module")
def summaries() -> list[Summary]:
    """The sample feed's summaries, and a dossier with §9 findings (the feed has none)."""
    at = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)
    audited = Summary(
        code="000.31.05.H49-261101-0009",
        unit="000.31.05.H49",
        unit_name="UBND phường Điện Bàn",
        procedure="1.001",
        received=ms(at - 10 * DAY),
        holder_initial="Bộ phận một cửa",
        holders=[(ms(at - DAY), "onestop", "Phòng Tư pháp", "Trần Văn A")],
        findings=[
            Finding(DUE_DATE_EXTENDED, ms(at), ms(at), ms(at + 7 * DAY), None),
            Finding(PAUSE_AFTER_DUE, ms(at + DAY), ms(at), None, "supplement"),
        ],
    )
    sample = [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]
    return [*sample, audited]


PERIODS = [
    ALL,
    NOVEMBER,
    Period(None, None, None),  # no "now" yet: §8 and §9 empty, §7 as of the period's end
    Period(NOVEMBER.start, NOVEMBER.end, None),
]
UNITS = [None, frozenset({"000.31.05.H49", "land"}), frozenset({"000.31.05.H49"}), frozenset()]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("units", UNITS)
async def test_the_streamed_tables_are_build_tables(
    summaries: list[Summary],
    period: Period,
    units: frozenset[str] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streamed, "CHUNK", 7)  # the 41 summaries in several chunks
    want = build_tables(summaries, period, CAL, units=units)
    got = await build_tables_streamed(iter(shuffled(summaries, 1)), period, CAL, units=units)
    assert got == want
    assert list(got) == list(want)
    if units != frozenset():
        assert want["units"].rows
    if period.as_of is None:
        assert want["responsibility"].rows == want["audit"].rows == []
    elif units is None:
        assert want["responsibility"].rows and want["audit"].rows
