"""The four time formats (sources.md "Times")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors._times import TZ, BadTime, civil_time, epoch_ms, land_time, onestop_time

VN = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261103083000", datetime(2026, 11, 3, 8, 30, tzinfo=VN)),
        ("20261103000000", datetime(2026, 11, 3, 0, 0, tzinfo=VN)),  # midnight, local
        ("2026-11-03T08:30:00", datetime(2026, 11, 3, 8, 30, tzinfo=VN)),
        ("2026-11-03 08:30:00", datetime(2026, 11, 3, 8, 30, tzinfo=VN)),
        ("2026-11-03T08:30:00.150", datetime(2026, 11, 3, 8, 30, 0, 150000, tzinfo=VN)),
        ("2026-11-03T08:30:00.1234567891", datetime(2026, 11, 3, 8, 30, 0, 123456, tzinfo=VN)),
        ("2026-11-03T08:30:00Z", datetime(2026, 11, 3, 15, 30, tzinfo=VN)),
        ("2026-11-02T20:30:00Z", datetime(2026, 11, 3, 3, 30, tzinfo=VN)),  # date changes
        ("2026-11-03T08:30:00+07:00", datetime(2026, 11, 3, 8, 30, tzinfo=VN)),
        ("2026-11-03T08:30:00.5-05:30", datetime(2026, 11, 3, 21, 0, 0, 500000, tzinfo=VN)),
    ],
)
def test_onestop_times(text: str, expected: datetime) -> None:
    got = onestop_time(text)
    assert got == expected
    assert got.tzinfo is TZ


@pytest.mark.parametrize(
    "bad",
    [
        "2026110308300",  # 13 digits
        "202611030830000",
        "20261303083000",  # month 13
        "20261131083000",  # 31 November
        "20261103250000",
        "2026-11-03",
        "2026-11-03T08:30",  # one-stop ISO needs seconds
        "2026-11-03T08:30:00.",
        "2026-11-03T08:30:00+7:00",
        "2026-11-03T08:30:00+24:00",
        "2026-11-03t08:30:00",
        "2026-11-03T08:30:00z",
        "２０２６１１０３０８３００００",  # full-width digits
        "2026١1-03T08:30:00",
        "20261103083000\n",
        " 20261103083000",
        "00011103083000",  # out of range
        "",
        12345678901234,
        True,
        Decimal("20261103083000"),
        None,
        ["20261103083000"],
    ],
)
def test_onestop_bad_times(bad: object) -> None:
    with pytest.raises(BadTime):
        onestop_time(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-06T03:00:00", datetime(2026, 11, 6, 3, 0, tzinfo=UTC)),  # UTC without offset
        ("2026-11-06T03:00", datetime(2026, 11, 6, 3, 0, tzinfo=UTC)),
        ("2026-11-03T07:58:00.0000000", datetime(2026, 11, 3, 7, 58, tzinfo=UTC)),
        ("2026-11-05T17:30:00", datetime(2026, 11, 6, 0, 30, tzinfo=VN)),  # next local day
        ("2026-11-05T17:00:00", datetime(2026, 11, 6, 0, 0, tzinfo=VN)),  # local midnight
        ("2026-11-05T08:15:00+07:00", datetime(2026, 11, 5, 8, 15, tzinfo=VN)),
        ("2026-11-06T03:57:00Z", datetime(2026, 11, 6, 3, 57, tzinfo=UTC)),
        ("2026-11-06T03:57:00.9999999Z", datetime(2026, 11, 6, 3, 57, 0, 999999, tzinfo=UTC)),
    ],
)
def test_land_times(text: str, expected: datetime) -> None:
    got = land_time(text)
    assert got == expected
    assert got.tzinfo is TZ


@pytest.mark.parametrize(
    "bad",
    [
        "2026-11-06",
        "2026-11-06 03:00:00",  # a space is not accepted
        "20261106030000",
        "2026-11-06T03",
        "2026-11-06T03:00:00.",
        "2026-11-06T03:00+0700",
        "2026-02-30T03:00:00",
        3,
        None,
    ],
)
def test_land_bad_times(bad: object) -> None:
    with pytest.raises(BadTime):
        land_time(bad)


def test_civil_times() -> None:
    assert civil_time("03/11/2026 10:15") == datetime(2026, 11, 3, 10, 15, tzinfo=VN)
    assert civil_time("31/12/2026 00:00") == datetime(2026, 12, 31, 0, 0, tzinfo=VN)
    for bad in [
        "3/11/2026 10:15",
        "03/11/2026 10:15:00",
        "2026-11-03 10:15",
        "31/11/2026 10:15",
        "03/11/2026  10:15",
        "03/11/2026 24:00",
        "03/11/2026T10:15",
        "٠3/11/2026 10:15",
    ]:
        with pytest.raises(BadTime):
            civil_time(bad)


def test_epoch_ms() -> None:
    got = epoch_ms(1794448800000)
    assert got == datetime(2026, 11, 12, 9, 0, tzinfo=VN)
    assert got.tzinfo is TZ
    assert epoch_ms(1794448799999).microsecond == 999000
    for bad in [
        True,
        False,
        "1794448800000",
        Decimal("1794448800000.0"),
        1.5,
        None,
        10**30,
        -(10**15),
    ]:
        with pytest.raises(BadTime):
            epoch_ms(bad)
