"""Event identity and the plumbing every connector shares.

`make_event` builds a `DossierEvent` whose `event_id`, when the source has no id of its own, is
the sha256 of a canonical form of every field the rules read: provenance (topic, partition,
offset, item index), the free-text `note`, `procedure_name` and the informational `new_due_at`
never enter it, so a redelivered item keeps its id. Times enter as UTC instants, so one instant
written with two offsets is one event.

`make_event` is also the one place every event passes, so it holds the bounds that protect what
comes after the connectors (docs/settings.md, "Bounds"): an id longer than any real one is
`SCHEMA_ERROR`, free text is cut to `Context.max_text_chars`, and every time the event keeps must
lie in a window around the intake's wall clock (`Context.now`), else `BAD_TIME`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

from connectors._base import Context, Decoded, Reason, Rejection
from connectors._json import show
from hub.domain.events import DossierEvent

__all__ = ["Invalid", "digest", "guarded", "make_event", "reject"]

NOT_IDENTITY = frozenset(
    {
        "event_id",
        "source_topic",
        "source_partition",
        "source_offset",
        "item_index",
        "note",
        "procedure_name",
        "new_due_at",
    }
)
_DEFAULTS = {name: f.default for name, f in DossierEvent.model_fields.items()}

# Ids and codes the rules match on are never cut (a cut id would quietly name another dossier or
# notice): one longer than any real id is refused. Real ones are a few dozen characters.
MAX_ID_CHARS = 200
IDS = frozenset({"event_id", "dossier_code", "onestop_code", "sector_id", "notice_no"})
# MaTTHC and KenhThucHien are descriptive: sources.md never rejects them, so an overlong one is
# cut, to an id's length since they are codes. Every other text field of an event (notes, names,
# units) is free text, cut to Context.max_text_chars: a feed's megabyte of text would otherwise
# travel into every event, state and alert of its dossier.
DESCRIPTIVE_CODES = frozenset({"procedure_code", "channel"})
# The times an event keeps. Event times (the instants something happened) lie within
# [now - age, now + lead]; the others (an appointment, a step deadline) may legitimately lie
# ahead, but not beyond the age either way; an informational time out of it is dropped, since
# sources.md never rejects those.
EVENT_TIMES = frozenset(
    {"event_time", "received_at", "refused_at", "finished_at", "returned_at", "apology_at"}
)
INFORMATIONAL_TIMES = frozenset({"new_due_at"})
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


class Invalid(Exception):
    """Raised inside a connector for a message (or item) that must be dead-lettered."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Enum):
        return value.value
    return value


# a time's canonical text, by (time, UTC offset): one delivery's times recur in its items and
# redeliveries, and strftime is most of what a digest costs
_UTC_TEXT: dict[tuple[datetime, timedelta | None], str] = {}
_UTC_TEXT_MAX = 8192


def _time_text(value: datetime) -> str:
    offset = value.utcoffset()
    if offset is None:  # naive: read in the process's zone by astimezone, never kept
        return _canonical(value)  # type: ignore[no-any-return]
    # equal times with equal offsets are one instant (equality alone is not: within one zone
    # it ignores `fold`), so they have one text
    key = (value, offset)
    text = _UTC_TEXT.get(key)
    if text is None:
        if len(_UTC_TEXT) >= _UTC_TEXT_MAX:
            _UTC_TEXT.clear()
        text = _UTC_TEXT[key] = _canonical(value)
    return text


def digest(fields: dict[str, Any]) -> str:
    """sha256 (hex) over the identity fields that differ from the model's defaults."""
    canon: dict[str, Any] = {}
    for k, v in fields.items():
        if v is None or k in NOT_IDENTITY or v is _DEFAULTS.get(k):
            continue
        cls = v.__class__
        if cls is str or cls is int or cls is bool:  # as _canonical leaves them
            canon[k] = v
        elif cls is datetime:
            canon[k] = _time_text(v)
        else:
            canon[k] = _canonical(v)
    try:
        blob = _compact_json(canon)
    except _NotPlain:
        blob = json.dumps(canon, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


class _NotPlain(Exception):
    """A value `_compact_json` leaves to json.dumps."""


_QUOTED = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) uses


