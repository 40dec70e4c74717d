"""The offline report: one self-contained page with plotly embedded, plus CSV files."""
from __future__ import annotations

import re

import pandas as pd
from plotly.offline import get_plotlyjs

from itsm_align.reports import build_report, render_html, write_report

from .conftest import OBJECTIVES, RULES


def test_page_is_self_contained_and_embeds_plotly(history):
    history.loc[1, "summary"] = "<script>alert(1)</script>"
    page = render_html(build_report(history, OBJECTIVES, RULES, now="2026-03-01"))
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", page, re.I)
    assert "cdn.plot.ly" not in page.split("</head>")[1]
    bundle = get_plotlyjs()
    assert page.count(bundle[:4000]) == 1 and bundle[-4000:] in page  # embedded once, whole
    assert page.count("Plotly.newPlot") >= 6  # every chart drawn by the embedded bundle
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # data is escaped
    assert '<a href="https://acme.atlassian.net/browse/A-2"' in page
    assert "1 of 3 items have no effort recorded; each counts as 1." in page
    assert "Grow online revenue: 75% of stated priority, 25% of IT effort" in page


def test_write_report_writes_the_page_and_a_csv_per_table(history, tmp_path):
    survey = pd.DataFrame({"round": ["2026-Q1"], "respondent": ["ana"], "department": ["Sales"],
                           "objective": ["revenue"], "importance": [5], "satisfaction": [2],
                           "comment": ["More please"]})
    paths = write_report(tmp_path, history, OBJECTIVES, RULES, survey, effort="count",
                         now="2026-03-01")
    names = [p.name for p in paths]
    assert names[0] == "report.html"
    for stem in ("effort_vs_priority", "unaligned_items", "scores_by_team", "scores_by_type",
                 "nature_trend", "objective_trend", "rule_quality", "rule_disagreements",
                 "survey", "survey_comments"):
        assert f"{stem}.csv" in names
    effort = pd.read_csv(tmp_path / "effort_vs_priority.csv").set_index("objective")
    assert effort.loc["revenue", "effort_share"] == 1 / 3  # counted, not weighted
    assert effort.loc["revenue", "importance_share"] == 1.0
    rules = pd.read_csv(tmp_path / "rule_quality.csv").set_index("rule_id")
    assert rules.loc["shop", "override_examples"] == "A-1"
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "More please" in page and "item count (every item counts 1)" in page
