"""The hub's web face, on faust's web server (contracts/operations.md "Web").

    /                       the execution map, drill-down and dossier search (hub/web/index.html,
                            its script app.js and style app.css: no inline code, for the CSP)
    /api/units              §7 rows per receiving unit; ?period=today|month|year|all or
                            ?from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive dates, or ISO instants);
                            ?by_procedure=1 adds each unit's per-procedure rows
    /api/units/{unit}       one unit's row with procedures, and its open late dossiers
    /api/dossiers/{code}    the trace; routed to the worker that judges the dossier's partition
    /api/search?q=          dossier codes starting with (or containing) q
    /api/responsibility     §8 rows per unit, department and officer (hub/web/analysis.py)
    /api/audit              §9 findings: records that hide lateness (hub/web/analysis.py)
    /api/responsibility/steps  the steps overdue behind one §8 row (hub/web/charts.py)
    /api/weekly             the weekly received / finished / late series (hub/web/charts.py)
    /views.js, /charts.js   the page's other views and its SVG charts (hub/web/charts.py)
    /metrics                Prometheus text format
    /health                 liveness and the summary reader's progress

Statistics come from the province-wide summary map every worker keeps (hub/stream/summaries.py),
so any worker answers them; a trace needs the dossier's events, held only by the worker owning
its partition, so the request goes there: each worker says on the summary topic which partitions
it judges and where its web port answers (hub/stream/app.py), and any worker forwards it.
The response header `X-Motcua-As-Of` gives the instant the figures are judged at.

Access (hub/web/access.py): with tokens configured every route but the page shell and `/health`
needs `Authorization: Bearer <token>`, and a route answers only about the receiving units
`allowed_units(request)` names. `/api/units` and `/api/units/{unit}` are computed once per
clock tick and summary-store version (hub/web/cache.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import aiohttp
import aiohttp.web
import faust
from aiokafka.partitioner import murmur2
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.engine import Engine
from hub.domain.stats import ms
from hub.settings import Settings
from hub.stream.clock import Clock
from hub.stream.judge import Judge
from hub.stream.state import DossierState, from_ms
from hub.stream.summaries import SummaryStore
from hub.web import access
from hub.web.access import allowed_units, may_see
from hub.web.cache import TickCache, tick_instant
from hub.web.trace import build_trace, iso

log = logging.getLogger(__name__)
# dates a request may name: a period outside them is a mistake, and walking the working-day
# calendar up to year 9999 costs seconds and hundreds of MB
EARLIEST = datetime(1900, 1, 1, tzinfo=TZ)
LATEST = datetime(2200, 1, 1, tzinfo=TZ)


# the longest text a request may name: no code, unit or search is near it
MAX_TEXT = 200
FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}


VIEW_CACHE = aiohttp.web.AppKey("motcua.view_cache", TickCache)


class BadRequest(ValueError):
    pass


def flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "")
    if value.lower() not in FLAGS:
        raise BadRequest(f"{name} must be 1, true, 0 or false, not {value[:40]!r}")
    return FLAGS[value.lower()]


def text_param(value: str, name: str) -> str:
    """A code or a search text: bounded, and text (no lone surrogates from bad escapes)."""
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{name} is not valid UTF-8") from exc
    if any(ord(c) < 32 for c in value):
        raise BadRequest(f"{name} holds control characters")
    return value


def _instant(text: str, end: bool) -> datetime:
    """A date (the whole day: its start, or the next day's start for an end) or an instant."""
    day = len(text) == 10
    try:
        if day:
            d = date.fromisoformat(text)
            t = datetime(d.year, d.month, d.day, tzinfo=TZ)
        else:
            t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"not a date or ISO instant: {text[:40]!r}") from exc
    t = t if t.tzinfo else t.replace(tzinfo=TZ)
    if not EARLIEST <= t < LATEST:
        raise BadRequest(f"{text[:40]!r} is out of range (years 1900 to 2199)")
    return t + timedelta(days=1) if day and end else t


