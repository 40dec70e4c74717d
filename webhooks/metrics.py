"""Ingest counters (accepted, duplicate, ignored, rejected by reason) and the
inbox depth, as Prometheus text at ``/metrics`` (prometheus_client).

Under ``itsm-align serve`` every gunicorn worker process counts its own
share. ``serve`` therefore runs prometheus_client in multiprocess mode: it
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker
starts, each process writes its counts to its own memory-mapped file there,
and whichever process answers ``/metrics`` adds them all up. So every scrape
shows the service's totals, not one process's (which would jump between
scrapes and look like counter resets). Without that variable (tests, one
process) the counts come from this process's registry.

The inbox depth is read from the database at scrape time.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from typing import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from prometheus_client import generate_latest
from prometheus_client.utils import floatToGoString
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from itsm_align.integration.ratelimit import PlatformGate

log = logging.getLogger("itsm_align.webhooks")

#: Set by ``itsm-align serve`` (or by you) for multiprocess mode; see module docstring.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def _new_metric(registry: CollectorRegistry | None) -> PromCounter:
    return PromCounter("itsm_align_webhooks", "Webhook deliveries by platform and outcome.",
                       ("platform", "outcome", "reason"), registry=registry)


_PROCESS_METRIC: PromCounter | None = None
_PROCESS_METRIC_LOCK = threading.Lock()


def _process_metric() -> PromCounter:
    global _PROCESS_METRIC
    with _PROCESS_METRIC_LOCK:
        if _PROCESS_METRIC is None:
            _PROCESS_METRIC = _new_metric(None)  # exposed through MultiProcessCollector, not a registry
        return _PROCESS_METRIC


class Counters:
    """Thread-safe ``(platform, outcome, reason) -> count`` for this process
    (``get`` / ``snapshot``), also counted in ``itsm_align_webhooks_total``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self.registry = CollectorRegistry()
        # multiprocess mode: one metric per process, however many apps it builds (each
        # metric object would write its own running total over the same file entry)
        self._metric = _process_metric() if multiprocess_dir() else _new_metric(self.registry)
        self._children: dict[tuple[str, str, str], object] = {}
        self._warned = False

    def inc(self, platform: str, outcome: str, reason: str = "") -> None:
        """Count one delivery. Never raises: it runs after the event is
        committed, and a metrics file that cannot be written (directory gone,
        disk full) must not turn a stored delivery into a 500."""
        key = (platform, outcome, reason)
        with self._lock:
            self._counts[key] += 1
        try:
            child = self._children.get(key)
            if child is None:
                child = self._children.setdefault(key, self._metric.labels(*key))
            child.inc()  # type: ignore[attr-defined]
        except Exception as error:  # noqa: BLE001 - see docstring
            if not self._warned:
                self._warned = True
                log.warning("cannot update /metrics counters (%s); set %s to a writable directory",
                            error, MULTIPROC_ENV)

    def get(self, platform: str, outcome: str, reason: str | None = None) -> int:
        """This process's count (all reasons when ``reason`` is None)."""
        with self._lock:
            return sum(count for (p, o, r), count in self._counts.items()
                       if p == platform and o == outcome and (reason is None or r == reason))

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)

    def render(self, inbox_depth: Callable[[], dict[str, int]] | None = None,
               extra: Callable[[], Iterable[Metric]] | None = None) -> bytes:
        """Prometheus text: every process's counts in multiprocess mode, else
        this process's; plus ``itsm_align_inbox_items`` by state."""
        directory = multiprocess_dir()
        if directory:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
        else:
            registry = self.registry
        if inbox_depth is not None:
            registry = _WithInbox(registry, inbox_depth, extra)  # type: ignore[assignment]
        return generate_latest(registry)


class _WithInbox:
    """A registry's metrics plus the inbox depth gauge, read at scrape time."""

    def __init__(self, registry: CollectorRegistry, depth: Callable[[], dict[str, int]],
                 extra: Callable[[], Iterable[Metric]] | None = None) -> None:
        self._registry = registry
        self._depth = depth
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
        gauge = GaugeMetricFamily("itsm_align_inbox_items", "Inbox rows by state.", labels=("state",))
        for state, count in self._depth().items():
            gauge.add_metric((state,), count)
        yield gauge
        if self._extra is not None:
            yield from self._extra()


def platform_gauges(platforms: Iterable[str], oldest_owed: Callable[[], dict[str, float]],
                    shared_state: Callable[[str, str], str | None], now: Callable[[], float]) -> list[Metric]:
    """What an operator watches while a platform is down or throttling: the
    age of the oldest owed item, whether the workers' circuit breaker is open,
    and how long the platform's Retry-After still holds every request.
    ``shared_state(platform, key)`` reads the state the workers' gates publish."""
    age = GaugeMetricFamily("itsm_align_inbox_oldest_owed_seconds",
                            "Age of the oldest pending or leased event, by platform.", labels=("platform",))
    breaker = GaugeMetricFamily("itsm_align_platform_breaker_open",
                                "1 while the workers' circuit breaker for the platform is open.", labels=("platform",))
    held = GaugeMetricFamily("itsm_align_platform_retry_after_seconds",
                             "Seconds until the platform's Retry-After lets requests go again.", labels=("platform",))
    t = now()
    oldest = oldest_owed()
    for platform in platforms:
        age.add_metric((platform,), max(0.0, t - oldest[platform]) if platform in oldest else 0.0)
        state = (shared_state(platform, PlatformGate.BREAKER_KEY) or "closed").split()
        is_open = state[0] == "open" if state else False
        breaker.add_metric((platform,), 1.0 if is_open else 0.0)
        try:
            until = float(shared_state(platform, "gate:not-before") or 0.0)
        except ValueError:
            until = 0.0
        held.add_metric((platform,), max(0.0, until - t))
    return [age, breaker, held]


#: Worker counters (webhooks/storage/counters.py) shown as ``itsm_align_worker_items_total{outcome}``.
WORKER_OUTCOMES = ("processed", "written", "unchanged", "overridden", "deleted", "failed", "retries",
                   "rate_limited")


def worker_metrics(totals: Mapping[str, Mapping[str, float]]) -> list[Metric]:
    """What every worker process did (running totals kept in the database):
    items by outcome and the histogram of the time from the platform's event
    to our fields written."""
    from .storage.counters import LATENCY_BUCKETS

    items = CounterMetricFamily("itsm_align_worker_items", "Items the workers handled, by platform and outcome.",
                                labels=("platform", "outcome"))
    latency = HistogramMetricFamily("itsm_align_worker_event_to_written_seconds",
                                    "Time from the platform's event to our fields written.", labels=("platform",))
    for platform, counts in sorted(totals.items()):
        for outcome in WORKER_OUTCOMES:
            items.add_metric((platform, outcome), counts.get(outcome, 0.0))
        if counts.get("latency_count"):
            buckets = [(floatToGoString(bound), counts.get(f"latency_le_{bound:g}", 0.0))
                       for bound in LATENCY_BUCKETS]
            buckets.append(("+Inf", counts["latency_count"]))
            latency.add_metric((platform,), buckets, counts.get("latency_sum", 0.0))
    return [items, latency]
