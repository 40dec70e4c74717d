"""Small hand-built assessment histories whose KPIs are worked out by hand in the tests."""
from __future__ import annotations

import pandas as pd
import pytest

from itsm_align.scoring.types import Objective

OBJECTIVES = (Objective("revenue", "Grow online revenue", 3),
              Objective("compliance", "Stay compliant", 1))
RULES = {"shop": "revenue", "gdpr": "compliance", "audit": "compliance", "dormant": "revenue",
         "from-parent": None}


def rows(*records: dict) -> pd.DataFrame:
    """A raw history frame; each record gives what differs from a plain ticket."""
    base = {"platform": "jira", "kind": "ticket", "project": "SHOP", "type": "story",
            "nature": "proactive", "overridden": False, "deleted": False, "rule_ids": [],
            "effort": None, "team": None, "summary": "", "url": None}
    return pd.DataFrame([{**base, **r} for r in records])


@pytest.fixture
def history() -> pd.DataFrame:
    """Four tickets; A-1 re-assessed in February, A-4 deleted in February.

    Latest in the whole period (the estate): A-1 compliance 8h, A-2 unaligned (no
    effort: counts 1), A-3 revenue 3h reactive. A-4 gone. Total effort 12.
    """
    return rows(
        {"item_key": "A-1", "objective": "revenue", "score": 90, "effort": 5,
         "rule_ids": ["shop"], "assessed_at": "2026-01-05T10:00:00Z", "team": "Web"},
        {"item_key": "A-2", "objective": "unaligned", "score": 0, "type": "bug",
         "nature": "reactive", "assessed_at": "2026-01-06T10:00:00Z",
         "summary": "Printer", "url": "https://acme.atlassian.net/browse/A-2"},
        {"item_key": "A-1", "objective": "compliance", "score": 60, "effort": 8,
         "rule_ids": ["gdpr", "shop"], "overridden": True, "assessed_at": "2026-02-02T10:00:00Z",
         "team": "Web"},
        {"item_key": "A-3", "objective": "revenue", "score": 50, "effort": 3, "project": "PAY",
         "type": "bug", "nature": "reactive", "rule_ids": ["shop"],
         "assessed_at": "2026-02-03T10:00:00Z", "team": "Payments"},
        {"item_key": "A-4", "objective": "revenue", "score": 70, "effort": 40,
         "rule_ids": ["shop"], "assessed_at": "2026-01-10T10:00:00Z"},
        {"item_key": "A-4", "objective": None, "score": None, "nature": None, "deleted": True,
         "assessed_at": "2026-02-10T10:00:00Z"},
    )
