"""The intake without Kafka: its view of its partitions, as the clock records and /metrics read
it (a stand-in with aiokafka's behaviour for partitions that are not, or no longer, assigned),
and what it does when the broker refuses one record (a fake producer with a record limit)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from hub.domain.calendar import WorkingCalendar
from hub.metrics import HubMetrics
from hub.protocol import (
    ITEM_HEADER,
    KEY_TRUNCATED_HEADER,
    MESSAGE_HEADER,
    OFFSET_HEADER,
    REASON_HEADER,
    VALUE_SHA256_HEADER,
    VALUE_TRUNCATED_HEADER,
    header,
)
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.intake import Intake
from hub.topics import DEADLETTER, DOSSIER_EVENTS, INBOUND_TOPICS

ONESTOP = INBOUND_TOPICS["onestop"]


class StandIn:
    def __init__(self, assigned: set[TopicPartition], highs: dict[TopicPartition, int]) -> None:
        self.assigned = assigned
        self.highs = highs

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self.assigned, "Partition is not assigned"  # what aiokafka does
        return self.highs[tp]

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1}


def intake_with(consumer: Any) -> Intake:
    settings = Settings()
    calendar = WorkingCalendar.from_file(settings.calendar_file)
    intake = Intake(settings, calendar, system_clock, HubMetrics())
    intake.consumer = consumer
    return intake


def test_lag_skips_a_partition_revoked_before_its_position_was_dropped() -> None:
    kept, gone = TopicPartition(ONESTOP, 0), TopicPartition(ONESTOP, 1)
    intake = intake_with(StandIn({kept}, {kept: 10, gone: 99}))
    intake.positions = {(ONESTOP, 0): 7, (ONESTOP, 1): 3}  # the listener has not run yet
    assert intake.lag() == {(ONESTOP, 0): 3}
    assert intake.highwater(ONESTOP, 1) is None
    assert intake.position(ONESTOP, 0) == 7


def test_partition_count_needs_the_metadata_of_every_inbound_topic() -> None:
    intake = intake_with(StandIn(set(), {}))
    assert intake.partition_count() == 2 * len(INBOUND_TOPICS)
    intake.consumer = None
    assert intake.partition_count() == 0


# --- produce errors for one record ----------------------------------------------------------------


@dataclass
class Sent:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def size(self) -> int:
        heads = sum(len(name.encode()) + len(value) for name, value in self.headers)
        return len(self.key or b"") + len(self.value) + heads

    def header(self, name: str) -> str | None:
        found = header(self.headers, name)
        return None if found is None else found.decode()


@dataclass
class Msg:
    """The fields of aiokafka's ConsumerRecord the intake reads."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = b"k"


class FakeProducer:
    """aiokafka's producer as the intake uses it, with a broker's record limit.

    `send` returns a future. What is sent while the loop does not yield goes out as one batch per
    topic, as aiokafka's accumulator does; the broker refuses a whole batch (every future of it
    fails with MessageSizeTooLargeError) when one record of it is over `limits[topic]` bytes
    (message.max.bytes). Over `local_limit`, `send` itself raises, as aiokafka does over its
    max_request_size. `fail` makes every send raise that error instead (the broker away).
    """

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        local_limit: int | None = None,
        fail: Exception | None = None,
    ) -> None:
        self.limits = limits or {}
        self.local_limit = local_limit
        self.fail = fail
        self.log: dict[str, list[Sent]] = defaultdict(list)
        self.sends = 0
        self._batches: dict[str, list[tuple[Sent, asyncio.Future[None]]]] = {}
        self._added: list[asyncio.Future[None]] = []

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        **_: Any,
    ) -> asyncio.Future[None]:
        self.sends += 1
        if self.fail is not None:
            raise self.fail
        record = Sent(key, value or b"", list(headers or []))
        if self.local_limit is not None and record.size > self.local_limit:
            raise MessageSizeTooLargeError(f"The message is {record.size} bytes when serialized")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if topic not in self._batches:
            self._batches[topic] = []
            loop.call_soon(self._flush, topic)
        self._batches[topic].append((record, future))
        return future

    # as hub/stream/outbound.py's Outbound, which the intake puts its records in: each record
    # goes through send() here, so the batches and the limits are the ones above
    @property
    def producer(self) -> FakeProducer:
        return self

    async def add(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        future = await self.send(topic, value, key=key, headers=headers)
        self._added.append(future)
        return SimpleNamespace(future=future)

    async def flush(self) -> list[tuple[None, int, asyncio.Future[None]]]:
        added, self._added = self._added, []
        return [(None, 1, f) for f in added]

    def _flush(self, topic: str) -> None:
        batch = self._batches.pop(topic)
        limit = self.limits.get(topic)
        if limit is not None and any(record.size > limit for record, _ in batch):
            for _, future in batch:
                future.set_exception(MessageSizeTooLargeError())
            return
        for record, future in batch:
            self.log[topic].append(record)
            future.set_result(None)


TAX = INBOUND_TOPICS["tax"]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone(timedelta(hours=7)))
VALID_TAX = json.dumps(
    {
        "eventId": "e-1",
        "eventType": "NOTICE_ISSUED",
        "dossierRef": "000.00.12.H49-261103-0001",
        "noticeNo": "TB-1",
        "occurredAt": 1794448800000,
    }
).encode()


def fresh_intake(**settings: Any) -> Intake:
    cfg = Settings(**settings)
    calendar = WorkingCalendar.from_file(cfg.calendar_file)
    return Intake(cfg, calendar, lambda: NOW, HubMetrics())


