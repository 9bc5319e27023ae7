"""The working-day calendar (rules.md §1) and the catalogue, without Kafka."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from hub.domain.calendar import TZ, WorkingCalendar, load_overrides
from hub.domain.catalog import Catalog
from hub.errors import ConfigError
from hub.settings import DATA_DIR

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")


def t(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=TZ)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Tết
        (date(2026, 2, 16), False),  # Tết 2026: 16-20/2
        (date(2026, 2, 18), False),
        (date(2026, 2, 20), False),
        (date(2026, 2, 23), True),
        (date(2026, 4, 27), False),  # Giỗ Tổ Hùng Vương, observed
        (date(2026, 4, 30), False),
        (date(2026, 5, 1), False),
        (date(2026, 8, 22), True),  # make-up Saturday, from the overrides file
        (date(2026, 8, 29), False),  # an ordinary Saturday
        (date(2026, 8, 31), False),  # day off made up on 22/8
        (date(2026, 9, 1), False),
        (date(2026, 9, 2), False),
        (date(2026, 9, 3), True),
        (date(2026, 11, 24), False),  # Vietnamese Culture Day, a holiday from 2026
        (date(2025, 11, 24), True),  # not yet in 2025
        (date(2026, 11, 27), True),  # Friday
        (date(2026, 11, 28), False),  # Saturday
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("13/02/2026 10:00", 1, "23/02/2026 10:00"),  # across Tết
        ("27/11/2026 15:30", 1, "30/11/2026 15:30"),  # Friday -> Monday, time kept
        ("23/11/2026 17:00", 1, "25/11/2026 17:00"),  # over 24/11
        ("21/08/2026 09:00", 1, "22/08/2026 09:00"),  # onto the make-up Saturday
        ("28/08/2026 09:00", 2, "04/09/2026 09:00"),  # 31/8, 1/9, 2/9 off
        ("29/04/2026 08:00", 1, "04/05/2026 08:00"),  # 30/4, 1/5 off
        ("28/11/2026 10:00", 1, "30/11/2026 10:00"),  # from a Saturday
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert CAL.add_working_days(t(start), n) == t(expected)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("23/02/2026 17:00", 1, "13/02/2026 17:00"),
        ("25/11/2026 17:00", 1, "23/11/2026 17:00"),
        ("30/11/2026 17:00", 1, "27/11/2026 17:00"),
        ("24/08/2026 17:00", 1, "22/08/2026 17:00"),
    ],
)
def test_sub_working_days(start: str, n: int, expected: str) -> None:
    assert CAL.sub_working_days(t(start), n) == t(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("13/02/2026 10:00", "23/02/2026 09:00", 1),  # only 23/2 in (13/2, 23/2]
        ("23/11/2026 10:00", "25/11/2026 09:00", 1),
        ("23/11/2026 10:00", "23/11/2026 16:00", 0),  # same date
        ("25/11/2026 10:00", "23/11/2026 16:00", 0),  # b before a
        ("27/11/2026 16:00", "30/11/2026 08:00", 1),  # Friday -> Monday
        ("21/08/2026 12:00", "24/08/2026 12:00", 2),  # 22/8 counts
    ],
)
def test_working_days_between(a: str, b: str, expected: int) -> None:
    assert CAL.working_days_between(t(a), t(b)) == expected


def test_utc_input_uses_the_local_date() -> None:
    # 20:00 UTC on Friday 27/11 is 03:00 Saturday in Hà Nội: walk from Saturday
    utc = datetime.fromisoformat("2026-11-27T20:00:00+00:00")
    assert CAL.add_working_days(utc, 1) == t("30/11/2026 03:00")


def test_overrides_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "cal.csv"
    bad.write_text("date,kind,note\n2026-01-02,day_off,x\n2026-13-01,day_off,bad\n")
    with pytest.raises(ConfigError, match="line 3"):
        load_overrides(bad)
    bad.write_text("date,kind,note\n2026-01-02,holiday,x\n")
    with pytest.raises(ConfigError, match=r"line 2.*kind"):
        load_overrides(bad)


def test_override_day_off_and_working_day(tmp_path: Path) -> None:
    f = tmp_path / "cal.csv"
    f.write_text("date,kind,note\n2026-12-01,day_off,storm\n2026-12-05,working_day,make-up\n")
    cal = WorkingCalendar.from_file(f)
    assert not cal.is_working_day(date(2026, 12, 1))
    assert cal.is_working_day(date(2026, 12, 5))
    assert cal.add_working_days(t("30/11/2026 09:00"), 1) == t("02/12/2026 09:00")


def test_catalog_loads_and_rejects_bad_rows(tmp_path: Path) -> None:
    cat = Catalog.from_file(DATA_DIR / "procedures.csv")
    assert cat.get("1.001193") is not None and cat.get("1.001193").time_limit_wd == 0  # type: ignore[union-attr]
    assert cat.get("1.013978").time_limit_wd == 20  # type: ignore[union-attr]
    assert cat.get("9.999") is None and cat.get(None) is None
    bad = tmp_path / "p.csv"
    bad.write_text("code,name,sector,time_limit_wd\n1.1,A,land,3\n1.2,B,land,three\n")
    with pytest.raises(ConfigError, match="line 3"):
        Catalog.from_file(bad)
    bad.write_text("code,name\n1.1,A\n")
    with pytest.raises(ConfigError, match="line 1"):
        Catalog.from_file(bad)
