"""The intake's bounds against a hostile or broken feed (docs/settings.md, "Bounds"): what one
inbound message may cost in dead letters, and the settings and clock it hands the connectors.
No Kafka: the fake producer of test_intake.py."""

from __future__ import annotations

import time
from datetime import timedelta

from connectors import Reason, Rejection
from hub.codec import decode_event
from hub.protocol import FOLDED_HEADER, ITEM_HEADER, MESSAGE_HEADER, REASON_HEADER
from hub.stream.ingest import dead_letters
from hub.topics import DEADLETTER, DOSSIER_EVENTS
from tests.unit.test_intake import (
    NOW,
    ONESTOP,
    FakeProducer,
    Msg,
    Sent,
    dead_lettered,
    fresh_intake,
    process,
)

LAND = "agency.land.status"
SECURITY = {"land_security_code": "QNAM-VBDLIS-7f3a9c"}


def bad_items(n: int) -> bytes:
    """A bare list of `n` items that are no objects: each one is a bad item (SCHEMA_ERROR)."""
    return b"[" + b",".join([b"1234"] * n) + b"]"


async def dead_letters_of(raw: bytes, **settings: object) -> tuple[list[Sent], float]:
    intake = fresh_intake(**settings)
    producer = FakeProducer()
    await process(intake, producer, Msg(ONESTOP, 0, 0, raw))
    return producer.log[DEADLETTER], dead_lettered(intake, "onestop", "SCHEMA_ERROR")


# --- what one message may cost in dead letters ---------------------------------------------


async def test_100000_bad_items_cost_at_most_twice_the_message() -> None:
    """The amplification: a 500 KB list of 100 000 bad items once made 100 000 dead letters of
    500 KB each (50 GB). The item bound is lifted to its maximum to show the byte bound alone."""
    raw = bad_items(100_000)
    assert 450_000 < len(raw) <= 524_288
    start = time.perf_counter()
    letters, counted = await dead_letters_of(raw, max_items_per_message=1_000_000)
    elapsed = time.perf_counter() - start
    assert sum(len(dl.value) for dl in letters) <= 2 * len(raw)
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert counted == 100_000  # every bad item is still counted by its reason
    first, folded = letters
    assert first.value == folded.value == raw
    assert first.header(ITEM_HEADER) == "0" and first.header(FOLDED_HEADER) is None
    assert folded.header(ITEM_HEADER) == "1" and folded.header(REASON_HEADER) == "SCHEMA_ERROR"
    listed = (folded.header(FOLDED_HEADER) or "").split(",")
    assert listed[:2] == ["1:SCHEMA_ERROR", "2:SCHEMA_ERROR"] and len(listed) == 101
    assert listed[-1] == f"+{99_999 - 100}"
    assert "99998 more bad items" in (folded.header(MESSAGE_HEADER) or "")


async def test_too_many_items_is_one_dead_letter_by_default() -> None:
    letters, _ = await dead_letters_of(bad_items(100_000))
    (only,) = letters
    assert only.header(REASON_HEADER) == "TOO_LARGE" and only.header(ITEM_HEADER) is None
    message = only.header(MESSAGE_HEADER) or ""
    assert "100000 items" in message and "MOTCUA_MAX_ITEMS_PER_MESSAGE" in message


async def test_the_item_bound_comes_from_the_settings() -> None:
    letters, counted = await dead_letters_of(bad_items(3), max_items_per_message=2)
    assert [dl.header(REASON_HEADER) for dl in letters] == ["TOO_LARGE"] and counted == 0


async def test_one_or_two_bad_items_are_dead_lettered_as_the_contract_says() -> None:
    for n in (1, 2):
        raw = bad_items(n)
        letters, counted = await dead_letters_of(raw)
        assert [dl.header(ITEM_HEADER) for dl in letters] == [str(i) for i in range(n)]
        assert all(dl.value == raw and dl.header(FOLDED_HEADER) is None for dl in letters)
        assert counted == n


