"""`motcua-hub worker`: one stream-processing worker."""

from __future__ import annotations

import asyncio

import click

from hub.cli import main, settings
from hub.settings import Settings


def run_worker(cfg: Settings, loglevel: str = "warning") -> None:
    from faust import Worker

    from hub.stream.app import Hub
    from hub.stream.clock import clock_from_settings
    from hub.topics import create_topics

    # the catalogue and the calendar are read (and a bad line reported) before Kafka is touched
    hub = Hub(cfg, clock=clock_from_settings(cfg))
    asyncio.run(create_topics(cfg))
    (cfg.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    worker = Worker(hub.app, loglevel=loglevel)
    worker.execute_from_commandline()


@main.command()
@click.option("--loglevel", default="warning", show_default=True, help="faust log level")
@click.pass_context
def worker(ctx: click.Context, loglevel: str) -> None:
    """Run one stream-processing worker (run more for more partitions)."""
    run_worker(settings(ctx), loglevel)
