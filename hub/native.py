"""The hot modules compiled with mypyc, used only while they match the sources they were built from.

`motcua-hub compile` (`make compile`) builds the modules of `MODULES` with mypyc into
`hub/_native/`, with a manifest of each source's SHA-256. When `hub` is first imported, `install`
puts a finder in front of Python's own that loads those modules from their compiled files, all
of them or none: a compiled module calls the other compiled ones directly, not through their
Python source, so a build with one stale module is not used at all. An edited source therefore
never runs as its old compiled self; the hub runs its Python source instead and says so.

The compiled modules do what the Python ones do, byte for byte: tests/unit/test_native.py runs
a simulated province, the contract samples and the fuzzer's hostile inputs both ways.
`MOTCUA_NATIVE` chooses: `auto` (the default: compiled when the build is there and current, else
Python), `off` (Python), `required` (compiled, or the hub refuses to start: what a benchmark
wants, so that its figure is never of the other path without it saying). The variable is read
here, as `hub` is imported, because the choice has to be made before the
first hot module is; `hub.settings` validates it again with the rest.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

# The modules every inbound message goes through (connectors, the event codec, the domain rules,
# the judge and its state), as dotted names, compiled together as one group. Not among them:
# modules of pydantic models (mypyc does not compile them: hub.domain.events, alerts, stats) and
# hub.domain.audit (its NamedTuple's `int | None` fields come out typed `type`).
MODULES: tuple[str, ...] = (
    "connectors._base",
    "connectors._identity",
    "connectors._json",
    "connectors._times",
    "connectors.civil",
    "connectors.land",
    "connectors.onestop",
    "connectors.tax",
    "hub.codec",
    "hub.event_avro",
    "hub.specialised",
    "hub.domain.calendar",
    "hub.domain.catalog",
    "hub.domain.dossier",
    "hub.domain.engine",
    "hub.domain.messages",
    "hub.domain.responsibility",
    "hub.domain.rules",
    "hub.domain.watermark",
    "hub.stream.ingest",
    "hub.stream.judge",
    "hub.stream.publisher",
    "hub.stream.state",
)
GROUP = "motcua_native"  # mypyc's shared library is then the top-level module motcua_native__mypyc
MODES = ("auto", "off", "required")

# holds the `hub` and `connectors` packages (and, in a source tree, `schemas/`); found from this
# module, which is never compiled: a compiled module's __file__ is its build's
SOURCE_ROOT = Path(__file__).resolve().parent.parent
NATIVE_DIR = Path(__file__).resolve().parent / "_native"
_MANIFEST = "manifest.json"


class NativeUnavailable(RuntimeError):
    """MOTCUA_NATIVE=required, and the compiled modules cannot be used (the reason says why)."""


@dataclass
class Status:
    mode: str
    active: bool = False
    reason: str = ""

    def describe(self) -> str:
        if self.active:
            return f"compiled modules in use ({len(MODULES)}, mypyc)"
        return f"pure Python ({self.reason})"


STATUS = Status(mode="off", reason="not installed")


def source_file(module: str) -> Path:
    return SOURCE_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _abi() -> str:
    return importlib.machinery.EXTENSION_SUFFIXES[0]


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, files: dict[str, Path]) -> None:
        self._files = files

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        file = self._files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


def _usable(native_dir: Path) -> tuple[dict[str, Path], str]:
    """The compiled file of each module and of the group library, or why they cannot be used."""
    manifest_path = native_dir / _MANIFEST
    if not manifest_path.is_file():
        return {}, "not compiled (run `motcua-hub compile`)"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        abi, built = manifest["abi"], manifest["modules"]
        files = {name: native_dir / entry["file"] for name, entry in built.items()}
        files[manifest["library"]["name"]] = native_dir / manifest["library"]["file"]
    except (ValueError, KeyError, TypeError) as exc:
        return {}, f"unreadable build manifest {manifest_path}: {exc!r}"
    if abi != _abi():
        return {}, f"compiled for {abi}, this interpreter is {_abi()}"
    if set(built) != set(MODULES):
        return {}, "compiled for another module list (run `motcua-hub compile`)"
    stale = [m for m in MODULES if built[m]["source_sha256"] != _digest(source_file(m))]
    if stale:
        return {}, f"stale: {', '.join(stale)} changed since compiled (run `motcua-hub compile`)"
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        return {}, f"missing compiled files: {', '.join(missing)}"
    return files, ""


def install(mode: str | None = None, native_dir: Path = NATIVE_DIR) -> Status:
    """Put the compiled modules in front of the sources if they may and can be used."""
    global STATUS
    mode = (mode if mode is not None else os.environ.get("MOTCUA_NATIVE", "auto")).lower()
    if mode not in MODES:
        raise ValueError(f"MOTCUA_NATIVE={mode!r}: expected one of {', '.join(MODES)}")
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return STATUS
    if mode == "off":
        STATUS = Status(mode, reason="MOTCUA_NATIVE=off")
        return STATUS
    early = sorted(m for m in MODULES if m in sys.modules)
    files: dict[str, Path]
    if early:
        files, reason = {}, f"imported before hub: {', '.join(early)}"
    else:
        files, reason = _usable(native_dir)
    if not files:
        if mode == "required":
            raise NativeUnavailable(f"MOTCUA_NATIVE=required, but the compiled modules: {reason}")
        STATUS = Status(mode, reason=reason)
        return STATUS
    sys.meta_path.insert(0, _Finder(files))
    STATUS = Status(mode, active=True)
    return STATUS


def compile_modules(
    native_dir: Path = NATIVE_DIR, opt_level: str = "3", force: bool = False
) -> bool:
    """Build MODULES with mypyc into `native_dir` (replacing what was there), unless a build of
    the sources as they are is there already (`force`: build anyway); whether it built. The
    manifest is written last, so a failed build leaves nothing that `install` would use."""
    if not force and _usable(native_dir)[0]:
        return False
    try:
        import mypyc  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "compiling needs mypy (mypyc) and setuptools: pip install 'motcua-hub[native]'"
        ) from exc
    sources = {m: source_file(m) for m in MODULES}
    digests = {m: _digest(p) for m, p in sources.items()}
    native_dir.mkdir(parents=True, exist_ok=True)
    (native_dir / _MANIFEST).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="motcua-mypyc-") as tmp:
        setup = Path(tmp) / "setup.py"
        files = [str(p.relative_to(SOURCE_ROOT)) for p in sources.values()]
        options = {"opt_level": opt_level, "group_name": GROUP, "target_dir": f"{tmp}/c"}
        setup.write_text(
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            "setup(name='motcua-native', packages=[], py_modules=[],\n"
            f"      ext_modules=mypycify({files!r}, **{options!r}))\n",
            encoding="utf-8",
        )
        cmd = [
            sys.executable,
            str(setup),
            "-q",
            "build_ext",
            "--build-lib",
            str(native_dir),
            "--build-temp",
            str(Path(tmp) / "temp"),
        ]
        done = subprocess.run(cmd, cwd=SOURCE_ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc failed:\n{done.stdout}\n{done.stderr}")
    suffix = _abi()
    built: dict[str, dict[str, str]] = {}
    for module in MODULES:
        rel = Path(*module.split(".")).with_suffix(suffix)
        if not (native_dir / rel).is_file():
            raise RuntimeError(f"mypyc built no {rel} in {native_dir}")
        built[module] = {"file": str(rel), "source_sha256": digests[module]}
    library = f"{GROUP}__mypyc"
    manifest = {
        "abi": suffix,
        "library": {"name": library, "file": library + suffix},
        "modules": built,
    }
    changed = [m for m in MODULES if _digest(sources[m]) != digests[m]]
    if changed:  # edited while compiling: the build is of neither version
        raise RuntimeError(f"sources changed while compiling: {', '.join(changed)}")
    (native_dir / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return True
