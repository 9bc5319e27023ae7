"""Connectors: one per agency system, each a pure function from raw bytes to common events.

`SOURCES` is the one registry of the agency systems: for each, its `Source`, the Kafka topic it
publishes to, its decoder, its wire format and the name of its contract sample file. Everything
that enumerates the sources (the topics the hub creates and reads, the intake's routing, the
simulator's output, the connector contract tests) derives from it; a fifth source is one more
entry here.
"""

from __future__ import annotations

import hub  # noqa: F401  # first: it chooses between the compiled and the Python modules
from connectors import civil, land, onestop, tax
from connectors._base import Connector, Context, Decoded, Reason, Rejection, SourceSpec
from hub.domain.events import Source

SOURCES: dict[Source, SourceSpec] = {
    spec.source: spec
    for spec in (
        SourceSpec(
            Source.ONESTOP,
            topic="agency.onestop.status",
            decode=onestop.decode,
            format="JSON envelope {service, data: [items]}",
            sample="onestop.jsonl",
        ),
        SourceSpec(
            Source.LAND,
            topic="agency.land.status",
            decode=land.decode,
            format="JSON callback (one per message)",
            sample="land.jsonl",
        ),
        SourceSpec(
            Source.TAX,
            topic="agency.tax.status",
            decode=tax.decode,
            format="JSON event (one per message)",
            sample="tax.jsonl",
        ),
        SourceSpec(
            Source.CIVIL,
            topic="agency.civil.status",
            decode=civil.decode,
            format="XML document <SuKienHoTich> (one per message)",
            sample="civil.xmll",
        ),
    )
}
# connector name -> decoder, and inbound topic -> source: views of SOURCES
CONNECTORS: dict[str, Connector] = {spec.source.value: spec.decode for spec in SOURCES.values()}
SOURCE_OF_TOPIC: dict[str, Source] = {spec.topic: spec.source for spec in SOURCES.values()}

__all__ = [
    "CONNECTORS",
    "SOURCES",
    "SOURCE_OF_TOPIC",
    "Connector",
    "Context",
    "Decoded",
    "Reason",
    "Rejection",
    "SourceSpec",
]
