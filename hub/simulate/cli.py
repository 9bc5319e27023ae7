"""`motcua-hub simulate`: a realistic synthetic feed from the four agency systems.

Register with `main.add_command(simulate)` (`from hub.simulate.cli import simulate`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import click

from hub.domain.calendar import WorkingCalendar
from hub.errors import HubError
from hub.settings import load_settings, secret
from hub.simulate.province import SimConfig, Simulation, load_catalogue
from hub.simulate.publish import publish, write_files

DEFAULT_SECURITY_CODE = "QNAM-VBDLIS-7f3a9c"


def parse_speed(value: str) -> float | None:
    """`realtime` -> 1.0, `max` -> None (as fast as possible), a number -> that factor."""
    text = value.strip().lower()
    if text in ("max", "fast", "asap"):
        return None
    if text in ("realtime", "real", "1"):
        return 1.0
    try:
        factor = float(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use realtime, max or a number > 0") from exc
    if not factor > 0 or factor == float("inf"):
        raise click.BadParameter(f"{value!r}: the factor must be a finite number > 0")
    return factor


@click.command("simulate", context_settings={"show_default": True})
@click.option("--seed", type=int, default=1, help="Same seed, same options: the same bytes.")
@click.option("--dossiers", type=click.IntRange(min=0), default=1000, help="Dossiers received.")
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-11-02",
    help="First day of the feed (local date).",
)
@click.option("--days", type=click.IntRange(min=1), default=30, help="Span of the feed in days.")
@click.option(
    "--speed",
    default="max",
    help="realtime | a factor (3600 = one simulated hour per second) | max.",
)
@click.option("--late-share", type=click.FloatRange(0, 1), default=0.15,
              help="Share of dossiers with a due date that finish late.")  # fmt: skip
@click.option("--unreported-share", type=click.FloatRange(0, 1), default=0.05,
              help="Share of sector-closed dossiers the one-stop never closes.")  # fmt: skip
@click.option("--bypass-share", type=click.FloatRange(0, 1), default=0.03,
              help="Share of land/civil dossiers that never pass the one-stop desk.")  # fmt: skip
@click.option("--step-overdue-share", type=click.FloatRange(0, 1), default=0.10,
              help="Share of dossiers with one hand-over past its step deadline.")  # fmt: skip
@click.option("--malformed-share", type=click.FloatRange(0, 1), default=0.005,
              help="Per valid message: chance of an extra malformed copy.")  # fmt: skip
@click.option("--duplicate-share", type=click.FloatRange(0, 1), default=0.02,
              help="Per valid message: chance of a redelivery.")  # fmt: skip
@click.option("--out-of-order-share", type=click.FloatRange(0, 1), default=0.03,
              help="Per valid message: chance of being sent late (minutes, or a day).")  # fmt: skip
@click.option(
    "--to-files",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write onestop.jsonl, land.jsonl, tax.jsonl, civil.xmll, schedule.jsonl, "
    "dossiers.jsonl there instead of producing to Kafka.",
)
def simulate(
    seed: int,
    dossiers: int,
    start: datetime,
    days: int,
    speed: str,
    late_share: float,
    unreported_share: float,
    bypass_share: float,
    step_overdue_share: float,
    malformed_share: float,
    duplicate_share: float,
    out_of_order_share: float,
    to_files: Path | None,
) -> None:
    """Generate a seeded synthetic feed of the four agency systems, in their exact formats."""
    factor = parse_speed(speed)
    try:
        settings = load_settings()
        calendar = WorkingCalendar.from_file(settings.calendar_file)
        catalogue = load_catalogue(settings.catalog_file)
    except (HubError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    config = SimConfig(
        seed=seed,
        dossiers=dossiers,
        start=start.date(),
        days=days,
        late_share=late_share,
        unreported_share=unreported_share,
        bypass_share=bypass_share,
        step_overdue_share=step_overdue_share,
        malformed_share=malformed_share,
        duplicate_share=duplicate_share,
        out_of_order_share=out_of_order_share,
        security_code=secret(settings.land_security_code) or DEFAULT_SECURITY_CODE,
        max_message_bytes=settings.max_message_bytes,
    )
    sim = Simulation(config, catalogue, calendar)
    if to_files is not None:
        stats = write_files(sim, to_files)
    else:
        try:
            stats = asyncio.run(publish(sim, settings, factor))
        except Exception as exc:  # the broker is unreachable, a topic is missing, ...
            raise click.ClickException(f"publishing to {settings.kafka_bootstrap}: {exc}") from exc
    click.echo(json.dumps(stats.as_dict(), ensure_ascii=False))
