"""Screens as a company-managed Jira site configures them, and their REST API.

A project uses one *issue type screen scheme*; it maps each issue type (or
``default``: every type without its own entry) to a *screen scheme*; a screen
scheme names a screen per operation (``default``, and optionally ``create``,
``edit``, ``view``: an operation without its own screen uses ``default``); a
screen has tabs holding fields. A REST write may only set fields on the edit
screen of the issue's project and issue type; anything else is answered 400
"Field 'customfield_10050' cannot be set. It is not on the appropriate screen,
or unknown." (create: the create screen).

Projects on no scheme of their own use the *Default Issue Type Screen Scheme*
(id ``1``) -> *Default Screen Scheme* (1) -> *Default Screen* (1, tab 10000):
what ``POST /screens/addToDefault/{fieldId}`` changes. Team-managed
(``simplified``) projects have no screens at all: their issue layouts hold
their own, project-scoped fields, so a global custom field can never be set
there through REST (``issuetypescreenscheme/project`` returns only schemes
used in classic projects, per the OpenAPI description).

Handlers follow Atlassian's OpenAPI spec (tests/fixtures/jira/openapi-v3.json):
``GET /issuetypescreenscheme/project``, ``GET /issuetypescreenscheme/mapping``,
``GET /screenscheme``, ``GET /screens``, ``GET /screens/{id}/tabs``,
``GET|POST /screens/{id}/tabs/{tabId}/fields``,
``DELETE /screens/{id}/tabs/{tabId}/fields/{fieldId}``,
``POST /screens/addToDefault/{fieldId}``. Data Center has only the screen and
tab resources (an assumption, see docs/jira-datacenter.md): the scheme
resources answer 404 there.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .call import Call, Reply, page
from .errors import JiraError, not_found

if TYPE_CHECKING:  # pragma: no cover
    from .model import Issue, Site

DEFAULT_SCREEN_ID = 1
DEFAULT_TAB_ID = 10000
DEFAULT_SCREEN_SCHEME_ID = 1
DEFAULT_ITSS_ID = "1"
OPERATIONS = ("default", "create", "edit", "view")


@dataclass
class Tab:
    id: int
    name: str
    fields: list[str] = field(default_factory=list)


@dataclass
class Screen:
    id: int
    name: str
    description: str = ""
    tabs: list[Tab] = field(default_factory=list)

    def has(self, field_id: str) -> bool:
        return any(field_id in tab.fields for tab in self.tabs)

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description}


@dataclass
class ScreenScheme:
    id: int
    name: str
    screens: dict[str, int]  # operation -> screen id; "default" always there
    description: str = ""

    def screen_for(self, operation: str) -> int:
        return self.screens.get(operation) or self.screens["default"]

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description, "screens": dict(self.screens)}


@dataclass
class IssueTypeScreenScheme:
    id: str
    name: str
    mappings: dict[str, int]  # issue type id or "default" -> screen scheme id
    description: str = ""

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description}


class ScreenConfig:
    """Every screen, screen scheme and issue type screen scheme of a site."""

    def __init__(self, system_fields: Iterable[str]) -> None:
        self.ids = itertools.count(10000)
        self.tab_ids = itertools.count(10001)
        self.screens: dict[int, Screen] = {
            DEFAULT_SCREEN_ID: Screen(DEFAULT_SCREEN_ID, "Default Screen", "Allows to update all system fields.",
                                      [Tab(DEFAULT_TAB_ID, "Field Tab", sorted(system_fields))])}
        self.schemes: dict[int, ScreenScheme] = {
            DEFAULT_SCREEN_SCHEME_ID: ScreenScheme(DEFAULT_SCREEN_SCHEME_ID, "Default Screen Scheme",
                                                   {"default": DEFAULT_SCREEN_ID})}
        self.itss: dict[str, IssueTypeScreenScheme] = {
            DEFAULT_ITSS_ID: IssueTypeScreenScheme(DEFAULT_ITSS_ID, "Default Issue Type Screen Scheme",
                                                   {"default": DEFAULT_SCREEN_SCHEME_ID})}
        self.project_itss: dict[str, str] = {}  # project id -> issue type screen scheme id

    @property
    def default_screen(self) -> Screen:
        return self.screens[DEFAULT_SCREEN_ID]

    # ---- building (the sandbox control API) ------------------------------------
    def add_screen(self, name: str, fields: Iterable[str] = (), tabs: int = 1) -> Screen:
        screen = Screen(next(self.ids), name, f"{name} (sandbox)")
        screen.tabs = [Tab(next(self.tab_ids), "Field Tab" if n == 0 else f"Tab {n + 1}") for n in range(tabs)]
        screen.tabs[0].fields = list(fields)
        self.screens[screen.id] = screen
        return screen

    def add_scheme(self, name: str, screens: dict[str, int]) -> ScreenScheme:
        scheme = ScreenScheme(next(self.ids), name, dict(screens))
        self.schemes[scheme.id] = scheme
        return scheme

    def add_itss(self, name: str, mappings: dict[str, int]) -> IssueTypeScreenScheme:
        itss = IssueTypeScreenScheme(str(next(self.ids)), name, dict(mappings))
        self.itss[itss.id] = itss
        return itss

    # ---- look-ups --------------------------------------------------------------
    def itss_of(self, project_id: str) -> IssueTypeScreenScheme:
        return self.itss[self.project_itss.get(project_id, DEFAULT_ITSS_ID)]

    def screen_for(self, project_id: str, issuetype_id: str, operation: str) -> Screen:
        itss = self.itss_of(project_id)
        scheme = self.schemes[itss.mappings.get(issuetype_id) or itss.mappings["default"]]
        return self.screens[scheme.screen_for(operation)]


def settable(site: "Site", issue_or_project: Any, issuetype: str, field_id: str, operation: str = "edit") -> bool:
    """Whether REST may set ``field_id`` on an issue of this project and type."""
    from .model import ISSUE_TYPES

    project = site.projects[issue_or_project] if isinstance(issue_or_project, str) else issue_or_project
    if project.simplified:
        return field_id in project.fields
    tid = ISSUE_TYPES.get(issuetype, "10001")
    return site.screens.screen_for(project.id, tid, operation).has(field_id)


def edit_screen_fields(site: "Site", issue: "Issue") -> list[str]:
    """The fields ``editmeta`` offers for ``issue``."""
    from .model import ISSUE_TYPES

    project = site.projects[issue.project]
    if project.simplified:
        return sorted(project.fields)
    screen = site.screens.screen_for(project.id, ISSUE_TYPES.get(issue.issuetype, "10001"), "edit")
    return sorted({f for tab in screen.tabs for f in tab.fields})


# ---- REST handlers -------------------------------------------------------------------
def _company_only(call: Call) -> None:
    call.require_admin()
    if call.svc.deployment == "datacenter":  # assumption: DC has no scheme resources (see module docstring)
        raise JiraError(404, ["null for uri: issue type screen schemes and screen schemes are not resources "
                              "of this Jira Data Center REST API"])


def _ids(call: Call, name: str) -> list[str]:
    return call.list_arg(name) or []


def itss_projects(call: Call) -> Reply:
    """``GET /issuetypescreenscheme/project?projectId=..``: schemes with the projects using them
    (company-managed projects only; ``projectId`` is required, as in the spec)."""
    _company_only(call)
    wanted = _ids(call, "projectId")
    if not wanted:
        raise JiraError(400, ["The projectId parameter is required."])
    svc = call.svc
    with svc.lock:
        site = svc.site
        by_scheme: dict[str, list[str]] = {}
        for pid in wanted:
            project = site.project(pid)
            if project is None or project.simplified:
                continue  # "Only issue type screen schemes used in classic projects are returned."
            itss = site.screens.itss_of(project.id)
            by_scheme.setdefault(itss.id, []).append(project.id)
        values = [{"issueTypeScreenScheme": site.screens.itss[sid].json(), "projectIds": pids}
                  for sid, pids in by_scheme.items()]
    return Reply(200, page(values, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 50, 1), 100),
                           f"{svc.base_url}/rest/api/{call.version}/issuetypescreenscheme/project"))


def itss_mappings(call: Call) -> Reply:
    """``GET /issuetypescreenscheme/mapping?issueTypeScreenSchemeId=..``."""
    _company_only(call)
    wanted = set(_ids(call, "issueTypeScreenSchemeId"))
    svc = call.svc
    with svc.lock:
        values = [{"issueTypeScreenSchemeId": itss.id, "issueTypeId": tid, "screenSchemeId": str(scheme)}
                  for itss in svc.site.screens.itss.values() if not wanted or itss.id in wanted
                  for tid, scheme in itss.mappings.items()]
    return Reply(200, page(values, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 50, 1), 100),
                           f"{svc.base_url}/rest/api/{call.version}/issuetypescreenscheme/mapping"))


def screen_schemes(call: Call) -> Reply:
    """``GET /screenscheme?id=..``."""
    _company_only(call)
    wanted = {int(i) for i in _ids(call, "id") if i.isdigit()}
    svc = call.svc
    with svc.lock:
        values = [s.json() for s in svc.site.screens.schemes.values() if not wanted or s.id in wanted]
    return Reply(200, page(values, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 25, 1), 100),
                           f"{svc.base_url}/rest/api/{call.version}/screenscheme"))


def list_screens(call: Call) -> Reply:
    """``GET /screens?id=..``."""
    call.require_admin()
    wanted = {int(i) for i in _ids(call, "id") if i.isdigit()}
    svc = call.svc
    with svc.lock:
        values = [s.json() for s in svc.site.screens.screens.values() if not wanted or s.id in wanted]
    return Reply(200, page(values, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 100, 1), 100),
                           f"{svc.base_url}/rest/api/{call.version}/screens"))


def _screen(call: Call) -> Screen:
    screen = call.svc.site.screens.screens.get(call.path["screen_id"])
    if screen is None:
        raise not_found(f"The screen with id '{call.path['screen_id']}' does not exist.")
    return screen


def _tab(call: Call) -> tuple[Screen, Tab]:
    screen = _screen(call)
    for tab in screen.tabs:
        if tab.id == call.path["tab_id"]:
            return screen, tab
    raise not_found(f"The screen tab with id '{call.path['tab_id']}' does not exist.")


def screen_tabs(call: Call) -> Reply:
    call.require_admin()
    with call.svc.lock:
        return Reply(200, [{"id": t.id, "name": t.name} for t in _screen(call).tabs])


def screen_tab_fields(call: Call) -> Reply:
    call.require_admin()
    with call.svc.lock:
        site = call.svc.site
        _, tab = _tab(call)
        return Reply(200, [{"id": fid, "name": site.fields[fid].name} for fid in tab.fields if fid in site.fields])


def add_screen_tab_field(call: Call) -> Reply:
    call.require_admin()
    body = call.obj()
    fid = body.get("fieldId")
    if not isinstance(fid, str) or not fid:
        raise JiraError(400, [], {"fieldId": "The field ID must be specified."})
    with call.svc.lock:
        site = call.svc.site
        screen, tab = _tab(call)
        if fid not in site.fields:
            raise JiraError(400, [f"The field with id '{fid}' does not exist."])
        if screen.has(fid):
            raise JiraError(400, [f"Field with id '{fid}' already exists on the screen."])
        tab.fields.append(fid)
        return Reply(200, {"id": fid, "name": site.fields[fid].name})


def remove_screen_tab_field(call: Call) -> Reply:
    call.require_admin()
    fid = call.path["field_id"]
    with call.svc.lock:
        _, tab = _tab(call)
        if fid not in tab.fields:
            raise not_found(f"The field with id '{fid}' is not on the screen tab.")
        tab.fields.remove(fid)
        return Reply(204)


def add_to_default_screen(call: Call) -> Reply:
    call.require_admin()
    fid = call.path["field_id"]
    with call.svc.lock:
        site = call.svc.site
        if fid not in site.fields:
            raise not_found(f"The field with id '{fid}' does not exist.")
        screen = site.screens.default_screen
        if screen.has(fid):
            raise not_found(f"The field with id '{fid}' is already present on the default screen.")
        screen.tabs[0].fields.append(fid)
        return Reply(200, {})
