"""CLI commands of the service: ``serve``, ``worker`` and ``inbox``.

``serve`` runs the Flask app under gunicorn (each gunicorn worker builds its
own app and database pool after the fork); ``worker`` processes the inbox
until stopped (SIGTERM/SIGINT finish the current item first; a SIGKILL loses
nothing: the lease runs out and another worker takes the item); ``inbox``
shows what is owed and re-queues parked items.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import click
from rich.console import Console

from .common import (EXIT_PLATFORM, print_rows, config_option, configure_logging, load_or_exit, log_format_option,
                     log_level_option)
from .config import AppConfig

#: ``serve``'s gunicorn settings (benchmarks/ingest.py measures with these too).
#: Two processes use both CPUs of a small VM; with four threads each, 8 requests
#: are in flight. More threads (8 per process) measured slower for our endpoint:
#: more waiting for the GIL and for the inbox's write lock per request.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
KEEPALIVE_SECONDS = 5


def _load(path: Path | None, *, build: bool = True) -> AppConfig:
    return load_or_exit(path, build=build)


# ---------------------------------------------------------------- serve
def _gunicorn_app(config_path: Path | None, options: dict[str, Any]):  # type: ignore[no-untyped-def]
    from gunicorn.app.base import BaseApplication

    class ServiceApplication(BaseApplication):
        """gunicorn with our options and our app factory (no gunicorn config file)."""

        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from .compose import build_app

            return build_app(_load(config_path, build=False))

    return ServiceApplication()


@click.command()
@config_option
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", type=int, default=DEFAULT_WORKERS, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", type=int, default=DEFAULT_THREADS, show_default=True, help="Threads per worker (gthread).")
@log_level_option
@log_format_option
def serve(config_path: Path | None, bind: str, workers: int, threads: int, log_level: str, log_format: str) -> None:
    """Run the webhook service under gunicorn.

    Example: itsm-align serve --config itsm-align.yaml --bind 127.0.0.1:8080"""
    configure_logging(log_level, log_format)  # gunicorn's workers inherit it
    with _multiprocess_metrics():  # before the app creates any metric
        _serve(config_path, bind, workers, threads, log_level)


#: the files prometheus_client's multiprocess mode writes (counter_<pid>.db, gauge_<mode>_<pid>.db...)
_METRICS_FILE = re.compile(r"^(counter|histogram|summary|gauge_[a-z]+)_\d+\.db$")


@contextlib.contextmanager
def _multiprocess_metrics() -> Iterator[str]:
    """Every gunicorn worker counts its own deliveries: prometheus_client's
    multiprocess mode adds them up at ``/metrics`` (see webhooks/metrics.py).
    The directory is yours if ``PROMETHEUS_MULTIPROC_DIR`` is set (emptied of
    the last run's metric files, as prometheus_client asks), else a fresh
    temporary one, removed when ``serve`` stops. Only the process that entered
    cleans up: gunicorn's workers are forked inside and leave through here too."""
    from itsm_align.webhooks.metrics import MULTIPROC_ENV as METRICS_ENV  # picks the value class again below

    master = os.getpid()
    before = os.environ.get(METRICS_ENV)
    directory, made = _metrics_dir(before)
    os.environ[METRICS_ENV] = directory
    _choose_value_class()
    logging.getLogger("itsm_align.webhooks").info("/metrics adds up every worker's counts in %s", directory)
    try:
        yield directory
    finally:
        if os.getpid() == master:
            if made:
                shutil.rmtree(directory, ignore_errors=True)
            if before is None:
                os.environ.pop(METRICS_ENV, None)
            else:
                os.environ[METRICS_ENV] = before
            _choose_value_class()


def _choose_value_class() -> None:
    """prometheus_client picks its value class from the environment when first
    imported; if something imported it already (a plugin?), pick again."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]


def _metrics_dir(given: str | None) -> tuple[str, bool]:
    """(the directory, True when we made it)."""
    if not given:
        return tempfile.mkdtemp(prefix="itsm-align-metrics-"), True
    try:
        Path(given).mkdir(parents=True, exist_ok=True)
        # prometheus_client reads every *.db file there: one that is not its own
        # (a SQLite database?) would break /metrics, and must not be deleted either
        foreign = sorted(f.name for f in Path(given).glob("*.db") if not _METRICS_FILE.match(f.name))
        if foreign:
            raise click.ClickException(
                f"PROMETHEUS_MULTIPROC_DIR={given} holds {', '.join(foreign[:3])}, not a metrics file: "
                "give serve a directory of its own for /metrics, or unset the variable and serve makes one")
        for stale in Path(given).glob("*.db"):  # the last run's metric files
            stale.unlink()
        tempfile.TemporaryFile(dir=given).close()  # writable?
    except OSError as error:
        raise click.ClickException(
            f"PROMETHEUS_MULTIPROC_DIR={given} cannot be used for /metrics ({error.strerror or error}): "
            "point it at a writable directory, or unset it and serve makes a temporary one") from error
    return given, False


def _serve(config_path: Path | None, bind: str, workers: int, threads: int, log_level: str) -> None:
    from itsm_align.webhooks.app import StartupError

    from .compose import build_app

    config = _load(config_path, build=False)
    try:  # fail here, once, with the reason, rather than in every gunicorn worker
        checked = build_app(config, warm=False)  # also creates the tables before workers race to
    except StartupError as error:
        raise click.ClickException(str(error)) from error
    checked.extensions["itsm_align"].inbox.engine.dispose()  # no pooled connection crosses the fork
    _gunicorn_app(config_path, {
        "bind": bind, "workers": workers, "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None, "errorlog": "-", "loglevel": log_level, "keepalive": KEEPALIVE_SECONDS, "timeout": 30,
        # no ~/.gunicorn control socket: several services may run on one host
        "control_socket_disable": True,
    }).run()


# ---------------------------------------------------------------- worker
@click.command()
@config_option
@click.option("--once", is_flag=True,
              help="Process everything due now, then exit (retries waiting out a back-off and project rollup refreshes stay queued).")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Items processed in parallel.")
@log_level_option
@log_format_option
def worker(config_path: Path | None, once: bool, concurrency: int, log_level: str, log_format: str) -> None:
    """Process the inbox: assess items and write the results back.

    Example: itsm-align worker --config itsm-align.yaml --concurrency 4"""
    configure_logging(log_level, log_format)
    from .compose import build_adapters
    from itsm_align.webhooks.storage.history import History
    from itsm_align.webhooks.storage.inbox import Inbox
    from itsm_align.webhooks.storage.engine import create_db_engine, describe
    from itsm_align.webhooks.worker import Worker, default_owner

    config = _load(config_path)
    settings = config.service
    engine = create_db_engine(settings.database_url)
    assessor = config.engine()
    adapters = build_adapters(config, engine)
    if not adapters:
        raise click.ClickException("no platform configured: add a 'jira:' or 'servicenow:' section")
    _refuse_wrong_credentials(adapters)
    inbox = Inbox(engine, coalesce_seconds=settings.coalesce_seconds)
    history = History(engine)
    stop = threading.Event()
    concurrency = max(1, concurrency)
    # each thread claims its share, so one thread never sits on items others could start
    share = settings.model_copy(update={"claim_batch": max(1, settings.claim_batch // concurrency)})
    workers = [Worker(inbox, history, adapters, assessor, settings=share, owner=f"{default_owner()}-{n}")
               for n in range(concurrency)]

    def _stop(*_: object) -> None:
        stop.set()
        for each in workers:
            each.interrupt()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    threads = [threading.Thread(target=w.run, args=(stop,), kwargs={"until_idle": once}, daemon=True)
               for w in workers]
    logging.getLogger("itsm_align.webhooks").info(
        "worker started: %d thread(s), platforms %s, database: %s", concurrency, ", ".join(adapters),
        describe(engine))
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    depth = inbox.depth()
    later = inbox.scheduled(after=inbox.clock() + settings.coalesce_seconds + 0.5)
    click.echo(f"worker stopped: {depth['pending'] - later} pending, {depth['leased']} leased, "
               f"{depth['failed']} failed" + (f" ({later} scheduled for later)" if later else ""),
               err=True)
    if once and depth["failed"]:
        click.echo(f"{depth['failed']} item(s) are parked as failed: `itsm-align inbox --failed` lists them "
                   "with the platform's message", err=True)
        raise SystemExit(EXIT_PLATFORM)


def _refuse_wrong_credentials(adapters: dict[str, Any]) -> None:
    """A worker whose credentials are refused would park every item: it does
    not start (exit 1, with the fix). A platform that cannot be reached now is
    an outage: the worker starts and waits it out."""
    from itsm_align.integration.base import ConfigurationError, PlatformError

    for platform, adapter in adapters.items():
        try:
            adapter.verify_access()
        except ConfigurationError as error:
            raise click.ClickException(f"{platform} refused our credentials, so every item would fail: "
                                       f"{error}. Fix {platform}'s credentials in the config and start "
                                       "the worker again") from error
        except PlatformError as error:
            logging.getLogger("itsm_align.worker").warning(
                "%s cannot be reached now (%s); starting anyway, items wait until it answers", platform,
                error.message)


# ---------------------------------------------------------------- inbox
@click.command()
@config_option
@click.option("--failed", "only_failed", is_flag=True, help="List the parked (failed) items.")
@click.option("--requeue", "requeue_ids", type=int, multiple=True, metavar="ID",
              help="Put a failed item back in the queue (repeatable).")
@click.option("--requeue-all-failed", is_flag=True, help="Put every failed item back in the queue.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows listed at most.")
def inbox(config_path: Path | None, only_failed: bool, requeue_ids: tuple[int, ...], requeue_all_failed: bool,
          limit: int) -> None:
    """Show what the service owes (inbox depth, failed items) and re-queue failed items.

    Example: itsm-align inbox --config itsm-align.yaml --failed"""
    from itsm_align.webhooks.storage.inbox import FAILED, Inbox
    from itsm_align.webhooks.storage.engine import create_db_engine

    config = _load(config_path, build=False)
    box = Inbox(create_db_engine(config.service.database_url))
    console = Console(soft_wrap=True, highlight=False)
    if requeue_ids or requeue_all_failed:
        count = box.requeue(None if requeue_all_failed else list(requeue_ids))
        console.print(f"re-queued {count} item(s)")
        missing = set(requeue_ids) - {row.id for row in box.rows(state="pending")}
        if missing and not requeue_all_failed:
            raise click.ClickException(f"not failed (or unknown): {', '.join(map(str, sorted(missing)))}")
        return
    depth = box.depth()
    console.print("inbox: " + ", ".join(f"{state} {count}" for state, count in depth.items()))
    rows = box.rows(state=FAILED) if only_failed else [r for r in box.rows() if r.state != "done"]
    if not rows:
        return
    columns = ("id", "platform", "item", "event", "state", "attempts", "last error")
    lines = [(str(row.id), row.platform, row.item_key, row.event_type, row.state, str(row.attempts),
              row.last_error or "") for row in rows[-limit:]]
    print_rows(columns, lines, console)
