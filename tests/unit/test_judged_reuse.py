"""An evaluation of the same events at a later "now" (a deadline come due) takes the last
evaluation's facts and timeline as they are: it must say exactly what a fresh one says. No Kafka."""

from __future__ import annotations

import copy
import random
from typing import Any, ClassVar

import pytest

from hub.domain.alerts import Alert
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Emitted, Engine, Evaluation
from hub.domain.events import DossierEvent
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.publisher import SummaryPublisher
from tests.unit.builders import CODE, snapshot, step, t
from tests.unit.test_judge import FIXED, feed, interleaving

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
EVENTS: list[DossierEvent] = [snapshot(due="17/11 17:00"), step("12/11 10:00", 4)]


def test_the_same_events_take_the_last_facts_and_say_what_a_fresh_evaluation_says() -> None:
    emitted: dict[str, Emitted] = {}
    first = ENGINE.evaluate(CODE, EVENTS, emitted, t("14/11 09:00"), t("14/11 09:00"))
    assert not first.reused and first.judged is not None
    now = t("19/11 09:00")  # past the due date: PROCESSING_LATE is raised now
    fresh_emitted = copy.deepcopy(emitted)
    reused = ENGINE.evaluate(CODE, list(EVENTS), emitted, now, now, first.judged)
    fresh = ENGINE.evaluate(CODE, list(EVENTS), fresh_emitted, now, now)
    assert reused.reused and not fresh.reused
    assert reused.facts is first.facts and reused.transitions is first.transitions
    assert reused.alerts and reused.alerts == fresh.alerts
    assert reused.next_wake == fresh.next_wake
    assert emitted == fresh_emitted


def test_other_events_are_judged_afresh() -> None:
    first = ENGINE.evaluate(CODE, EVENTS, {}, t("14/11 09:00"), t("14/11 09:00"))
    assert first.judged is not None
    finished = [*EVENTS, step("13/11 10:00", 10)]
    now = t("19/11 09:00")
    later = ENGINE.evaluate(CODE, finished, {}, now, now, first.judged)
    assert not later.reused and later.facts is not first.facts
    assert later.facts == ENGINE.facts(CODE, finished)
    # equal events that are other objects (decoded again, say) are judged afresh too
    again = [e.model_copy() for e in EVENTS]
    assert not ENGINE.evaluate(CODE, again, {}, now, now, first.judged).reused
    # and another dossier's facts are never taken
    other = ENGINE.evaluate("OTHER-1", list(EVENTS), {}, now, now, first.judged)
    assert not other.reused and other.facts is not None and other.facts.code == "OTHER-1"


def test_unchanged_facts_are_summarized_only_when_their_summary_is_not_held() -> None:
    publisher = SummaryPublisher(CAL, 1, capacity=1)
    first = ENGINE.evaluate(CODE, EVENTS, {}, t("14/11 09:00"), t("14/11 09:00"))
    assert first.facts is not None
    publisher.collect(CODE.encode(), first.facts, first.transitions)
    sent = publisher.take()
    assert len(sent) == 1
    publisher.collect(CODE.encode(), first.facts, first.transitions, unchanged=True)
    assert publisher.take() == []
    # pushed out of the publisher's memory: the summary is made and sent again, as before
    other = ENGINE.evaluate("OTHER-1", EVENTS, {}, t("14/11 09:00"), t("14/11 09:00"))
    assert other.facts is not None
    publisher.collect(b"OTHER-1", other.facts, other.transitions)
    publisher.take()
    publisher.collect(CODE.encode(), first.facts, first.transitions, unchanged=True)
    assert publisher.take() == sent


class _Afresh(Engine):
    """The engine as it was: every evaluation derives the facts and the timeline again."""

    def evaluate(self, *args: Any, **kwargs: Any) -> Evaluation:
        kwargs.pop("last", None)
        return super().evaluate(*args[:5], **kwargs)


class _Counted(Engine):
    """The engine, noting of each evaluation whether it took the kept facts."""

    reused: ClassVar[list[bool]] = []

    def evaluate(self, *args: Any, **kwargs: Any) -> Evaluation:
        result = super().evaluate(*args, **kwargs)
        self.reused.append(result.reused)
        return result


def _judged_samples(engine: Engine, seed: int) -> tuple[list[Alert], list[tuple[bytes, bytes]]]:
    judge = Judge(Settings(clock=ClockMode.EVENT), engine, lambda: FIXED, {})
    publisher = SummaryPublisher(CAL, 1)
    judge.on_facts = publisher.collect
    alerts = feed(judge, interleaving(random.Random(seed)))
    return alerts, publisher.take()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_judge_taking_kept_facts_says_what_one_deriving_them_afresh_says(seed: int) -> None:
    engine = _Counted(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
    engine.reused.clear()
    alerts, summaries = _judged_samples(engine, seed)
    reused = engine.reused
    afresh = _Afresh(engine.calendar, engine.catalog, 1)
    assert (alerts, summaries) == _judged_samples(afresh, seed)
    assert alerts and summaries
    assert any(reused), "no deadline was judged on kept facts: the test shows nothing"
