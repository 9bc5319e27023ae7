"""The shape of the code: layers that only import downwards, a pure domain, one assembler.

Every import in hub/ and connectors/ is read from the source (inside functions and
`TYPE_CHECKING` blocks too) and checked against the layer order below: a module may import its
own layer or a lower one, never a higher one. The import-cycle tool of the contracts
(`shared/tools/import_cycles.py`) is stricter about nothing this does not already forbid: an
upward import is what every circle among layers needs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# lowest first; a module belongs to the first layer whose prefix it starts with
LAYERS: list[tuple[str, ...]] = [
    # the pure core: no Kafka, no I/O; and hub.native, which the root package runs first (it
    # chooses the compiled modules or the sources, with the standard library only)
    ("hub.errors", "hub.domain", "hub.native"),
    ("connectors",),  # pure decoders from raw bytes to domain events
    # report tables and their files (CSV, XLSX) from the domain's rows: bytes out, no Kafka;
    # below the stream layer, so both the web face and `motcua-hub report` use them
    ("hub.reports",),
    (
        "hub.settings",
        "hub.codec",
        "hub.event_avro",
        "hub.specialised",
        "hub.protocol",
        "hub.metrics",
        "hub.kafka_client",
        "hub.topics",
        "hub.broker",
    ),
    ("hub.stream",),  # the stream layer: knows nothing of the web face or the gauges
    ("hub.web", "hub.monitoring"),
    ("hub.service", "hub.testing"),  # assembles a worker; the shipped test kit
    ("hub.cli", "hub.worker", "hub.alerts_cli", "hub.demo", "hub.simulate"),  # commands, tools
]
DOMAIN_MAY_IMPORT = ("hub.domain", "hub.errors")
FORBIDDEN_IN_DOMAIN = {"aiokafka", "faust", "asyncio", "socket", "prometheus_client", "fastavro"}


def layer(module: str) -> int:
    if module == "hub":  # the root package holds the version and installs hub.native
        return 0
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in ("hub", "connectors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".")[0] in ("hub", "connectors")}


MODULES = modules()
OURS = set(MODULES)


def resolve(name: str) -> str | None:
    """The module an imported name lives in (`from hub import web` names hub.web)."""
    while name:
        if name in OURS:
            return name
        name = name.rpartition(".")[0]
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module: str) -> None:
    mine = layer(module)
    upward = {
        target
        for name in imports_of(module, MODULES[module])
        if (target := resolve(name)) is not None and layer(target) > mine
    }
    assert not upward, f"{module} (layer {mine}) imports upwards: {sorted(upward)}"


def test_the_domain_is_pure() -> None:
    for module, path in MODULES.items():
        if not module.startswith("hub.domain"):
            continue
        ours = {resolve(n) or n for n in imports_of(module, path)}
        bad = {m for m in ours if m != "hub" and not m.startswith(DOMAIN_MAY_IMPORT)}
        assert not bad, f"{module} imports {sorted(bad)}"
        # reading its two configuration files at start (from_file) is the only I/O it does
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        io = {n for n in names if n.split(".")[0] in FORBIDDEN_IN_DOMAIN}
        assert not io, f"{module} imports {sorted(io)}"


def test_nothing_imports_the_assembler() -> None:
    for module, path in MODULES.items():
        if layer(module) <= layer("hub.service") and module != "hub.service":
            assert "hub.service" not in {resolve(n) for n in imports_of(module, path)}, module


def test_the_layers_check_would_catch_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "judge.py"
    bad.write_text("from hub.web import install\n", encoding="utf-8")
    found = {resolve(n) for n in imports_of("hub.stream.judge", bad)}
    assert "hub.web" in found and layer("hub.web") > layer("hub.stream.judge")
