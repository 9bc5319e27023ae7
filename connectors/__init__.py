"""Connectors: one per agency system, each a pure function from raw bytes to common events.

`CONNECTORS` maps a connector's name to it; the worker maps each inbound topic to a name.
"""

from __future__ import annotations

from connectors import civil, land, onestop, tax
from connectors._base import Connector, Context, Decoded, Reason, Rejection

CONNECTORS: dict[str, Connector] = {
    "onestop": onestop.decode,
    "land": land.decode,
    "tax": tax.decode,
    "civil": civil.decode,
}

__all__ = ["CONNECTORS", "Connector", "Context", "Decoded", "Reason", "Rejection"]
