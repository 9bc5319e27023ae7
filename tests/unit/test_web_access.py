"""Web access (issue 13): token parsing and checking, and the guard, headers, scopes, parameter
checks and per-tick cache of a real worker's web application served in-process (no Kafka: the
summary store is fed through its `apply`, as its reader feeds it).

Against running workers on the broker: tests/integration/test_web_security.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.domain.stats import Summary
from hub.errors import ConfigError
from hub.protocol import clock_key, encode_summary_clock
from hub.service import Service
from hub.settings import Settings, load_settings
from hub.web import VIEW_CACHE
from hub.web.access import OPEN_PATHS, SECURITY_HEADERS, Tokens, parse_token_file, parse_tokens
from hub.web.cache import TickCache

PROVINCE = "province-token-0123456789"
DISTRICT = "district-token-0123456789"
UNIT_A = "000.31.05.H49"
UNIT_B = "civil:UBND xã Bình Minh"
T0 = int(datetime(2026, 10, 1, 10, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
CODES_A = ["000.31.05.H49-261001-0001", "000.31.05.H49-261001-0002"]
CODE_B = "civil:HT-0001"
# every data route, those other modules add included, and paths that do not exist
GUARDED = [
    "/api/units",
    "/api/units?period=month",
    "/api/units/" + UNIT_A,
    "/api/search?q=000",
    "/api/dossiers/" + CODES_A[0],
    "/api/responsibility",
    "/api/audit",
    "/api/export/units.csv",
    "/metrics",
    "/no/such/path",
    "/router/",
]


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- parsing and checking ----------------------------------------------------------------------
def test_tokens_with_and_without_units() -> None:
    grants = parse_tokens(f" {PROVINCE} ;\n\n{DISTRICT}: {UNIT_A} , {UNIT_B};\n")
    assert [g.units for g in grants] == [None, frozenset({UNIT_A, UNIT_B})]
    tokens = Tokens(grants)
    assert tokens.check(PROVINCE) is grants[0]
    assert tokens.check(DISTRICT) is grants[1]
    assert tokens.check(DISTRICT + "x") is None
    assert tokens.check("") is None
    assert tokens.check("\udcff" * 10) is None  # a header that is no text: refused, no error
    assert all(len(g.digest) == 32 for g in grants)  # only hashes are kept


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "short",
        ";\n ;",
        f"{PROVINCE};weak",
        f"{PROVINCE}:",  # a colon with no units
        f"{PROVINCE}:{UNIT_A},",  # an empty unit
        f"{PROVINCE}:,{UNIT_A}",
        "token with spaces in it!",
        "ünïcödé-token-0123456789",
        "x" * 513,
    ],
)
def test_bad_token_settings_are_refused_without_showing_the_token(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_tokens(text)
    message = str(err.value)
    assert "MOTCUA_WEB_TOKENS" in message
    for secret in (PROVINCE, DISTRICT, "short", "token with spaces"):
        assert secret not in message


def test_the_same_token_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="twice"):
        Tokens(parse_tokens(f"{PROVINCE};{PROVINCE}:{UNIT_A}"))


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(
        f"# the province\n{sha(PROVINCE)}\n\n{sha(DISTRICT).upper()}:{UNIT_A}\n", encoding="utf-8"
    )
    tokens = Tokens(parse_token_file(path))
    province, district = tokens.check(PROVINCE), tokens.check(DISTRICT)
    assert province is not None and province.units is None
    assert district is not None and district.units == frozenset({UNIT_A})
    assert tokens.check(sha(PROVINCE)) is None  # the hash itself is no token


@pytest.mark.parametrize(
    "content, problem",
    [
        ("# nothing\n\n", "no token hash"),
        ("abc123\n", "line 1: not a sha256"),
        (f"{sha(PROVINCE)}\n{sha(DISTRICT)}:\n", "line 2: an empty unit"),
        (PROVINCE + "\n", "line 1: not a sha256"),
    ],
)
def test_bad_token_files_are_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        parse_token_file(path)


def test_an_unreadable_token_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        parse_token_file(tmp_path / "missing")


def test_token_settings_are_secret_and_checked_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTCUA_WEB_TOKENS", "")
    with pytest.raises(ConfigError, match="MOTCUA_WEB_TOKENS"):
        load_settings()
    monkeypatch.setenv("MOTCUA_WEB_TOKENS", PROVINCE)
    settings = load_settings()
    assert PROVINCE not in repr(settings) and PROVINCE not in str(settings.model_dump())
    monkeypatch.delenv("MOTCUA_WEB_TOKENS")
    # a bad token stops the worker where it is assembled, before Kafka is touched
    with pytest.raises(ConfigError, match="entry 2") as err:
        Service(Settings(app_id="bad", data_dir=tmp_path, web_tokens=f"{PROVINCE};weak"))
    assert "weak" not in str(err.value)
    with pytest.raises(ConfigError, match="MOTCUA_WEB_TOKEN_FILE"):
        Service(Settings(app_id="bad", data_dir=tmp_path, web_token_file=tmp_path / "nope"))


def test_a_warning_when_listening_beyond_loopback_without_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Service(Settings(app_id="open", data_dir=tmp_path / "a", web_host="127.0.0.1"))
    assert "without MOTCUA_WEB_TOKENS" not in caplog.text
    Service(Settings(app_id="open", data_dir=tmp_path / "b", web_host="0.0.0.0"))
    assert "without MOTCUA_WEB_TOKENS" in caplog.text


# -- the cache ---------------------------------------------------------------------------------
async def test_the_cache_computes_once_for_a_burst_and_again_for_a_new_key() -> None:
    cache: TickCache[int] = TickCache(size=2)
    calls: list[str] = []

    async def slow(key: str) -> int:
        calls.append(key)
        await asyncio.sleep(0.05)  # the others arrive while it computes
        return len(calls)

    got = await asyncio.gather(*(cache.get("a", lambda: slow("a")) for _ in range(50)))
    assert got == [1] * 50 and calls == ["a"]
    assert await cache.get("b", lambda: 99) == 99  # a plain function too
    assert await cache.get("a", lambda: slow("a")) == 1
    await cache.get("c", lambda: 3)  # "b" is the least recently used: dropped
    assert await cache.get("b", lambda: 100) == 100
    assert cache.computed == 4

    def boom() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await cache.get("d", boom)
    assert await cache.get("d", lambda: 4) == 4  # a failure is not kept


# -- a worker's web application, in-process ----------------------------------------------------
def summary(code: str, unit: str, received: int, closed: int | None = None) -> bytes:
    return Summary(
        code=code,
        unit=unit,
        received=received,
        closed=(closed, True) if closed else None,
        due=[(received, received + 10 * DAY)],
        # late from day 12 (what the judge's timeline would say), unless closed before
        alerts=[] if closed else [("PROCESSING_LATE", received + 12 * DAY, None)],
    ).dumps()


@asynccontextmanager
async def served(tmp_path: Path, **fields: Any) -> AsyncIterator[tuple[TestClient, Service]]:
    settings = Settings(
        app_id="web",
        data_dir=tmp_path,
        clock="event",  # type: ignore[arg-type]
        **fields,
    )
    service = Service(settings)
    store = service.store
    for i, code in enumerate(CODES_A):
        store.apply(0, code.encode(), summary(code, UNIT_A, T0 + i * DAY))
    store.apply(1, CODE_B.encode(), summary(CODE_B, UNIT_B, T0, closed=T0 + DAY))
    store.apply(0, clock_key(0), encode_summary_clock(T0 + 5 * DAY))
    web_app = await service.app.web.wsgi()
    async with TestClient(TestServer(web_app)) as client:
        yield client, service


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


TOKENS = f"{PROVINCE};{DISTRICT}:{UNIT_A}"


async def test_every_data_route_refuses_without_a_valid_token(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=TOKENS) as (client, _):
        for path in GUARDED:
            for headers in (
                {},
                auth("wrong-token-0123456789"),
                {"Authorization": f"Basic {PROVINCE}"},
                {"Authorization": "Bearer"},
                {"Authorization": f"Bearer {PROVINCE}x"},
            ):
                r = await client.get(path, headers=headers)
                assert r.status == 401, (path, headers)
                assert r.headers["WWW-Authenticate"].startswith("Bearer"), path
                assert r.content_type == "application/json"
                assert "error" in await r.json()
        # the page shell and the health check load without one
        for path, kind in (
            ("/", "text/html"),
            ("/app.js", "text/javascript"),
            ("/app.css", "text/css"),
            ("/health", "application/json"),
        ):
            r = await client.get(path)
            assert r.status == 200 and r.content_type == kind, path
        health = await (await client.get("/health")).text()
        assert UNIT_A not in health and CODES_A[0] not in health


async def test_every_registered_route_is_guarded(tmp_path: Path) -> None:
    """Whatever module registered it: each route of the application, with its variables
    filled in, refuses a request without a token, unless it is one of the open paths."""
    async with served(tmp_path, web_tokens=TOKENS) as (client, _):
        paths = set()
        for resource in client.server.app.router.resources():
            info = resource.get_info()
            path = info.get("path") or info.get("formatter") or ""
            paths.add(re.sub(r"\{[^}]*\}", "x.csv", path))
        assert {"/api/units", "/api/units/x.csv", "/api/dossiers/x.csv", "/metrics"} <= paths
        for path in sorted(paths):
            r = await client.get(path)
            if path in OPEN_PATHS:
                # open: the page shell (static files, no data) and the health check only
                assert r.status == 200, path
                shell = r.content_type in ("text/html", "text/javascript", "text/css")
                assert shell or path == "/health", (path, r.content_type)
            else:
                assert r.status == 401, path


async def test_security_headers_on_every_response(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=TOKENS) as (client, _):
        cases = [
            ("/", {}, 200),
            ("/app.js", {}, 200),
            ("/api/units", {}, 401),
            ("/api/units", auth(PROVINCE), 200),
            ("/api/units?period=week", auth(PROVINCE), 400),
            ("/api/units/" + UNIT_B, auth(DISTRICT), 403),
            ("/api/dossiers/nope", auth(PROVINCE), 404),
            ("/no/such/path", auth(PROVINCE), 404),
            ("/health", {}, 200),
        ]
        for path, headers, status in cases:
            r = await client.get(path, headers=headers)
            assert r.status == status, (path, r.status, await r.text())
            for name, value in SECURITY_HEADERS.items():
                assert r.headers.get(name) == value, (path, name)
        csp = SECURITY_HEADERS["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        page = await (await client.get("/")).text()
        # the CSP would block inline code: the page has none
        assert "<script>" not in page and "<style" not in page and " style=" not in page
        assert " on" + "click=" not in page.lower()
        assert '<script src="/app.js"' in page and 'href="/app.css"' in page


async def test_a_district_token_sees_only_its_units(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=TOKENS) as (client, _):
        rows = await (await client.get("/api/units", headers=auth(PROVINCE))).json()
        assert {r["unit_code"] for r in rows} == {UNIT_A, UNIT_B}
        rows = await (await client.get("/api/units", headers=auth(DISTRICT))).json()
        assert [r["unit_code"] for r in rows] == [UNIT_A]
        assert rows[0]["received"] == 2
        r = await client.get("/api/units/" + UNIT_A, headers=auth(DISTRICT))
        assert r.status == 200 and (await r.json())["unit"]["received"] == 2
        r = await client.get("/api/units/" + UNIT_B, headers=auth(DISTRICT))
        assert r.status == 403
        r = await client.get("/api/units/" + UNIT_B, headers=auth(PROVINCE))
        assert r.status == 200 and (await r.json())["unit"]["received"] == 1
        found = await (await client.get("/api/search?q=0001", headers=auth(DISTRICT))).json()
        assert found == [CODES_A[0]]
        found = await (await client.get("/api/search?q=0001", headers=auth(PROVINCE))).json()
        assert found == [CODES_A[0], CODE_B]
        # another unit's dossier answers exactly like one that does not exist
        other = await client.get("/api/dossiers/" + CODE_B, headers=auth(DISTRICT))
        missing = await client.get("/api/dossiers/civil:HT-9999", headers=auth(DISTRICT))
        assert other.status == missing.status == 404
        assert (await other.json())["error"].replace(CODE_B, "?") == (await missing.json())[
            "error"
        ].replace("civil:HT-9999", "?")
        assert (await client.get("/metrics", headers=auth(DISTRICT))).status == 403
        assert (await client.get("/metrics", headers=auth(PROVINCE))).status == 200


async def test_metrics_can_be_opened(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=TOKENS, web_metrics_open=True) as (client, _):
        r = await client.get("/metrics")
        assert r.status == 200 and "motcua_" in await r.text()
        assert (await client.get("/api/units")).status == 401


async def test_without_tokens_the_face_is_open(tmp_path: Path) -> None:
    async with served(tmp_path) as (client, _):
        for path in ("/api/units", "/api/units/" + UNIT_B, "/metrics", "/api/search?q=0001"):
            r = await client.get(path)
            assert r.status == 200, path
            assert r.headers["X-Frame-Options"] == "DENY"
        assert len(await (await client.get("/api/units")).json()) == 2


ODD_PARAMS = [
    ("/api/units?period=week", 400),
    ("/api/units?period=", 400),
    ("/api/units?period=today&from=2026-11-01", 400),
    ("/api/units?from=2026-13-01", 400),
    ("/api/units?from=2026-11-31", 400),
    ("/api/units?from=9999-12-31", 400),
    ("/api/units?to=0001-01-01", 400),
    ("/api/units?from=2026-12-01&to=2026-11-01", 400),
    ("/api/units?from=nonsense", 400),
    ("/api/units?from=2026-11-01T25:00:00", 400),
    ("/api/units?from=" + "9" * 5000, 400),
    ("/api/units?from=%00", 400),
    ("/api/units?by_procedure=maybe", 400),
    ("/api/units?by_procedure=1", 200),
    ("/api/units?by_procedure=true&period=year", 200),
    ("/api/units?from=2026-10-01&to=2026-10-31", 200),
    ("/api/units?from=2026-10-01T00:00:00%2B07:00", 200),
    ("/api/units?unknown=1", 200),
    ("/api/units/" + "U" * 300, 400),
    ("/api/units/%ED%A0%80", 200),  # no such unit: an empty row, not an error
    ("/api/units/" + UNIT_A + "?period=decade", 400),
    ("/api/units/" + UNIT_A + "?from=2026-11-05&to=2026-11-01", 400),
    ("/api/search?q=" + "x" * 300, 400),
    ("/api/search?q=%01%02", 400),
    ("/api/search?q=%ED%A0%80", 200),
    ("/api/search?q=", 200),
    ("/api/search?q=%25%5C", 200),
    ("/api/dossiers/" + "C" * 300, 400),
    ("/api/dossiers/%00", 400),
    ("/api/dossiers/%ED%A0%80", 404),
    ("/api/dossiers/..%2F..%2Fetc", 404),
]


@pytest.mark.parametrize("path, status", ODD_PARAMS)
async def test_odd_parameters_are_a_400_never_a_500(tmp_path: Path, path: str, status: int) -> None:
    async with served(tmp_path, web_tokens=TOKENS) as (client, _):
        r = await client.get(path, headers=auth(PROVINCE))
        body = await r.text()
        assert r.status == status, (path, r.status, body[:200])
        if status == 400:
            assert json.loads(body)["error"]


async def test_units_are_computed_once_per_tick_and_store_version(tmp_path: Path) -> None:
    async with served(tmp_path, web_tokens=TOKENS) as (client, service):
        cache = client.server.app[VIEW_CACHE]
        before = cache.computed

        async def get(token: str, path: str = "/api/units") -> tuple[Any, str]:
            r = await client.get(path, headers=auth(token))
            assert r.status == 200
            return await r.json(), r.headers["X-Motcua-As-Of"]

        burst = await asyncio.gather(*(get(PROVINCE) for _ in range(50)))
        assert cache.computed == before + 1  # fifty requests, one computation
        assert all(b == burst[0] for b in burst)
        rows, as_of = burst[0]
        # a district's answer comes from the same computation, filtered
        assert [r["unit_code"] for r in (await get(DISTRICT))[0]] == [UNIT_A]
        assert cache.computed == before + 1
        # the store changes: computed again, and the answer shows it
        code = "000.31.05.H49-261001-0003"
        service.store.apply(0, code.encode(), summary(code, UNIT_A, T0 + 2 * DAY))
        rows2, as_of2 = await get(PROVINCE)
        assert cache.computed == before + 2 and as_of2 == as_of
        received = {r["unit_code"]: r["received"] for r in rows2}
        assert received[UNIT_A] == 3 and rows2 != rows
        # the clock moves: computed again (a dossier's due date passes: now late)
        service.store.apply(0, clock_key(0), encode_summary_clock(T0 + 20 * DAY))
        rows3, as_of3 = await get(PROVINCE)
        assert cache.computed == before + 3 and as_of3 != as_of2
        late = {r["unit_code"]: r["open_past_due"] for r in rows3}
        assert late[UNIT_A] == 3 and {r["unit_code"]: r["open_past_due"] for r in rows2} == {
            UNIT_A: 0,
            UNIT_B: 0,
        }
        # the drill-down is cached the same way
        path = "/api/units/" + UNIT_A
        drills = await asyncio.gather(*(get(PROVINCE, path) for _ in range(50)))
        assert cache.computed == before + 4
        assert len(drills[0][0]["late"]) == 3
