"""The simulated site's behaviour, shared by the REST handlers and the Python
control API: edit issues (validated, recorded in the changelog) and turn every
change into webhook deliveries.

Behaviour choices (documented because Jira varies): an edit that changes
nothing records no history and sends no webhook.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Iterable

from . import values
from .delivery import Dispatcher, Webhook
from .errors import JiraError, field_errors
from .jql import compile_jql
from .limits import PER_ISSUE_DEFAULT, SlidingWindows
from .model import ISSUE_TYPES, Issue, Project, Site, User, jira_time
from .screens import settable


class JiraService:
    """State plus the operations that change it. All public methods take the lock."""

    def __init__(self, dispatcher: Dispatcher, deployment: str = "cloud") -> None:
        self.lock = threading.RLock()
        self.site = Site()
        self.dispatcher = dispatcher
        self.deployment = deployment
        self.webhooks: dict[int, Webhook] = {}
        self.base_url = "http://127.0.0.1"
        self.issue_limiter = SlidingWindows(PER_ISSUE_DEFAULT)

    @property
    def datacenter(self) -> bool:
        return self.deployment == "datacenter"

    # ---- users ------------------------------------------------------------
    def add_user(self, user: User) -> User:
        with self.lock:
            self.site.users[user.account_id] = user
            return user

    # ---- rendering --------------------------------------------------------
    def issue_json(self, issue: Issue, api_version: int, wanted: Iterable[str] | None = None,
                   expand: set[str] | None = None) -> dict[str, Any]:
        """An ``IssueBean``; ``wanted`` None means all fields."""
        base = self.base_url
        site = self.site
        names = set(wanted) if wanted is not None else None
        fields: dict[str, Any] = {}

        def want(fid: str) -> bool:
            return names is None or fid in names

        project = site.projects[issue.project]
        if want("summary"):
            fields["summary"] = issue.summary
        if want("issuetype"):
            tid = ISSUE_TYPES.get(issue.issuetype, "10001")
            fields["issuetype"] = {"self": f"{base}/rest/api/{api_version}/issuetype/{tid}", "id": tid,
                                   "name": issue.issuetype, "subtask": False}
        if want("project"):
            fields["project"] = {"self": f"{base}/rest/api/{api_version}/project/{project.id}",
                                 "id": project.id, "key": project.key, "name": project.name}
        if want("status"):
            fields["status"] = {"name": issue.status, "id": "10000" if issue.status == "To Do" else "10001",
                                "statusCategory": {"key": "new" if issue.status == "To Do" else "indeterminate"}}
        if want("created"):
            fields["created"] = jira_time(issue.created)
        if want("updated"):
            fields["updated"] = jira_time(issue.updated)
        if want("reporter"):
            reporter = site.users.get(issue.reporter)
            fields["reporter"] = reporter.details(base, self.datacenter) if reporter else None
        parent = site.issues.get(issue.values.get("parent") or "")
        if want("parent") and parent is not None:
            fields["parent"] = self.parent_json(parent, api_version)
        for fid, field in site.fields.items():
            if fid in {"summary", "issuetype", "project", "status", "created", "updated", "reporter", "parent"}:
                continue
            if want(fid):
                fields[fid] = values.render(field, issue.values.get(fid), api_version, base)
        data: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": f"{base}/rest/api/{api_version}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }
        if expand and "changelog" in expand:
            histories = [h.json(base, site.users, self.datacenter) for h in reversed(issue.histories or [])]
            data["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                                 "histories": histories}
        if expand and "names" in expand:
            data["names"] = {fid: site.fields[fid].name for fid in fields if fid in site.fields}
        return data

    def parent_json(self, parent: Issue, api_version: int) -> dict[str, Any]:
        """The ``parent`` field as Jira Cloud shows it: the parent's id, key and a few fields."""
        base = self.base_url
        tid = ISSUE_TYPES.get(parent.issuetype, "10001")
        return {"id": parent.id, "key": parent.key, "self": f"{base}/rest/api/{api_version}/issue/{parent.id}",
                "fields": {"summary": parent.summary,
                           "status": {"name": parent.status},
                           "issuetype": {"id": tid, "name": parent.issuetype, "subtask": False,
                                         "hierarchyLevel": 1 if parent.issuetype == "Epic" else 0}}}

    # ---- issues -----------------------------------------------------------
    def create_issue(self, user: User, project_key: str, summary: str, description: Any = "",
                     issuetype: str = "Task", fields: dict[str, Any] | None = None,
                     api_version: int = 2, notify: bool = True, created: float | None = None,
                     check_screen: bool = False) -> Issue:
        """Create an issue as ``user``; send ``jira:issue_created`` when ``notify``."""
        with self.lock:
            project = self.site.project(project_key)
            if project is None:
                raise JiraError(400, [], {"project": "valid project is required"})
            target = (project, issuetype, "create") if check_screen else None
            parsed = self._parse_fields(fields or {}, api_version, target)
            issue = self.site.new_issue(project, summary, issuetype, user.account_id, created)
            if description:
                issue.values["description"] = description
            issue.values.update({k: v for k, v in parsed.items() if v is not None})
            if notify:
                self.emit_issue("jira:issue_created", "issue_created", issue, user, None)
            return issue

    def delete_issue(self, user: User, issue: Issue) -> None:
        """Delete an issue; sends ``jira:issue_deleted`` (with the last state of the issue)."""
        with self.lock:
            self.emit_issue("jira:issue_deleted", "issue_deleted", issue, user, None)
            del self.site.issues[issue.key]
            del self.site.issue_ids[issue.id]

    def _parent(self, value: Any) -> str | None:
        """The key a ``parent`` value (``{"key": ...}`` or ``{"id": ...}``) names, if the issue exists."""
        if not isinstance(value, dict):
            return None
        ref = value.get("key") or value.get("id")
        issue = self.site.issue(str(ref)) if ref else None
        return issue.key if issue is not None else None

    def _parse_fields(self, raw: dict[str, Any], api_version: int,
                      target: tuple[Project, str, str] | None = None) -> dict[str, Any]:
        """Validate REST field values; ``target`` (project, issue type, operation)
        also checks each field is on that screen (None: a person in the UI)."""
        errors: dict[str, str] = {}
        parsed: dict[str, Any] = {}
        for fid, value in raw.items():
            field = self.site.fields.get(fid)
            if field is None or not field.editable or (target is not None and not settable(self.site, *target[:2], fid, target[2])):
                errors[fid] = values.CANNOT_SET.format(fid)
                continue
            if fid == "parent":
                parent = self._parent(value)
                if parent is None:
                    errors[fid] = "Could not find issue by id or key."
                else:
                    parsed[fid] = parent
                continue
            try:
                parsed[fid] = values.parse(field, value, api_version)
            except values.ValueProblem as exc:
                errors[fid] = str(exc)
        if errors:
            raise field_errors(errors)
        return parsed

    def edit_issue(self, user: User, issue: Issue, raw: dict[str, Any], api_version: int,
                   bulk: dict[str, Any] | None = None, check_screen: bool = True) -> list[dict[str, Any]]:
        """Validate and apply ``raw`` field values; record history and send the webhook.

        Returns the changelog items (empty when nothing changed).
        """
        with self.lock:
            target = (self.site.projects[issue.project], issue.issuetype, "edit") if check_screen else None
            parsed = self._parse_fields(raw, api_version, target)
            return self.apply(user, issue, parsed, bulk)

    def apply(self, user: User, issue: Issue, parsed: dict[str, Any],
              bulk: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Store already validated values (see :meth:`edit_issue`)."""
        with self.lock:
            items = []
            for fid, new in parsed.items():
                field = self.site.fields[fid]
                old = issue.summary if fid == "summary" else issue.values.get(fid)
                if values.same(field, old, new):
                    continue
                items.append(values.change_item(field, old, new))
                if fid == "summary":
                    issue.summary = new
                elif new is None:
                    issue.values.pop(fid, None)
                else:
                    issue.values[fid] = new
            if not items:
                return []
            now = time.time()
            issue.updated = now
            history = self.site.add_history(issue, user.account_id, items, now)
            self.emit_issue("jira:issue_updated", "issue_generic", issue, user,
                            {"id": history.id, "items": items}, bulk)
            return items

    # ---- events -----------------------------------------------------------
    def emit_issue(self, event: str, type_name: str, issue: Issue, user: User,
                   changelog: dict[str, Any] | None, bulk: dict[str, Any] | None = None) -> None:
        hooks = [h for h in self.webhooks.values() if h.enabled and event in h.events]
        if not hooks:
            return
        payload: dict[str, Any] = {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": event,
            "issue_event_type_name": type_name,
            "user": user.details(self.base_url, self.datacenter),
            "issue": self.issue_json(issue, 2),
        }
        if changelog is not None:
            payload["changelog"] = changelog
        if bulk is not None:
            payload["bulkOperationMetaData"] = bulk
        for hook in hooks:
            if hook.jql:
                try:
                    if not compile_jql(hook.jql, self.site, user.account_id).matches(issue):
                        continue
                except JiraError:
                    continue
            self.dispatcher.submit(hook, event, issue.key, payload)

    def emit_project(self, event: str, project: Project, user: User) -> None:
        hooks = [h for h in self.webhooks.values() if h.enabled and event in h.events]
        if not hooks:
            return
        lead = self.site.users.get(project.lead)
        body = project.json(self.base_url, lead, 2, self.datacenter)
        body["self"] = f"{self.base_url}/rest/api/2/project/{project.id}"
        payload = {"timestamp": int(time.time() * 1000), "webhookEvent": event,
                   "user": user.details(self.base_url, self.datacenter), "project": body}
        for hook in hooks:
            self.dispatcher.submit(hook, event, f"project:{project.key}", payload)

