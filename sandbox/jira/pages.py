"""The Jira sandbox as a person sees it: issues by project, one issue with its
alignment fields and history, create, edit, and set the objective by hand.

Served on the API's port under ``/sandbox/`` (``/browse/KEY``, ``/issues/?jql=``
and ``/projects/KEY`` redirect there, so the product's links land on a page).
Every change goes through :meth:`JiraSandbox.create_issue` and
:meth:`JiraSandbox.edit_issue_as` as the signed-in person: the changelog names
them and the same webhooks fire as for a change made in Jira.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Response

from ..web.kit import PREFIX, Page, Pages, Person
from .errors import JiraError
from .jql import compile_jql
from .model import ISSUE_TYPES, Field, Issue

if TYPE_CHECKING:
    from .sandbox import JiraSandbox

#: The product's four fields, by the names ``itsm-align setup jira`` gives them.
ALIGNMENT = ("Business Objective", "Alignment Score", "Alignment Rationale", "Work Nature")
PAGE_SIZE = 50
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")


@dataclass
class FieldView:
    """One alignment field on the issue page."""

    name: str
    field_id: str | None  # None: the field does not exist (setup not run)
    value: Any
    by: str = ""  # display name of who set it last
    by_integration: bool = False
    at: float | None = None


class JiraPages(Pages):
    product = "Jira sandbox"
    theme = "jira"
    cookie = "jira-sandbox"
    home = f"{PREFIX}/issues"
    template_dir = Path(__file__).resolve().parent / "templates"
    login_label = "Email"
    password_label = "API token"

    def __init__(self, sandbox: "JiraSandbox") -> None:
        self.sb = sandbox
        self.accounts_hint = (f"Person account: {sandbox.ADMIN_EMAIL} with API token {sandbox.ADMIN_TOKEN}. "
                              f"The integration's account ({sandbox.API_EMAIL}) cannot sign in here.")
        super().__init__()

    @property
    def svc(self):  # type: ignore[no-untyped-def]
        return self.sb.svc

    # ---- the Pages contract ------------------------------------------------------
    def routes(self):  # type: ignore[no-untyped-def]
        return [
            (f"{PREFIX}/", ["GET"], lambda page: page.redirect(self.home)),
            (f"{PREFIX}/issues", ["GET"], self.issue_list),
            (f"{PREFIX}/create", ["GET", "POST"], self.create),
            (f"{PREFIX}/browse/<key>", ["GET"], self.issue_page),
            (f"{PREFIX}/browse/<key>/edit", ["POST"], self.edit),
            (f"{PREFIX}/browse/<key>/objective", ["POST"], self.set_objective),
        ]

    def sign_in(self, login: str, password: str) -> Person | str:
        with self.svc.lock:
            user = self.svc.site.user_by_email(login)
            if user is None or not user.active or not user.api_token or user.api_token != password:
                return "Wrong email or API token."
            if user.account_id == self.sb.api_user.account_id:
                return (f"{login} is the integration's own account: its changes are ignored as echoes. "
                        f"Sign in as a person, e.g. {self.sb.ADMIN_EMAIL}.")
            return Person(user.email, user.display_name, user.account_id)

    def native(self, path: str, args: Mapping[str, str]) -> str | None:
        if path == "/":
            return self.home
        found = re.match(r"^/browse/([^/]+)/?$", path)
        if found:
            return f"{PREFIX}/browse/{quote(found.group(1))}"
        if path in ("/issues", "/issues/"):
            return f"{self.home}?{urlencode({'jql': args['jql']})}" if args.get("jql") else self.home
        found = re.match(r"^/(?:jira/software/(?:c/)?)?projects/([A-Za-z][A-Za-z0-9_]*)(?:/.*)?$", path)
        if found:
            return f"{self.home}?{urlencode({'project': found.group(1).upper()})}"
        return None

    def nav(self, page: Page) -> list[tuple[str, str, bool]]:
        return [("Issues", self.home, page.request.path.startswith((self.home, f"{PREFIX}/browse"))),
                ("Create issue", f"{PREFIX}/create", page.request.path == f"{PREFIX}/create")]

    # ---- helpers ----------------------------------------------------------------------
    def alignment_fields(self) -> dict[str, Field | None]:
        """The four fields by name (None where setup has not created one)."""
        site = self.svc.site
        out: dict[str, Field | None] = {}
        for name in ALIGNMENT:
            found = [f for f in site.field_by_name(name) if f.custom]
            out[name] = found[0] if found else None
        return out

    @staticmethod
    def shown(field: Field | None, stored: Any) -> Any:
        """A stored value as the issue shows it (option value, number, text)."""
        if field is None or stored is None:
            return None
        if field.kind == "select":
            option = field.option_by_id(stored)
            return option.value if option else stored
        if field.kind == "float":
            return int(stored) if float(stored).is_integer() else round(float(stored), 1)
        if isinstance(stored, dict):
            from .adf import adf_to_text
            return adf_to_text(stored)
        return stored

    def listeners(self, event: str) -> int:
        return sum(1 for h in self.svc.webhooks.values() if h.enabled and event in h.events)

    def after_change(self, page: Page, key: str, before: int, what: str) -> None:
        """Say what was saved and which webhooks went out."""
        sent = [d for d in self.sb.deliveries[before:] if d.issue_key == key]
        if sent:
            events = sorted({d.event for d in sent})
            page.flash("good", f"{what} Webhook {', '.join(events)} sent to {len(sent)} listener(s).")
        else:
            page.flash("info", f"{what} No webhook is registered for it, so no event went out "
                               f"(itsm-align setup jira registers one).")

    # ---- the list -------------------------------------------------------------------
    def issue_list(self, page: Page) -> Response:
        project_key = page.args.get("project", "").strip().upper()
        text = page.args.get("q", "").strip()
        jql = page.args.get("jql", "").strip()
        try:
            number = max(1, int(page.args.get("page", "1")))
        except ValueError:
            number = 1
        problem = ""
        with self.svc.lock:
            site = self.svc.site
            fields = self.alignment_fields()
            projects = sorted(site.projects.values(), key=lambda p: p.key)
            counts: dict[str, int] = {}
            for issue in site.issues.values():
                counts[issue.project] = counts.get(issue.project, 0) + 1
            issues: list[Issue] = list(site.issues.values())
            if project_key:
                issues = [i for i in issues if i.project == project_key]
            if text:
                low = text.lower()
                issues = [i for i in issues if low in i.summary.lower() or low == i.key.lower()]
            if jql:
                try:
                    query = compile_jql(jql, site, page.person.ref)
                    issues = [i for _, i in query.sort([i for i in issues if query.matches(i)])]
                except JiraError as exc:
                    problem = "; ".join(exc.body.get("errorMessages") or []) or "The query is not valid JQL."
                    issues = []
            if not jql or problem:
                issues.sort(key=lambda i: (-i.created, -i.number))
            total = len(issues)
            pages = max(1, -(-total // PAGE_SIZE))
            number = min(number, pages)
            rows = [self._row(i, fields) for i in issues[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]]
            project = site.project(project_key) if project_key else None
        query = {k: v for k, v in (("project", project_key), ("q", text), ("jql", jql)) if v}
        return page.render("issues.html", projects=projects, counts=counts, project=project,
                           project_key=project_key, text=text, jql=jql, problem=problem, rows=rows,
                           total=total, number=number, page_count=pages, query=query,
                           fields_ready=all(fields.values()), all_count=len(self.svc.site.issues))

    def _row(self, issue: Issue, fields: Mapping[str, Field | None]) -> dict[str, Any]:
        site = self.svc.site
        parent = site.issues.get(issue.values.get("parent") or "")
        values = {name: self.shown(f, issue.values.get(f.id)) if f else None for name, f in fields.items()}
        return {"key": issue.key, "summary": issue.summary, "type": issue.issuetype, "status": issue.status,
                "parent": parent, "updated": issue.updated, "objective": values["Business Objective"],
                "score": values["Alignment Score"], "nature": values["Work Nature"]}

    # ---- one issue ----------------------------------------------------------------------
    def issue_page(self, page: Page, key: str) -> Response:
        with self.svc.lock:
            site = self.svc.site
            issue = site.issue(key)
            if issue is None:
                return self.problem(page, 404, "Issue not found",
                                    f"There is no issue {key} in the sandbox (it may have been deleted).")
            if issue.key != key:
                return page.redirect(f"{PREFIX}/browse/{issue.key}")
            data = self.svc.issue_json(issue, 2, None, {"changelog"})
            fields = self.alignment_fields()
            users = site.users
            reporter = users.get(issue.reporter)
            parent = site.issues.get(issue.values.get("parent") or "")
            children = sorted((i for i in site.issues.values() if i.values.get("parent") == issue.key),
                              key=lambda i: i.number)
            views = [self._field_view(issue, name, f) for name, f in fields.items()]
            objective = fields["Business Objective"]
            options = ([o.value for c in objective.contexts for o in c.options if not o.disabled]
                       if objective else [])
            history = [{"author": users[h.author].display_name if h.author in users else h.author,
                        "integration": h.author == self.sb.api_user.account_id, "at": h.created,
                        "items": h.items} for h in reversed(issue.histories or [])]
            project = site.projects[issue.project]
            deliveries = [d for d in self.sb.deliveries if d.issue_key == issue.key][-5:]
        return page.render("issue.html", issue=issue, description=data["fields"].get("description") or "",
                           project=project, parent=parent, children=children, reporter=reporter,
                           views=views, options=options, objective_ready=objective is not None,
                           history=history, deliveries=list(reversed(deliveries)),
                           listeners=self.listeners("jira:issue_updated"),
                           current_objective=views[0].value, type_id=ISSUE_TYPES.get(issue.issuetype))

    def _field_view(self, issue: Issue, name: str, field: Field | None) -> FieldView:
        if field is None:
            return FieldView(name, None, None)
        view = FieldView(name, field.id, self.shown(field, issue.values.get(field.id)))
        for history in reversed(issue.histories or []):
            if any(item.get("fieldId") == field.id for item in history.items):
                user = self.svc.site.users.get(history.author)
                view.by = user.display_name if user else history.author
                view.by_integration = history.author == self.sb.api_user.account_id
                view.at = history.created
                return view
        if view.value is not None:  # set when the issue was created
            user = self.svc.site.users.get(issue.reporter)
            view.by, view.at = (user.display_name if user else issue.reporter), issue.created
            view.by_integration = issue.reporter == self.sb.api_user.account_id
        return view

    # ---- changes, as the signed-in person ----------------------------------------------
    def create(self, page: Page) -> Response:
        with self.svc.lock:
            projects = sorted(self.svc.site.projects.values(), key=lambda p: p.key)
        chosen = {"project": page.args.get("project", "").upper(), "issuetype": "Task", "summary": "",
                  "description": "", "parent": page.args.get("parent", "")}
        if page.request.method == "GET":
            return page.render("create.html", projects=projects, types=list(ISSUE_TYPES), chosen=chosen,
                               problem="")
        chosen.update({k: page.form.get(k, "").strip() for k in chosen})
        problem = ""
        if not chosen["summary"]:
            problem = "You must specify a summary of the issue."
        elif chosen["issuetype"] not in ISSUE_TYPES:
            problem = f"Issue type {chosen['issuetype']!r} does not exist here."
        fields = {"parent": {"key": chosen["parent"].upper()}} if chosen["parent"] else None
        if not problem:
            before = len(self.sb.deliveries)
            try:
                key = self.sb.create_issue(chosen["project"], chosen["summary"], chosen["description"],
                                           chosen["issuetype"], fields=fields, as_user=page.person.ref)
            except JiraError as exc:
                problem = _message(exc)
            else:
                self.after_change(page, key, before, f"Created {key}.")
                return page.redirect(f"{PREFIX}/browse/{key}")
        return page.render("create.html", status=400, projects=projects, types=list(ISSUE_TYPES),
                           chosen=chosen, problem=problem)

    def edit(self, page: Page, key: str) -> Response:
        wanted = {k: page.form[k] for k in ("summary", "description") if k in page.form}
        if "summary" in wanted:
            wanted["summary"] = wanted["summary"].strip()
        if "description" in wanted:
            wanted["description"] = wanted["description"].replace("\r\n", "\n")
        return self._change(page, key, wanted)

    def set_objective(self, page: Page, key: str) -> Response:
        with self.svc.lock:
            field = self.alignment_fields()["Business Objective"]
        if field is None:
            page.flash("warn", "The Business Objective field does not exist yet: run itsm-align setup jira.")
            return page.redirect(f"{PREFIX}/browse/{key}")
        chosen = page.form.get("objective", "")
        return self._change(page, key, {field.id: {"value": chosen} if chosen else None})

    def _change(self, page: Page, key: str, fields: dict[str, Any]) -> Response:
        before = len(self.sb.deliveries)
        try:
            items = self.sb.edit_issue_as(page.person.ref, key, fields)
        except KeyError:
            return self.problem(page, 404, "Issue not found", f"There is no issue {key} in the sandbox.")
        except JiraError as exc:
            page.flash("warn", f"Not saved: {_message(exc)}")
            return page.redirect(f"{PREFIX}/browse/{key}")
        if not items:
            page.flash("info", "Nothing changed, so nothing was saved and no webhook went out.")
        else:
            names = ", ".join(_names(items))
            self.after_change(page, key, before, f"Saved {names}.")
        return page.redirect(f"{PREFIX}/browse/{key}")


def _names(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(i.get("field", "")).replace("summary", "Summary").replace("description", "Description")
            for i in items]


def _message(exc: JiraError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    parts = list(body.get("errorMessages") or []) + [f"{v}" for v in (body.get("errors") or {}).values()]
    return " ".join(parts) or f"Jira answered {exc.status}."
