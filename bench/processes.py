"""The processes the bench runs (workers, pass-throughs, py-spy around them) and what it reads
of them: resident memory, CPU time, the Prometheus page, a py-spy profile."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub import native, testing
from hub.settings import Settings
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.testing import Process


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(
    cmd: list[str] | tuple[str, ...],
    env: dict[str, str],
    log: Path,
    profile: Path | None = None,
) -> Process:
    """Run `cmd`, under py-spy (writing `profile`) if given."""
    cmd_in = cmd
    if profile is not None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        # compiled hot modules (hub/native.py) have no Python frames: py-spy sees them only
        # in the native stack, as their C functions (CPyDef_<module>___<function>)
        native_stack = ["--native"] if native.STATUS.active else []
        cmd = [spy, "record", "-r", "100", *native_stack, "-f", "raw", "-o", str(profile)]
        cmd += ["--", *cmd_in]
    proc = testing.start_process(cmd, env, log)
    if profile is not None:  # the python child of py-spy
        for _ in range(100):
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            with contextlib.suppress(OSError):
                found = kids.read_text().split()
                if found:
                    proc.pid = int(found[0])
                    break
            time.sleep(0.1)
    return proc


def stop(proc: Process) -> None:
    # py-spy writes its profile on SIGINT; the Python process itself stops on SIGTERM
    proc.stop(signal.SIGINT if proc.pid != proc.popen.pid else signal.SIGTERM, timeout=40)


def worker_env(cfg: Settings, work: Path, app_id: str, web: int, **extra: str) -> dict[str, str]:
    """A bench worker: its own app id and data dir under `work`, web page on port `web`."""
    return testing.worker_env(
        cfg.kafka_bootstrap,
        work / app_id,
        app_id=app_id,
        web_port=web,
        land_security_code=DEFAULT_SECURITY_CODE,
        clock_speed=1,
        **extra,
    )


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def histogram_quantiles(text: str, name: str, qs: Iterable[float]) -> dict[float, float | None]:
    """Quantiles of a Prometheus histogram (upper bucket bound reached: an upper estimate)."""
    buckets = []
    for m in re.finditer(rf'^{name}_bucket\{{le="([^"]+)"\}} ([0-9.e+]+)$', text, re.M):
        buckets.append((float(m.group(1)), float(m.group(2))))
    buckets.sort()
    out: dict[float, float | None] = {}
    total = buckets[-1][1] if buckets else 0
    for q in qs:
        out[q] = next((le for le, n in buckets if total and n >= q * total), None)
    return out


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        return {"error": f"no profile at {path}"}
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [re.sub(r"\s*\(.*?([^/]+\.py):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_t[frames[-1]] += count
        for f in set(frames):
            incl[f] += count

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {
        "samples": total,
        "self_top": [(f, share(c)) for f, c in self_t.most_common(top)],
        "inclusive_top": [(f, share(c)) for f, c in incl.most_common(top * 3)],
    }
