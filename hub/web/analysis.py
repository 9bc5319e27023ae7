"""Responsibility and audit as JSON (operations.md "Web"; rules.md §8, §9).

    /api/responsibility   §8 rows per receiving unit, department and officer, and the same
                          summed per department: {"as_of", "period", "rows", "departments"}
    /api/audit            §9 findings, by time then dossier: {"as_of", "period", "findings"}

Both take the period as /api/units does (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, inclusive days in
local time, or `?period=today|month|year|all`, `all` by default) and `?unit=` to keep one
receiving unit. `period` in the body is the period asked for: the `period` parameter, or
`<from>/<to>` as given (a side left out is open). The figures are judged as of the summary
store's "now" (the worker's injected clock, rules.md §6), never the machine's time; before the
first clock record there is no "now" and the lists are empty. A reader limited to some units
(hub/web/access.py) sees only their rows; naming another unit is a 403, as for /api/units/{unit}.

Computed from the province-wide summary map, like /api/units, so any worker answers; off the
event loop (a thread) and once per "now" and summary-store version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import faust
from faust import web

from hub.domain.audit import findings
from hub.domain.responsibility import department_rows, officer_rows
from hub.domain.stats import Summary
from hub.web import BadRequest, WebContext, period_bounds, text_param
from hub.web.access import allowed_units, may_see
from hub.web.cache import TickCache, tick_instant
from hub.web.streamed import judge_streamed
from hub.web.trace import iso

# summaries (one pass), period start, period end, "now" -> the rows of a view
Judgement = Callable[
    [Iterable[Summary], datetime | None, datetime | None, datetime], list[dict[str, Any]]
]


def period_name(params: dict[str, str]) -> str:
    if "from" in params or "to" in params:
        return f"{params.get('from', '')}/{params.get('to', '')}"
    return params.get("period", "all")


def install_analysis(app: faust.App, ctx: WebContext) -> None:
    store = ctx.store
    cache: TickCache[list[dict[str, Any]]] = TickCache()

    def request_of(
        request: web.Request,
    ) -> tuple[dict[str, str], datetime | None, datetime | None, datetime | None, str | None]:
        q = dict(request.query)
        # judged at the tick: the cache's key, and the same figures within one tick
        now = tick_instant(store.as_of(), ctx.settings)
        start, end = period_bounds(q, now or ctx.clock())
        unit = text_param(q["unit"], "unit") if q.get("unit") else None
        return q, now, start, end, unit

    def visible(
        request: web.Request, unit: str | None, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        scope = allowed_units(request)
        return [
            r
            for r in rows
            if (unit is None or r["unit"] == unit) and (scope is None or r["unit"] in scope)
        ]

    def refused(self: web.View, request: web.Request, unit: str | None) -> web.Response | None:
        if unit is not None and not may_see(allowed_units(request), unit):
            return self.json({"error": "mã truy cập không được xem đơn vị này"}, status=403)
        return None

    def headers(now: datetime | None) -> dict[str, str]:
        return {"X-Motcua-As-Of": iso(now) or "", "Cache-Control": "no-store"}

    def key(route: str, start: datetime | None, end: datetime | None, now: datetime) -> Any:
        # store.read_messages grows with every record the reader applies: the map's version
        return (route, start, end, now, store.read_messages)

    async def judged(
        self: web.View, request: web.Request, route: str, judge: Judgement
    ) -> web.Response | tuple[dict[str, str], datetime | None, list[dict[str, Any]]]:
        """The request's parameters, its "now" and the rows it may see; or the refusal."""
        try:
            q, now, start, end, unit = request_of(request)
        except BadRequest as exc:
            return self.json({"error": str(exc)}, status=400)
        denied = refused(self, request, unit)
        if denied is not None:
            return denied
        rows: list[dict[str, Any]] = []
        t = now
        if t is not None:

            async def compute() -> list[dict[str, Any]]:
                # read on the loop a chunk at a time, judged in a thread, never all held
                return await judge_streamed(
                    store.summaries.values(), lambda summaries: judge(summaries, start, end, t)
                )

            # only on a miss: a hit must not read the whole province
            rows = await cache.get(key(route, start, end, t), compute)
        return q, now, visible(request, unit, rows)

    @app.page("/api/responsibility")
    async def responsibility(self: web.View, request: web.Request) -> web.Response:
        got = await judged(
            self,
            request,
            "responsibility",
            lambda summaries, start, end, t: officer_rows(summaries, ctx.calendar, start, end, t),
        )
        if not isinstance(got, tuple):
            return got
        q, now, rows = got
        body = {
            "as_of": iso(now),
            "period": period_name(q),
            "rows": rows,
            "departments": department_rows(rows),
        }
        return self.json(body, headers=headers(now))

    @app.page("/api/audit")
    async def audit(self: web.View, request: web.Request) -> web.Response:
        got = await judged(self, request, "audit", findings)
        if not isinstance(got, tuple):
            return got
        q, now, listed = got
        body = {"as_of": iso(now), "period": period_name(q), "findings": listed}
        return self.json(body, headers=headers(now))
