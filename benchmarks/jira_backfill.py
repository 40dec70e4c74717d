"""Back-fill of 20,000 sandbox issues: HTTP requests used, against the naive way.

    .venv/bin/python benchmarks/jira_backfill.py [--issues 20000] [--config config/itsm-align.yaml]

Starts the Jira sandbox on 127.0.0.1, sets up the fields, seeds issues whose
summaries come from the Jira tickets of config/examples/tickets.json (so the
real rules of the example config fire), runs the real back-fill (search/jql
pages + grouped bulk edits, engine.assess in between) and prints a markdown
table: requests used, issues per request, distinct value sets, time. The naive
way (GET + PUT per issue) is measured on a sample and scaled.
Goal (issue 3): at most 1 request per 50 issues.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from itsm_align.integration.base import MemoryStore  # noqa: E402
from itsm_align.integration.jira import JiraAdapter, JiraSettings  # noqa: E402
from itsm_align.integration.backfill import run_backfill  # noqa: E402
from itsm_align.sandbox.jira import JiraSandbox  # noqa: E402
from itsm_align.cli.config import load_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=300, help="issues for the naive measurement")
    parser.add_argument("--config", default=str(ROOT / "config" / "itsm-align.yaml"))
    parser.add_argument("--unique-rationales", action="store_true",
                        help="worst case: append the issue key to every rationale (no two issues share one)")
    args = parser.parse_args()

    config = load_config(args.config)
    engine = config.engine()
    tickets = [t for t in json.loads((ROOT / "config/examples/tickets.json").read_text()) if t["platform"] == "jira"]
    by_project: dict[str, list[str]] = defaultdict(list)
    for t in tickets:
        by_project[t["project"]].append(t["summary"])
    projects = sorted(by_project)

    def summary(n: int) -> str:
        texts = by_project[projects[n % len(projects)]]
        return texts[(n // len(projects)) % len(texts)]

    with JiraSandbox(per_issue_limits=((10_000, 1.0),)) as sandbox:
        email, token = sandbox.credentials
        settings = JiraSettings(url=sandbox.url, email=email, api_token=token,
                                jql=f"project in ({', '.join(projects)}) ORDER BY key ASC")
        adapter = JiraAdapter(settings, MemoryStore(), objectives=engine.objectives, fields_read=engine.fields_read)
        adapter.setup(engine.objectives)
        t0 = time.perf_counter()
        sandbox.seed(projects=projects, issues=args.issues, summary=summary)
        seeded = time.perf_counter() - t0
        sandbox.clear_requests()

        def assess(item, related):
            result = engine.assess(item, related=related)
            if args.unique_rationales:
                result = dataclasses.replace(result, rationale=f"{result.rationale} [{item.key}]")
            return result

        t0 = time.perf_counter()
        report = run_backfill(adapter, assess, state=MemoryStore())
        took = time.perf_counter() - t0
        counts: dict[str, int] = defaultdict(int)
        for r in sandbox.requests:
            counts[f"{r.method} {r.path.split('/rest/api/3/')[-1].split('/')[0]}"] += 1
        bulk = [r for r in sandbox.requests if r.path.endswith("/bulk/issues/fields")]
        value_sets = {json.dumps(r.json["editedFieldsInput"], sort_keys=True) for r in bulk}
        rationales = {json.dumps(f["richText"]) for r in bulk for f in r.json["editedFieldsInput"].get(
            "richTextFields", [])}

        sandbox.clear_requests()
        t0 = time.perf_counter()
        second = run_backfill(adapter, assess, state=MemoryStore())
        took2 = time.perf_counter() - t0

        # naive: one GET and one PUT per issue, on fresh issues
        keys = sandbox.seed(projects=("NAIVE",), issues=args.sample, summary=summary)
        sandbox.clear_requests()
        t0 = time.perf_counter()
        for key in keys:
            item = adapter.fetch(key)
            adapter.write(item, engine.assess(item).output())
        naive_took = time.perf_counter() - t0
        naive_per_issue = len(sandbox.requests) / args.sample

    n = args.issues
    worst = " with a unique rationale per issue (worst case)" if args.unique_rationales else ""
    print(f"# Jira back-fill of {n:,} sandbox issues{worst} (seeded in {seeded:.1f}s)\n")
    print("| way | HTTP requests | issues per request | wall time |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| itsm-align back-fill (search/jql + grouped bulk edit) | {report.requests:,} | "
          f"{n / report.requests:.1f} | {took:.1f}s |")
    print(f"| second run, nothing to change | {second.requests:,} | {n / second.requests:.1f} | {took2:.1f}s |")
    print(f"| naive GET + PUT per issue (measured on {args.sample}, scaled) | {naive_per_issue * n:,.0f} | "
          f"{1 / naive_per_issue:.2f} | {naive_took / args.sample * n:.0f}s |")
    print()
    print(f"Goal: <= {n // 50:,} requests (1 per 50 issues): {'met' if report.requests <= n / 50 else 'NOT met'}.")
    print(f"Changed {report.changed:,}, failed {len(report.failed)}; bulk edits {len(bulk)} for "
          f"{len(value_sets)} distinct value sets ({len(rationales)} distinct rationales).")
    print("Requests by endpoint: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
