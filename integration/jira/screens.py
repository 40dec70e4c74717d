"""Our four fields on every screen the projects in scope use, and where a
refused write should have found them.

Jira only lets REST set a field that is on the *edit screen* of the issue's
project and issue type (else 400 "Field 'customfield_10050' cannot be set. It
is not on the appropriate screen, or unknown."). Company-managed projects
reach their screens through schemes:

    project -> issue type screen scheme   GET /issuetypescreenscheme/project?projectId=..
            -> screen scheme per type     GET /issuetypescreenscheme/mapping?issueTypeScreenSchemeId=..
            -> screens (default, create,  GET /screenscheme?id=..
               edit, view)
            -> tabs -> fields             GET /screens/{id}/tabs, GET|POST /screens/{id}/tabs/{tab}/fields

``ScreenSetup`` walks that for the projects in scope (the JQL's ``project``
clause, else every project) plus the Default Issue Type Screen Scheme (id 1:
projects created later start there), batching ids so a site of 20 projects
costs a handful of requests, and adds what is missing to the first tab of each
screen. Nothing is remembered between runs: Jira is asked every time.

Team-managed projects (``"simplified": true``, ``"style": "next-gen"``) have
no screens or schemes: their fields belong to the project and a global custom
field cannot be placed on their issue layouts through the REST API
(``issuetypescreenscheme/project`` returns "only issue type screen schemes
used in classic projects"). Set-up says so per project, with what the admin can
do (README, "Team-managed projects").

``SetupCalls`` is the client set-up uses: every request through
``integration.retry.call_with_retry`` (429 and 5xx retried; ``Retry-After``
waited out in full before the next request), so a rate limit is never read as
"the field is not on the screen".
"""
from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from itsm_align.integration.base import NotFound, PlatformError, SetupStep
from itsm_align.integration.retry import call_with_retry

from .client import JiraClient

log = logging.getLogger(__name__)

DEFAULT_ITSS = "1"  # the Default Issue Type Screen Scheme on every site
OPERATIONS = ("default", "create", "edit", "view")
#: ids per request in the scheme look-ups (Jira takes repeated query parameters)
BATCH = 50
#: A Retry-After longer than this fails set-up with advice instead of waiting
MAX_WAIT = 300.0
TEAM_MANAGED_DOC = "https://support.atlassian.com/jira-software-cloud/docs/manage-and-administer-team-managed-projects/"
TEAM_MANAGED_HELP = (
    "{key} is a team-managed project: its fields belong to the project and Jira's REST API cannot put "
    "itsm-align's global fields on its issue layouts (the screen APIs cover company-managed projects only), "
    "so set-up cannot make them writable and the service does not write there. An admin can: move the "
    "project's issues to a company-managed project (Jira: Move issues, or create the project from a "
    "company-managed template), or leave {key} out of jira.jql. Its issues are still assessed and reported. "
    "See " + TEAM_MANAGED_DOC)


