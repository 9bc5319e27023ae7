"""What every connector is: a pure function from one raw message to common events and rejections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from hub.domain.events import DossierEvent, Source


class Reason(StrEnum):
    """Dead-letter reason codes (alerts.md)."""

    DECODE_ERROR = "DECODE_ERROR"
    SCHEMA_ERROR = "SCHEMA_ERROR"
    UNKNOWN_STATUS = "UNKNOWN_STATUS"
    BAD_TIME = "BAD_TIME"
    NO_DOSSIER_KEY = "NO_DOSSIER_KEY"
    AUTH_FAILED = "AUTH_FAILED"
    TOO_LARGE = "TOO_LARGE"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class Rejection:
    """One dead letter: the whole message (item None) or one item of a one-stop message."""

    reason: Reason
    message: str
    item: int | None = None


class Calendar(Protocol):
    def add_working_days(self, t: datetime, n: int) -> datetime: ...


@dataclass(frozen=True)
class Context:
    """What a connector may know besides the bytes: provenance and the settings it enforces.

    The bounds against a hostile or broken feed (docs/settings.md, "Bounds") default to the
    settings' defaults. `now` is the intake's wall clock when it decoded the message: the times
    an event keeps must lie in a window around it (`connectors._identity.make_event`); None (pure
    tests, and replays of a feed whose times are not today's) checks no window.
    """

    calendar: Calendar
    topic: str = ""
    partition: int = 0
    offset: int = 0
    max_message_bytes: int = 524288
    land_security_code: str | None = None
    max_items: int = 1000  # items of one one-stop message (MOTCUA_MAX_ITEMS_PER_MESSAGE)
    max_text_chars: int = 2000  # free text kept per field (MOTCUA_MAX_TEXT_CHARS)
    now: datetime | None = None
    max_event_age_days: float = 3650.0  # MOTCUA_MAX_EVENT_AGE_DAYS
    max_event_lead_s: float = 86_400.0  # MOTCUA_MAX_EVENT_LEAD_S


@dataclass(frozen=True)
class Decoded:
    events: list[DossierEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    informational: int = 0  # accepted messages carrying nothing for the rules (land info)


Connector = Callable[[bytes, Context], Decoded]


@dataclass(frozen=True)
class SourceSpec:
    """One agency system as the hub knows it (the registry is `connectors.SOURCES`)."""

    source: Source
    topic: str  # the Kafka topic it publishes to
    decode: Connector
    format: str  # its wire format, in a few words
    sample: str  # its file among the contract's sample feeds (tests/contract_samples/)

    @property
    def name(self) -> str:
        return self.source.value
