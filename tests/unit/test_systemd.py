"""deploy/systemd: the worker's unit template passes `systemd-analyze verify` without a warning,
stops more slowly than a transaction times out, and its example environment file holds only
settings the hub knows, valid together."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "motcua-hub@.service"
ENV = ROOT / "deploy" / "systemd" / "worker.env.example"
SHIPPED_EXEC = "/opt/motcua-hub/venv/bin/motcua-hub"


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            name, value = line.split("=", 1)
            found.setdefault(name.strip(), []).append(value.strip())
    return found


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)
def test_the_unit_template_verifies_cleanly(tmp_path: Path) -> None:
    # verify checks that the command exists: point it at this checkout's executable
    here = Path(sys.executable).parent / "motcua-hub"
    command = str(here) if here.exists() else sys.executable
    text = UNIT.read_text()
    assert SHIPPED_EXEC in text
    instance = tmp_path / "motcua-hub@w1.service"  # an instance of the template
    instance.write_text(text.replace(SHIPPED_EXEC, command))
    run = subprocess.run(
        ["systemd-analyze", "verify", str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on directives it ignores (a typo, a bad value): any output is a failure
    assert run.returncode == 0 and run.stdout + run.stderr == "", run.stdout + run.stderr


def test_the_unit_restarts_on_failure_and_stops_gracefully() -> None:
    unit = _directives(UNIT.read_text())
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2"]  # settings errors: `motcua-hub: error`
    assert unit["KillSignal"] == ["SIGTERM"]
    stop_s = int(unit["TimeoutStopSec"][0])
    assert stop_s > Settings.model_fields["transaction_timeout_s"].default
    assert stop_s > Settings.model_fields["session_timeout_s"].default
    assert "/etc/motcua-hub/%i.env" in unit["EnvironmentFile"]
    assert unit["StateDirectory"] == ["motcua-hub/%i"]
    assert "MOTCUA_DATA_DIR=/var/lib/motcua-hub/%i" in unit["Environment"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]


def test_the_example_environment_file_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _directives(ENV.read_text())
    names = {f"MOTCUA_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(set(values) - names)
    assert unknown == [], f"not settings: {unknown}"
    for name in list(names):
        monkeypatch.delenv(name, raising=False)
    for name, (value, *_) in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.state_store.value == "rocksdb"
    assert re.fullmatch(r"\d+", values["MOTCUA_WEB_PORT"][0])
    unit = _directives(UNIT.read_text())
    assert int(unit["TimeoutStopSec"][0]) > settings.transaction_timeout_s
