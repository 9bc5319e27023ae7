"""The `motcua-hub` command.

`main` is a click group; other modules add their commands to it, e.g. in hub/worker.py::

    from hub.cli import main

    @main.command()
    def worker() -> None: ...

and list their module in COMMAND_MODULES below so it is imported before click runs.
Commands raise StopError subclasses for an operator to read; `main` prints them and exits 2.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from hub.errors import StopError
from hub.settings import Settings, load_settings

# Modules that register commands on `main` (worker, simulate, alerts tail, demo, ...).
# A module that does not exist (yet) is skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "hub.worker",
    "hub.simulate.command",
    "hub.alerts_cli",
    "hub.demo",
)


class HubGroup(click.Group):
    """Turns a StopError into `motcua-hub: error: <message>` on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StopError as exc:
            click.echo(f"motcua-hub: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=HubGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """motcua-hub: the administrative-procedure dossier integration hub."""
    ctx.obj = None  # settings are loaded lazily, by settings(ctx)


def settings(ctx: click.Context) -> Settings:
    """The validated settings, loaded once per invocation."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    loaded: Settings = root.obj
    return loaded


@main.group()
def broker() -> None:
    """The local single-node Kafka broker for development, demos and tests."""


@broker.command("start")
@click.pass_context
def broker_start(ctx: click.Context) -> None:
    """Start the broker (if not running) and print its bootstrap address."""
    from hub import broker as local

    address = local.start(settings(ctx), say=lambda line: click.echo(line, err=True))
    click.echo(address)


@broker.command("stop")
@click.pass_context
def broker_stop(ctx: click.Context) -> None:
    """Stop the broker."""
    from hub import broker as local

    click.echo("broker stopped" if local.stop(settings(ctx)) else "broker was not running")


@broker.command("status")
@click.pass_context
def broker_status(ctx: click.Context) -> None:
    """Say whether the broker runs; exit status 1 when it does not."""
    from hub import broker as local

    state = local.status(settings(ctx))
    if state.running:
        click.echo(f"running (pid {state.pid}) at {state.bootstrap}")
    else:
        click.echo(f"stopped (would listen at {state.bootstrap})")
        ctx.exit(1)


@broker.command("fetch")
@click.pass_context
def broker_fetch(ctx: click.Context) -> None:
    """Download the broker's jars with Maven (once; later starts need no network)."""
    from hub import broker as local

    click.echo(local.fetch(settings(ctx)))


@main.group()
def topics() -> None:
    """The hub's topics."""


@topics.command("create")
@click.option("--bootstrap", help="Kafka bootstrap servers (default: MOTCUA_KAFKA_BOOTSTRAP)")
@click.pass_context
def topics_create(ctx: click.Context, bootstrap: str | None) -> None:
    """Create the hub's topics that do not exist yet (idempotent)."""
    from hub.topics import create_topics, topic_partitions

    conf = settings(ctx)
    created = asyncio.run(create_topics(conf, bootstrap))
    for name in created:
        click.echo(f"created {name}")
    click.echo(f"{len(created)} created, {len(topic_partitions(conf)) - len(created)} existed")


@main.command()
@click.option("--from", "first", metavar="YYYY-MM-DD", help="the period's first day (default: all)")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="the period's last day, included")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="the .xlsx to write")
@click.option("--timeout", default=30.0, show_default=True, help="seconds to wait for the broker")
@click.pass_context
def report(
    ctx: click.Context, first: str | None, last: str | None, out: str, timeout: float
) -> None:
    """Write the report workbook (every table of the web face, one sheet each) for a period, from
    the summary topic: no worker needs to run."""
    from hub.domain.calendar import WorkingCalendar
    from hub.reports.tables import Period
    from hub.reports.xlsx import to_xlsx
    from hub.stream.clock import clock_from_settings
    from hub.stream.snapshot import read_summaries
    from hub.web import BadRequest, period_bounds
    from hub.web.exports import build_tables_streamed
    from hub.web.trace import iso

    conf = settings(ctx)
    calendar = WorkingCalendar.from_file(conf.calendar_file)  # a bad file stops here, first
    # aiokafka logs each failed connection; the one line that matters is the error below
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    clock = clock_from_settings(conf)
    dates = {k: v for k, v in (("from", first), ("to", last)) if v}
    try:
        start, end = period_bounds(dates, clock())  # as the web face reads ?from=&to=
    except BadRequest as exc:
        raise click.UsageError(str(exc)) from exc
    store = asyncio.run(read_summaries(conf, clock, timeout))
    now = store.as_of()
    if now is None:
        click.echo(
            "no judge clock on the summary topic yet: judged as of the period's end", err=True
        )
    period = Period(start, end, now)
    # one read of the store, never all held (as the web face's downloads)
    tables = asyncio.run(build_tables_streamed(store.summaries.values(), period, calendar))
    target = Path(out)
    partial = target.with_name(target.name + ".part")  # no half-written report under its name
    partial.write_bytes(to_xlsx(tables.values(), period))
    partial.replace(target)
    click.echo(
        f"wrote {target}: {len(store.summaries)} dossiers, {len(tables['units'].rows)} units, "
        f"period {period.label()}, as of {iso(now) or '-'}"
    )


@main.command("compile")
@click.option("--force", is_flag=True, help="compile even if the build is current")
def compile_native(force: bool) -> None:
    """Compile the hot modules with mypyc into hub/_native (used while they match the sources;
    MOTCUA_NATIVE chooses). Needs a C compiler, mypy and setuptools (the `native` extra)."""
    from hub import native

    try:
        built = native.compile_modules(force=force)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    done = "compiled" if built else "already compiled from the current sources:"
    click.echo(f"{done} {len(native.MODULES)} modules in {native.NATIVE_DIR}")


def _register_commands() -> None:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but something it imports is missing
                raise


_register_commands()
