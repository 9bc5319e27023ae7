"""The event clock's watermark (rules.md §6) and the marks a worker reports. No Kafka."""

from __future__ import annotations

from hub.domain.watermark import Watermark
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
