"""The four agency systems as the simulator knows them: names, topics, files, shapes, failures."""

from __future__ import annotations

ONESTOP, LAND, TAX, CIVIL = "onestop", "land", "tax", "civil"
SOURCES: tuple[str, ...] = (ONESTOP, LAND, TAX, CIVIL)
TOPICS: dict[str, str] = {
    ONESTOP: "agency.onestop.status",
    LAND: "agency.land.status",
    TAX: "agency.tax.status",
    CIVIL: "agency.civil.status",
}
FILE_NAMES: dict[str, str] = {
    ONESTOP: "onestop.jsonl",
    LAND: "land.jsonl",
    TAX: "tax.jsonl",
    CIVIL: "civil.xmll",
}

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
