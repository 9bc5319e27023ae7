"""The intake's view of its partitions, as the clock records and /metrics read it. No Kafka:
a stand-in with aiokafka's behaviour for partitions that are not (or no longer) assigned."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from hub.domain.calendar import WorkingCalendar
from hub.metrics import HubMetrics
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.intake import Intake
from hub.topics import INBOUND_TOPICS

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
