"""The event clock's watermark (rules.md §6) and the marks a worker reports. No Kafka."""

from __future__ import annotations

from hub.domain.watermark import Watermark, parse_mark
from hub.stream.ingest import InboundMarks


def test_min_over_active_partitions_max_when_all_idle() -> None:
    wm = Watermark()
    wm.merge("a:0", 100, False)
    wm.merge("a:1", 50, False)
    wm.merge("b:0", None, False)  # never delivered a valid message: does not count
    assert wm.value_ms() == 50
    wm.merge("a:1", 60, True)
    assert wm.value_ms() == 100
    wm.merge("a:0", 100, True)
    assert wm.value_ms() == 100


def test_highs_never_go_back() -> None:
    wm = Watermark()
    wm.merge("a:0", 100, False)
    wm.merge("a:0", None, False)  # a new owner that has not read yet
    wm.merge("a:0", 80, False)
    assert wm.value_ms() == 100


def test_waiting_partition_holds_the_watermark_until_it_delivers_or_idles() -> None:
    wm = Watermark()
    wm.merge("a:0", 100, False)
    wm.merge("b:0", None, False, waiting=True)
    assert wm.value_ms() is None
    wm.merge("b:0", 40, False, waiting=True)  # delivered: waiting no longer applies
    assert wm.value_ms() == 40
    other = Watermark()
    other.merge("a:0", 100, False)
    other.merge("b:0", None, True, waiting=True)  # idle wins
    assert other.value_ms() == 100


def test_holds_until_every_partition_was_reported() -> None:
    wm = Watermark(expected=3)
    wm.merge("a:0", 100, False)
    wm.merge("a:1", 90, False)
    assert wm.value_ms() is None
    wm.merge("b:0", None, False)
    assert wm.value_ms() == 90


def test_round_trip_through_json() -> None:
    wm = Watermark(expected=2)
    wm.merge("a:0", 100, False)
    wm.merge("b:0", None, False, waiting=True)
    again = Watermark.from_json(wm.to_json())
    assert again == wm


def test_a_worker_reports_waiting_for_partitions_with_unread_messages() -> None:
    marks = InboundMarks(idle_timeout_s=30)
    marks.assigned({"t:0", "t:1", "t:2", "t:3"})
    marks.delivered("t", 1, 4, None)  # read up to 4, all dead-lettered
    marks.delivered("t", 2, 9, 1234)
    ends = {0: 5, 1: 5, 2: 10, 3: 0}
    report = marks.report(lambda _t, p: ends[p], lambda _t, p: None)
    assert report["t:0"][2] is True  # 5 messages not read yet
    assert report["t:1"][2] is False  # all read (invalid ones count as read)
    assert report["t:2"] == [1234, False, False]
    assert report["t:3"][2] is False  # empty
    unknown = marks.report(lambda _t, _p: None, lambda _t, _p: None)
    assert unknown["t:3"][2] is True  # no fetch answered yet: assume there is something
    resumed = InboundMarks(idle_timeout_s=30)
    resumed.assigned({"t:0"})
    assert resumed.report(lambda _t, _p: 5, lambda _t, _p: 5)["t:0"][2] is False


def test_a_partition_with_unread_messages_never_turns_idle() -> None:
    """After a restart the stored high of a partition still stands, and a partition the worker
    has not caught up on must hold the watermark there, however long its turn takes."""
    marks = InboundMarks(idle_timeout_s=0.0)
    marks.assigned({"t:0", "t:1"})
    marks.delivered("t", 0, 2, 1000)
    marks.delivered("t", 1, 7, 5000)
    ends = {0: 9, 1: 8}  # t:0 has 6 messages not read yet, t:1 is read to its end
    report = marks.report(lambda _t, p: ends[p], lambda _t, _p: None)
    assert report["t:0"] == [1000, False, False]
    assert report["t:1"] == [5000, True, False]
    wm = Watermark(expected=2)
    wm.merge("t:0", 900, False)  # what the worker before the restart had read
    for key, values in report.items():
        wm.merge(key, *parse_mark(values))
    assert wm.value_ms() == 1000  # held by the partition still being read, not 5000
    # a restarted worker that has delivered nothing yet from a partition with a backlog
    restarted = InboundMarks(idle_timeout_s=0.0)
    restarted.assigned({"t:0"})
    again = restarted.report(lambda _t, _p: 9, lambda _t, _p: 3)
    assert again["t:0"] == [None, False, True]
    wm.merge("t:0", *parse_mark(again["t:0"]))
    assert wm.value_ms() == 1000  # the stored high stands; the partition still counts
