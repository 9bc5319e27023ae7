"""The bench's report: a table of the figures against the targets, and the JSON of the whole
run (bench/results/bench-<time>.json) with the git commit it measured."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
YEAR_DOSSIERS = 3_000_000
YEAR_MESSAGES = 25_000_000


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def fmt(x: Any, spec: str = ",.0f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return format(x, spec)


def run_figures(tp: dict[str, Any]) -> dict[str, float]:
    """One throughput run in three figures: the hub's rate, the pass-through's, their ratio."""
    hub, bare = tp["hub"]["msg_s"], tp["aiokafka"]["msg_s"]
    return {
        "hub_msg_s": hub,
        "hub_steady_msg_s": tp["hub"].get("steady_msg_s") or float("nan"),
        "aiokafka_msg_s": bare,
        "ratio": hub / bare if bare else 0.0,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose hub rate is the median (the lower middle one of an even count)."""
    ranked = sorted(runs, key=lambda r: r["hub"]["msg_s"])
    return ranked[(len(ranked) - 1) // 2]


def _skeleton_rows(tp: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The hub's record flow without its code (bench/skeleton.py), and what that leaves the
    hub's own code of 7 000 msg/s (143 µs a message) in one process."""
    sk = tp.get("skeleton")
    if not sk:
        return []
    cpu = sk["cpu_us_per_msg"]
    return [
        (
            "throughput: the hub's record flow, no processing",
            fmt(sk["msg_s"]) + " msg/s",
            f"cpu {cpu:,.0f} µs a message (bench/skeleton.py)",
            "",
        ),
        (
            "  left for the hub's own code at 7 000 msg/s",
            f"{1e6 / 7000 - cpu:,.0f} µs a message",
            "143 µs less the record flow's cpu",
            "",
        ),
    ]


def _throughput_rows(tp: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    a, f, h = tp["aiokafka"]["msg_s"], tp["faust"]["msg_s"], tp["hub"]["msg_s"]
    steady = tp["hub"].get("steady_msg_s") or float("nan")
    rows = [
        ("throughput: bare aiokafka pass-through", fmt(a) + " msg/s", "", ""),
        *_skeleton_rows(tp),
        (
            "throughput: bare faust agent pass-through",
            fmt(f) + " msg/s",
            f"{f / a:.2f} x aiokafka",
            "",
        ),
        (
            "throughput: bare faust pass-through, batches of 500",
            fmt(tp["faust_batched"]["msg_s"]) + " msg/s",
            f"{tp['faust_batched']['msg_s'] / a:.2f} x aiokafka",
            "",
        ),
        (
            "throughput: hub worker (ingest+judge, event clock)",
            fmt(h) + " msg/s",
            f"{h / a:.2f} x aiokafka, {h / f:.2f} x faust",
            _verdict(h),
        ),
        (
            "  steady, 10 -> 90 % of the events judged",
            fmt(steady) + " msg/s",
            "without the start and the end (the figure above has both)",
            _verdict(steady),
        ),
        ("  of which ingest stage alone", fmt(tp["hub"]["ingest_msg_s"]) + " msg/s", "", ""),
    ]
    secs = tp["hub"]["seconds"]
    by_msgs = YEAR_MESSAGES / tp["messages"]
    by_dossiers = YEAR_DOSSIERS / tp["dossiers"]
    amp = tp["hub"]["records_out_per_message"]
    rows += [
        ("  records written per inbound message",
         f"{sum(amp.values()):.2f}",
         ", ".join(f"{k} {v:.2f}" for k, v in amp.items()), ""),
        (f"replay: {tp['dossiers']:,} dossiers / {tp['messages']:,} msgs "
         f"(1/{by_msgs:.0f} of 25 M msgs)", f"{secs:,.0f} s",
         f"worker cpu {tp['hub']['cpu_s']:,.0f} s "
         f"({tp['hub']['cpu_s'] / tp['messages'] * 1e6:,.0f} µs a message)", ""),
        ("replay: province-year, 25 M msgs, EXTRAPOLATED",
         f"{secs * by_msgs / 3600:,.1f} h", f"x{by_msgs:.0f}, one worker, linear", ""),
        ("replay: province-year, 25 M msgs, at the steady rate",
         f"{(YEAR_MESSAGES / steady + max(0.0, secs - tp['messages'] / steady)) / 3600:,.1f} h",
         "the steady rate, plus this run's start and end as they were", ""),
        ("replay: province-year, 3 M dossiers, EXTRAPOLATED",
         f"{secs * by_dossiers / 3600:,.1f} h",
         f"x{by_dossiers:.0f} ({tp['messages'] * by_dossiers / 1e6:.0f} M msgs at the "
         "simulator's ratio)", ""),
        ("worker RSS after replay", f"{tp['hub']['rss_mb_end']:,.0f} MB",
         f"peak {tp['hub']['rss_mb_peak']:,.0f} MB", ""),
    ]  # fmt: skip
    return rows


LATENCY_TARGET_MS = 250  # p99 at 1 000 msg/s (issue 11)
MEMORY_TARGET_BYTES = 1600  # per open dossier (issue 11: 1.6 KB)


def _latency_verdict(lat: dict[str, Any]) -> str:
    """The target is set at 1 000 msg/s; a feed at another rate is shown without a verdict."""
    if abs(lat.get("rate", lat["rate_achieved"]) - 1000) > 50:
        return ""
    met = lat["p99_ms"] < LATENCY_TARGET_MS
    return "PASS" if met else f"MISS (< {LATENCY_TARGET_MS} ms at 1 000 msg/s)"


def _latency_rows(lat: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    r = f"{lat['rate_achieved']:,.0f} msg/s"
    return [
        (f"latency produced->alert at {r}: p50", fmt(lat["p50_ms"], ",.1f") + " ms",
         f"{lat['measured']:,} of {lat['alerts']:,} alerts measured", ""),
        (f"latency produced->alert at {r}: p99", fmt(lat["p99_ms"], ",.1f") + " ms",
         f"max {fmt(lat['max_ms'], ',.0f')} ms; drained {fmt(lat['drain_s_after_feed'], '.0f')}"
         " s after the feed",
         _latency_verdict(lat)),
        ("  hub histogram (ingest->alert sent) p50 / p99",
         f"<= {lat['hub_histogram_p50_le_s']} s / <= {lat['hub_histogram_p99_le_s']} s",
         f"worker cpu {100 * lat['worker_cpu_share']:.0f}% while fed", ""),
        ("  of which intake (sent->event written) p50 / p99",
         f"{fmt(lat['intake_p50_ms'], ',.0f')} / {fmt(lat['intake_p99_ms'], ',.0f')} ms",
         "", ""),
        ("  of which judge (event written->alert) p50 / p99",
         f"{fmt(lat['judge_p50_ms'], ',.0f')} / {fmt(lat['judge_p99_ms'], ',.0f')} ms",
         "", ""),
    ]  # fmt: skip


def _memory_rows(mem: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    ticks = []
    for n, m in mem["by_n"].items():
        rows.append(
            (
                f"memory per open dossier, N={int(n):,}",
                f"{m['bytes_per_dossier_table_heap']:,.0f} B",
                f"value {mem['value_bytes_mean']:,.0f} B mean",
                "PASS"
                if m["bytes_per_dossier_table_heap"] <= MEMORY_TARGET_BYTES
                else f"MISS (<= {MEMORY_TARGET_BYTES:,} B)",
            )
        )
    for n, m in mem["by_n"].items():
        ticks.append(m["tick_10_due_ms_median"])
        rows.append(
            (
                f"tick waking 10 due, N={int(n):,} (empty tick)",
                f"{m['tick_10_due_ms_median']:,.2f} ms",
                f"({m['tick_empty_us_median']:,.1f} us); rebuild {m['heap_rebuild_s']:.1f} s",
                "",
            )
        )
    if ticks:
        flat = max(ticks) / min(ticks) < 2.0
        rows.append(
            (
                "tick cost flat as N grows",
                f"x{max(ticks) / min(ticks):.2f}",
                "max/min over N",
                "PASS" if flat else "MISS",
            )
        )
    return rows


def report(res: dict[str, Any]) -> str:
    """The table: measure, figure, comparison, target met or missed."""
    rows: list[tuple[str, str, str, str]] = []
    if res.get("throughput"):
        rows += _throughput_rows(res["throughput"])
    if res.get("scaling") and res.get("throughput"):
        two, one = res["scaling"], res["throughput"]["hub"]
        rows.append(
            (
                f"throughput: hub, {two['workers']} workers on this machine",
                fmt(two["msg_s"]) + " msg/s",
                f"{two['msg_s'] / one['msg_s']:.2f} x one worker; RSS each "
                + ", ".join(f"{r:,.0f}" for r in two["rss_mb_each"])
                + f" MB; cpu {two['cpu_s']:,.0f} s",
                "",
            )
        )
    if len(res.get("throughput_runs", [])) > 1:
        each = res["throughput_runs"]
        rows.append(
            (
                f"throughput: {len(each)} runs (the median run above)",
                ", ".join(fmt(r["hub_msg_s"]) for r in each) + " msg/s",
                "aiokafka "
                + ", ".join(fmt(r["aiokafka_msg_s"]) for r in each)
                + "; ratio "
                + ", ".join(f"{r['ratio']:.2f}" for r in each),
                "",
            )
        )
        steady = [r.get("hub_steady_msg_s", float("nan")) for r in each]
        rows.append(
            (
                "  steady, the same runs",
                ", ".join(fmt(x) for x in steady) + " msg/s",
                f"median {fmt(pct([x for x in steady if x == x], 0.5))} msg/s",
                "",
            )
        )
    for lat in res.get("latency") or []:
        rows += _latency_rows(lat)
    if res.get("memory"):
        rows += _memory_rows(res["memory"])
    width = [max(len(r[i]) for r in rows) for i in range(4)] if rows else [0] * 4
    lines = ["  ".join(c.ljust(width[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)


def _verdict(rate: float) -> str:
    """Issue 11's target for one worker. The ratio to the pass-through is shown beside it: issue
    6 aimed at 0.5 x, beyond what the hub's record flow alone leaves (bench/skeleton.py)."""
    return "PASS (>= 7000)" if rate >= 7000 else "MISS (>= 7000)"


def git_state() -> str:
    """The commit the workers run, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head or "unknown"


def write_results(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def print_report(results: dict[str, Any], path: Path) -> None:
    print(report(results))
    prof = results.get("throughput", {}).get("hub", {}).get("profile")
    if prof and "self_top" in prof:
        print(f"\nhub worker profile ({prof['samples']} samples), self time:")
        for name, share in prof["self_top"][:15]:
            print(f"  {share:5.1f}%  {name}")
    print(f"\nhub code: {results.get('native', '?')}")
    print(f"{results['seconds']:.0f} s in all at {results['git']}; results in {path}")