class SetupCalls:
    """``JiraClient`` for set-up: each request retried on 429/5xx after at least
    its ``Retry-After`` (else 2, 4, 8 s... with jitter), at most ``attempts`` tries.
    A wait longer than ``max_wait`` stops set-up with the platform's error."""

    def __init__(self, client: JiraClient, *, sleep: Callable[[float], None] = time.sleep,
                 attempts: int = 6, max_wait: float = MAX_WAIT) -> None:
        self.client = client
        self.sleep = sleep
        self.attempts = attempts
        self.max_wait = max_wait

    @property
    def cloud(self) -> bool:
        return self.client.cloud

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def path(self, resource: str, version: int = 3) -> str:
        return self.client.path(resource, version)

    def _too_long(self, error: PlatformError, wait: float) -> None:
        if wait > self.max_wait:
            raise error

    def _call(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, attempts=self.attempts, sleep=self.sleep, on_retry=self._too_long)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call(lambda: self.client.get(path, params))

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self._call(lambda: self.client.post(path, body, params))

    def put(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self._call(lambda: self.client.put(path, body, params))

    def quiet(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(lambda: self.client.quiet(method, path, body))


# ---------------------------------------------------------------- scope
_PROJECT_CLAUSE = re.compile(r"\bproject\s*(=|\bin\b)\s*(\([^)]*\)|\"[^\"]+\"|'[^']+'|[\w-]+)", re.IGNORECASE)


def projects_in_jql(jql: str | None) -> list[str] | None:
    """Project keys a JQL limits itself to (``project = A``, ``project in (A, B)``
    joined by AND); None when it may match any project (no such clause, or OR / NOT)."""
    text = re.sub(r"\border\s+by\b.*$", "", jql or "", flags=re.IGNORECASE | re.DOTALL).strip()
    if not text or re.search(r"\b(or|not)\b|!=|\bnot\s+in\b", text, re.IGNORECASE):
        return None
    keys: list[str] = []
    for _op, value in _PROJECT_CLAUSE.findall(text):
        for part in value.strip("()").split(","):
            key = part.strip().strip("\"'").upper()
            if key and key not in keys:
                keys.append(key)
    return keys or None


@dataclass
class ProjectInfo:
    id: str
    key: str
    name: str
    team_managed: bool
    issue_types: dict[str, str]  # id -> name

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> "ProjectInfo":
        types = {str(t.get("id")): str(t.get("name")) for t in data.get("issueTypes") or () if t.get("id")}
        return cls(str(data.get("id")), str(data.get("key")), str(data.get("name") or data.get("key")),
                   bool(data.get("simplified")) or data.get("style") == "next-gen", types)


def _paged(calls: SetupCalls, path: str, params: Mapping[str, Any], page: int = 50) -> Iterator[dict[str, Any]]:
    start = 0
    while True:
        answer = calls.get(path, params={**params, "startAt": start, "maxResults": page}) or {}
        values = answer.get("values") or []
        yield from values
        start += len(values)
        if answer.get("isLast", True) or not values:
            return


def _chunks(items: Sequence[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def find_projects(calls: SetupCalls, keys: list[str] | None) -> list[ProjectInfo]:
    """The projects in scope with their style and issue types (Cloud: paged
    ``project/search``; Data Center: ``GET /project``)."""
    if calls.cloud:
        params: dict[str, Any] = {"expand": "issueTypes"}
        if keys is None:
            return [ProjectInfo.of(p) for p in _paged(calls, calls.path("project/search"), params)]
        found: list[ProjectInfo] = []
        for chunk in _chunks(keys):
            found += [ProjectInfo.of(p) for p in _paged(calls, calls.path("project/search"),
                                                         {**params, "keys": chunk})]
        return found
    every = [ProjectInfo.of(p) for p in calls.get(calls.path("project"), params={"expand": "issueTypes"}) or []]
    return every if keys is None else [p for p in every if p.key in keys]


# ---------------------------------------------------------------- screens in use
@dataclass
class ScreenUse:
    """One screen and who uses it: project key -> issue type names (None: every type)."""

    id: int
    name: str = ""
    users: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def used_by(self) -> str:
        if not self.users:
            return "projects on the default scheme (and new projects)"
        return ", ".join(f"{p} ({', '.join(sorted(t)) or 'all issue types'})" for p, t in sorted(self.users.items()))


class SchemesMissing(Exception):
    """The site has no scheme resources (Data Center): only the Default Screen can be reached."""


def screens_in_use(calls: SetupCalls, projects: Sequence[ProjectInfo]) -> dict[int, ScreenUse]:
    """screen id -> ScreenUse, for the company-managed ``projects`` and the Default
    Issue Type Screen Scheme. Raises SchemesMissing when Jira has no such resources."""
    itss_of: dict[str, str] = {}
    ids = [p.id for p in projects]
    try:
        for chunk in _chunks(ids):
            for entry in _paged(calls, calls.path("issuetypescreenscheme/project"), {"projectId": chunk}):
                scheme = str((entry.get("issueTypeScreenScheme") or {}).get("id"))
                for pid in entry.get("projectIds") or ():
                    itss_of[str(pid)] = scheme
    except NotFound as error:
        raise SchemesMissing(error.message) from None
    schemes = sorted(set(itss_of.values()) | {DEFAULT_ITSS})
    mappings: dict[str, dict[str, str]] = defaultdict(dict)  # itss -> issue type id|default -> screen scheme
    for chunk in _chunks(schemes):
        for item in _paged(calls, calls.path("issuetypescreenscheme/mapping"), {"issueTypeScreenSchemeId": chunk}):
            mappings[str(item["issueTypeScreenSchemeId"])][str(item["issueTypeId"])] = str(item["screenSchemeId"])
    scheme_ids = sorted({s for m in mappings.values() for s in m.values()}, key=int)
    screens_of: dict[str, dict[str, int]] = {}
    for chunk in _chunks(scheme_ids):
        for scheme in _paged(calls, calls.path("screenscheme"), {"id": chunk}, page=25):
            screens_of[str(scheme["id"])] = {op: int(sid) for op, sid in (scheme.get("screens") or {}).items()
                                             if sid is not None}
    uses: dict[int, ScreenUse] = {}

    def use(scheme_id: str, project: ProjectInfo | None, types: Iterable[str]) -> None:
        for screen_id in screens_of.get(scheme_id, {}).values():
            entry = uses.setdefault(screen_id, ScreenUse(screen_id))
            if project is not None:
                entry.users[project.key].update(types)

    for scheme_id in mappings.get(DEFAULT_ITSS, {}).values():
        use(scheme_id, None, ())
    for project in projects:
        mapping = mappings.get(itss_of.get(project.id, DEFAULT_ITSS), {})
        explicit = {t for t in mapping if t != "default"}
        for type_id, scheme_id in mapping.items():
            if type_id == "default":
                rest = [n for t, n in project.issue_types.items() if t not in explicit]
                use(scheme_id, project, rest if explicit else [])
            else:
                use(scheme_id, project, [project.issue_types.get(type_id, f"type {type_id}")])
    for chunk in _chunks([str(i) for i in sorted(uses)]):
        for screen in _paged(calls, calls.path("screens"), {"id": chunk}, page=100):
            if int(screen["id"]) in uses:
                uses[int(screen["id"])].name = str(screen.get("name") or "")
    return uses


def _tabs_and_fields(calls: SetupCalls, screen_id: int) -> list[tuple[dict[str, Any], set[str]]]:
    out = []
    for tab in calls.get(calls.path(f"screens/{screen_id}/tabs")) or []:
        fields = calls.get(calls.path(f"screens/{screen_id}/tabs/{tab['id']}/fields")) or []
        out.append((tab, {str(f.get("id")) for f in fields}))
    return out


# ---------------------------------------------------------------- set-up
class ScreenSetup:
    """Puts the fields on every screen in use (see the module docstring)."""

    def __init__(self, calls: SetupCalls, jql: str | None) -> None:
        self.calls = calls
        self.jql = jql

    def run(self, fields: Mapping[str, str | None], dry_run: bool) -> list[SetupStep]:
        """``fields``: display name -> field id (None: not created yet, dry run)."""
        steps: list[SetupStep] = []
        keys = projects_in_jql(self.jql)
        projects = find_projects(self.calls, keys)
        for missing in sorted(set(keys or ()) - {p.key for p in projects}):
            steps.append(SetupStep("find project", missing, "not found, or the integration account cannot see it: "
                                   "check jira.jql and the account's Browse Projects permission"))
        company = [p for p in projects if not p.team_managed]
        for project in projects:
            if project.team_managed:
                steps.append(SetupStep("team-managed project", project.key,
                                       TEAM_MANAGED_HELP.format(key=project.key)))
        try:
            uses = screens_in_use(self.calls, company)
        except SchemesMissing:
            return steps + self._default_screen_only(fields, company, dry_run)
        for screen_id in sorted(uses):
            steps.append(self._screen(uses[screen_id], fields, dry_run))
        return steps

    def _screen(self, use: ScreenUse, fields: Mapping[str, str | None], dry_run: bool) -> SetupStep:
        target = f"{use.name or 'screen'} ({use.id})"
        tabs = _tabs_and_fields(self.calls, use.id)
        present = set().union(*(f for _, f in tabs)) if tabs else set()
        missing = [(name, fid) for name, fid in fields.items() if fid is None or fid not in present]
        if not missing:
            return SetupStep("put fields on screen", target, f"all in place; used by {use.used_by()}", needed=False)
        if not tabs:
            return SetupStep("put fields on screen", target, "the screen has no tab: add one in Jira, then run "
                             "set-up again")
        tab = tabs[0][0]
        detail = f"add {', '.join(n for n, _ in missing)} to tab '{tab.get('name')}'; used by {use.used_by()}"
        if dry_run or any(fid is None for _, fid in missing):
            return SetupStep("put fields on screen", target, detail)
        for _name, fid in missing:
            self.calls.post(self.calls.path(f"screens/{use.id}/tabs/{tab['id']}/fields"), {"fieldId": fid})
        return SetupStep("put fields on screen", target, detail, done=True)

    def _default_screen_only(self, fields: Mapping[str, str | None], projects: Sequence[ProjectInfo],
                             dry_run: bool) -> list[SetupStep]:
        """No scheme resources (Data Center): the Default Screen, and advice per project."""
        steps: list[SetupStep] = []
        default = next((s for s in _paged(self.calls, self.calls.path("screens"), {}, page=100)
                        if s.get("name") == "Default Screen"), None)
        if default is not None:
            steps.append(self._screen(ScreenUse(int(default["id"]), "Default Screen"), fields, dry_run))
        else:
            for name, fid in fields.items():
                if dry_run or fid is None:
                    steps.append(SetupStep("add to default screen", name))
                    continue
                try:
                    self.calls.post(self.calls.path(f"screens/addToDefault/{fid}"))
                except NotFound as error:  # Jira: 404 when the field is already there
                    if "already" not in error.message.lower():
                        raise
                steps.append(SetupStep("add to default screen", name, fid, done=True))
        if projects:
            keys = ", ".join(p.key for p in projects)
            steps.append(SetupStep(
                "check project screens", keys,
                "this Jira has no REST API for screen schemes, so set-up can only reach the Default Screen: for "
                "projects on their own screen scheme, add the four fields to their edit screens (Administration "
                "> Issues > Screens); a refused write names the project, issue type and screen"))
        return steps


# ---------------------------------------------------------------- diagnosis of a refused write
@dataclass(frozen=True)
class EditScreen:
    """Where a write of (project, issue type) should find the fields."""

    project: str
    issuetype: str
    team_managed: bool = False
    screen: str | None = None  # "PAY: Scrum Bug Screen (10003)"; None when Jira cannot say

    def describe(self) -> str:
        if self.team_managed:
            return TEAM_MANAGED_HELP.format(key=self.project)
        where = f"edit screen '{self.screen}'" if self.screen else "edit screen"
        return f"project {self.project}, issue type {self.issuetype}: the fields are not on its {where}"


def locate_edit_screen(client: JiraClient, project_key: str, issuetype: str | None) -> EditScreen:
    """Ask Jira which edit screen (project, issue type) writes go through. Best
    effort: a failing look-up leaves ``screen`` None (the caller's error still names
    project and issue type)."""
    kind = issuetype or "?"
    try:
        project = ProjectInfo.of(client.get(client.path(f"project/{project_key}"),
                                            params={"expand": "issueTypes"}) or {})
    except PlatformError as error:
        log.warning("cannot look up project %s: %s", project_key, error.message)
        return EditScreen(project_key, kind)
    kind = next((n for n in project.issue_types.values() if n.lower() == kind.lower()), kind)
    if project.team_managed:
        return EditScreen(project_key, kind, team_managed=True)
    try:
        screen = _edit_screen_of(SetupCalls(client, attempts=1), project, issuetype)
    except (PlatformError, KeyError, ValueError, TypeError) as error:
        log.warning("cannot find the edit screen of %s %s: %s", project_key, kind, error)
        screen = None
    return EditScreen(project_key, kind, screen=screen)


def _edit_screen_of(calls: SetupCalls, project: ProjectInfo, issuetype: str | None) -> str | None:
    """project -> its scheme -> the screen scheme for the type -> its edit screen's name."""
    answer = calls.get(calls.path("issuetypescreenscheme/project"), params={"projectId": [project.id]}) or {}
    itss = next((str(v["issueTypeScreenScheme"]["id"]) for v in answer.get("values") or ()), DEFAULT_ITSS)
    mapping = {str(m["issueTypeId"]): str(m["screenSchemeId"]) for m in _paged(
        calls, calls.path("issuetypescreenscheme/mapping"), {"issueTypeScreenSchemeId": [itss]})}
    type_id = next((t for t, n in project.issue_types.items() if n.lower() == (issuetype or "").lower()), None)
    scheme_id = mapping.get(type_id or "") or mapping.get("default")
    if scheme_id is None:
        return None
    schemes = calls.get(calls.path("screenscheme"), params={"id": [scheme_id]}) or {}
    screens = next((s.get("screens") or {} for s in schemes.get("values") or ()), {})
    screen_id = screens.get("edit") or screens.get("default")
    if screen_id is None:
        return None
    found = calls.get(calls.path("screens"), params={"id": [screen_id]}) or {}
    name = next((str(s.get("name")) for s in found.get("values") or ()), "screen")
    return f"{name} ({screen_id})"
