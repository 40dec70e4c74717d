"""A realistic assessment history for the dashboard and survey tests, written through
``History.append_many`` as the worker and back-fill write it.

"Northwind Outfitters": Jira projects SHOP, PAY, GRC, OPS and HR with components as
teams, ServiceNow incidents, changes and requests with assignment groups; twelve months
of assessments, some items re-assessed (a few to another objective), a few deleted, a
few overridden by people. Deterministic (seeded), so tests can assert exact numbers by
recomputing them from :data:`ITEMS`.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from itsm_align.scoring.types import Assessment, Evidence, Match, Nature, Objective, WorkItem
from itsm_align.webhooks.storage.history import History

OBJECTIVES = (
    Objective("revenue", "Grow online revenue", 5, "VP Digital Commerce",
              "Conversion, basket size and new sales channels for the web shop and apps."),
    Objective("compliance", "Stay compliant", 4, "Chief Compliance Officer", "GDPR, PCI DSS and SOX obligations."),
    Objective("security", "Reduce security risk", 4, "CISO", "Fewer exploitable vulnerabilities, faster patching."),
    Objective("reliability", "Keep the platform reliable", 4, "Head of SRE",
              "Availability and performance of customer-facing services."),
    Objective("cx", "Improve customer experience", 3, "VP Customer Service",
              "Faster answers, fewer contacts per order, better self-service."),
    Objective("cost", "Cut run costs", 2, "CFO", "Cloud spend, licences and legacy systems decommissioned."),
)
RULE_OBJECTIVES = {"shop-projects": "revenue", "checkout-field": "revenue", "gdpr-words": "compliance",
                   "pci-scope": "compliance", "cve-patching": "security", "p1-incidents": "reliability",
                   "slo-breach": "reliability", "support-portal": "cx", "cloud-spend": "cost",
                   "legacy-retire": "cost", "hr-onboarding": "productivity", "from-parent": None}

JIRA = "https://northwind.atlassian.net"
SN = "https://northwind.service-now.com"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

# (project, platform, team choices, type choices, objective mix, summaries)
STREAMS = [
    ("SHOP", "jira", ["Checkout", "Search", "Mobile app"], ["story", "bug", "task"],
     {"revenue": 7, "cx": 2, "unaligned": 1},
     ["Speed up checkout page load", "One-click reorder for returning customers", "Search ranks out-of-stock items",
      "Apple Pay on the mobile app", "Basket total wrong with two vouchers", "A/B test free-shipping banner",
      "Product reviews on the app", "Gift cards at checkout"]),
    ("PAY", "jira", ["Payments"], ["story", "bug"], {"revenue": 5, "compliance": 3, "security": 1},
     ["PCI DSS evidence for Q3 audit", "Retry declined card payments", "3-D Secure 2 challenge flow",
      "Refund webhook drops events", "Tokenise stored card numbers"]),
    ("GRC", "jira", ["Privacy", "Audit"], ["task", "story"], {"compliance": 6, "security": 2, "unaligned": 1},
     ["Answer data subject access request backlog", "DPIA for the loyalty programme", "SOX access review",
      "Retention policy for order data", "Cookie consent banner update"]),
    ("OPS", "jira", ["SRE", "Platform"], ["task", "bug", "story"],
     {"reliability": 5, "cost": 3, "security": 1, "unaligned": 2},
     ["Right-size Kubernetes node pools", "Alert on checkout error budget", "Retire the legacy FTP server",
      "Move logs to cheaper storage tier", "Patch OpenSSL on edge proxies", "Upgrade Postgres to 16",
      "Clean up unused load balancers"]),
    ("HR", "jira", ["People systems"], ["task"], {"unaligned": 3, "cost": 1},
     ["New starter laptop images", "Sync org chart to the wiki", "Holiday calendar integration"]),
    ("incident", "servicenow", ["Service Desk", "Network", "Database"], ["incident"],
     {"reliability": 6, "cx": 2, "security": 1, "unaligned": 2},
     ["Checkout returns 502 for EU customers", "VPN drops every 20 minutes", "Order DB replication lag",
      "Email to customers delayed", "Printer on floor 3 offline", "Phishing mail reported by finance"]),
    ("change_request", "servicenow", ["Network", "Change Advisory"], ["change"],
     {"security": 3, "reliability": 3, "cost": 2, "unaligned": 1},
     ["Firewall rule review", "Decommission old DNS servers", "Rotate TLS certificates",
      "Renew licence server", "Core switch firmware upgrade"]),
    ("sc_request", "servicenow", ["Service Desk"], ["request"], {"unaligned": 3, "cx": 1},
     ["Access to shared drive", "New monitor", "Software install: Tableau"]),
]
REACTIVE_TYPES = {"bug", "incident"}
RULES_FOR = {"revenue": ["shop-projects", "checkout-field"], "compliance": ["gdpr-words", "pci-scope"],
             "security": ["cve-patching"], "reliability": ["p1-incidents", "slo-breach"],
             "cx": ["support-portal"], "cost": ["cloud-spend", "legacy-retire"], "unaligned": []}


@dataclass(frozen=True)
class Seeded:
    """One row written: what the tests recompute expectations from."""

    platform: str
    key: str
    project: str
    team: str
    type: str
    objective: str
    score: int
    nature: str
    effort: float | None
    summary: str
    url: str
    at: datetime
    deleted: bool = False
    rules_for: str | None = None  # a person overrode the rules' objective (theirs) with ``objective``


def plan(items: int = 240, seed: int = 7) -> list[Seeded]:
    """The rows to write, oldest first (deterministic)."""
    rng = random.Random(seed)
    rows: list[Seeded] = []
    counters: dict[str, int] = defaultdict(lambda: 100)
    weights = [6, 3, 2, 4, 1, 5, 2, 2]
    for _ in range(items):
        project, platform, teams, types, mix, summaries = rng.choices(STREAMS, weights)[0]
        counters[project] += rng.randint(1, 4)
        if platform == "jira":
            key = f"{project}-{counters[project]}"
            url = f"{JIRA}/browse/{key}"
        else:
            prefix = {"incident": "INC", "change_request": "CHG", "sc_request": "REQ"}[project]
            key = f"{prefix}00{counters[project] + 10000}"
            url = f"{SN}/{project}.do?sys_id={rng.getrandbits(64):016x}"
        objective = rng.choices(list(mix), list(mix.values()))[0]
        kind = rng.choice(types)
        at = NOW - timedelta(days=rng.uniform(1, 365), hours=rng.uniform(0, 12))
        effort = None if rng.random() < 0.15 else float(rng.choice([1, 2, 3, 5, 8, 13, 21]) if platform == "jira"
                                                        else round(rng.uniform(0.5, 16), 1))
        base = Seeded(platform, key, project, rng.choice(teams), kind, objective,
                      rng.randint(5, 30) if objective == "unaligned" else rng.randint(45, 98),
                      "reactive" if kind in REACTIVE_TYPES or rng.random() < 0.1 else "proactive",
                      effort, rng.choice(summaries), url, at)
        if objective != "unaligned" and rng.random() < 0.06:  # a person disagreed with the rules
            others = [o.id for o in OBJECTIVES if o.id != objective]
            base = Seeded(**{**base.__dict__, "objective": rng.choice(others), "rules_for": objective})
        rows.append(base)
        if rng.random() < 0.3:  # re-assessed later, sometimes to another objective
            later = at + timedelta(days=rng.uniform(1, 60))
            if later < NOW:
                objective = rng.choice(list(mix)) if rng.random() < 0.3 else base.objective
                rows.append(Seeded(**{**base.__dict__, "objective": objective, "at": later, "rules_for": None,
                                      "score": rng.randint(5, 30) if objective == "unaligned" else rng.randint(45, 98)}))
        elif rng.random() < 0.03:
            rows.append(Seeded(**{**base.__dict__, "at": at + timedelta(days=2), "deleted": True}))
    rows.sort(key=lambda r: r.at)
    return rows


def _assessment(row: Seeded, rng: random.Random) -> Assessment:
    claimed = row.rules_for or row.objective
    rules = RULES_FOR.get(claimed, [])
    matches = tuple(Match(claimed, 0.8, rule, f"rule {rule} matched", Nature(row.nature))
                    for rule in rules[: rng.randint(1, max(1, len(rules)))]) if rules else ()
    evidence = (Evidence(claimed, 0.8, matches),) if matches else ()
    if matches and rng.random() < 0.08:  # a second rule pointing elsewhere: a disagreement
        evidence += (Evidence("cost", 0.4, (Match("cost", 0.4, "cloud-spend", "cloud words", None),)),)
    name = next((o.name for o in OBJECTIVES if o.id == row.objective), "no objective")
    return Assessment(item_key=row.key, platform=row.platform, objective=row.objective, score=row.score,
                      nature=Nature(row.nature), rationale=f"Serves {name}", evidence=evidence,
                      ruleset_version="2026-11", overridden=row.rules_for is not None)


def seed_history(history: History, rows: list[Seeded] | None = None) -> list[Seeded]:
    """Write ``rows`` (default :func:`plan`) day by day with ``append_many``."""
    rows = plan() if rows is None else rows
    rng = random.Random(11)
    by_day: dict[tuple, list[Seeded]] = defaultdict(list)
    for row in rows:
        by_day[(row.at, row.deleted)].append(row)
    for (at, deleted), group in sorted(by_day.items(), key=lambda kv: kv[0][0]):
        if deleted:
            for row in group:
                history.append_deleted(row.platform, row.key, at=at)
            continue
        batch = []
        for row in group:
            item = WorkItem(platform=row.platform, key=row.key, project=row.project, type=row.type,  # type: ignore[arg-type]
                            summary=row.summary, effort=row.effort,
                            components=(row.team,) if row.platform == "jira" else (),
                            assignment_group=row.team if row.platform == "servicenow" else None)
            batch.append((_assessment(row, rng), item, row.url))
        history.append_many(batch, source="worker", at=at)
    return rows


def current(rows: list[Seeded]) -> dict[tuple[str, str], Seeded]:
    """Each item's latest row, deleted items left out (the current estate, all time)."""
    latest: dict[tuple[str, str], Seeded] = {}
    for row in sorted(rows, key=lambda r: r.at):
        latest[(row.platform, row.key)] = row
    return {k: v for k, v in latest.items() if not v.deleted}
