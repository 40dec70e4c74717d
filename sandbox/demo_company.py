"""Northwind Outfitters, the company ``itsm-align demo`` runs: its Jira projects
and ServiceNow records (``demo_company.yaml`` beside this module), seeded into
the two sandboxes, and the stream of things its people do while the demo
watches.

    company = DemoCompany.load()
    company.seed_jira(jira)            # people, custom fields, projects, ~200 issues
    company.seed_servicenow(sn)        # services, groups, CIs, people, ~100 records
    for step in company.activity:
        company.play(step, jira, sn, objective_names={"cost": "Cut run costs", ...})

Seeding goes through the sandboxes' control calls, as people would work, but
is meant to run before any webhook or event endpoint is configured, so it
sends nothing. Imports nothing of itsm-align (sandbox/ is its own floor).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

DATA = Path(__file__).with_name("demo_company.yaml")

JIRA_TYPES = ("Epic", "Story", "Task", "Bug", "Incident")
SN_TABLES = ("pm_project", "rm_story", "incident", "problem", "change_request", "sc_req_item")

#: Custom fields a Jira Cloud site has before ours: the "Business Area" select the example
#: rules read (``fields.customfield_10070``) comes right after them.
SITE_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Story Points", "float", ()), ("Sprint", "textfield", ()),
    ("Team", "select", ("Web", "Payments", "Mobile", "SRE", "Data", "Security", "Care", "Workplace")),
    ("Start date", "textfield", ()), ("Rank", "textfield", ()), ("Flagged", "multiselect", ("Impediment",)),
    ("Environment", "textarea", ()), ("Acceptance Criteria", "textarea", ()),
    ("Severity", "select", ("Sev 1", "Sev 2", "Sev 3", "Sev 4")),
    ("Customer Impact", "select", ("None", "Some customers", "All customers")),
    ("Release Notes", "textarea", ()), ("Target Release", "textfield", ()),
    ("Cost Centre", "select", ("CC-100 Digital", "CC-200 Operations", "CC-300 Corporate")),
    ("Root Cause", "textarea", ()), ("Request Type", "select", ("Service request", "Change", "Question")),
    ("Approvers", "textfield", ()), ("Change Risk", "select", ("Low", "Medium", "High")),
    ("Due Quarter", "select", ("Q1", "Q2", "Q3", "Q4")), ("Vendor", "textfield", ()),
    ("Design Link", "textfield", ()),
)
BUSINESS_AREA = ("Business Area", ("Checkout", "Search", "Catalogue", "Fulfilment", "Finance", "Internal"))
BUSINESS_AREA_ID = "customfield_10070"

#: ServiceNow record keys -> columns (the rest of a record's keys are explained in the YAML).
SN_COLUMNS = {"service": "business_service", "group": "assignment_group", "ci": "cmdb_ci",
              "priority": "priority", "category": "category", "description": "description"}


@dataclass
class Step:
    """One thing a person does: ``action`` (e.g. ``jira.create``) with its arguments."""

    say: str
    action: str
    args: dict[str, Any]


@dataclass
class DemoCompany:
    data: dict[str, Any]
    jira_keys: dict[str, str] = field(default_factory=dict)  # issue id (alias) -> key
    sn_records: dict[str, tuple[str, str]] = field(default_factory=dict)  # alias -> (table, sys_id)
    jira_people: dict[str, Any] = field(default_factory=dict)  # first name -> sandbox User
    seeded_jira: list[str] = field(default_factory=list)  # issue keys
    seeded_servicenow: list[str] = field(default_factory=list)  # record numbers

    @classmethod
    def load(cls, path: Path = DATA) -> "DemoCompany":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    @property
    def name(self) -> str:
        return str(self.data["company"])

    @property
    def jira_projects(self) -> list[str]:
        return [p["key"] for p in self.data["jira"]["projects"]]

    @property
    def activity(self) -> list[Step]:
        steps = []
        for entry in self.data["activity"]:
            (action, args), = ((k, v) for k, v in entry.items() if k != "say")
            steps.append(Step(entry["say"], action, dict(args)))
        return steps

    def issue_count(self) -> int:
        return sum(1 for project in self.data["jira"]["projects"] for _ in _walk(project["issues"]))

    def record_count(self) -> int:
        return len(self.data["servicenow"]["records"])

    # ------------------------------------------------------------ Jira
    def seed_jira(self, jira: Any) -> list[str]:
        """People, the site's custom fields, projects and issues (epics first, then their
        children with the epic as parent). Returns the issue keys."""
        for person in self.data["jira"]["people"]:
            self.jira_people[person["name"].split()[0]] = jira.add_user(person["name"], person["email"])
        for name, kind, options in SITE_FIELDS:
            jira.add_field(name, kind, options=options)
        area = jira.add_field(BUSINESS_AREA[0], "select", options=BUSINESS_AREA[1])
        if area != BUSINESS_AREA_ID:
            raise RuntimeError(f"'Business Area' became {area}, not {BUSINESS_AREA_ID} as the rules in "
                               "config/itsm-align.yaml expect: seed the company into a fresh Jira sandbox")
        for project in self.data["jira"]["projects"]:
            lead = self.jira_people[project["lead"]]
            jira.add_project(project["key"], project["name"], lead=lead, as_user=lead,
                             description=project.get("description", ""))
            for spec, parent in _walk(project["issues"]):
                self.seeded_jira.append(self._create_issue(jira, project["key"], spec, parent, lead))
        return list(self.seeded_jira)

    def _create_issue(self, jira: Any, project: str, spec: Mapping[str, Any], parent: str | None,
                      default_reporter: Any) -> str:
        kind, summary = _typed(spec, JIRA_TYPES)
        fields: dict[str, Any] = {}
        parent_key = self.jira_keys.get(parent, parent) if parent else None
        if parent_key:
            fields["parent"] = {"key": parent_key}
        if spec.get("labels"):
            fields["labels"] = list(spec["labels"])
        if spec.get("points") is not None:
            fields[jira.field_id("Story Points")] = spec["points"]
        if spec.get("area"):
            fields[BUSINESS_AREA_ID] = {"value": spec["area"]}
        reporter = self.jira_people.get(spec.get("by", ""), default_reporter)
        key = jira.create_issue(project, summary, spec.get("description", ""), kind, fields, as_user=reporter)
        if spec.get("id"):
            self.jira_keys[spec["id"]] = key
        return key

    # ------------------------------------------------------------ ServiceNow
    def seed_servicenow(self, sn: Any) -> list[str]:
        """Services, groups, CIs, people, the company's custom column and the records
        (each parent before its children). Returns the record numbers."""
        data = self.data["servicenow"]
        for table, names in (("cmdb_ci_service", data["services"]), ("sys_user_group", data["groups"]),
                             ("cmdb_ci", data["cis"])):
            present = {row.get("name") for row in sn.query(table)}
            for name in names:
                if name not in present:
                    sn.insert(table, {"name": name, **({"active": "true"} if table == "sys_user_group" else {})})
        for person in data["people"]:
            sn.add_user(person["user"], name=person["name"])
        for column in data.get("custom_columns", ()):
            sn.insert("sys_dictionary", {"name": "task", "element": column["element"],
                                         "internal_type": column["internal_type"],
                                         "column_label": column["label"], "active": "true"})
        for spec in data["records"]:
            self.seeded_servicenow.append(self._insert_record(sn, spec, "admin")["number"])
        return list(self.seeded_servicenow)

    def _record_values(self, sn: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, column in SN_COLUMNS.items():
            if spec.get(key) is not None:
                values[column] = spec[key]
        if spec.get("caller"):
            values["caller_id"] = sn.sys_id_of("sys_user", user_name=spec["caller"])
        if spec.get("parent"):
            values["parent"] = self.sn_records[spec["parent"]][1]
        if spec.get("effort_hours") is not None:
            values["effort"] = duration(float(spec["effort_hours"]))
        if spec.get("cost_saving"):
            values["u_cost_saving"] = "true"
        return values

    def _insert_record(self, sn: Any, spec: Mapping[str, Any], user: str) -> dict[str, str]:
        table, summary = _typed(spec, SN_TABLES)
        record = sn.insert(table, {"short_description": summary, **self._record_values(sn, spec)}, as_user=user)
        if spec.get("id"):
            self.sn_records[spec["id"]] = (table, record["sys_id"])
        return record

    # ------------------------------------------------------------ what people do
    def play(self, step: Step, jira: Any, sn: Any, *, objective_names: Mapping[str, str],
             jira_objective_field: str = "Business Objective",
             sn_objective_column: str = "u_business_objective") -> str:
        """Do ``step`` as its person; returns the key of the item it touched."""
        args = dict(step.args)
        if step.action == "jira.create":
            project = args.pop("project")
            person = self.jira_people[args.get("by", "Riley")]
            return self._create_issue(jira, project, args, args.get("parent"), person)
        if step.action == "jira.edit":
            key = self.jira_keys[args["issue"]]
            fields: dict[str, Any] = {name: args[name] for name in ("summary", "description") if name in args}
            if "parent" in args:
                fields["parent"] = {"key": self.jira_keys[args["parent"]]}
            jira.edit_issue_as(self.jira_people[args["by"]], key, fields)
            return key
        if step.action == "jira.override":
            key = self.jira_keys[args["issue"]]
            jira.edit_issue_as(self.jira_people[args["by"]], key,
                               {jira.field_id(jira_objective_field): {"value": objective_names[args["objective"]]}})
            return key
        if step.action == "jira.project":
            person = self.jira_people[args["by"]]
            jira.add_project(args["key"], args["name"], lead=person, as_user=person,
                             description=args.get("description", ""))
            return args["key"]
        if step.action == "servicenow.insert":
            return self._insert_record(sn, args, args["as"])["number"]
        if step.action == "servicenow.update":
            table, sys_id = self.sn_records[args["record"]]
            return sn.update_as(args["as"], table, sys_id, self._record_values(sn, args))["number"]
        if step.action == "servicenow.override":
            table, sys_id = self.sn_records[args["record"]]
            return sn.update_as(args["as"], table, sys_id, {sn_objective_column: args["objective"]})["number"]
        raise ValueError(f"unknown demo activity {step.action!r} (say: {step.say!r})")


def duration(hours: float) -> str:
    """A ServiceNow glide_duration value (a date-time after the epoch) of ``hours``."""
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _typed(spec: Mapping[str, Any], types: tuple[str, ...]) -> tuple[str, str]:
    """(type, summary) of an entry written ``{<Type>: summary, ...}``."""
    found = [(kind, str(spec[kind])) for kind in types if kind in spec]
    if len(found) != 1:
        raise ValueError(f"a demo company entry needs exactly one of {', '.join(types)}: {dict(spec)}")
    return found[0]


def _walk(issues: list[Mapping[str, Any]], parent: str | None = None
          ) -> Iterator[tuple[Mapping[str, Any], str | None]]:
    """Every issue spec with the id of its parent, parents first."""
    for spec in issues:
        alias = spec.get("id") or f"{id(spec)}"
        yield (spec if spec.get("id") else {**spec, "id": alias}), parent
        yield from _walk(list(spec.get("children") or ()), alias)


__all__ = ["DemoCompany", "Step", "duration"]
