"""Event identity and the plumbing every connector shares.

`make_event` builds a `DossierEvent` whose `event_id`, when the source has no id of its own, is
the sha256 of a canonical form of every field the rules read: provenance (topic, partition,
offset, item index), the free-text `note`, `procedure_name` and the informational `new_due_at`
never enter it, so a redelivered item keeps its id. Times enter as UTC instants, so one instant
written with two offsets is one event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from connectors._base import Context, Decoded, Reason, Rejection
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


def digest(fields: dict[str, Any]) -> str:
    """sha256 (hex) over the identity fields that differ from the model's defaults."""
    canon = {
        k: _canonical(v)
        for k, v in fields.items()
        if k not in NOT_IDENTITY and v is not None and v is not _DEFAULTS.get(k)
    }
    blob = json.dumps(canon, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def make_event(ctx: Context, item: int | None, fields: dict[str, Any]) -> DossierEvent:
    """The event of `fields`, with provenance from `ctx`; `event_id` is digested when not given."""
    fields = {k: v for k, v in fields.items() if v is not None}
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
            except Exception as exc:  # a bug: the contract says this never happens
                return reject(Reason.INTERNAL, f"{name} connector failed: {type(exc).__name__}")

        decode.__name__ = decode.__qualname__ = "decode"
        decode.__doc__ = body.__doc__
        return decode

    return wrap
