"""Ingest counters (accepted, duplicate, ignored, rejected by reason) per
process, rendered as Prometheus text at ``/metrics``.

Counters live in the process that answered the request: under gunicorn each
worker process counts its own share (scrape with the process label, or sum).
"""
from __future__ import annotations

import os
import threading
from collections import Counter


class Counters:
    """Thread-safe ``(platform, outcome, reason) -> count``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def inc(self, platform: str, outcome: str, reason: str = "") -> None:
        with self._lock:
            self._counts[(platform, outcome, reason)] += 1

    def get(self, platform: str, outcome: str, reason: str | None = None) -> int:
        with self._lock:
            return sum(count for (p, o, r), count in self._counts.items()
                       if p == platform and o == outcome and (reason is None or r == reason))

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)

    def render(self, inbox_depth: dict[str, int] | None = None) -> str:
        pid = os.getpid()
        lines = ["# HELP itsm_align_webhooks_total Webhook deliveries by platform and outcome.",
                 "# TYPE itsm_align_webhooks_total counter"]
        for (platform, outcome, reason), count in sorted(self.snapshot().items()):
            lines.append(f'itsm_align_webhooks_total{{platform="{platform}",outcome="{outcome}",'
                         f'reason="{reason}",pid="{pid}"}} {count}')
        if inbox_depth is not None:
            lines += ["# HELP itsm_align_inbox_items Inbox rows by state.", "# TYPE itsm_align_inbox_items gauge"]
            lines += [f'itsm_align_inbox_items{{state="{state}"}} {count}' for state, count in inbox_depth.items()]
        return "\n".join(lines) + "\n"