async def test_bad_items_past_the_budget_are_folded_into_its_last_record() -> None:
    raw = bad_items(3)
    letters, counted = await dead_letters_of(raw)
    assert [dl.header(ITEM_HEADER) for dl in letters] == ["0", "1"] and counted == 3
    assert letters[1].header(FOLDED_HEADER) == "1:SCHEMA_ERROR,2:SCHEMA_ERROR"
    assert "1 more bad item" in (letters[1].header(MESSAGE_HEADER) or "")
    letters, _ = await dead_letters_of(raw, deadletter_bytes_factor=3.0)
    assert [dl.header(ITEM_HEADER) for dl in letters] == ["0", "1", "2"]
    assert all(dl.header(FOLDED_HEADER) is None for dl in letters)


def test_the_folded_record_names_its_first_item_and_its_reasons() -> None:
    reasons = [Reason.SCHEMA_ERROR, Reason.BAD_TIME, Reason.NO_DOSSIER_KEY, Reason.BAD_TIME]
    rejections = [Rejection(r, f"item {i}", i) for i, r in enumerate(reasons)]
    out = dead_letters(
        rejections,
        key=None,
        value=b"x" * 10,
        topic=ONESTOP,
        partition=0,
        offset=0,
        connector="onestop",
        failed_at=NOW,
        factor=2.5,
    )
    assert len(out) == 2
    heads = dict(out[1].headers)
    assert heads[REASON_HEADER] == b"BAD_TIME" and heads[ITEM_HEADER] == b"1"
    assert heads[FOLDED_HEADER] == b"1:BAD_TIME,2:NO_DOSSIER_KEY,3:BAD_TIME"
    assert heads[MESSAGE_HEADER].startswith(b"item 1")


def test_a_whole_message_rejection_is_one_record() -> None:
    out = dead_letters(
        [Rejection(Reason.DECODE_ERROR, "not JSON")],
        key=b"k",
        value=b"",
        topic=ONESTOP,
        partition=0,
        offset=0,
        connector="onestop",
        failed_at=NOW,
        factor=2.0,
    )
    assert len(out) == 1 and out[0].key == b"k" and out[0].value == b""
    assert ITEM_HEADER not in dict(out[0].headers)


# --- what the intake hands the connectors --------------------------------------------------


def land_pause(at: str) -> bytes:
    return (
        '{"callback": "DongBoTrangThaiChoBoSung", "SoBienNhan": "A-1", "LaTamDung": true, '
        f'"SecurityCode": "QNAM-VBDLIS-7f3a9c", "NgayChoBoSung": "{at}"}}'
    ).encode()


async def test_times_are_judged_against_the_intakes_clock() -> None:
    intake = fresh_intake(**SECURITY)
    producer = FakeProducer()
    ahead = (NOW + timedelta(days=3)).isoformat()
    await process(
        intake,
        producer,
        Msg(LAND, 0, 0, land_pause("1990-01-01T03:00:00")),
        Msg(LAND, 0, 1, land_pause(ahead)),
        Msg(LAND, 0, 2, land_pause("2026-11-06T03:00:00")),
    )
    assert [dl.header(REASON_HEADER) for dl in producer.log[DEADLETTER]] == ["BAD_TIME"] * 2
    assert len(producer.log[DOSSIER_EVENTS]) == 1
    # a wider lead (what a replay of a feed from the future needs) lets the second one in
    intake = fresh_intake(max_event_lead_s=7 * 86_400.0, **SECURITY)
    producer = FakeProducer()
    await process(intake, producer, Msg(LAND, 0, 1, land_pause(ahead)))
    assert producer.log[DEADLETTER] == [] and len(producer.log[DOSSIER_EVENTS]) == 1


async def test_free_text_is_cut_to_the_setting() -> None:
    raw = (
        '{"service": "CapNhatTienDoHoSoMC", "data": [{"MaHoSo": "A-1", "TrangThai": "4", '
        f'"ThoiDiemXuLy": "20261104090000", "NoiDungXuLy": "{"n" * 5000}"}}]}}'
    ).encode()
    producer = FakeProducer()
    await process(fresh_intake(max_text_chars=100), producer, Msg(ONESTOP, 0, 0, raw))
    (sent,) = producer.log[DOSSIER_EVENTS]
    assert decode_event(sent.value).note == "n" * 100
