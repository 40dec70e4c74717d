"""Native filters: the Jira search and the ServiceNow list that reproduce a drill-down.

A project manager who drilled down to "the 37 reactive items of SHOP serving Grow
online revenue" continues in the tool they use. When the list is short enough the
filter names the items themselves (``key in (SHOP-1, SHOP-2)`` in JQL,
``numberININC0010001,INC0010002`` in ServiceNow), which reproduces the list exactly;
a longer list becomes the equivalent field clauses (objective, score, work nature,
project, team, type, period), which shows the items as they are on the platform now.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Sequence
from urllib.parse import quote, urlencode

from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME

__all__ = ["JiraLinks", "MAX_KEYS", "NativeFilter", "PlatformLinks", "ServiceNowLinks", "native_filters"]

#: Up to this many items, a native filter lists the items' keys.
MAX_KEYS = 150


@dataclass(frozen=True, slots=True)
class JiraLinks:
    """Where Jira is and what our fields are called there."""

    url: str
    objective_field: str = "Business Objective"
    score_field: str = "Alignment Score"
    nature_field: str = "Work Nature"


@dataclass(frozen=True, slots=True)
class ServiceNowLinks:
    """Where ServiceNow is, which table lists the items and our column names."""

    instance: str
    table: str = "task"
    objective_column: str = "u_business_objective"
    score_column: str = "u_alignment_score"
    nature_column: str = "u_work_nature"


@dataclass(frozen=True, slots=True)
class PlatformLinks:
    """The platforms the dashboard links to (either may be absent)."""

    jira: JiraLinks | None = None
    servicenow: ServiceNowLinks | None = None


@dataclass(frozen=True, slots=True)
class Criteria:
    """What a drill-down selected (names as the platform shows them)."""

    objective_ids: Sequence[str] = ()
    objective_names: Sequence[str] = ()
    projects: Sequence[str] = ()
    teams: Sequence[str] = ()
    types: Sequence[str] = ()
    natures: Sequence[str] = ()
    score_range: tuple[float, float] | None = None
    since: date | None = None
    until: date | None = None  # exclusive
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NativeFilter:
    """One link to a platform's own search: ``exact`` when it names the items."""

    platform: str
    label: str
    url: str
    query: str
    exact: bool


def _jql_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _jql_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(_jql_value(v) for v in values) + ")"


def jira_filter(links: JiraLinks, keys: Sequence[str], criteria: Criteria) -> NativeFilter:
    """A Jira issue search (``<jira>/issues/?jql=...``) for these items."""
    if len(keys) <= MAX_KEYS:
        jql = f"key in ({', '.join(keys)}) ORDER BY key"
        exact = True
    else:
        clauses = []
        if criteria.projects:
            clauses.append(f"project in {_jql_list(criteria.projects)}")
        if criteria.objective_names:
            clauses.append(f"{_jql_value(links.objective_field)} in {_jql_list(criteria.objective_names)}")
        if criteria.teams:
            clauses.append(f"component in {_jql_list(criteria.teams)}")
        if criteria.types:
            clauses.append(f"issuetype in {_jql_list(criteria.types)}")
        if criteria.natures:
            clauses.append(f"{_jql_value(links.nature_field)} in "
                           f"{_jql_list([n.capitalize() for n in criteria.natures])}")
        if criteria.score_range is not None:
            low, high = criteria.score_range
            field_name = _jql_value(links.score_field)
            clauses.append(f"{field_name} >= {low:g} AND {field_name} <= {high:g}")
        if criteria.since is not None:
            clauses.append(f'updated >= "{criteria.since:%Y-%m-%d}"')
        if criteria.until is not None:
            clauses.append(f'updated < "{criteria.until:%Y-%m-%d}"')
        if not clauses:
            clauses.append(f"{_jql_value(links.objective_field)} is not EMPTY")
        jql = " AND ".join(clauses) + " ORDER BY updated DESC"
        exact = False
    url = f"{links.url.rstrip('/')}/issues/?{urlencode({'jql': jql}, quote_via=quote)}"
    return NativeFilter("jira", "Open in Jira", url, jql, exact)


def _sn_value(value: str) -> str:
    # ^ separates conditions and , separates IN values in an encoded query
    return value.replace("^", "").replace(",", " ")


def servicenow_filter(links: ServiceNowLinks, keys: Sequence[str], criteria: Criteria) -> NativeFilter:
    """A ServiceNow list (``<instance>/<table>_list.do?sysparm_query=...``) for these items."""
    if len(keys) <= MAX_KEYS:
        query = "numberIN" + ",".join(_sn_value(k) for k in keys) + "^ORDERBYnumber"
        exact = True
    else:
        parts = []
        if criteria.objective_ids:
            parts.append(f"{links.objective_column}IN" + ",".join(_sn_value(v) for v in criteria.objective_ids))
        if criteria.teams:
            parts.append("assignment_group.nameIN" + ",".join(_sn_value(v) for v in criteria.teams))
        if criteria.projects:
            parts.append("sys_class_nameIN" + ",".join(_sn_value(v) for v in criteria.projects))
        if criteria.natures:
            parts.append(f"{links.nature_column}IN" + ",".join(_sn_value(v) for v in criteria.natures))
        if criteria.score_range is not None:
            low, high = criteria.score_range
            parts.append(f"{links.score_column}BETWEEN{low:g}@{high:g}")
        if criteria.since is not None:
            parts.append(f"sys_updated_on>={criteria.since:%Y-%m-%d} 00:00:00")
        if criteria.until is not None:
            parts.append(f"sys_updated_on<{criteria.until:%Y-%m-%d} 00:00:00")
        if not parts:
            parts.append(f"{links.objective_column}ISNOTEMPTY")
        query = "^".join(parts) + "^ORDERBYDESCsys_updated_on"
        exact = False
    url = (f"{links.instance.rstrip('/')}/{links.table}_list.do?"
           f"{urlencode({'sysparm_query': query}, quote_via=quote)}")
    return NativeFilter("servicenow", "Open in ServiceNow", url, query, exact)


def _natural(key: str) -> tuple:
    """SHOP-9 before SHOP-10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def native_filters(links: PlatformLinks, keys_by_platform: dict[str, Sequence[str]],
                   criteria: Criteria) -> list[NativeFilter]:
    """One native filter per platform that has items in the list and is configured."""
    keys_by_platform = {platform: sorted(keys, key=_natural) for platform, keys in keys_by_platform.items()}
    out = []
    if links.jira is not None and keys_by_platform.get("jira"):
        out.append(jira_filter(links.jira, keys_by_platform["jira"], criteria))
    if links.servicenow is not None and keys_by_platform.get("servicenow"):
        out.append(servicenow_filter(links.servicenow, keys_by_platform["servicenow"], criteria))
    return out


def objective_label(objective_id: str, names: dict[str, str]) -> str:
    """The objective's name as written on the platform ("Unaligned" for unaligned)."""
    return UNALIGNED_NAME if objective_id == UNALIGNED else names.get(objective_id, objective_id)
