"""Write an importable update set (System Update Sets > Retrieved Update Sets >
Import Update Set from XML, then Preview and Commit).

Layout, as ServiceNow exports it: ``<unload>`` holding one
``sys_remote_update_set`` and one ``sys_update_xml`` per configuration record,
whose ``payload`` is the escaped text of a ``<record_update>`` document. It
carries the dictionary entries and choices (the same ones ``setup`` creates
over REST, from setup.desired_*), the async business rule with the script in
business_rule.js, and the system properties the script reads. sys_ids are
derived from names (uuid5), so importing a newer export updates the same
records instead of adding copies.
"""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Iterable, Mapping, Sequence

from itsm_align.scoring.types import Objective

from .settings import ServiceNowSettings
from .setup import Choice, Column, desired_choices, desired_columns

_NS = uuid.UUID("6f0c4a52-8a3e-4c1e-9d7e-3a1b2c4d5e6f")
RULE_NAME = "itsm-align: post task changes"
RULE_CONDITION = "current.sys_updated_by != gs.getProperty('itsm_align.integration_user')"


def sys_id_for(*parts: str) -> str:
    """Stable 32-hex sys_id for a configuration record."""
    return uuid.uuid5(_NS, "/".join(parts)).hex


def business_rule_script() -> str:
    """The contents of business_rule.js (shipped as package data)."""
    return resources.files(__package__).joinpath("business_rule.js").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    value: str
    type: str
    description: str


def properties(settings: ServiceNowSettings, endpoint: str) -> list[Property]:
    return [
        Property("itsm_align.endpoint", endpoint, "string",
                 "URL the itsm-align business rule posts task events to"),
        Property("itsm_align.secret", "", "password2",
                 "Shared secret signing itsm-align events; set it to servicenow.webhook_secret "
                 "of the itsm-align service after import"),
        Property("itsm_align.fields", ",".join(settings.event_fields), "string",
                 "Comma-separated task columns sent with each itsm-align event"),
        Property("itsm_align.integration_user", settings.own_user or "", "string",
                 "User name itsm-align writes as; its changes send no event"),
    ]


def _fields(parent: ET.Element, values: Mapping[str, str]) -> None:
    for name, text in values.items():
        ET.SubElement(parent, name).text = text


