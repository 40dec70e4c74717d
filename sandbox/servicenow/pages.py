"""The ServiceNow sandbox as a person sees it: lists of incidents, changes,
projects and other tasks, one record as a form with its alignment fields and
audit history, a new record, and an update (short description, description,
the objective by hand).

Served on the API's port under ``/sandbox/`` (``/incident.do?sys_id=`` and
``/task_list.do?sysparm_query=`` redirect there, so the product's links land on
a page). Writes go through :meth:`Instance.insert` / :meth:`Instance.update` as
the signed-in person, so the audit names them and the business rule posts the
same event as for a change made in the platform.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Response

from ..web.kit import PREFIX, Page, Pages, Person
from . import schema
from .instance import Instance
from .store import WriteRejected

#: Lists a person opens, in the order of the side menu.
MODULES = (("incident", "Incidents"), ("problem", "Problems"), ("change_request", "Changes"),
           ("sc_req_item", "Requested Items"), ("rm_story", "Stories"), ("pm_project", "Projects"),
           ("task", "All tasks"))
#: The product's four columns on task, as ``itsm-align setup servicenow`` creates them.
ALIGNMENT = (("u_business_objective", "Business objective"), ("u_alignment_score", "Alignment score"),
             ("u_alignment_rationale", "Alignment rationale"), ("u_work_nature", "Work nature"))
PAGE_SIZE = 50
#: Columns every new record gets by default: left out of its "created" entry.
_ROUTINE = frozenset({"number", "active", "opened_at", "opened_by", "state", "impact", "urgency"})
#: Reference and choice columns a new record may set (when its class has them).
NEW_COLUMNS = ("priority", "category", "assignment_group", "business_service", "cmdb_ci")


@dataclass
class ColumnView:
    """One alignment column on the form."""

    column: str
    label: str
    exists: bool
    value: str
    display: str
    by: str = ""
    by_integration: bool = False
    at: str = ""
    from_audit: bool = True


class ServiceNowPages(Pages):
    product = "ServiceNow sandbox"
    theme = "servicenow"
    cookie = "sn-sandbox"
    home = f"{PREFIX}/list/incident"
    template_dir = Path(__file__).resolve().parent / "templates"

    def __init__(self, instance: Instance) -> None:
        self.inst = instance
        self.accounts_hint = ("Person account: admin (its password is admin unless the sandbox was started "
                              "with --admin-password). The integration user cannot sign in here.")
        super().__init__()

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.inst.store

    # ---- the Pages contract ------------------------------------------------------
    def routes(self):  # type: ignore[no-untyped-def]
        return [
            (f"{PREFIX}/", ["GET"], lambda page: page.redirect(self.home)),
            (f"{PREFIX}/list/<table>", ["GET"], self.record_list),
            (f"{PREFIX}/new/<table>", ["GET", "POST"], self.new_record),
            (f"{PREFIX}/record/<table>/<sys_id>", ["GET", "POST"], self.record_page),
        ]

    def sign_in(self, login: str, password: str) -> Person | str:
        if self.inst.authenticate(login, password) is None:
            return "User name or password invalid."
        if login == self.inst.integration_user:
            return (f"{login} is the integration user: the business rule ignores its changes. "
                    f"Sign in as a person, e.g. admin.")
        return Person(login, self.user_name(login), login)

    def native(self, path: str, args: Mapping[str, str]) -> str | None:
        if path == "/":
            return self.home
        found = re.match(r"^/([a-z_]+?)(_list)?\.do$", path)
        if not found or found.group(1) not in dict(MODULES) and not _task_family(found.group(1)):
            return None
        table = found.group(1)
        if found.group(2):
            query = args.get("sysparm_query", "")
            return f"{PREFIX}/list/{table}" + (f"?{urlencode({'sysparm_query': query})}" if query else "")
        sys_id = args.get("sys_id", "")
        if sys_id == "-1" or not sys_id:
            return f"{PREFIX}/new/{table}"
        return f"{PREFIX}/record/{table}/{quote(sys_id)}"

    def nav(self, page: Page) -> list[tuple[str, str, bool]]:
        path = page.request.path
        return [(label, f"{PREFIX}/list/{table}", path == f"{PREFIX}/list/{table}")
                for table, label in MODULES if table in ("incident", "change_request", "pm_project", "task")]

    # ---- helpers ----------------------------------------------------------------------
    def user_name(self, login: str) -> str:
        found = self.store.find("sys_user", user_name=login)
        return found[0].get("name", login) if found else login

    def label(self, table: str) -> str:
        return schema.TABLE_LABEL.get(table, table)

    def _known(self, page: Page, table: str) -> Response | None:
        if not _task_family(table):
            return self.problem(page, 404, "No such list", f"{table} is not a table of tasks in this sandbox.")
        return None

    # ---- lists -----------------------------------------------------------------------
    def record_list(self, page: Page, table: str) -> Response:
        if (missing := self._known(page, table)) is not None:
            return missing
        encoded = page.args.get("sysparm_query", "").strip()
        text = page.args.get("q", "").strip().lower()
        try:
            number = max(1, int(page.args.get("page", "1")))
        except ValueError:
            number = 1
        st = self.store
        with st.lock:
            records = st.query(table, encoded)
            if text:
                records = [r for r in records if text in r.get("short_description", "").lower()
                           or text == r.get("number", "").lower()]
            if "ORDERBY" not in encoded:
                records = sorted(records, key=lambda r: (r.get("sys_created_on", ""), r.get("number", "")),
                                 reverse=True)
            total = len(records)
            page_count = max(1, -(-total // PAGE_SIZE))
            number = min(number, page_count)
            cols = st.columns(table)
            ready = "u_business_objective" in cols
            rows = [self._row(table, r) for r in records[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]]
            counts = {t: len(st.query(t, "")) for t, _ in MODULES}
        query = {k: v for k, v in (("sysparm_query", encoded), ("q", page.args.get("q", "").strip())) if v}
        return page.render("sn_list.html", table=table, title=dict(MODULES).get(table, self.label(table)),
                           modules=MODULES, counts=counts, rows=rows, total=total, number=number,
                           page_count=page_count, query=query, encoded=encoded, text=page.args.get("q", ""),
                           ready=ready, show_class=table in ("task", "planned_task"))

    def _row(self, table: str, rec: Mapping[str, str]) -> dict[str, str]:
        st = self.store
        show = lambda c: st.display_value(table, rec, c)  # noqa: E731
        parent = st.get("task", rec.get("parent", "")) if rec.get("parent") else None
        return {"sys_id": rec["sys_id"], "cls": rec.get("sys_class_name", table), "number": rec.get("number", ""),
                "short_description": rec.get("short_description", ""), "priority": show("priority"),
                "state": show("state"), "group": show("assignment_group"), "service": show("business_service"),
                "objective": show("u_business_objective"), "score": rec.get("u_alignment_score", ""),
                "nature": show("u_work_nature"), "updated": rec.get("sys_updated_on", ""),
                "parent": parent.get("number", "") if parent else "",
                "class_label": self.label(rec.get("sys_class_name", table))}

    # ---- one record --------------------------------------------------------------------
    def record_page(self, page: Page, table: str, sys_id: str) -> Response:
        if (missing := self._known(page, table)) is not None:
            return missing
        rec = self.store.get(table, sys_id)
        if rec is None:
            return self.problem(page, 404, "Record not found",
                                f"There is no {self.label(table)} record with sys_id {sys_id}.")
        cls = rec["sys_class_name"]
        if page.request.method == "POST":
            return self._update(page, cls, sys_id)
        if cls != table:  # open a record in its own class, as the platform does
            return page.redirect(f"{PREFIX}/record/{cls}/{sys_id}")
        st = self.store
        with st.lock:
            cols = st.columns(cls)
            show = lambda c: st.display_value(cls, rec, c)  # noqa: E731
            parent = st.get("task", rec.get("parent", "")) if rec.get("parent") else None
            views = self._alignment(cls, rec, cols)
            objectives = [(v, label) for v, (label, inactive) in st.choices(cls, "u_business_objective").items()
                          if not inactive] if "u_business_objective" in cols else []
            details = [(cols[c].label or c, show(c)) for c in
                       ("caller_id", "category", "business_service", "cmdb_ci", "opened_by", "opened_at",
                        "state", "priority", "assignment_group", "assigned_to", "project_manager", "effort")
                       if c in cols]
            audit = self._audit(sys_id)
            children = [r for r in st.query("task", f"parent={sys_id}")]
        runs = [r for r in list(self.inst.poster.runs) if r.sys_id == sys_id][-5:]
        events = {e.event_id: e for e in list(self.inst.poster.events)}
        endpoint = self.inst.properties().get("itsm_align.endpoint", "")
        return page.render("sn_record.html", table=cls, label=self.label(cls), rec=rec, parent=parent,
                           parent_class=parent["sys_class_name"] if parent else "", details=details,
                           views=views, objectives=objectives, audit=audit, children=children,
                           runs=list(reversed(runs)), events=events, endpoint=endpoint)

    def _alignment(self, cls: str, rec: Mapping[str, str], cols: Mapping[str, Any]) -> list[ColumnView]:
        st = self.store
        last: dict[str, dict[str, str]] = {}
        for sid in st.by_class["sys_audit"]:
            row = st.records[sid]
            if row.get("documentkey") == rec["sys_id"] and row.get("fieldname", "").startswith("u_"):
                last[row["fieldname"]] = row
        views = []
        for column, label in ALIGNMENT:
            exists = column in cols
            value = rec.get(column, "")
            view = ColumnView(column, cols[column].label if exists and cols[column].label != column else label,
                              exists, value, st.display_value(cls, rec, column) if exists else "")
            row = last.get(column)
            if row is not None:
                view.by, view.at = row.get("user", ""), row.get("sys_created_on", "")
            elif value:  # written without an audit row (seeded): the record's last update is all we know
                view.by, view.at, view.from_audit = rec.get("sys_updated_by", ""), rec.get("sys_updated_on", ""), False
            view.by_integration = view.by == self.inst.integration_user
            if view.by:
                view.by = self.user_name(view.by)
            views.append(view)
        return views

    def _audit(self, sys_id: str) -> list[dict[str, Any]]:
        """sys_audit rows of the record grouped by update (newest first)."""
        st = self.store
        groups: list[dict[str, Any]] = []
        for sid in st.by_class["sys_audit"]:
            row = st.records[sid]
            if row.get("documentkey") != sys_id:
                continue
            key = (row.get("user", ""), row.get("record_checkpoint", ""), row.get("sys_created_on", ""))
            if not groups or groups[-1]["key"] != key:
                groups.append({"key": key, "user": row.get("user", ""), "at": row.get("sys_created_on", ""),
                               "integration": row.get("user") == self.inst.integration_user, "changes": [],
                               "insert": row.get("record_checkpoint", "") == "0"})
            column = row.get("fieldname", "")
            if groups[-1]["insert"] and column in _ROUTINE:
                continue
            cls = row.get("tablename", "task")
            shown = [st.display_value(cls, {"sys_class_name": cls, column: v}, column) if v else ""
                     for v in (row.get("oldvalue", ""), row.get("newvalue", ""))]
            groups[-1]["changes"].append((column, *shown))
        for group in groups:
            group["name"] = self.user_name(group["user"])
        return list(reversed(groups))

    # ---- changes, as the signed-in person ----------------------------------------------
    def _update(self, page: Page, cls: str, sys_id: str) -> Response:
        cols = self.store.columns(cls)
        values = {c: page.form[c].replace("\r\n", "\n").strip() if c == "short_description" else
                  page.form[c].replace("\r\n", "\n")
                  for c in ("short_description", "description", "u_business_objective")
                  if c in page.form and c in cols}
        if "short_description" in values and not values["short_description"]:
            page.flash("warn", "Not saved: a short description is required.")
            return page.redirect(f"{PREFIX}/record/{cls}/{sys_id}")
        before = len(self.inst.poster.runs)
        try:
            result = self.inst.update(cls, sys_id, values, page.person.ref)
        except WriteRejected as exc:
            page.flash("warn", f"Not saved: {exc.detail}")
            return page.redirect(f"{PREFIX}/record/{cls}/{sys_id}")
        if not result.changed:
            page.flash("info", "Nothing changed, so nothing was saved and no event went out.")
        else:
            named = dict(ALIGNMENT)
            labels = ", ".join(named.get(c) or cols[c].label or c for c in result.changed if c in cols)
            self._said(page, sys_id, before, f"Updated {labels}.")
        return page.redirect(f"{PREFIX}/record/{cls}/{sys_id}")

    def _said(self, page: Page, sys_id: str, before: int, what: str) -> None:
        runs = [r for r in list(self.inst.poster.runs)[before:] if r.sys_id == sys_id]
        outcome = runs[-1].outcome if runs else ""
        if outcome == "posted":
            endpoint = self.inst.properties().get("itsm_align.endpoint", "")
            page.flash("good", f"{what} The business rule posted an event to {endpoint}.")
        elif outcome == "no_endpoint":
            page.flash("info", f"{what} No event went out: property itsm_align.endpoint is empty "
                               f"(start the sandbox with --endpoint).")
        else:
            page.flash("info", f"{what} The business rule sent no event ({outcome or 'not run'}).")

    def new_record(self, page: Page, table: str) -> Response:
        if (missing := self._known(page, table)) is not None:
            return missing
        if table in ("task", "planned_task"):
            return page.redirect(f"{PREFIX}/new/incident")
        st = self.store
        with st.lock:
            cols = st.columns(table)
            options: dict[str, list[tuple[str, str]]] = {}
            for c in NEW_COLUMNS:
                if c not in cols:
                    continue
                col = cols[c]
                if col.is_reference:
                    target = col.reference
                    options[c] = sorted(((r["sys_id"], r.get(schema.display_column(target), ""))
                                         for r in st.find(target) if r.get("active", "true") != "false"),
                                        key=lambda o: o[1])
                elif col.choice != "0":
                    options[c] = [(v, lbl) for v, (lbl, inactive) in st.choices(table, c).items() if not inactive]
            labels = {c: cols[c].label or c for c in options}
        chosen = {c: page.form.get(c, "") for c in ("short_description", "description", "parent", *options)}
        if page.request.method == "POST":
            values = {k: v.strip() for k, v in chosen.items() if v.strip()}
            problem = "" if values.get("short_description") else "A short description is required."
            if values.get("parent"):
                found = st.find("task", number=values["parent"].upper())
                if found:
                    values["parent"] = found[0]["sys_id"]
                else:
                    problem = f"There is no task numbered {values['parent']}."
            if not problem:
                before = len(self.inst.poster.runs)
                try:
                    result = self.inst.insert(table, values, page.person.ref)
                except WriteRejected as exc:
                    problem = exc.detail
                else:
                    sys_id = result.record["sys_id"]
                    self._said(page, sys_id, before, f"Created {result.record.get('number', '')}.")
                    return page.redirect(f"{PREFIX}/record/{table}/{sys_id}")
            return page.render("sn_new.html", status=400, table=table, label=self.label(table), options=options,
                               labels=labels, chosen=chosen, problem=problem)
        return page.render("sn_new.html", table=table, label=self.label(table), options=options, labels=labels,
                           chosen=chosen, problem="")


def _task_family(table: str) -> bool:
    return table in schema.TABLES and schema.is_task_family(table)
