"""Records on the hub's own topics are validated: a bad one is skipped and counted, never fatal.

(Against the real broker: tests/integration/test_hostile.py.)
"""

from __future__ import annotations

import json

import pytest

from hub.domain.stats import Summary, unit_stats
from hub.metrics import HubMetrics
from hub.protocol import (
    ProtocolError,
    clock_key,
    kind_of,
    parse_claim,
    parse_clock,
    parse_withdraw,
)
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.summaries import SummaryStore

GOOD = Summary(code="000.00.12.H49-261103-0001", unit="000.00.12.H49", received=1_762_000_000_000)
POISON: list[tuple[bytes | None, bytes | None]] = [
    (None, GOOD.dumps()),  # no key
    (b"\xff\xfe", GOOD.dumps()),  # a key that is no text
    (b"X-1", b"not json"),
    (b"X-1", b"[" * 100_000),  # deep nesting
    (b"X-1", b'{"code": "X-1"}'),  # fields missing
    (b"X-1", json.dumps({"code": "X-1", "unit": 7}).encode()),  # wrong type
    (b"X-1", json.dumps({"code": "X-1", "unit": "X", "received": "soon"}).encode()),
    (b"X-1", json.dumps({"code": "X-1", "unit": "X", "received": 10**20}).encode()),
    (b"X-1", json.dumps({"code": "X-1", "unit": "X", "alerts": [["EVIL", 1, None]]}).encode()),
    (b"X-1", json.dumps({"code": "X-1", "unit": "X", "due": [[1]]}).encode()),
    (b"Y-1", GOOD.dumps()),  # a summary under another dossier's key
    (clock_key(0), b"tomorrow"),
    (clock_key(0), b"99999999999999999999999"),
    (b"\x00clock/x", b"1"),
]


def test_poison_on_the_summary_topic_is_skipped_and_counted() -> None:
    metrics = HubMetrics()
    store = SummaryStore(Settings(clock="event"), system_clock, metrics)
    store.apply(0, GOOD.code.encode(), GOOD.dumps())
    store.apply(0, clock_key(0), b"1764900000000")
    for key, value in POISON:
        store.apply(1, key, value)  # must not raise
    skipped = metrics.registry.get_sample_value(
        "motcua_internal_records_skipped_total", {"topic": "hub.dossier.summary"}
    )
    assert skipped == len(POISON)
    assert list(store.summaries) == [GOOD.code]
    assert store.clocks == {0: 1764900000000}
    as_of = store.as_of()
    assert as_of is not None
    rows = unit_stats(list(store.summaries.values()), None, None, as_of)
    assert [r["unit_code"] for r in rows] == [GOOD.unit]


@pytest.mark.parametrize(
    "headers",
    [[("motcua.kind", b"evil")], [("motcua.kind", b"x" * 10_000)]],
)
def test_an_unknown_record_kind_is_a_protocol_error(headers: list[tuple[str, bytes]]) -> None:
    with pytest.raises(ProtocolError):
        kind_of(headers)


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (parse_clock, b"[1]"),
        (parse_clock, b'{"wall": "now"}'),
        (parse_clock, b'{"wall": 1, "expect": true}'),
        (parse_clock, b'{"wall": 1, "marks": []}'),
        (parse_clock, b"{" * 50_000),
        (parse_claim, b'{"code": 5}'),
        (parse_claim, b"{}"),
        (parse_withdraw, b'{"ids": 1}'),
        (parse_withdraw, b"[1, 2]"),
    ],
)
def test_bad_payloads_are_protocol_errors(parse: object, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(payload)  # type: ignore[operator]


# -- clock records: a stray one cannot move or freeze the event clock for good -----------------
T0 = 1_764_900_000_000  # 2025-12-05


def _judge(now: list[int]) -> object:
    from datetime import UTC, datetime

    from hub.domain.calendar import WorkingCalendar
    from hub.domain.catalog import Catalog
    from hub.domain.engine import Engine
    from hub.stream.judge import Judge

    cfg = Settings(clock="event", idle_timeout_s=3)
    engine = Engine(
        WorkingCalendar.from_file(cfg.calendar_file), Catalog.from_file(cfg.catalog_file), 1
    )
    return Judge(cfg, engine, lambda: datetime.fromtimestamp(now[0] / 1000, UTC), {})


def _clock(expect: int, **marks: list[object]) -> bytes:
    return json.dumps({"wall": 0, "expect": expect, "marks": marks}).encode()


def test_a_mark_far_in_the_future_is_refused() -> None:
    now = [T0]
    judge = _judge(now)
    judge.on_clock(0, _clock(2, **{"a:0": [T0 - 5000, False], "a:1": [T0 - 9000, False]}))
    assert judge.now_ms(0) == T0 - 9000
    year_9999 = 253_402_300_799_000
    judge.on_clock(0, _clock(2, **{"a:0": [year_9999, True], "a:1": [year_9999, True]}))
    assert judge.now_ms(0) == T0 - 9000  # refused: the watermark has not moved
    skipped = judge.metrics.registry.get_sample_value(
        "motcua_internal_records_skipped_total", {"topic": "hub.dossier.events:clock"}
    )
    assert skipped == 2


def test_an_expect_in_the_millions_does_not_freeze_the_watermark() -> None:
    now = [T0]
    judge = _judge(now)
    marks = {"a:0": [T0 - 5000, False], "a:1": [T0 - 9000, False]}
    judge.on_clock(0, _clock(2, **marks))
    judge.on_clock(0, _clock(5_000_000, **marks))  # beyond any cluster: ignored
    assert judge.now_ms(0) == T0 - 9000
    judge.on_clock(0, _clock(50_000, **marks))  # plausible, but stray: holds for one report
    marks["a:1"] = [T0 - 1000, False]
    judge.on_clock(0, _clock(2, **marks))  # the workers' next tick
    assert judge.now_ms(0) == T0 - 5000


def test_a_mark_no_worker_reports_is_forgotten() -> None:
    now = [T0]
    judge = _judge(now)
    honest = {"a:0": [T0 - 5000, False], "a:1": [T0 - 9000, False]}
    judge.on_clock(0, _clock(2, **honest, **{"evil:0": [0, False]}))  # holds everything at 0
    assert judge.now_ms(0) == 0
    for step in range(1, 8):  # the honest workers keep reporting; nobody reports evil:0
        now[0] = T0 + step * 15_000
        honest = {k: [T0 - 5000 + step * 1000, False] for k in ("a:0", "a:1")}
        judge.on_clock(0, _clock(2, **honest))
    assert judge.now_ms(0) == T0 - 5000 + 7 * 1000