def _payload(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def _dictionary_payload(table: str, column: Column) -> str:
    update = ET.Element("record_update", {"table": "sys_dictionary"})
    outer = ET.SubElement(update, "sys_dictionary",
                          {"action": "INSERT_OR_UPDATE", "element": column.element, "table": table})
    record = ET.SubElement(outer, "sys_dictionary", {"action": "INSERT_OR_UPDATE"})
    values = column.dictionary_values(table)
    values.setdefault("max_length", "40")
    values.setdefault("choice", "0")
    values.update(sys_id=sys_id_for("sys_dictionary", table, column.element),
                  sys_class_name="sys_dictionary", sys_scope="global", read_only="false",
                  mandatory="false", display="false")
    _fields(record, dict(sorted(values.items())))
    return _payload(update)


def _choice_payload(table: str, element: str, choices: Sequence[Choice]) -> str:
    update = ET.Element("record_update", {"table": table})
    outer = ET.SubElement(update, "sys_choice",
                          {"action": "INSERT_OR_UPDATE", "element": element, "field": element, "table": table})
    for choice in choices:
        record = ET.SubElement(outer, "sys_choice", {"action": "INSERT_OR_UPDATE"})
        values = choice.values(table)
        values.update(sys_id=sys_id_for("sys_choice", table, element, choice.value), dependent_value="")
        _fields(record, dict(sorted(values.items())))
    return _payload(update)


def _rule_payload(table: str, script: str) -> str:
    update = ET.Element("record_update", {"table": table})
    record = ET.SubElement(update, "sys_script", {"action": "INSERT_OR_UPDATE"})
    _fields(record, {
        "sys_id": sys_id_for("sys_script", RULE_NAME), "name": RULE_NAME, "collection": table,
        "sys_class_name": "sys_script", "active": "true", "advanced": "true", "when": "async",
        "order": "100", "priority": "100", "action_insert": "true", "action_update": "true",
        "action_delete": "false", "action_query": "false", "condition": RULE_CONDITION,
        "filter_condition": "", "script": script, "sys_scope": "global",
        "description": "Posts a signed itsm-align event (see the itsm-align README) for every "
                       "insert and update of a task record not made by the integration user.",
    })
    return _payload(update)


def _property_payload(prop: Property) -> str:
    update = ET.Element("record_update", {"table": "sys_properties"})
    record = ET.SubElement(update, "sys_properties", {"action": "INSERT_OR_UPDATE"})
    _fields(record, {"sys_id": sys_id_for("sys_properties", prop.name), "name": prop.name,
                     "value": prop.value, "type": prop.type, "description": prop.description,
                     "is_private": "true", "ignore_cache": "false", "sys_scope": "global",
                     "sys_class_name": "sys_properties"})
    return _payload(update)


def build(settings: ServiceNowSettings, objectives: Sequence[Objective], endpoint: str, *,
          retired: Iterable[Choice] = (), now: datetime | None = None, table: str = "task") -> ET.Element:
    """The ``<unload>`` element of the update set."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    set_id = sys_id_for("sys_remote_update_set", "itsm-align", stamp)
    unload = ET.Element("unload", {"unload_date": stamp})
    remote = ET.SubElement(unload, "sys_remote_update_set", {"action": "INSERT_OR_UPDATE"})
    _fields(remote, {
        "sys_id": set_id, "name": "itsm-align configuration",
        "description": "itsm-align: columns and choices on task, the async business rule posting "
                       "signed events, and its system properties. After commit, set the system "
                       "property itsm_align.secret.",
        "state": "loaded", "application": "global", "application_name": "Global",
        "application_scope": "global", "release_date": "", "remote_sys_id": set_id,
        "origin_sys_id": "", "parent": "", "update_set": "", "collisions": "",
        "sys_created_on": stamp, "sys_updated_on": stamp, "sys_created_by": "itsm-align",
        "sys_updated_by": "itsm-align",
    })
    entries: list[tuple[str, str, str, str, str]] = []  # (name, type, target, table, payload)
    for column in desired_columns(settings.columns, settings.rationale_length):
        entries.append((f"sys_dictionary_{table}_{column.element}", "Dictionary",
                        f"{table}.{column.element}", "", _dictionary_payload(table, column)))
    choices = desired_choices(objectives, settings.columns, list(retired))
    for element in dict.fromkeys(c.element for c in choices):
        entries.append((f"sys_choice_{table}_{element}", "Choice list", f"{table}.{element}", table,
                        _choice_payload(table, element, [c for c in choices if c.element == element])))
    entries.append((f"sys_script_{sys_id_for('sys_script', RULE_NAME)}", "Business Rule", RULE_NAME,
                    table, _rule_payload(table, business_rule_script())))
    for prop in properties(settings, endpoint):
        entries.append((f"sys_properties_{sys_id_for('sys_properties', prop.name)}", "System Property",
                        prop.name, "", _property_payload(prop)))
    for name, kind, target, tbl, payload in entries:
        row = ET.SubElement(unload, "sys_update_xml", {"action": "INSERT_OR_UPDATE"})
        _fields(row, {
            "sys_id": sys_id_for("sys_update_xml", name), "action": "INSERT_OR_UPDATE", "name": name,
            "type": kind, "target_name": target, "table": tbl, "category": "customer",
            "application": "global", "update_domain": "global", "replace_on_upgrade": "false",
            "sys_created_on": stamp, "sys_updated_on": stamp, "sys_created_by": "itsm-align",
            "sys_updated_by": "itsm-align", "update_set": "", "view": "", "comments": "",
            "payload": payload,
        })
        ET.SubElement(row, "remote_update_set", {"display_value": "itsm-align configuration"}).text = set_id
    return unload


def write(path: str, settings: ServiceNowSettings, objectives: Sequence[Objective], endpoint: str,
          **kwargs) -> int:
    """Write the update set to ``path``; returns the number of sys_update_xml rows."""
    unload = build(settings, objectives, endpoint, **kwargs)
    ET.indent(unload)
    tree = ET.ElementTree(unload)
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return len(unload.findall("sys_update_xml"))
