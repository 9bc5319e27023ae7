"""The page's views beyond the map: their scripts, the weekly series, an officer's overdue steps.

    /views.js, /charts.js        the responsibility and audit views and the SVG charts (files of
                                 their own, for the CSP; open like the page shell, no data)
    /api/weekly                  the province's weekly series (hub/domain/weekly.py);
                                 ?from=YYYY-MM-DD&to=YYYY-MM-DD or ?period=..., as /api/units
    /api/responsibility/steps    ?unit=&department=&officer= and the period: the steps overdue
                                 behind one §8 row, with their dossiers (the officer's detail)

Both read the province-wide summary map as of the store's "now" (the worker's injected clock),
and answer only about the units `allowed_units(request)` names, like the other routes. The map
is read on the event loop a chunk at a time and judged in a thread as it comes, the units kept
there (hub/web/streamed.py): a province holds up to a million summaries, never listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import faust
from faust import web

from hub.domain.responsibility import overdue_steps
from hub.domain.stats import Summary, at
from hub.domain.weekly import weeks
from hub.web import BadRequest, WebContext, period_bounds, static_file, text_param
from hub.web.access import allowed_units, may_see
from hub.web.cache import TickCache, tick_instant
from hub.web.streamed import judge_streamed
from hub.web.trace import iso

# a chart of more weeks than this is no picture any more (and each week is a row to judge)
MAX_WEEKS = 530  # about ten years


def period_name(params: dict[str, str]) -> str:
    """The period asked for, as /api/responsibility gives it: `period`, or `<from>/<to>`."""
    if "from" in params or "to" in params:
        return f"{params.get('from', '')}/{params.get('to', '')}"
    return params.get("period", "all")


def of_units(summaries: Iterable[Summary], units: frozenset[str] | None) -> Iterable[Summary]:
    """The summaries of `units` (None: all), as they come: a filter, nothing held."""
    if units is None:
        return summaries
    return (s for s in summaries if s.unit in units)


def install_charts(app: faust.App, ctx: WebContext) -> None:
    store = ctx.store
    cache: TickCache[list[dict[str, Any]]] = TickCache()

    @app.page("/views.js")
    async def views_js(self: web.View, request: web.Request) -> web.Response:
        return self.text(
            static_file("views.js"),
            content_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    @app.page("/charts.js")
    async def charts_js(self: web.View, request: web.Request) -> web.Response:
        return self.text(
            static_file("charts.js"),
            content_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    def headers(now: datetime | None) -> dict[str, str]:
        return {"X-Motcua-As-Of": iso(now) or "", "Cache-Control": "no-store"}

    def bad(self: web.View, exc: BadRequest) -> web.Response:
        return self.json({"error": str(exc)}, status=400, headers={"Cache-Control": "no-store"})

    @app.page("/api/weekly")
    async def weekly(self: web.View, request: web.Request) -> web.Response:
        now = tick_instant(store.as_of(), ctx.settings)  # the tick: what the cache is keyed by
        q = dict(request.query)
        try:
            start, end = period_bounds(q, now or ctx.clock())
            if start is not None and (end or now or ctx.clock()) - start > timedelta(
                weeks=MAX_WEEKS
            ):
                raise BadRequest(f"a chart spans at most {MAX_WEEKS} weeks")
        except BadRequest as exc:
            return bad(self, exc)
        body: dict[str, Any] = {"as_of": iso(now), "period": period_name(q), "weeks": []}
        if now is None:  # before the first clock record nothing is judged yet
            return self.json(body, headers=headers(now))
        scope = allowed_units(request)
        t = now

        async def compute() -> list[dict[str, Any]]:
            # the map read on the loop (the reader writes it there), judged in a thread
            return await judge_streamed(
                store.summaries.values(),
                lambda summaries: weeks(of_units(summaries, scope), start, end, t),
            )

        scope_key = None if scope is None else tuple(sorted(scope))
        rows = await cache.get(("weekly", scope_key, start, end, t, store.read_messages), compute)
        body["weeks"] = rows[-MAX_WEEKS:]  # an open start reaching far back: the latest weeks
        return self.json(body, headers=headers(now))

    @app.page("/api/responsibility/steps")
    async def steps(self: web.View, request: web.Request) -> web.Response:
        now = store.as_of()
        q = dict(request.query)
        try:
            unit = text_param(q.pop("unit", ""), "unit")
            if not unit:
                raise BadRequest("unit is required")
            # an absent department or officer is a row of its own (§8: the officer may be empty)
            department = text_param(q.pop("department", ""), "department") or None
            officer = text_param(q.pop("officer", ""), "officer") or None
            start, end = period_bounds(q, now or ctx.clock())
        except BadRequest as exc:
            return bad(self, exc)
        if not may_see(allowed_units(request), unit):
            return self.json({"error": "mã truy cập không được xem đơn vị này"}, status=403)
        body: dict[str, Any] = {
            "as_of": iso(now),
            "period": period_name(q),
            "unit": unit,
            "department": department,
            "officer": officer,
            "steps": [],
        }
        if now is not None:
            t = now  # narrowed: the lambda below would see `datetime | None`
            holder = (unit, department, officer)
            found = await judge_streamed(
                store.summaries.values(),
                lambda summaries: overdue_steps(
                    of_units(summaries, frozenset({unit})), ctx.calendar, holder, start, end, t
                ),
            )
            for x in found:
                for key in ("at", "deadline", "followed_at"):
                    x[key] = iso(at(x[key])) if x[key] is not None else None
            body["steps"] = found
        return self.json(body, headers=headers(now))
