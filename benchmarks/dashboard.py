"""Benchmark: the dashboard over 100,000 and 1,000,000 stored assessments.

Run from the repository root::

    .venv/bin/python benchmarks/dashboard.py                 # 100,000 and 1,000,000
    .venv/bin/python benchmarks/dashboard.py --sizes 20000   # a quick look

For each size the script seeds a SQLite history with the same realistic mix as
``benchmarks/report.py`` (its ``seed``), then a fresh subprocess builds the service with
the dashboard and measures server time through Flask's test client (no network):

* **load**: reading the history into memory (``History.report_frame``) and normalising it,
  what happens once per process (in a thread at start-up) and again, incrementally, when
  new assessments arrive;
* **first page**: ``/dashboard/`` once the start-up preparation has run (what the first
  visitor gets), and **cold page**: the same page computed from scratch on a loaded
  history (what a visitor gets after new assessments arrived);
* **filter change**: the page and its charts (``/dashboard/charts.json``, fetched by the
  page) for filters not seen before: one project, one team, one objective, one type,
  two dimensions at once; the median and the worst;
* **period change**: a custom date range (new current estate and trend buckets);
* **drill-down**: ``/dashboard/items`` for one objective;
* peak RSS of the subprocess.

Seeding is not timed. Prints a markdown table; asserts nothing. Goals on the 2-core
reference machine at 1,000,000: first page at most 1 s, a filter change at most 300 ms
of server time.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

TOKEN = "benchmark-read-token-0123456789"


def measure(db: Path) -> dict[str, float]:
    import resource

    import pandas as pd

    from itsm_align.cli.compose import objectives_of, rule_objectives_of
    from itsm_align.cli.config import load_config
    from itsm_align.webhooks.app import create_app
    from itsm_align.webhooks.dashboard.data import HistoryCache
    from itsm_align.webhooks.dashboard.views import warm
    from itsm_align.webhooks.settings import DashboardSettings, ServiceSettings
    from itsm_align.webhooks.storage.engine import create_db_engine

    config = load_config(ROOT / "config" / "itsm-align.yaml")
    url = f"sqlite:///{db}"
    engine = create_db_engine(url)
    app = create_app(ServiceSettings(database_url=url), secrets={"jira": "s" * 32}, db_engine=engine,
                     objectives=objectives_of(config), rule_objectives=rule_objectives_of(config),
                     dashboard=DashboardSettings(read_tokens=[TOKEN], refresh_seconds=3600), warm=False)
    context = app.extensions["itsm_align.dashboard"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def timed(path: str) -> float:
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        return time.perf_counter() - began

    began = time.perf_counter()
    HistoryCache(engine, refresh_seconds=3600).snapshot()  # the read alone, then dropped
    load = time.perf_counter() - began
    gc.collect()
    began = time.perf_counter()
    warm(context)  # what the app factory runs in a thread at start-up: read, then the presets
    prepare = time.perf_counter() - began
    first = timed("/dashboard/")
    # the same numbers under filters never asked for (the 1 January 2000 is before every row)
    cold = timed("/dashboard/?since=2000-01-01") + timed("/dashboard/charts.json?since=2000-01-01")
    history = context.history.snapshot().history
    projects = history["project"].value_counts().index[:3].astype(str)
    teams = history["team"].value_counts().index[:2].astype(str)
    types = history["type"].value_counts().index[:2].astype(str)
    filters = [urlencode(query) for query in (
        {"project": projects[0]}, {"team": teams[0]}, {"objective": "revenue"}, {"type": types[0]},
        {"project": projects[1], "team": teams[1]}, {"objective": "unaligned", "type": types[1]})]
    pages, with_charts = [], []
    for query in filters:
        page = timed(f"/dashboard/?{query}")
        pages.append(page)
        with_charts.append(page + timed(f"/dashboard/charts.json?{query}"))
    last = history["assessed_at"].max()
    since = (last - pd.Timedelta(days=200)).date().isoformat()
    period = timed(f"/dashboard/?since={since}")
    drill = timed("/dashboard/items?" + urlencode({"objective": "revenue", "project": projects[2]}))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": len(history), "load": load, "prepare": prepare, "first": first, "cold": cold,
            "filter_median": statistics.median(pages), "filter_max": max(pages),
            "charts_median": statistics.median(with_charts), "period": period, "drill": drill,
            "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--measure", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    from report import seed  # benchmarks/report.py: the same history as the report benchmark

    results = []
    with tempfile.TemporaryDirectory(prefix="itsm-align-bench-") as tmp:
        for size in args.sizes:
            db = Path(tmp) / f"history-{size}.sqlite3"
            began = time.perf_counter()
            seed(db, size)
            print(f"seeded {size:,} assessments in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            answer = subprocess.run([sys.executable, __file__, "--measure", str(db)], check=True,
                                    capture_output=True, text=True, cwd=ROOT)
            results.append(json.loads(answer.stdout.strip().splitlines()[-1]))
            db.unlink()
    print("| assessments | load s | start-up preparation s | first page ms | cold page + charts ms "
          "| filter change ms (median / worst) | filter change + charts ms | period change ms "
          "| drill-down ms | peak RSS MiB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {int(r['rows']):,} | {r['load']:.1f} | {r['prepare']:.1f} | {r['first'] * 1000:.0f} "
              f"| {r['cold'] * 1000:.0f} | {r['filter_median'] * 1000:.0f} / {r['filter_max'] * 1000:.0f} "
              f"| {r['charts_median'] * 1000:.0f} | {r['period'] * 1000:.0f} | {r['drill'] * 1000:.0f} "
              f"| {r['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
