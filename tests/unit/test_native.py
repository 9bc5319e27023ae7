"""The compiled hot modules (hub/native.py): the same bytes out as the sources, used only when
current, and source patterns known to behave differently once compiled kept out.

The equality tests need the build (`motcua-hub compile`); .ci/run compiles and runs the whole
suite with MOTCUA_NATIVE=required, where a missing build fails them instead of skipping them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub import native

ROOT = Path(__file__).resolve().parents[2]


def _built() -> bool:
    files, reason = native._usable(native.NATIVE_DIR)
    if not files and os.environ.get("MOTCUA_NATIVE") == "required":
        pytest.fail(f"MOTCUA_NATIVE=required, but the compiled modules: {reason}")
    return bool(files)


def _run(mode: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOTCUA_NATIVE": mode}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


needs_build = pytest.mark.skipif(not _built(), reason="not compiled: run `motcua-hub compile`")


@needs_build
def test_the_compiled_modules_put_out_what_the_sources_do() -> None:
    runs = {}
    for mode in ("off", "required"):
        done = _run(mode, "-m", "tests.native_outputs", "--dossiers", "1500")
        assert done.returncode == 0, done.stderr
        runs[mode] = json.loads(done.stdout)
    python, compiled = runs["off"], runs["required"]
    assert python.pop("native")[0] is False
    assert compiled.pop("native")[0] is True
    assert compiled == python
    # what is compared is the whole hub's output, not an empty run
    assert python["alerts"][0] > 1000 and python["summaries"][0] > 1000
    assert python["dead letters"][0] > 0 and python["outbox"][0] > 0
    assert "logged" not in python and "refused" not in python


@needs_build
@pytest.mark.parametrize("target", ["onestop", "land", "tax", "civil", "judge"])
def test_the_compiled_modules_meet_hostile_input_as_the_sources_do(target: str) -> None:
    """bench/fuzz.py's random and mutated inputs, the same seed both ways: the same outcomes."""
    outcomes = {}
    for mode in ("off", "required"):
        args = ("-m", "bench.fuzz", "--target", target, "--inputs", "3000", "--seed", "5")
        done = _run(mode, *args)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        found = [line for line in done.stdout.splitlines() if "outcomes:" in line]
        assert found, done.stdout[-2000:]
        outcomes[mode] = found
    assert outcomes["required"] == outcomes["off"]


def _manifest(tmp: Path, **change: object) -> Path:
    """A build manifest of the current sources (no compiled file behind it unless made)."""
    suffix = native._abi()
    modules = {
        m: {"file": f"{m}{suffix}", "source_sha256": native._digest(native.source_file(m))}
        for m in native.MODULES
    }
    manifest = {
        "abi": suffix,
        "library": {"name": f"{native.GROUP}__mypyc", "file": f"lib{suffix}"},
        "modules": modules,
        **change,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest))
    return tmp


def test_a_build_of_the_current_sources_is_used(tmp_path: Path) -> None:
    built = _manifest(tmp_path)
    for name in [*native.MODULES, f"{native.GROUP}__mypyc"]:
        stem = name if name in native.MODULES else "lib"
        (built / f"{stem}{native._abi()}").write_bytes(b"")
    files, reason = native._usable(built)
    assert reason == ""
    assert set(files) == {*native.MODULES, f"{native.GROUP}__mypyc"}


def test_a_build_with_one_source_changed_since_is_not_used_at_all(tmp_path: Path) -> None:
    manifest = json.loads(_manifest(tmp_path).joinpath("manifest.json").read_text())
    manifest["modules"]["hub.domain.rules"]["source_sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    files, reason = native._usable(tmp_path)
    assert files == {}
    assert "stale: hub.domain.rules changed" in reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"abi": ".cpython-27-foo.so"}, "compiled for .cpython-27-foo.so"),
        ({"modules": {}}, "another module list"),
        ({}, "missing compiled files"),
    ],
)
def test_a_build_for_another_interpreter_or_list_or_with_files_missing_is_not_used(
    tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    files, reason = native._usable(_manifest(tmp_path, **change))
    assert files == {}
    assert expected in reason


def test_no_build_is_pure_python_unless_required(tmp_path: Path) -> None:
    files, reason = native._usable(tmp_path)
    assert files == {} and "not compiled" in reason
    done = _run("required", "-c", "import hub")
    if not _built():
        assert done.returncode != 0
        assert "MOTCUA_NATIVE=required, but the compiled modules" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
    bad = _run("sometimes", "-c", "import hub")
    assert bad.returncode != 0 and "expected one of auto, off, required" in bad.stderr


def test_no_compiled_function_names_two_kinds_of_exception_alike() -> None:
    """Compiled, a function's `except A as e` and later `except B as e` share one variable of
    type A: the second handler's cast fails with a TypeError (found by the bench's outputs)."""
    found = []
    for module in native.MODULES:
        path = native.source_file(module)
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            kinds: dict[str, set[str]] = {}
            stack = list(ast.iter_child_nodes(fn))
            while stack:
                node = stack.pop()
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    continue  # its own scope, checked on its own
                if isinstance(node, ast.ExceptHandler) and node.name:
                    kind = ast.unparse(node.type) if node.type else "BaseException"
                    kinds.setdefault(node.name, set()).add(kind)
                stack.extend(ast.iter_child_nodes(node))
            found += [f"{path.name}:{fn.lineno} {n}: {k}" for n, k in kinds.items() if len(k) > 1]
    assert found == []


def test_no_compiled_module_makes_objects_of_its_classes_without_them() -> None:
    """`object.__new__(C)` is refused for a compiled class C (C.__new__(C) is not); for a class
    left in Python (a pydantic model) it is fine."""
    trees = {
        m: ast.parse(native.source_file(m).read_text(encoding="utf-8")) for m in native.MODULES
    }
    compiled = {n.name for t in trees.values() for n in t.body if isinstance(n, ast.ClassDef)}
    found = [
        f"{m}:{node.lineno}"
        for m, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "object.__new__"
        and node.args
        and ast.unparse(node.args[0]) in compiled
    ]
    assert found == []
    assert "DossierState" in compiled  # what the check would have found before
