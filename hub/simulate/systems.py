"""The four agency systems as the simulator knows them: names, topics, files, shapes, failures.

Names, topics and file names are views of the hub's one registry of sources (`connectors.SOURCES`),
so the simulated feed goes where the hub reads; what is simulator-only (the vendors' payload shapes,
the dead-letter reasons a system can be made to produce) is here.
"""

from __future__ import annotations

from connectors import SOURCES as REGISTRY
from hub.domain.events import Source

ONESTOP = Source.ONESTOP.value
LAND = Source.LAND.value
TAX = Source.TAX.value
CIVIL = Source.CIVIL.value
SOURCES: tuple[str, ...] = tuple(spec.name for spec in REGISTRY.values())
# source name -> Kafka topic it publishes to, and -> its file in a `--to-files` run
TOPICS: dict[str, str] = {spec.name: spec.topic for spec in REGISTRY.values()}
FILE_NAMES: dict[str, str] = {spec.name: spec.sample for spec in REGISTRY.values()}

# one-stop vendors' payload shapes (sources.md §1)
CANONICAL, BARELIST, SESSION, CAMEL = "canonical", "barelist", "session", "camel"
VENDORS: tuple[str, ...] = (CANONICAL, BARELIST, SESSION, CAMEL)
# land adapters' styles (sources.md §2): canonical names and local offsets; route names in UTC;
# route names with camelCase fields and UTC times without offset
LAND_CANON, LAND_ROUTE, LAND_CAMEL = "canon", "route", "camel"

# reasons each source can be made to dead-letter with, and their relative weights
MALFORMED_REASONS: dict[str, tuple[tuple[str, int], ...]] = {
    ONESTOP: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 18),
        ("TOO_LARGE", 2),
    ),
    LAND: (
        ("DECODE_ERROR", 16),
        ("SCHEMA_ERROR", 16),
        ("UNKNOWN_STATUS", 16),
        ("BAD_TIME", 16),
        ("NO_DOSSIER_KEY", 16),
        ("AUTH_FAILED", 18),
        ("TOO_LARGE", 2),
    ),
    TAX: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 20),
    ),
    CIVIL: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 20),
    ),
}
