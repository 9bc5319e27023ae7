"""`python -m bench`: every benchmark, or those `--only` names (see bench/__init__.py);
`python -m bench state --sizes ...`: a province's state on a worker (bench/state.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import bench
from bench.kafka import make_feed, say
from bench.latency import run_latency
from bench.memory import run_memory_ticks
from bench.report import (
    RESULTS,
    YEAR_MESSAGES,
    git_state,
    median_run,
    print_report,
    run_figures,
    write_results,
)
from bench.throughput import run_scaling, run_throughput
from hub import native
from hub.domain.calendar import TZ
from hub.testing import LocalBroker


def main() -> None:
    if sys.argv[1:2] == ["state"]:  # a sub-command of its own: its own brokers and workers
        from bench.state import main as state

        state(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=(bench.__doc__ or "").split("\n\n")[0]
    )
    ap.add_argument("--scale", type=float, default=0.01, help="share of a province-year")
    ap.add_argument("--latency-seconds", type=float, default=45.0)
    ap.add_argument("--rates", default="1000,300", help="latency feeds, messages/s")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="open dossiers, memory/tick")
    ap.add_argument("--only", default="throughput,scaling,latency,memory")
    ap.add_argument("--profile", action="store_true", help="py-spy the hub worker (throughput)")
    ap.add_argument(
        "--runs", type=int, default=1, help="throughput runs, each on a fresh broker; the median"
    )
    args = ap.parse_args()
    only = set(args.only.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": datetime.now(TZ).isoformat(),
        "args": vars(args),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    results["git"] = git_state()
    # the workers are started with this environment: compiled hot modules if current, unless
    # MOTCUA_NATIVE says otherwise (hub/native.py)
    results["native"] = native.STATUS.describe()
    say(f"hub code: {results['native']}")
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    kafka = LocalBroker(work / "broker", broker_heap="1g")
    cfg = kafka.settings
    started = time.perf_counter()
    try:
        if only & {"throughput", "latency"}:
            say(f"starting a broker at {cfg.kafka_bootstrap} (data in {work})")
            kafka.start()
        if "throughput" in only:
            sample = make_feed(300, 365, date(2025, 11, 3), seed=7)
            per_dossier = len(sample.records) / 300
            dossiers = int(YEAR_MESSAGES * args.scale / per_dossier)
            say(
                f"generating a province-year at scale {args.scale:g} of its messages: {dossiers} "
                f"dossiers (the simulator sends {per_dossier:.1f} messages per dossier)"
            )
            feed = make_feed(dossiers, 365, date(2025, 11, 3), seed=7)
            results["feed_generation_msg_s"] = len(feed.records) / feed.seconds
            runs = [run_throughput(cfg, feed, work, args.profile)]
            for i in range(1, args.runs):
                say(f"throughput run {i + 1} of {args.runs}, on a fresh broker")
                kafka.stop()
                kafka = LocalBroker(work / f"broker-{i}", broker_heap="1g")
                kafka.start()
                cfg = kafka.settings
                (work / f"run-{i}").mkdir()
                runs.append(run_throughput(cfg, feed, work / f"run-{i}", args.profile))
            results["throughput"] = median_run(runs)
            results["throughput_runs"] = [run_figures(r) for r in runs]
            if "scaling" in only:
                say("two workers, on a fresh broker")
                kafka.stop()
                kafka = LocalBroker(work / "broker-scaling", broker_heap="1g")
                kafka.start()
                cfg = kafka.settings
                results["scaling"] = run_scaling(cfg, feed, work / "scaling")
            del feed
        if "latency" in only:
            results["latency"] = [
                run_latency(cfg, work, args.latency_seconds, float(rate))
                for rate in args.rates.split(",")
            ]
        if "memory" in only:
            results["memory"] = run_memory_ticks([int(s) for s in args.sizes.split(",")])
    finally:
        with contextlib.suppress(Exception):
            kafka.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    print_report(results, write_results(results))


if __name__ == "__main__":
    main()
