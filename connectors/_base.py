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
    """What a connector may know besides the bytes: provenance and the settings it enforces."""

    calendar: Calendar
    topic: str = ""
    partition: int = 0
    offset: int = 0
    max_message_bytes: int = 524288
    land_security_code: str | None = None


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