async def process(intake: Intake, producer: FakeProducer, *messages: Msg) -> None:
    batches: dict[TopicPartition, list[Msg]] = defaultdict(list)
    for msg in messages:
        batches[TopicPartition(msg.topic, msg.partition)].append(msg)
    await intake._process(producer, None, batches)  # type: ignore[arg-type]
    intake._committed()  # as once the batch's transaction has committed


def dead_lettered(intake: Intake, source: str, reason: str) -> float:
    value = intake.metrics.registry.get_sample_value(
        "motcua_deadletters_total", {"source": source, "reason": reason}
    )
    return value or 0.0


@pytest.mark.parametrize("where", ["broker", "send"])
async def test_a_dead_letter_too_large_to_send_is_sent_cut(where: str) -> None:
    """A dead letter of an inbound record near the record limit no longer fits once the
    dead-letter headers are added: it is sent again cut to fit, saying so; the records that
    were refused only for sharing its batch are sent again as they were."""
    big, small = b"{" + b"x" * 1900, b"nope"
    producer = (
        FakeProducer(limits={DEADLETTER: 2000})
        if where == "broker"
        else FakeProducer(local_limit=2000)
    )
    intake = fresh_intake()
    await process(
        intake,
        producer,
        Msg(TAX, 0, 0, big),
        Msg(TAX, 0, 1, small),
        Msg(TAX, 0, 2, VALID_TAX),
    )
    letters = producer.log[DEADLETTER]
    by_offset = {dl.header(OFFSET_HEADER): dl for dl in letters}
    assert sorted(by_offset) == ["0", "1"] and len(letters) == 2
    kept = by_offset["1"]
    assert kept.value == small and kept.header(VALUE_TRUNCATED_HEADER) is None
    cut = by_offset["0"]
    assert cut.header(REASON_HEADER) == "DECODE_ERROR"
    assert 0 < len(cut.value) < len(big) and big.startswith(cut.value)
    assert cut.header(VALUE_TRUNCATED_HEADER) == str(len(big))
    assert cut.header(VALUE_SHA256_HEADER) == hashlib.sha256(big).hexdigest()
    assert cut.key == b"k" and cut.size <= 2000
    assert len(producer.log[DOSSIER_EVENTS]) == 1
    assert intake._uncommitted == {TopicPartition(TAX, 0): 3}
    assert dead_lettered(intake, "tax", "DECODE_ERROR") == 2


async def test_an_inbound_key_too_large_for_a_dead_letter_is_cut_too() -> None:
    producer = FakeProducer(limits={DEADLETTER: 2000})
    intake = fresh_intake()
    await process(intake, producer, Msg(TAX, 0, 0, b"nope", key=b"K" * 1900))
    (cut,) = producer.log[DEADLETTER]
    assert cut.size <= 2000 and cut.key is not None and cut.key != b"K" * 1900
    assert cut.header(KEY_TRUNCATED_HEADER) == "1900"
    assert cut.value == b"nope" and cut.header(VALUE_TRUNCATED_HEADER) is None


async def test_a_dead_letter_that_fits_no_way_is_given_up_not_retried_forever(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even cut to nothing it does not fit (the headers alone are over the limit): logged, and
    the batch goes on after a bounded number of attempts."""
    producer = FakeProducer(limits={DEADLETTER: 50})
    intake = fresh_intake()
    with caplog.at_level(logging.ERROR, logger="hub.stream.intake"):
        await process(intake, producer, Msg(TAX, 0, 0, b"{" + b"x" * 100_000))
    assert producer.log[DEADLETTER] == []
    assert producer.sends < 40
    assert "could not be sent" in caplog.text
    assert intake._uncommitted == {TopicPartition(TAX, 0): 1}


async def test_an_event_that_cannot_be_sent_is_dead_lettered_internal() -> None:
    raw = json.dumps(
        {
            "service": "CapNhatTienDoHoSoMC",
            "data": [
                {"MaHoSo": "A-1", "TrangThai": "4", "ThoiDiemXuLy": "20261104090000"},
                {"MaHoSo": "A-2", "TrangThai": "4", "ThoiDiemXuLy": "20261105090000"},
            ],
        }
    ).encode()
    producer = FakeProducer(limits={DOSSIER_EVENTS: 10})
    intake = fresh_intake()
    await process(intake, producer, Msg(ONESTOP, 0, 7, raw))
    assert producer.log[DOSSIER_EVENTS] == []
    letters = producer.log[DEADLETTER]
    assert [dl.header(ITEM_HEADER) for dl in letters] == ["0", "1"]
    for dl in letters:
        assert dl.value == raw and dl.header(REASON_HEADER) == "INTERNAL"
        assert "MessageSizeTooLargeError" in (dl.header(MESSAGE_HEADER) or "")
    assert dead_lettered(intake, "onestop", "INTERNAL") == 2
    # the clock records report no event time that never reached the log
    assert intake.marks.marks[f"{ONESTOP}:0"].high_ms is None
    assert intake._uncommitted == {TopicPartition(ONESTOP, 0): 8}


async def test_any_other_produce_error_still_stops_the_batch() -> None:
    """The broker away is no property of one record: the loop restarts and re-reads."""
    intake = fresh_intake()
    with pytest.raises(KafkaTimeoutError):
        await process(intake, FakeProducer(fail=KafkaTimeoutError()), Msg(TAX, 0, 0, VALID_TAX))
    assert intake._uncommitted == {}
