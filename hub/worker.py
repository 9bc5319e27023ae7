"""`motcua-hub worker`: one stream-processing worker."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import click

from hub.cli import main, settings
from hub.settings import Settings


def run_worker(cfg: Settings, loglevel: str = "warning") -> None:
    from faust import Worker

    from hub import native
    from hub.service import Service
    from hub.stream.clock import clock_from_settings
    from hub.topics import create_topics

    if cfg.native == "required" and not native.STATUS.active:  # MOTCUA_NATIVE set after import
        raise native.NativeUnavailable(f"MOTCUA_NATIVE=required: {native.STATUS.describe()}")
    click.echo(f"motcua-hub worker: {native.STATUS.describe()}", err=True)
    # the catalogue and the calendar are read (and a bad line reported) before Kafka is touched
    service = Service(cfg, clock=clock_from_settings(cfg))
    service.stream.judging.open_store()  # a store in use by another worker stops it here
    asyncio.run(create_topics(cfg))
    (cfg.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    service.app.task(lambda: _dump_tasks_on_sigusr1(service.app))
    worker = Worker(service.app, loglevel=loglevel)
    tune_gc()
    worker.execute_from_commandline()


def tune_gc() -> None:
    """What is loaded by now (modules, catalogue, calendar, the app) lives as long as the
    process: frozen out of the collector's scans. Each message allocates hundreds of short-lived
    objects, nearly all freed by reference counting, so a larger first generation runs the
    cyclic collector less often for no more memory to speak of (bench: ~4 % of the CPU spent
    per message in collections at the defaults; at 20 000 the collections still took 1.7-1.8 s
    of a 17 s replay, with second-generation pauses up to 240 ms; at 100 000, 0.7 s, none of
    the second generation over 2 ms, and the steady rate 8-14 % higher)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD_0, *gc.get_threshold()[1:])


GC_THRESHOLD_0 = 100_000  # allocations between first-generation collections (default 700)


async def _dump_tasks_on_sigusr1(app: Any) -> None:
    """`kill -USR1 <pid>` writes where every asyncio task of the worker is waiting to the log:
    the first thing to look at when a worker stops making progress without an error."""
    import logging
    import signal

    log = logging.getLogger("hub.worker")

    def chain(task: asyncio.Task[object]) -> str:
        # follow the awaits down from the task's coroutine: get_stack() stops at the first
        where: list[str] = []
        obj: Any = task.get_coro()
        while obj is not None:
            frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
            frame = frame or getattr(obj, "gi_frame", None)
            if frame is not None:
                code = frame.f_code
                where.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
            obj = (
                getattr(obj, "cr_await", None)
                or getattr(obj, "ag_await", None)
                or getattr(obj, "gi_yieldfrom", None)
            )
        return " -> ".join(where) or "(done or not started)"

    def dump() -> None:
        # every Kafka client of the worker (intake, judge, ticks, summary reader) runs here
        for task in asyncio.all_tasks(asyncio.get_running_loop()):
            log.warning("task %s: %s", task.get_name(), chain(task))

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


@main.command()
@click.option("--loglevel", default="warning", show_default=True, help="faust log level")
@click.pass_context
def worker(ctx: click.Context, loglevel: str) -> None:
    """Run one stream-processing worker (run more for more partitions)."""
    run_worker(settings(ctx), loglevel)
