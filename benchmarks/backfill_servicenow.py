"""Benchmark: back-fill of N sandbox incidents (default 20,000) through the
ServiceNow adapter, with the real rule engine of config/itsm-align.yaml.

Prints the HTTP requests used against the naive way (a GET and a PATCH per
record); goal: at most 1 request per 50 records. Run:

    .venv/bin/python benchmarks/backfill_servicenow.py [N]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from itsm_align.integration.base import MemoryStore
from itsm_align.sandbox.servicenow import ServiceNowSandbox
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.integration.backfill import run_backfill
from itsm_align.cli.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def main(n: int = 20_000) -> None:
    config = load_config(ROOT / "config" / "itsm-align.yaml")
    engine = config.engine()
    objectives = [o.to_objective() for o in config.objectives]
    with ServiceNowSandbox() as sandbox:
        settings = ServiceNowSettings(instance=sandbox.url, user=sandbox.integration_user,
                                      password=sandbox.integration_password, ca_bundle=sandbox.ca_pem_path)
        adapter = ServiceNowAdapter(settings, state=MemoryStore())
        adapter.setup(objectives)
        adapter.configure(objectives=objectives, fields_read=sorted(engine.fields_read))
        sandbox.seed("incident", n)
        mark = len(sandbox.http_requests)
        started = time.perf_counter()
        report = run_backfill(adapter, lambda item, related: engine.assess(item, related=related),
                              query="", extra={"table": "incident"}, state=None)
        elapsed = time.perf_counter() - started
        wire = len(sandbox.http_requests) - mark
        print(f"| records | requests (ours) | requests (naive GET+PATCH) | records per request | seconds |")
        print(f"|---|---|---|---|---|")
        naive = 2 * report.items  # one GET and one PATCH per record
        print(f"| {report.items} | {wire} | {naive} | {report.items / max(wire, 1):.0f} "
              f"| {elapsed:.1f} |")
        print(f"changed {report.changed}, unchanged {report.unchanged}, failed {len(report.failed)}; "
              f"goal <= 1 request per 50 records: {'met' if wire * 50 <= report.items else 'NOT met'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