def period_bounds(
    params: dict[str, str], as_of: datetime
) -> tuple[datetime | None, datetime | None]:
    """The `[start, end)` of a request's period; None: unbounded."""
    if "from" in params or "to" in params:
        if "period" in params:
            raise BadRequest("give period, or from and to, not both")
        start = _instant(params["from"], False) if params.get("from") else None
        end = _instant(params["to"], True) if params.get("to") else None
        if start is not None and end is not None and start >= end:
            raise BadRequest("from must come before to")
        return start, end
    period = params.get("period", "all")
    if period == "all":
        return None, None
    if period not in ("today", "month", "year"):
        raise BadRequest(f"period must be today, month, year or all, not {period!r}")
    local = as_of.astimezone(TZ)
    day = datetime(local.year, local.month, local.day, tzinfo=TZ)
    if period == "today":
        return day, day + timedelta(days=1)
    if period == "month":
        first = day.replace(day=1)
        nxt = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else (first.replace(month=first.month + 1))
        )
        return first, nxt
    first = day.replace(month=1, day=1)
    return first, first.replace(year=first.year + 1)


ROUTED_HEADER = "X-Motcua-Routed"


def dossier_partition(key: bytes, count: int) -> int:
    """The partition a dossier's records go to: the producers' default partitioner."""
    return int(murmur2(key) & 0x7FFFFFFF) % count


