"""Reports end to end (issue 12): the sample feed through one worker on a real broker; the
report downloaded from the worker (/api/export/report.xlsx), then, with the worker stopped,
`motcua-hub report` reading the summary topic alone. Both workbooks hold the contract's
expected figures, and the same cells.

One broker and one worker run for the module (they take a while to start).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from hub.reports.tables import responsibility_table, units_table
from hub.reports.xlsx import HEADER_ROW
from hub.testing import LocalBroker, produce, running_worker, worker_env
from tests.samples import SAMPLES, SECURITY_CODE, TOPICS, expected_unit_stats, scheduled
from tests.unit.test_reports import same, sheet_rows

pytestmark = pytest.mark.kafka
CLI = str(Path(sys.executable).parent / "motcua-hub")
REPLAY_LEAD_S = 100 * 365 * 86_400
PERIOD = "?from=2026-01-01&to=2026-12-31"  # the whole feed, named as a year


@dataclass
class Run:
    env: dict[str, str]
    downloaded: Workbook  # /api/export/report.xlsx from the worker
    written: Workbook  # by `motcua-hub report`, the worker stopped
    output: str  # what the command said


def get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as res:
        body: bytes = res.read()
        return body


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("report")
    with LocalBroker(base / "broker") as kafka:
        env = worker_env(
            kafka.bootstrap,
            base / "worker-data",
            app_id="report",
            clock="event",
            idle_timeout_s=3,
            land_security_code=SECURITY_CODE,
            # the feed runs to 2026-12-06: replayed on any day, its times are all accepted
            max_event_lead_s=REPLAY_LEAD_S,
        )
        port = int(env["MOTCUA_WEB_PORT"])
        with running_worker(env, base / "worker.log"):
            feed = [(TOPICS[line.source], None, line.raw) for line in scheduled()]
            asyncio.run(produce(kafka.bootstrap, feed))
            deadline = time.monotonic() + 180
            # settled: every dossier judged as of the feed's end (the partitions gone idle)
            while not settled(port):
                assert time.monotonic() < deadline, f"not settled: {get(port, '/api/units')!r}"
                time.sleep(2)
            downloaded = load_workbook(io.BytesIO(get(port, "/api/export/report.xlsx" + PERIOD)))
        out = base / "report.xlsx"
        done = subprocess.run(
            [CLI, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(out)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        yield Run(env, downloaded, load_workbook(out), done.stdout)


def settled(port: int) -> bool:
    rows: list[dict[str, Any]] = json.loads(get(port, "/api/units"))
    want = expected_unit_stats()
    return len(rows) == len(want) and all(
        {k: r[k] for k in w} == w for r, w in zip(rows, want, strict=True)
    )


def test_the_command_writes_the_expected_unit_stats(run: Run) -> None:
    ws = run.written["Đơn vị"]
    title = str(ws["A1"].value)
    assert "01/01/2026 – 31/12/2026" in title and "06/12/2026 17:59" in title
    rows = sheet_rows(ws)
    want = expected_unit_stats()
    assert len(rows) == len(want)
    header = {c.key: c.header for c in units_table([]).columns}
    for row, expected in zip(rows, want, strict=True):
        for key, value in expected.items():
            assert same(row[header[key]], value), (expected["unit_code"], key)
    assert "wrote" in run.output and "as of 2026-12-06T17:59:00+07:00" in run.output


def test_the_worker_download_and_the_command_agree_cell_for_cell(run: Run) -> None:
    assert run.downloaded.sheetnames == run.written.sheetnames
    for name in run.written.sheetnames:
        a, b = run.downloaded[name], run.written[name]
        assert [c.value for c in a[HEADER_ROW]] == [c.value for c in b[HEADER_ROW]]
        assert list(a.values) == list(b.values), name


def test_the_command_writes_the_expected_responsibility_and_no_audit_finding(run: Run) -> None:
    want = json.loads((SAMPLES / "expected_responsibility.json").read_text(encoding="utf-8"))
    assert want["period"] == "all" and want["as_of"] == "2026-12-06T17:59:00+07:00"
    table = responsibility_table([], {})
    header = {c.header: c.key for c in table.columns}
    got = [{header[h]: v for h, v in row.items()} for row in sheet_rows(run.written["Cán bộ"])]
    got = [{**r, "unit": r["unit_code"]} for r in got]  # the sheet's unit column is its code
    assert [{k: r[k] for k in w} for r, w in zip(got, want["rows"], strict=True)] == want["rows"]
    assert all(r["unit_name"] for r in got)
    # the contract's expected_audit.jsonl is empty for this feed
    assert (SAMPLES / "expected_audit.jsonl").read_text(encoding="utf-8").strip() == ""
    assert sheet_rows(run.written["Kiểm tra hồ sơ"]) == []
