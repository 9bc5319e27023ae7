"""hub.domain.responsibility.overdue_steps: the steps under an officer's §8 row, with their
dossiers, are exactly those `officer_rows` counts (the sample feed, as of its end)."""

from __future__ import annotations

from datetime import datetime

from hub.domain.calendar import TZ
from hub.domain.responsibility import officer_rows, overdue_steps
from hub.domain.stats import Summary, summarize
from tests.samples import END_TIME
from tests.unit.test_samples_rules import CAL, ENGINE, _events


def _summaries() -> list[Summary]:
    return [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]


def test_each_rows_steps_add_up_to_its_figures() -> None:
    summaries = _summaries()
    codes = {s.code: s.unit for s in summaries}
    for start, end in ((None, None), (datetime(2026, 12, 1, tzinfo=TZ), None)):
        rows = officer_rows(summaries, CAL, start, end, END_TIME)
        assert any(r["steps_overdue"] for r in rows)  # the feed has overdue steps
        for r in rows:
            holder = (r["unit"], r["department"], r["officer"])
            got = overdue_steps(summaries, CAL, holder, start, end, END_TIME)
            assert len(got) == r["steps_overdue"], holder
            assert sum(x["still_overdue"] for x in got) == r["still_overdue"], holder
            assert sum(x["overrun_working_days"] for x in got) == r["overrun_working_days"]
            assert all(codes[x["dossier_code"]] == r["unit"] for x in got)
            overruns = [x["overrun_working_days"] for x in got]
            assert overruns == sorted(overruns, reverse=True)
            for x in got:
                assert (x["followed_at"] is None) == x["still_overdue"]
    assert overdue_steps(summaries, CAL, ("nowhere", None, None), None, None, END_TIME) == []
