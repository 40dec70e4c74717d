"""Jira issue / project JSON -> WorkItem, and Atlassian Document Format <-> text.

Pure functions over dicts (no HTTP): the adapter fetches, this module reads.
Works on v2 answers (plain-text description/textarea) and v3 answers (ADF).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from itsm_align.scoring.types import Nature, OutputValues, SetBy, WorkItem

#: WorkItem attribute -> the Jira fields it is read from.
ATTRIBUTE_FIELDS: dict[str, tuple[str, ...]] = {
    "summary": ("summary",),
    "description": ("description",),
    "type": ("issuetype",),
    "project": ("project",),
    "labels": ("labels",),
    "components": ("components",),
    "priority": ("priority",),
    "status": ("status",),
    "parent": ("parent",),
    "assignee": ("assignee",),
    "reporter": ("reporter",),
    "created": ("created",),
    "updated": ("updated",),
}
#: Always asked for: cheap, and what every item needs to be recognisable.
BASE_FIELDS: tuple[str, ...] = ("summary", "issuetype", "project", "parent")


@dataclass(frozen=True, slots=True)
class OutputFieldIds:
    """Jira ids of our four output fields (``customfield_NNNNN``)."""

    objective: str
    score: str
    rationale: str
    nature: str

    def all(self) -> tuple[str, str, str, str]:
        return (self.objective, self.score, self.rationale, self.nature)


# ------------------------------------------------------------------ ADF
def adf_to_text(node: Any) -> str:
    """Plain text of an ADF document (or a plain string, returned as is)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    out: list[str] = []
    _adf_walk(node, out)
    return "".join(out).strip()


_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "listItem", "rule", "panel",
           "tableRow", "mediaSingle", "expand"}


