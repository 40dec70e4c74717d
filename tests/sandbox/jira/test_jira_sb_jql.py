"""The sandbox's JQL subset, evaluated directly (no HTTP)."""
from __future__ import annotations

from typing import Iterator

import pytest

from itsm_align.sandbox.jira import JiraError, JiraSandbox
from itsm_align.sandbox.jira.jql import compile_jql


@pytest.fixture
def sandbox() -> Iterator[JiraSandbox]:
    sb = JiraSandbox()  # never started: only its state is used
    yield sb
    sb.stop()


def matching(sb: JiraSandbox, jql: str) -> list[str]:
    query = compile_jql(jql, sb.svc.site, sb.api_user.account_id)
    return [i.key for _, i in query.sort([i for i in sb.svc.site.issues.values() if query.matches(i)])]


def test_operators(sandbox: JiraSandbox) -> None:
    score = sandbox.add_field("Alignment Score", "float")
    sandbox.seed(projects=("ITSM",), issues=4, fields=lambda n: {score: n * 10, "labels": [f"l{n % 2}"]})
    n = score.removeprefix("customfield_")
    assert matching(sandbox, f"cf[{n}] != 10 ORDER BY key") == ["ITSM-1", "ITSM-3", "ITSM-4"]
    assert matching(sandbox, f"cf[{n}] >= 10 AND cf[{n}] < 30 ORDER BY key") == ["ITSM-2", "ITSM-3"]
    assert matching(sandbox, f"{score} in (0, 30) ORDER BY key") == ["ITSM-1", "ITSM-4"]
    assert matching(sandbox, "labels = l1 ORDER BY key DESC") == ["ITSM-4", "ITSM-2"]
    assert matching(sandbox, "labels not in (l1) ORDER BY key") == ["ITSM-1", "ITSM-3"]
    assert matching(sandbox, "reporter = currentUser()") == []
    assert matching(sandbox, "created <= now() AND key <= ITSM-2 ORDER BY key") == ["ITSM-1", "ITSM-2"]
    assert matching(sandbox, "issuekey = 10001") == ["ITSM-1"]


@pytest.mark.parametrize(("jql", "fragment"), [
    ("project = ITSM AND (key = ITSM-1", "Expecting ')'"),
    ("project = ITSM ORDER key", "Expecting 'by'"),
    ("created > startOfWeek()", "Unable to find JQL function"),
    ("project ~ ITSM", "operator '~' is not supported"),
    ("project = ITSM & key = ITSM-1", "reserved JQL character"),
    ("key = banana", "issue key 'banana'"),
    ("project = ITSM ORDER BY " + ", ".join(["key"] * 8), "maximum of 7"),
    ("project = ITSM ORDER BY text", "does not support sorting"),
    ("project is", "Expecting 'EMPTY' or 'NULL'"),
])
def test_errors_say_what_is_wrong(sandbox: JiraSandbox, jql: str, fragment: str) -> None:
    with pytest.raises(JiraError) as info:
        compile_jql(jql, sandbox.svc.site)
    assert info.value.status == 400 and fragment in info.value.messages[0]


def test_select_option_must_exist(sandbox: JiraSandbox) -> None:
    sandbox.add_field("Business Objective", "select", options=("Grow revenue",))
    with pytest.raises(JiraError, match="does not exist"):
        compile_jql('"Business Objective" = "Nope"', sandbox.svc.site)
    assert compile_jql('"business objective" = "grow revenue"', sandbox.svc.site).bounded