async def _forward(url: str, authorization: str | None) -> tuple[int, bytes]:
    """A trace from the worker that holds it (one hop: the header stops a second). The
    caller's credential goes along: the owning worker checks it again."""
    timeout = aiohttp.ClientTimeout(total=10)
    headers = {ROUTED_HEADER: "1"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            return response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        body = json.dumps({"error": f"máy giữ hồ sơ không trả lời: {exc!r}"[:300]})
        return 502, body.encode()


def static_file(name: str) -> str:
    """The page and its script and style: package data (hatch ships hub/web whole)."""
    return (files("hub.web") / name).read_text(encoding="utf-8")


def index_html() -> str:
    return static_file("index.html")


@dataclass(frozen=True)
class WebContext:
    """What the pages read: handed over by hub/service.py, which owns every piece."""

    settings: Settings
    clock: Clock
    calendar: WorkingCalendar
    engine: Engine
    store: SummaryStore  # the province-wide summary map
    table: Any  # this worker's dossier table: the partitions it judges
    judge: Judge  # each partition's "now"
    registry: CollectorRegistry  # served at /metrics
    owned_partitions: Callable[[], set[int]]
    partition_count: Callable[[], int]  # of hub.dossier.events (0: not known yet)


def install(app: faust.App, ctx: WebContext) -> None:
    """Register the pages on a worker's faust app; ours serves `/`, not faust's index."""
    blueprints = app.web.blueprints
    blueprints._enabled = [  # faust mounts a production index at "": drop it
        (prefix, bp) for prefix, bp in blueprints._enabled if "production_index" not in str(bp)
    ]
    # a bad token setting stops the start here; faust's aiohttp driver holds the application
    access.install(app.web.web_app, ctx.settings)  # type: ignore[attr-defined]
    from hub.web.analysis import install_analysis  # they import this module: not at the top
    from hub.web.charts import install_charts  # it imports this module: not at the top
    from hub.web.exports import install_exports

    install_exports(app, ctx)  # the downloads, /api/export/...
    install_charts(app, ctx)  # the views' scripts, /api/weekly, /api/responsibility/steps
    install_analysis(app, ctx)  # /api/responsibility, /api/audit
    store = ctx.store
    started = time.time()
    cache: TickCache[Any] = TickCache()
    app.web.web_app[VIEW_CACHE] = cache  # type: ignore[attr-defined]  # for the tests to count

    def as_of() -> datetime | None:
        return store.as_of()

    def tick_as_of() -> datetime | None:
        return tick_instant(store.as_of(), ctx.settings)

    def cache_key(route: str, q: dict[str, str], now: datetime | None) -> tuple[Any, ...]:
        # store.read_messages grows with every record the summary reader applies: the version
        return (route, tuple(sorted(q.items())), now, store.read_messages)

    def bad(self: web.View, exc: BadRequest) -> web.Response:
        return self.json({"error": str(exc)}, status=400, headers={"Cache-Control": "no-store"})

    def headers(t: datetime | None = None) -> dict[str, str]:
        t = t or as_of()
        return {"X-Motcua-As-Of": iso(t) or "", "Cache-Control": "no-store"}

    def params(request: web.Request) -> dict[str, str]:
        return {k: v for k, v in request.query.items()}

    @app.page("/")
    async def index(self: web.View, request: web.Request) -> web.Response:
        return self.html(index_html(), headers={"Cache-Control": "no-store"})

    @app.page("/app.js")
    async def script(self: web.View, request: web.Request) -> web.Response:
        return self.text(
            static_file("app.js"),
            content_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    @app.page("/app.css")
    async def style(self: web.View, request: web.Request) -> web.Response:
        return self.text(
            static_file("app.css"), content_type="text/css", headers={"Cache-Control": "no-cache"}
        )

    @app.page("/api/units")
    async def units(self: web.View, request: web.Request) -> web.Response:
        q = params(request)
        now = tick_as_of()
        try:
            start, end = period_bounds(q, now or ctx.clock())
            by_procedure = flag(q, "by_procedure")
        except BadRequest as exc:
            return bad(self, exc)

        async def compute() -> list[dict[str, Any]]:
            # the maintained aggregates (hub/domain/aggregates.py), not a walk of every summary
            return await store.unit_rows(start, end, now, by_procedure=by_procedure)

        # every unit's rows, cached once for all scopes; each request keeps its own units
        rows = await cache.get(cache_key("units", q, now), compute)
        scope = allowed_units(request)
        if scope is not None:
            rows = [r for r in rows if r["unit_code"] in scope]
        return self.json(rows, headers=headers(now))

    @app.page("/api/units/{unit}")
    async def unit(self: web.View, request: web.Request, unit: str) -> web.Response:
        q = params(request)
        now = tick_as_of()
        try:
            text_param(unit, "unit")
            start, end = period_bounds(q, now or ctx.clock())
        except BadRequest as exc:
            return bad(self, exc)
        if not may_see(allowed_units(request), unit):
            # unit codes are public (the catalogue): saying "not yours" leaks nothing
            return self.json({"error": "mã truy cập không được xem đơn vị này"}, status=403)
        body = await cache.get(
            cache_key("unit:" + unit, q, now), lambda: unit_detail(unit, start, end, now)
        )
        return self.json(body, headers=headers(now))

    async def unit_detail(
        unit: str, start: datetime | None, end: datetime | None, now: datetime | None
    ) -> dict[str, Any]:
        rows = await store.unit_rows(start, end, now, by_procedure=True, unit=unit)
        late: list[dict[str, Any]] = []
        # before the first clock record there is no "now" to be late at: no late list yet
        t = ms(now) if now is not None else 0
        when = from_ms(t)
        # the unit's open dossiers (an index), not every summary of the province
        for s in store.open_summaries(unit, now) if now is not None else ():
            if s.unit != unit or not s.past_due(t):
                continue
            due = s.due_at(t)
            due_at = from_ms(due) if due is not None else None
            late.append(
                {
                    "code": s.code,
                    "procedure_code": s.procedure,
                    "procedure_name": s.procedure_name,
                    "received_at": iso(from_ms(s.received)) if s.received else None,
                    "due_original": iso(from_ms(s.due_original)) if s.due_original else None,
                    "due_current": iso(due_at),
                    "holder_unit": s.holder[0],
                    "holder_officer": s.holder[1],
                    "days_late": (
                        ctx.calendar.working_days_between(due_at, when) if due_at else None
                    ),
                    "calendar_days_late": (
                        round((t - due) / 86_400_000, 1) if due is not None else None
                    ),
                    "paused": s.is_paused(t),
                    "open_alerts": s.open_alerts(t),
                }
            )
        late.sort(key=lambda d: (-(d["calendar_days_late"] or 0), d["code"]))
        return {"unit": rows[0] if rows else None, "unit_code": unit, "late": late}

    @app.page("/api/search")
    async def search(self: web.View, request: web.Request) -> web.Response:
        try:
            q = text_param(request.query.get("q", ""), "q").strip()
        except BadRequest as exc:
            return bad(self, exc)
        if len(q) < 2:
            return self.json([])
        scope = allowed_units(request)
        summaries = store.summaries
        # the codes alone first (no summary read), then the units of the best matches only
        codes = sorted(c for c in summaries if q.lower() in c.lower())
        codes.sort(key=lambda c: (not c.startswith(q), c))
        found: list[str] = []
        for c in codes:
            if len(found) == 20:
                break
            s = summaries.get(c) if scope is not None else None
            if scope is None or (s is not None and s.unit in scope):
                found.append(c)
        return self.json(found)

    def not_found(self: web.View, code: str) -> web.Response:
        return self.json({"error": f"không tìm thấy hồ sơ {code[:100]}"}, status=404)

    @app.page("/api/dossiers/{code}")
    async def dossier(self: web.View, request: web.Request, code: str) -> web.Response:
        try:
            key = text_param(code, "code").encode()
        except BadRequest as exc:
            return bad(self, exc)
        scope = allowed_units(request)
        if scope is not None:
            # a dossier outside the token's units looks exactly like one that does not exist:
            # a district cannot probe for another's dossier codes
            summary = store.summaries.get(code)
            if summary is None or summary.unit not in scope:
                return not_found(self, code)
        count = ctx.partition_count()
        partition = dossier_partition(key, count) if count else None
        if partition is not None and partition not in ctx.owned_partitions():
            # the dossier's events are held by the worker that judges its partition
            if request.headers.get(ROUTED_HEADER):
                return self.json({"error": "hồ sơ không thuộc máy này"}, status=503)
            owner = ctx.store.owner_url(partition)
            if owner is None:
                return self.json({"error": "chưa biết máy nào giữ hồ sơ này"}, status=503)
            status, body = await _forward(
                f"{owner}/api/dossiers/{quote(code, safe='')}",
                request.headers.get("Authorization"),
            )
            return self.bytes(body, status=status, content_type="application/json")
        stored = ctx.table.get(key)
        if stored is None:
            return not_found(self, code)
        state = DossierState.loads(stored)
        now_ms = ctx.judge.now_ms(state.partition)
        now = from_ms(now_ms) if now_ms is not None else as_of()
        trace = build_trace(code, state.events, ctx.engine, now or ctx.clock())
        return self.json(trace, headers=headers())

    @app.page("/metrics")
    async def prometheus(self: web.View, request: web.Request) -> web.Response:
        if allowed_units(request) is not None:
            # the series name every receiving unit: for a province-wide token (or open) only
            return self.json({"error": "/metrics cần mã truy cập toàn tỉnh"}, status=403)
        return self.bytes(
            generate_latest(ctx.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @app.page("/health")
    async def health(self: web.View, request: web.Request) -> web.Response:
        t = as_of()
        body: dict[str, Any] = {
            "status": "ok",
            "app_id": ctx.settings.app_id,
            "clock": ctx.settings.clock.value,
            "as_of": iso(t),
            "uptime_s": round(time.time() - started, 1),
            "summaries": store.status(),
            "partitions": sorted(ctx.owned_partitions()),
        }
        return self.json(body)