def _adf_walk(node: Any, out: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _adf_walk(child, out)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        out.append(str(node.get("text", "")))
    elif kind == "hardBreak":
        out.append("\n")
    elif kind == "mention":
        out.append(str(attrs.get("text") or attrs.get("id") or ""))
    elif kind == "emoji":
        out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    elif kind in ("inlineCard", "blockCard"):
        out.append(str(attrs.get("url") or ""))
    elif kind == "date":
        out.append(str(attrs.get("timestamp") or ""))
    elif kind == "status":
        out.append(str(attrs.get("text") or ""))
    _adf_walk(node.get("content") or [], out)
    if kind in _BLOCKS and out and not out[-1].endswith("\n"):
        out.append("\n")


def text_to_adf(text: str) -> dict[str, Any]:
    """A minimal ADF document holding ``text`` (one paragraph per line)."""
    content = []
    for line in text.split("\n"):
        paragraph: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            paragraph["content"].append({"type": "text", "text": line})
        content.append(paragraph)
    return {"type": "doc", "version": 1, "content": content}


# ------------------------------------------------------------------ values
def simple_value(value: Any) -> Any:
    """A field value reduced to what rules compare: option value, name, key, text."""
    if isinstance(value, list):
        return [simple_value(v) for v in value]
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            return adf_to_text(value)
        if "accountId" in value or "emailAddress" in value or "displayName" in value:  # a user
            return value.get("displayName") or value.get("name") or value.get("accountId")
        if "value" in value and value["value"] is not None:  # select option (cascading: [parent, child])
            if isinstance(value.get("child"), Mapping):
                return [value["value"], simple_value(value["child"])]
            return value["value"]
        for key in ("key", "name"):  # project / parent issue by key; status, priority, type by name
            if value.get(key) is not None:
                return value[key]
        return dict(value)
    return value


def parse_time(value: Any) -> datetime | None:
    """Jira timestamps (``2024-03-01T10:00:00.000+0000``) or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        from datetime import timezone
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    text = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in ("name", "key", "value", "displayName", "accountId"):
            if value.get(key):
                return str(value[key])
        return None
    return None if value is None else str(value)


def _person(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return value.get("displayName") or value.get("name") or value.get("accountId")
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def output_values(fields: Mapping[str, Any], ids: OutputFieldIds,
                  objective_id: Callable[[Mapping[str, Any]], str | None],
                  set_by: SetBy = SetBy.NOBODY) -> OutputValues:
    """What our four fields hold now. ``objective_id`` maps the select value
    (``{"id", "value"}``) back to an objective id (or UNALIGNED)."""
    raw_objective = fields.get(ids.objective)
    objective = objective_id(raw_objective) if isinstance(raw_objective, Mapping) else None
    nature_value = simple_value(fields.get(ids.nature))
    nature = None
    if isinstance(nature_value, str):
        try:
            nature = Nature(nature_value.strip().lower())
        except ValueError:
            nature = None
    rationale = fields.get(ids.rationale)
    return OutputValues(
        objective=objective,
        score=_number(fields.get(ids.score)),
        rationale=adf_to_text(rationale) if rationale is not None else None,
        nature=nature,
        objective_set_by=set_by if objective is not None else SetBy.NOBODY,
    )


def issue_to_item(issue: Mapping[str, Any], *, current: OutputValues, effort_field: str = "timeoriginalestimate",
                  epic_link_field: str | None = None, skip_raw: Iterable[str] = ()) -> WorkItem:
    """One Jira issue (v2 or v3 JSON) as a WorkItem."""
    fields: Mapping[str, Any] = issue.get("fields") or {}
    parent = fields.get("parent")
    parent_key = parent.get("key") if isinstance(parent, Mapping) else None
    if parent_key is None and epic_link_field and fields.get(epic_link_field):
        parent_key = _name(fields.get(epic_link_field))
    effort_raw = _number(fields.get(effort_field))
    effort = effort_raw / 3600.0 if effort_raw is not None and effort_field == "timeoriginalestimate" else effort_raw
    project = fields.get("project")
    issuetype = _name(fields.get("issuetype"))
    skip = set(skip_raw)
    raw = {fid: simple_value(v) for fid, v in fields.items() if fid not in skip}
    return WorkItem(
        platform="jira",
        key=str(issue.get("key")),
        kind="ticket",
        id=str(issue["id"]) if issue.get("id") is not None else None,
        type=issuetype.lower() if issuetype else None,
        project=(project.get("key") if isinstance(project, Mapping) else _name(project)),
        summary=str(fields.get("summary") or ""),
        description=adf_to_text(fields.get("description")),
        labels=tuple(str(x) for x in fields.get("labels") or ()),
        components=tuple(n for n in (_name(c) for c in fields.get("components") or ()) if n),
        priority=_name(fields.get("priority")),
        status=_name(fields.get("status")),
        parent=parent_key,
        assignee=_person(fields.get("assignee")),
        reporter=_person(fields.get("reporter")),
        effort=effort,
        created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")),
        raw=raw,
        current=current,
    )


def project_to_item(project: Mapping[str, Any]) -> WorkItem:
    """A Jira project (webhook ``project`` object or GET /project answer) as a WorkItem."""
    category = project.get("projectCategory")
    raw = {k: simple_value(v) for k, v in project.items() if k not in ("avatarUrls", "self")}
    return WorkItem(
        platform="jira",
        key=str(project.get("key")),
        kind="project",
        id=str(project["id"]) if project.get("id") is not None else None,
        type="project",
        project=str(project.get("key")),
        summary=str(project.get("name") or ""),
        description=adf_to_text(project.get("description")),
        components=(),
        assignee=_person(project.get("projectLead") or project.get("lead")),
        business_service=_name(category) if category else None,
        raw=raw,
    )


def fields_for(attributes: Iterable[str] | None, *, effort_field: str,
               epic_link_field: str | None) -> set[str]:
    """Jira field ids to ask for, from the names rules read (engine.fields_read):
    WorkItem attributes and ``fields.<id>``. ``None`` = everything we map."""
    wanted: set[str] = set(BASE_FIELDS)
    names = list(ATTRIBUTE_FIELDS) + ["effort"] if attributes is None else list(attributes)
    for name in names:
        if name.startswith("fields."):
            wanted.add(name[len("fields."):])
        elif name == "effort":
            wanted.add(effort_field)
        elif name in ATTRIBUTE_FIELDS:
            wanted.update(ATTRIBUTE_FIELDS[name])
    if epic_link_field and ("parent" in wanted):
        wanted.add(epic_link_field)
    return wanted
