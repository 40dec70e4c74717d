"""Benchmark: the full report over 100,000 and 1,000,000 stored assessments.

Run from the repository root::

    .venv/bin/python benchmarks/report.py                 # 100,000 and 1,000,000
    .venv/bin/python benchmarks/report.py --sizes 20000   # a quick look

For each size the script seeds a history (a SQLite file in a temporary folder, tables
made by the service's own schema, rows inserted through SQLAlchemy Core) with a
realistic mix: the 7 objectives and the rule ids of ``config/itsm-align.yaml``, 14
projects, 24 teams, Jira and ServiceNow items of several types, each item assessed 1 to
6 times over 18 months (re-assessments later than the first), about 30% of items
without effort, a few human overrides and deletions. Then a fresh subprocess per size
runs what ``itsm-align report`` runs: read the history
(:func:`itsm_align.webhooks.storage.history.History.report_frame`), build every KPI and
write ``report.html`` plus the CSV files; it measures the read, the report and its own
peak RSS (``resource.getrusage``: the subprocess holds only that size's data). Seeding
is not timed. Prints a markdown table; asserts nothing.

Goal on the 2-core reference machine: at most 15 s end to end and 1.5 GB peak at
1,000,000 assessments.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "itsm-align.yaml"

PROJECTS = ["SHOP", "PAY", "GRC", "OPS", "DATA", "WEB", "APP", "CRM", "HR", "FIN", "SEC",
            "NET", "FAC", "MOB"]
TEAMS = [f"Team {name}" for name in (
    "Checkout", "Payments", "Search", "Identity", "Platform", "Data", "Network", "Service Desk",
    "Security Ops", "Mobile", "CRM", "Finance Apps", "HR Apps", "Facilities", "Web", "API",
    "Infra", "Storage", "Database", "Monitoring", "Release", "QA", "Architecture", "Support")]
TYPES = [("story", "proactive", 0.30), ("bug", "reactive", 0.18), ("task", "proactive", 0.16),
         ("incident", "reactive", 0.20), ("change", "proactive", 0.08),
         ("problem", "proactive", 0.04), ("service request", "reactive", 0.04)]
WORDS = ("checkout payment login outage latency report audit gdpr invoice migration upgrade "
         "dashboard alert backup certificate renewal onboarding search mobile refund api "
         "timeout export import schema index cache release patch firewall vpn printer").split()
START = datetime(2025, 6, 1, tzinfo=timezone.utc)
DAYS = 548  # 18 months


def _config_ids() -> tuple[list[tuple[str, int]], dict[str, str | None]]:
    sys.path.insert(0, str(ROOT))
    from itsm_align.cli.config import load_config

    config = load_config(CONFIG)
    objectives = [(o.id, o.weight) for o in config.objectives]
    return objectives, {rule.id: rule.objective for rule in config.rules if rule.enabled}


def seed(path: Path, rows: int, *, seed_value: int = 7) -> None:
    """Write ``rows`` assessments into a new SQLite history at ``path``."""
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.schema import history_table

    rnd = random.Random(seed_value)
    objectives, rules = _config_ids()
    by_objective: dict[str, list[str]] = {}
    for rule, objective in rules.items():
        if objective is not None:
            by_objective.setdefault(objective, []).append(rule)
    # the last few rules of each objective never fire: rule quality has something to show
    for rule_ids in by_objective.values():
        del rule_ids[max(1, len(rule_ids) - 1):]
    objective_ids = [oid for oid, _ in objectives] + ["unaligned"]
    objective_mix = [w for _, w in objectives] + [3]
    type_names = [t for t, _, _ in TYPES]
    type_weights = [w for _, _, w in TYPES]
    nature_of = {t: n for t, n, _ in TYPES}
    engine = create_db_engine(f"sqlite:///{path}")
    batch: list[dict] = []
    made = 0
    item = 0
    with engine.begin() as connection:
        while made < rows:
            item += 1
            kind_type = rnd.choices(type_names, type_weights)[0]
            platform = "servicenow" if kind_type in ("incident", "change", "problem",
                                                     "service request") else "jira"
            project = rnd.choice(PROJECTS)
            key = f"{project}-{item}" if platform == "jira" else f"INC{item:07d}"
            url = (f"https://acme.atlassian.net/browse/{key}" if platform == "jira" else
                   f"https://acme.service-now.com/nav_to.do?uri=task.do?sysparm_query=number={key}")
            team = rnd.choice(TEAMS)
            effort = None if rnd.random() < 0.3 else round(rnd.lognormvariate(1.5, 0.9), 1)
            summary = " ".join(rnd.choices(WORDS, k=rnd.randint(4, 9))).capitalize()
            first = START + timedelta(seconds=rnd.randrange(DAYS * 86_400))
            times = sorted([first] + [first + timedelta(seconds=rnd.randrange(60 * 86_400))
                                      for _ in range(rnd.choices(range(6), [40, 25, 15, 10, 6, 4])[0])])
            for at in times:
                if made >= rows:
                    break
                objective = rnd.choices(objective_ids, objective_mix)[0]
                fired = (rnd.sample(by_objective[objective], k=min(len(by_objective[objective]),
                                                                    rnd.randint(1, 2)))
                         if objective != "unaligned" else [])
                if fired and rnd.random() < 0.08:  # a rule for another objective fired too
                    other = rnd.choice([o for o in by_objective if o != objective])
                    fired.append(rnd.choice(by_objective[other]))
                score = 0 if objective == "unaligned" else rnd.randint(25, 100)
                batch.append({
                    "platform": platform, "item_key": key, "kind": "ticket", "project": project,
                    "type": kind_type, "objective": objective, "score": score,
                    "nature": nature_of[kind_type] if rnd.random() < 0.9 else
                    ("reactive" if nature_of[kind_type] == "proactive" else "proactive"),
                    "rationale": f"{objective}: {', '.join(fired)}", "overridden": rnd.random() < 0.02,
                    "ruleset_version": "bench-1", "rule_ids": json.dumps(sorted(set(fired))),
                    "errors": "[]", "evidence": "[]", "effort": effort, "parent": None,
                    "deleted": False, "assessed_at": at, "team": team, "summary": summary,
                    "url": url, "source": "worker"})
                made += 1
                if len(batch) >= 20_000:
                    connection.execute(history_table.insert(), batch)
                    batch.clear()
        if batch:
            connection.execute(history_table.insert(), batch)
    engine.dispose()


def measure(path: Path, out: Path) -> dict[str, float]:
    """Run in a fresh process: read the history, build and write the report."""
    import resource

    from itsm_align.cli.config import load_config
    from itsm_align.cli.report import report_inputs
    from itsm_align.reports import write_report
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.history import History

    config = load_config(CONFIG)
    started = time.perf_counter()
    frame = History(create_db_engine(f"sqlite:///{path}", create_tables=False)).report_frame()
    read = time.perf_counter() - started
    objectives, rule_objectives = report_inputs(config)
    write_report(out, frame, objectives, rule_objectives)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    return {"rows": len(frame), "read": read, "report": total - read, "total": total,
            "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--measure", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="itsm-align-bench-") as tmp:
        for size in args.sizes:
            db = Path(tmp) / f"history-{size}.sqlite3"
            began = time.perf_counter()
            seed(db, size)
            print(f"seeded {size:,} assessments in {time.perf_counter() - began:.0f} s",
                  file=sys.stderr)
            answer = subprocess.run([sys.executable, __file__, "--measure", str(db),
                                     str(Path(tmp) / f"out-{size}")],
                                    check=True, capture_output=True, text=True, cwd=ROOT)
            results.append(json.loads(answer.stdout.strip().splitlines()[-1]))
            db.unlink()
    print("| assessments | read s | report s | total s | peak RSS MiB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {int(r['rows']):,} | {r['read']:.2f} | {r['report']:.2f} | {r['total']:.2f} "
              f"| {r['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
