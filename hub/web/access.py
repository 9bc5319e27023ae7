"""Who may read what on the web face (issue 13): bearer tokens, each optionally limited to a set
of receiving units, checked in constant time; and the security headers every response carries.

Tokens come from `MOTCUA_WEB_TOKENS` (the tokens themselves, a secret setting) and/or
`MOTCUA_WEB_TOKEN_FILE` (their sha256 hashes); see docs/settings.md for the syntax. Only the
sha256 of each token is kept in memory. With no token configured the face is open, as before.

One aiohttp middleware guards every route, present and future, deny by default: only the paths
in `OPEN_PATHS` (the page shell, so the login field can show, and `/health`), and `/metrics`
when `MOTCUA_WEB_METRICS_OPEN` is set, are served without a token. A route reads the request's
scope with `allowed_units(request)` and filters what it answers by it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.errors import ConfigError
from hub.settings import Settings

log = logging.getLogger(__name__)

# RFC 6750 b64token characters; 16 at least, so a guessable word is refused at start
TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}")
HASH_RE = re.compile(r"[0-9a-f]{64}")
# served without a token: the page shell (it holds no data, and shows the login field)
OPEN_PATHS = frozenset({"/", "/app.js", "/app.css", "/views.js", "/charts.js", "/health"})
SECURITY_HEADERS = {
    # every script and style comes from a file of ours: no inline code can run
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
Scope = frozenset[str] | None  # None: every unit
# where the guard leaves the request's scope
SCOPE_KEY: web.RequestKey[frozenset[str] | None] = web.RequestKey("motcua.scope")


@dataclass(frozen=True)
class Grant:
    """One configured token: the sha256 of its text, and the units it may see."""

    digest: bytes
    units: Scope


def _units(text: str, where: str) -> frozenset[str]:
    units = [u.strip() for u in text.split(",")]
    if not units or any(not u for u in units):
        raise ConfigError(f"invalid settings: {where}: an empty unit code in the list after ':'")
    return frozenset(units)


def parse_tokens(text: str, where: str = "MOTCUA_WEB_TOKENS") -> list[Grant]:
    """`token` or `token:UNIT1,UNIT2`, entries separated by `;` or new lines.

    An error names the entry by its position, never its text (it is a secret)."""
    entries = [e.strip() for e in re.split(r"[;\n]", text)]
    entries = [e for e in entries if e]  # blank lines and a trailing ';' are no entries
    if not entries:
        raise ConfigError(f"invalid settings: {where}: set but holds no token")
    grants = []
    for n, entry in enumerate(entries, start=1):
        token, colon, units = entry.partition(":")
        if not TOKEN_RE.fullmatch(token):
            raise ConfigError(
                f"invalid settings: {where}, entry {n}: a token is 16 to 512 characters of "
                "A-Z a-z 0-9 . _ ~ + / = - (make one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        scope = _units(units, f"{where}, entry {n}") if colon else None
        grants.append(Grant(hashlib.sha256(token.encode()).digest(), scope))
    return grants


def parse_token_file(path: Path) -> list[Grant]:
    """Lines of `<sha256 hex>` or `<sha256 hex>:UNIT1,UNIT2`; `#` starts a comment line."""
    where = f"MOTCUA_WEB_TOKEN_FILE {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid settings: {where}: cannot read it: {exc}") from exc
    grants = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, colon, units = line.partition(":")
        digest = digest.strip().lower()
        if not HASH_RE.fullmatch(digest):
            raise ConfigError(
                f"invalid settings: {where}, line {n}: not a sha256 hash (64 hex digits)"
            )
        scope = _units(units, f"{where}, line {n}") if colon else None
        grants.append(Grant(bytes.fromhex(digest), scope))
    if not grants:
        # set but empty would leave the face open: certainly not what was meant
        raise ConfigError(f"invalid settings: {where}: no token hash in it")
    return grants


class Tokens:
    """The configured tokens; `check` finds the grant of a presented token, if any."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self.grants = tuple(grants)
        if len({g.digest for g in self.grants}) != len(self.grants):
            raise ConfigError("invalid settings: the same web token is configured twice")

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        grants: list[Grant] = []
        if settings.web_tokens is not None:
            grants += parse_tokens(settings.web_tokens.get_secret_value())
        if settings.web_token_file is not None:
            grants += parse_token_file(settings.web_token_file)
        return cls(grants)

    @property
    def enabled(self) -> bool:
        return bool(self.grants)

    def check(self, presented: str) -> Grant | None:
        """The grant whose hash matches; compared against every one, whichever matches, so the
        time taken says nothing about which hash (or how much of one) was right."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: Grant | None = None
        for grant in self.grants:
            if hmac.compare_digest(digest, grant.digest) and found is None:
                found = grant
        return found


def allowed_units(request: Any) -> Scope:
    """The receiving-unit codes this request may see; None: every unit.

    `request` is the aiohttp request a faust view is handed (typed there as faust's abstract
    Request, which has no mapping interface). A request the guard did not pass sees nothing."""
    scope: Scope = (
        request.get(SCOPE_KEY, frozenset()) if isinstance(request, web.Request) else frozenset()
    )
    return scope


def may_see(scope: Scope, unit: str | None) -> bool:
    return scope is None or (unit is not None and unit in scope)


def _json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": message}, ensure_ascii=False),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(tokens: Tokens, metrics_open: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The access middleware: a token (and its scope) for every path but the open ones."""
    open_paths = OPEN_PATHS | ({"/metrics"} if metrics_open else set())

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not tokens.enabled:
            request[SCOPE_KEY] = None
            return await handler(request)
        if request.path in open_paths:
            request[SCOPE_KEY] = None  # open by configuration: whatever they show, to anyone
            return await handler(request)
        token = bearer(request)
        if token is None:
            return _json_error(
                401,
                "cần mã truy cập (Authorization: Bearer <token>)",
                {"WWW-Authenticate": 'Bearer realm="motcua-hub"'},
            )
        grant = tokens.check(token)
        if grant is None:
            return _json_error(
                401,
                "mã truy cập không hợp lệ",
                {"WWW-Authenticate": 'Bearer realm="motcua-hub", error="invalid_token"'},
            )
        request[SCOPE_KEY] = grant.units
        return await handler(request)

    return middleware


async def add_security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, errors and 404s included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(web_app: web.Application, settings: Settings) -> Tokens:
    """Guard a worker's web application: read the tokens (a bad one stops the start), add the
    middleware and the headers."""
    tokens = Tokens.from_settings(settings)
    if not tokens.enabled and not _loopback(settings.web_host):
        log.warning(
            "the web face listens on %s without MOTCUA_WEB_TOKENS or MOTCUA_WEB_TOKEN_FILE: "
            "anyone who reaches port %s reads every dossier's trace",
            settings.web_host,
            settings.web_port,
        )
    web_app.middlewares.append(guard(tokens, settings.web_metrics_open))
    web_app.on_response_prepare.append(add_security_headers)
    return tokens
