"""Platform exports (files people download from Jira or ServiceNow) as WorkItems.

For a first look before any webhook is set up: ``itsm-align score FILE --platform
jira|servicenow`` reads a native export through :func:`read_export`. Each platform's
column layout is mapped in its own module (:mod:`.jira.export`,
:mod:`.servicenow.export`), onto the same WorkItem the adapters build from the API, so
rules behave alike on an export and on live data.

Pure: text in, items out; no file or network I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

from itsm_align.scoring.types import WorkItem

__all__ = ["EFFORT_COLUMNS", "ExportError", "ExportedItem", "read_export"]

#: Effort measures an export may carry besides ``WorkItem.effort`` (hours or points).
EFFORT_COLUMNS = ("story_points", "time_spent", "time_worked")


class ExportError(ValueError):
    """The export cannot be read; ``problems`` lists every bad row or column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))


@dataclass(frozen=True)
class ExportedItem:
    """One exported ticket: the WorkItem, the effort measures the export had (keys of
    :data:`EFFORT_COLUMNS`, None when the export had no value) and its link, when a base
    URL was given."""

    item: WorkItem
    measures: Mapping[str, float | None] = field(default_factory=dict)
    url: str | None = None


def read_export(platform: Literal["jira", "servicenow"], text: str, fmt: str, *,
                base_url: str | None = None) -> list[ExportedItem]:
    """Read a native export of ``platform``: Jira CSV (``fmt`` csv), ServiceNow CSV or
    JSON (``fmt`` csv / json). ``base_url`` (the site, e.g. ``https://acme.atlassian.net``)
    makes item links. Raises :class:`ExportError` listing every problem."""
    if platform == "jira":
        from .jira.export import read_jira_export

        if fmt != "csv":
            raise ExportError([f"a Jira export is a CSV file (Issues > Export > CSV), not "
                               f"{fmt!r}; for a JSON list of tickets leave out --platform"])
        return read_jira_export(text, base_url=base_url)
    if platform == "servicenow":
        from .servicenow.export import read_servicenow_export

        return read_servicenow_export(text, fmt, base_url=base_url)
    raise ExportError([f"unknown platform {platform!r}; use jira or servicenow"])
