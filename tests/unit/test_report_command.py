"""`motcua-hub report` where it cannot work: a clear one-line error, an exit status other than
0, and no file. (The command on the sample feed: tests/integration/test_report.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "motcua-hub")


def report(
    tmp_path: Path, *args: str, bootstrap: str = "127.0.0.1:1"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOTCUA_KAFKA_BOOTSTRAP": bootstrap, "MOTCUA_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [CLI, "report", "--out", str(tmp_path / "r.xlsx"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_broker_is_one_line_and_no_file(tmp_path: Path) -> None:
    done = report(tmp_path, "--from", "2026-11-01", "--to", "2026-11-30", "--timeout", "3")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("motcua-hub: error: cannot read hub.dossier.summary")
    assert "127.0.0.1:1" in lines[0]
    assert not list(tmp_path.glob("r.xlsx*"))


@pytest.mark.parametrize(
    "args, message",
    [
        (("--from", "2026-13-01"), "not a date"),
        (("--from", "2026-12-01", "--to", "2026-11-01"), "from must come before to"),
        (("--to", "9999-12-31"), "out of range"),
    ],
)
def test_a_bad_period_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = report(tmp_path, *args)
    assert done.returncode == 2 and message in done.stderr
    assert not list(tmp_path.glob("r.xlsx*"))
