"""Every exception the hub raises on purpose, grouped by what the caller does with it.

HubError
├── StopError            the hub cannot run: report and exit
│   ├── ConfigError      a setting, catalogue or calendar file does not validate
│   └── BrokerError      the local broker could not be started, stopped or reached
└── DeadLetterError      this input can never be processed: send it to hub.deadletter
    └── ProtocolError    a record on an internal topic breaks the hub's protocol
                         (hub/protocol.py); connectors do not raise: they return rejections
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every deliberate hub error."""


class StopError(HubError):
    """The hub cannot go on: the operator must fix something."""


class ConfigError(StopError):
    """A setting or a shipped/configured data file is invalid."""


class BrokerError(StopError):
    """The local development broker failed."""


class DeadLetterError(HubError):
    """The input is bad for good: dead-letter it with `reason`."""

    def __init__(self, reason: str, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.item = item
