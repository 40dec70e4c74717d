"""In-memory state of the simulated Jira site: users, projects, fields with
contexts and options, issues with their changelog.

Kept small per issue (``__slots__``) so 20,000 seeded issues stay cheap. Every
access goes through :class:`Site` under one re-entrant lock owned by the sandbox.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

CF_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"


def jira_time(epoch: float) -> str:
    """Jira's timestamp format, e.g. ``2024-05-01T12:00:00.000+0000``."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


@dataclass
class User:
    """A Jira account. ``api_token`` authenticates Cloud basic auth (email:token),
    ``pat`` a Data Center bearer token."""

    account_id: str
    display_name: str
    email: str
    api_token: str | None = None
    pat: str | None = None
    account_type: str = "atlassian"
    admin: bool = False
    active: bool = True
    username: str | None = None  # Data Center user name (default: the e-mail's local part)

    @property
    def name(self) -> str:
        return self.username or self.email.split("@", 1)[0]

    def ref(self, datacenter: bool = False) -> str:
        """How Jira identifies the account: accountId (Cloud), user name (Data Center)."""
        return self.name if datacenter else self.account_id

    def details(self, base: str, datacenter: bool = False) -> dict[str, Any]:
        """``UserDetails`` as Jira embeds it in issues, changelogs and webhooks. Data
        Center has no accountId: ``name`` and ``key`` identify the user."""
        if datacenter:
            return {"self": f"{base}/rest/api/2/user?username={self.name}", "name": self.name,
                    "key": f"JIRAUSER{int(self.account_id[-4:], 16) + 10000}", "emailAddress": self.email,
                    "avatarUrls": {s: f"{base}/secure/useravatar?size={s[:2]}&ownerId={self.name}"
                                   for s in ("48x48", "24x24", "16x16", "32x32")},
                    "displayName": self.display_name, "active": self.active, "timeZone": "Etc/UTC"}
        return {
            "self": f"{base}/rest/api/2/user?accountId={self.account_id}",
            "accountId": self.account_id,
            "emailAddress": self.email,
            "avatarUrls": {s: f"{base}/avatar/{self.account_id}?s={s[:2]}" for s in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": self.display_name,
            "active": self.active,
            "timeZone": "Etc/UTC",
            "accountType": self.account_type,
        }


@dataclass
class Project:
    id: str
    key: str
    name: str
    lead: str  # accountId
    description: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    counter: int = 0
    #: team-managed ("next-gen") project: no screens; ``fields`` are the custom fields its
    #: issue layouts hold (created in the project itself, never global ones through REST)
    simplified: bool = False
    fields: set[str] = field(default_factory=set)

    def json(self, base: str, lead: User | None, api_version: int = 3, datacenter: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "self": f"{base}/rest/api/3/project/{self.id}",
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "projectTypeKey": "software",
            "simplified": self.simplified,
            "style": "next-gen" if self.simplified else "classic",
            "isPrivate": False,
            "assigneeType": "UNASSIGNED",
            "avatarUrls": {s: f"{base}/projectavatar/{self.id}?s={s[:2]}" for s in ("48x48", "24x24", "16x16", "32x32")},
        }
        data["issueTypes"] = [
            {"self": f"{base}/rest/api/{api_version}/issuetype/{tid}", "id": tid, "name": name, "subtask": False,
             "hierarchyLevel": 1 if name == "Epic" else 0}
            for name, tid in ISSUE_TYPES.items()]
        if lead is not None:
            data["lead"] = lead.details(base, datacenter)
        return data


@dataclass
class Option:
    id: str
    value: str
    disabled: bool = False

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "value": self.value, "disabled": self.disabled}


@dataclass
class Context:
    id: str
    name: str
    description: str = ""
    project_ids: list[str] = field(default_factory=list)
    issue_type_ids: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "isGlobalContext": not self.project_ids,
            "isAnyIssueType": not self.issue_type_ids,
        }


@dataclass
class Field:
    """A system or custom field. ``kind`` is the short custom type
    (``float``, ``select``, ``multiselect``, ``textarea``, ``textfield``, ``labels``)
    and drives validation and rendering."""

    id: str
    name: str
    kind: str
    custom: bool
    searcher: str | None = None
    description: str = ""
    contexts: list[Context] = field(default_factory=list)
    editable: bool = True

    @property
    def custom_id(self) -> int | None:
        return int(self.id.rsplit("_", 1)[1]) if self.custom else None

    @property
    def clause_names(self) -> list[str]:
        if self.custom:
            return [f"cf[{self.custom_id}]", self.name]
        return [self.id]

    def schema(self) -> dict[str, Any]:
        types = {
            "float": ("number", None),
            "select": ("option", None),
            "multiselect": ("array", "option"),
            "textarea": ("string", None),
            "textfield": ("string", None),
            "labels": ("array", "string"),
            "datetime": ("datetime", None),
            "issuetype": ("issuetype", None),
            "project": ("project", None),
            "status": ("status", None),
            "user": ("user", None),
            "parent": ("issuelink", None),
        }
        typ, items = types.get(self.kind, ("string", None))
        out: dict[str, Any] = {"type": typ}
        if items:
            out["items"] = items
        if self.custom:
            out["custom"] = CF_PREFIX + self.kind
            out["customId"] = self.custom_id
        else:
            out["system"] = self.id
        return out

    def json(self) -> dict[str, Any]:
        """``FieldDetails``."""
        return {
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom,
            "orderable": True,
            "navigable": True,
            "searchable": (not self.custom) or self.searcher is not None,
            "clauseNames": self.clause_names,
            "schema": self.schema(),
        }

    def option_by_id(self, option_id: str) -> Option | None:
        for ctx in self.contexts:
            for opt in ctx.options:
                if opt.id == option_id:
                    return opt
        return None

    def option_by_value(self, value: str) -> Option | None:
        for ctx in self.contexts:
            for opt in ctx.options:
                if opt.value == value and not opt.disabled:
                    return opt
        return None


