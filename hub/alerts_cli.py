"""`motcua-hub alerts tail`: follow the alert stream, decoded, one readable line per transition.

Reads `hub.alerts` with a plain aiokafka consumer (no consumer group, nothing committed): by
default from the end of every partition, or from the beginning with --from-beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import click
from aiokafka import AIOKafkaConsumer

from hub.cli import main, settings
from hub.codec import CodecError, decode_alert
from hub.domain.alerts import Alert, AlertState, AlertType
from hub.domain.calendar import TZ
from hub.errors import BrokerError
from hub.kafka_client import connection_problem, stop_consumer
from hub.settings import Settings
from hub.stream.summaries import consumer_options
from hub.topics import ALERTS

COLOURS: dict[AlertType, str] = {
    AlertType.DUE_SOON: "yellow",
    AlertType.PROCESSING_LATE: "red",
    AlertType.APOLOGY_MISSING: "magenta",
    AlertType.UNREPORTED_COMPLETION: "cyan",
    AlertType.NOT_RECEIVED_VIA_ONESTOP: "blue",
    AlertType.STEP_OVERDUE: "bright_red",
}
STATE_LABEL = {AlertState.RAISED: "PHÁT SINH", AlertState.RESOLVED: "HẾT"}


def alert_json(alert: Alert) -> dict[str, Any]:
    return alert.model_dump(mode="json")


def render(alert: Alert, colour: bool = True) -> str:
    """One line: condition time, state, type, unit, the Vietnamese message."""
    when = alert.condition_at.astimezone(TZ).strftime("%d/%m/%Y %H:%M")
    state = STATE_LABEL[alert.state]
    kind = f"{alert.type.value:<24}"
    unit = alert.unit_code or "-"
    if colour:
        kind = click.style(kind, fg=COLOURS[alert.type], bold=alert.state is AlertState.RAISED)
        state = click.style(f"{state:<9}", dim=alert.state is AlertState.RESOLVED)
    else:
        state = f"{state:<9}"
    return f"{when}  {state} {kind} {unit:<16} {alert.message}"


def make_filter(
    units: tuple[str, ...], types: tuple[str, ...], states: tuple[str, ...]
) -> Callable[[Alert], bool]:
    def keep(alert: Alert) -> bool:
        if units and (alert.unit_code or "") not in units:
            return False
        if types and alert.type.value not in types:
            return False
        return not (states and alert.state.value not in states)

    return keep


async def tail(
    conf: Settings,
    keep: Callable[[Alert], bool],
    emit: Callable[[Alert], None],
    *,
    from_beginning: bool,
    exit_when_idle: float | None = None,
    on_bad: Callable[[str], None] | None = None,
) -> int:
    """Follow hub.alerts; returns the number of alerts emitted (when it stops on idleness)."""
    options = consumer_options(conf)
    options["client_id"] = f"{conf.app_id}-alerts-tail"
    options["auto_offset_reset"] = "earliest" if from_beginning else "latest"
    consumer = AIOKafkaConsumer(**options)  # no group: every partition, nothing committed
    try:
        await consumer.start()
    except Exception as exc:
        problem = await connection_problem(conf)
        raise BrokerError(
            problem or f"Kafka at {conf.kafka_bootstrap} does not answer: {exc!r}"
        ) from exc
    emitted = 0
    try:
        consumer.subscribe([ALERTS])
        idle_since = asyncio.get_running_loop().time()
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            now = asyncio.get_running_loop().time()
            if not batches:
                if exit_when_idle is not None and now - idle_since >= exit_when_idle:
                    return emitted
                continue
            idle_since = now
            records = sorted(
                (m for msgs in batches.values() for m in msgs),
                key=lambda m: (m.timestamp, m.partition, m.offset),
            )
            for m in records:
                try:
                    alert = decode_alert(m.value)
                except (CodecError, ValueError) as exc:
                    if on_bad:
                        on_bad(f"{m.topic}[{m.partition}]@{m.offset}: {exc}")
                    continue
                if keep(alert):
                    emit(alert)
                    emitted += 1
    finally:
        await stop_consumer(consumer)


@main.group()
def alerts() -> None:
    """The alert stream (hub.alerts)."""


@alerts.command("tail")
@click.option("--unit", "units", multiple=True, help="only this receiving unit (repeatable)")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in AlertType]),
    help="only this alert type (repeatable)",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in AlertState]),
    help="only RAISED or RESOLVED",
)
@click.option("--from-beginning", is_flag=True, help="start from the oldest alert kept")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option(
    "--exit-when-idle",
    type=float,
    default=None,
    metavar="SECONDS",
    help="stop when no alert came for this long (for scripts)",
)
@click.pass_context
def alerts_tail(
    ctx: click.Context,
    units: tuple[str, ...],
    types: tuple[str, ...],
    states: tuple[str, ...],
    from_beginning: bool,
    as_json: bool,
    exit_when_idle: float | None,
) -> None:
    """Follow the alert transitions, one line each (Vietnamese message, coloured by type)."""
    conf = settings(ctx)

    def emit(alert: Alert) -> None:
        if as_json:
            click.echo(json.dumps(alert_json(alert), ensure_ascii=False))
        else:
            click.echo(render(alert))

    def bad(text: str) -> None:
        click.echo(f"motcua-hub: skipped an undecodable record {text}", err=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail(
                conf,
                make_filter(units, types, states),
                emit,
                from_beginning=from_beginning,
                exit_when_idle=exit_when_idle,
                on_bad=bad,
            )
        )
