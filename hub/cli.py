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
import sys
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


def _register_commands() -> None:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but something it imports is missing
                raise


_register_commands()
