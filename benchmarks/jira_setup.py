"""Requests made by ``setup jira`` on a site configured as admins really do it.

    .venv/bin/python benchmarks/jira_setup.py [--projects 20] [--schemes 10] [--team-managed 0]

Starts the Jira sandbox on 127.0.0.1 with ``--projects`` company-managed
projects spread over ``--schemes`` issue type screen schemes of their own
(each with a default and a Bug screen scheme, as Jira's Scrum template leaves
them), runs the real set-up (fields, options, every screen in use, admin
webhook) twice (the state store keeps option ids and the webhook secret's
fingerprint; screens are asked from Jira every time), and prints a markdown table of the requests each run sent, by kind.
The second run must send no write at all.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from itsm_align.integration.base import MemoryStore  # noqa: E402
from itsm_align.integration.jira import JiraAdapter, JiraSettings  # noqa: E402
from itsm_align.sandbox.jira import JiraSandbox  # noqa: E402
from itsm_align.scoring.types import Objective  # noqa: E402

OBJECTIVES = [Objective("revenue", "Grow online revenue", 5), Objective("cost", "Cut IT cost", 3),
              Objective("risk", "Reduce operational risk", 4)]
KINDS = (("fields, contexts, options", ("/field",)),
         ("projects", ("/project",)),
         ("schemes", ("/issuetypescreenscheme", "/screenscheme")),
         ("screens, tabs, tab fields", ("/screens",)),
         ("webhook", ("/rest/webhooks/",)))
MATCH_ORDER = (2, 3, 4, 1, 0)  # most specific first: ".../screens/1/tabs/2/fields" is a screen request


def kind(path: str) -> str:
    for n in MATCH_ORDER:
        name, parts = KINDS[n]
        if any(part in path for part in parts):
            return name
    return "other"


def run(sandbox: JiraSandbox, keys: list[str], state: MemoryStore) -> tuple[Counter[tuple[str, str]], float]:
    sandbox.clear_requests()
    email, token = sandbox.credentials
    settings = JiraSettings(url=sandbox.url, email=email, api_token=token, webhook_secret="bench-secret",
                            jql=f"project in ({', '.join(keys)})")
    adapter = JiraAdapter(settings, state, public_url="http://127.0.0.1:9")
    started = time.perf_counter()
    adapter.setup(OBJECTIVES)
    took = time.perf_counter() - started
    adapter.close()
    counts: Counter[tuple[str, str]] = Counter()
    for r in sandbox.requests:
        counts[(kind(r.path), "read" if r.method == "GET" else "write")] += 1
    return counts, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--schemes", type=int, default=10)
    parser.add_argument("--team-managed", type=int, default=0)
    args = parser.parse_args()
    keys = [f"P{n:02d}" for n in range(args.projects)]
    team = [f"T{n:02d}" for n in range(args.team_managed)]
    with JiraSandbox() as sandbox:
        sandbox.share_screen_schemes(keys, args.schemes, team_managed=team)
        screens = len({s["id"] for k in keys for s in sandbox.screens_of(k)}) + 1  # + the Default Screen
        state = MemoryStore()  # the service database: option ids, webhook secret fingerprint (never screens)
        first, first_s = run(sandbox, keys + team, state)
        second, second_s = run(sandbox, keys + team, state)
    print(f"`setup jira` on {args.projects} company-managed projects over {args.schemes} screen schemes "
          f"({screens} screens in use){f', {len(team)} team-managed' if team else ''}\n")
    print("| requests | first run | second run |")
    print("| --- | ---: | ---: |")
    for name, _ in KINDS:
        for mode in ("read", "write"):
            a, b = first[(name, mode)], second[(name, mode)]
            if a or b:
                print(f"| {name} ({mode}) | {a} | {b} |")
    total = lambda c: sum(c.values())  # noqa: E731
    writes = lambda c: sum(v for (_, m), v in c.items() if m == "write")  # noqa: E731
    print(f"| **all** | **{total(first)}** ({writes(first)} writes) | **{total(second)}** ({writes(second)} writes) |")
    print(f"| wall time | {first_s:.2f} s | {second_s:.2f} s |")
    if writes(second):
        raise SystemExit("the second run wrote something: set-up is not idempotent")


if __name__ == "__main__":
    main()