@dataclass
class History:
    """One changelog entry: who changed which fields when."""

    id: str
    author: str  # accountId
    created: float
    items: list[dict[str, Any]]

    def json(self, base: str, users: dict[str, User], datacenter: bool = False) -> dict[str, Any]:
        author = users.get(self.author)
        return {
            "id": self.id,
            "author": author.details(base, datacenter) if author else {"accountId": self.author},
            "created": jira_time(self.created),
            "items": self.items,
        }


class Issue:
    """An issue; ``values`` holds stored field values keyed by field id
    (description, labels and every custom field)."""

    __slots__ = ("id", "key", "project", "issuetype", "summary", "created", "updated",
                 "reporter", "status", "values", "histories")

    def __init__(self, id: str, key: str, project: str, issuetype: str, summary: str,
                 reporter: str, created: float) -> None:
        self.id = id
        self.key = key
        self.project = project
        self.issuetype = issuetype
        self.summary = summary
        self.reporter = reporter
        self.created = created
        self.updated = created
        self.status = "To Do"
        self.values: dict[str, Any] = {}
        self.histories: list[History] | None = None

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003", "Epic": "10000", "Incident": "10004"}

SYSTEM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("summary", "Summary", "textfield"),
    ("description", "Description", "textarea"),
    ("labels", "Labels", "labels"),
    ("issuetype", "Issue Type", "issuetype"),
    ("project", "Project", "project"),
    ("status", "Status", "status"),
    ("created", "Created", "datetime"),
    ("updated", "Updated", "datetime"),
    ("reporter", "Reporter", "user"),
    ("parent", "Parent", "parent"),
)
#: System fields a PUT may set (the rest are read-only here).
EDITABLE_SYSTEM = {"summary", "description", "labels", "parent"}


class Counters:
    """Id sequences, Jira-like (10000+)."""

    def __init__(self) -> None:
        self.issue = itertools.count(10001)
        self.project = itertools.count(10000)
        self.field = itertools.count(10050)
        self.context = itertools.count(10150)
        self.option = itertools.count(10100)
        self.history = itertools.count(20001)
        self.task = itertools.count(10641)
        self.webhook = itertools.count(1)


class Site:
    """All state of one simulated site. Not thread-safe by itself: callers hold
    the sandbox lock."""

    def __init__(self) -> None:
        self.ids = Counters()
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}  # by key
        self.fields: dict[str, Field] = {}
        from .screens import ScreenConfig  # screens' handlers import this module

        self.screens = ScreenConfig(EDITABLE_SYSTEM)
        self.issues: dict[str, Issue] = {}  # by key
        self.issue_ids: dict[str, str] = {}  # id -> key
        for fid, name, kind in SYSTEM_FIELDS:
            self.fields[fid] = Field(fid, name, kind, custom=False, editable=fid in EDITABLE_SYSTEM)

    # ---- look-ups -------------------------------------------------------
    def user_by_email(self, email: str) -> User | None:
        for user in self.users.values():
            if user.email.lower() == email.lower():
                return user
        return None

    def project(self, id_or_key: str) -> Project | None:
        if id_or_key in self.projects:
            return self.projects[id_or_key]
        for p in self.projects.values():
            if p.id == id_or_key:
                return p
        return None

    def issue(self, id_or_key: str) -> Issue | None:
        key = self.issue_ids.get(id_or_key, id_or_key)
        return self.issues.get(key.upper() if not key.isdigit() else key)

    def field_by_name(self, name: str) -> list[Field]:
        low = name.lower()
        return [f for f in self.fields.values() if f.name.lower() == low]

    # ---- mutations ------------------------------------------------------
    def add_project(self, key: str, name: str, lead: str, description: str = "",
                    simplified: bool = False) -> Project:
        project = Project(str(next(self.ids.project)), key, name, lead, description, simplified=simplified)
        self.projects[key] = project
        return project

    def new_issue(self, project: Project, summary: str, issuetype: str, reporter: str,
                  created: float | None = None) -> Issue:
        project.counter += 1
        issue = Issue(str(next(self.ids.issue)), f"{project.key}-{project.counter}", project.key,
                      issuetype, summary, reporter, time.time() if created is None else created)
        self.issues[issue.key] = issue
        self.issue_ids[issue.id] = issue.key
        return issue

    def add_history(self, issue: Issue, author: str, items: list[dict[str, Any]], when: float) -> History:
        history = History(str(next(self.ids.history)), author, when, items)
        if issue.histories is None:
            issue.histories = []
        issue.histories.append(history)
        return history