def _compact_json(fields: dict[str, Any]) -> str:
    """json.dumps(fields, sort_keys=True, ensure_ascii=True, separators=(",", ":")) for a flat
    object of strings, ints and booleans, the same text without building an encoder per call
    (the digest runs for almost every event); _NotPlain for any other value."""
    parts = []
    for key in sorted(fields):
        value = fields[key]
        if value.__class__ is str:
            text = _QUOTED(value)
        elif value is True:
            text = "true"
        elif value is False:
            text = "false"
        elif value.__class__ is int:
            text = int.__repr__(value)
        else:
            raise _NotPlain
        parts.append(f"{_QUOTED(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def _shift(now: datetime, seconds: float) -> datetime:
    """`now` moved by `seconds`, held at the ends of the calendar (a huge setting must not
    overflow: it only means no bound on that side)."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return _LATEST if seconds > 0 else _EARLIEST


@lru_cache(maxsize=16)  # one `now` a batch of messages, and their many events
def _window(now: datetime, age_days: float, lead_s: float) -> tuple[datetime, datetime, datetime]:
    """The earliest time kept, the latest event time, the latest other time."""
    age = age_days * 86_400
    return _shift(now, -age), _shift(now, lead_s), _shift(now, max(age, lead_s))


def _text_bounded(ctx: Context, name: str, value: str) -> str:
    if name in IDS:
        if len(value) > MAX_ID_CHARS:
            raise Invalid(
                Reason.SCHEMA_ERROR,
                f"{name} {show(value)} has {len(value)} characters, more than an id's "
                f"{MAX_ID_CHARS}",
            )
        return value
    return value[: MAX_ID_CHARS if name in DESCRIPTIVE_CODES else ctx.max_text_chars]


def _bounded(ctx: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` within the bounds: ids checked, text cut, times in the window (see above)."""
    out: dict[str, Any] = {}
    times: list[str] = []  # the names of the times, checked below
    for name, value in fields.items():
        cls = value.__class__
        # the common classes by identity, any other by isinstance (a subclass, an enum)
        if cls is str:
            value = _text_bounded(ctx, name, value)
        elif cls is datetime:
            times.append(name)
        elif isinstance(value, str):
            if not isinstance(value, Enum):
                value = _text_bounded(ctx, name, value)
        elif isinstance(value, datetime):
            times.append(name)
        out[name] = value
    if ctx.now is None or not times:
        return out
    earliest, latest_event, latest_other = _window(
        ctx.now, ctx.max_event_age_days, ctx.max_event_lead_s
    )
    for name in times:
        value = out[name]
        latest = latest_event if name in EVENT_TIMES else latest_other
        if earliest <= value <= latest:
            continue
        if name in INFORMATIONAL_TIMES:
            del out[name]
            continue
        if value < earliest:
            why = f"more than {ctx.max_event_age_days:g} days (MOTCUA_MAX_EVENT_AGE_DAYS) before"
        elif name in EVENT_TIMES:
            why = f"more than {ctx.max_event_lead_s:g} s (MOTCUA_MAX_EVENT_LEAD_S) after"
        else:
            why = f"more than {ctx.max_event_age_days:g} days (MOTCUA_MAX_EVENT_AGE_DAYS) after"
        raise Invalid(
            Reason.BAD_TIME,
            f"{name} {value.isoformat()} is {why} the hub's clock, {ctx.now.isoformat()}",
        )
    return out


def make_event(ctx: Context, item: int | None, fields: dict[str, Any]) -> DossierEvent:
    """The event of `fields`, with provenance from `ctx`; `event_id` is digested when not given.

    Raises `Invalid` (SCHEMA_ERROR, BAD_TIME) for fields outside the bounds; free text is cut
    before the digest, so the id is that of what the event keeps.
    """
    fields = _bounded(ctx, {k: v for k, v in fields.items() if v is not None})
    if "event_id" not in fields:
        fields["event_id"] = digest(fields)
    return DossierEvent(
        **fields,
        source_topic=ctx.topic or None,
        source_partition=ctx.partition,
        source_offset=ctx.offset,
        item_index=item,
    )


def reject(reason: Reason, message: str, item: int | None = None) -> Decoded:
    return Decoded(rejections=[Rejection(reason, message, item)])


Body = Callable[[bytes, Context], Decoded]


def guarded(name: str) -> Callable[[Body], Body]:
    """Wrap a connector body: `TOO_LARGE` first, `Invalid` → its reason, anything else INTERNAL."""

    def wrap(body: Body) -> Body:
        def decode(raw: bytes, ctx: Context) -> Decoded:
            if len(raw) > ctx.max_message_bytes:
                return reject(Reason.TOO_LARGE, f"{len(raw)} bytes > {ctx.max_message_bytes}")
            try:
                return body(raw, ctx)
            except Invalid as exc:
                return reject(exc.reason, exc.message)
            except Exception as bug:  # a bug: the contract says this never happens
                return reject(Reason.INTERNAL, f"{name} connector failed: {type(bug).__name__}")

        decode.__name__ = decode.__qualname__ = "decode"
        decode.__doc__ = body.__doc__
        return decode

    return wrap
