"""``itsm-align setup jira``: fields, contexts, options, screens, admin webhook.

Reads first, then changes only what differs, so a second run sends no write
request at all. Options follow the objectives: a new objective adds an option,
a renamed one (same objective id, new name) renames its option (the option id
per objective id is kept in the KeyValueStore; name match is the fallback), a
removed one disables its option (never deleted: issues keep their value). The
"Unaligned" option is always there. Screens: every screen the projects in scope
use (screens.py). Every request waits out a 429's ``Retry-After`` and is
retried. ``dry_run`` returns the plan, sends no write.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
import time
from typing import Any, Callable, Sequence

from itsm_align.integration.base import ConfigurationError, KeyValueStore, SetupStep
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Nature, Objective

from .client import JiraClient
from .fields import FieldRegistry, option_key
from .screens import ScreenSetup, SetupCalls
from .settings import JiraSettings

PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
#: role -> (field type, searcher), see reference/jira.md
FIELD_TYPES: dict[str, tuple[str, str]] = {
    "objective": ("select", "multiselectsearcher"),
    "score": ("float", "numberrange"),
    "rationale": ("textarea", "textsearcher"),
    "nature": ("select", "multiselectsearcher"),
}
DESCRIPTIONS = {
    "objective": "Business objective this work serves (itsm-align). Set it yourself to override.",
    "score": "Alignment score 0-100 (itsm-align)",
    "rationale": "Why this objective and score (itsm-align)",
    "nature": "Proactive or reactive work (itsm-align)",
}
WEBHOOK_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted",
                  "project_created", "project_updated", "project_deleted")
WEBHOOK_NAME = "itsm-align"
WEBHOOK_PATH = "rest/webhooks/1.0/webhook"
SECRET_KEY = "jira:webhook:secret-sha256"


@dataclass
class _Options:
    """What to change in one select field's options."""

    adds: list[tuple[str, str]] = field(default_factory=list)  # (choice id, value)
    updates: list[dict[str, Any]] = field(default_factory=list)  # PUT bodies
    steps: list[SetupStep] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)  # choice id -> option id


def plan_options(field_name: str, field_id: str, options: list[dict[str, Any]],
                 desired: Sequence[tuple[str, str]], state: KeyValueStore) -> _Options:
    """Compare the field's options with ``desired`` (choice id, value) pairs."""
    plan = _Options()
    by_id = {str(o["id"]): o for o in options}
    by_value = {str(o.get("value")): o for o in options}
    claimed: set[str] = set()
    for choice, value in desired:
        remembered = state.get(option_key(field_id, choice))
        option = None
        if value in by_value and str(by_value[value]["id"]) not in claimed:
            named = by_value[value]
            if remembered is None or remembered not in by_id or str(named["id"]) == remembered:
                option = named
        if option is None and remembered in by_id and remembered not in claimed:
            option = by_id[remembered]
        if option is None:
            plan.adds.append((choice, value))
            plan.steps.append(SetupStep("add option", f"{field_name}: {value}"))
            continue
        oid = str(option["id"])
        claimed.add(oid)
        plan.mapping[choice] = oid
        change: dict[str, Any] = {}
        if option.get("value") != value:
            change["value"] = value
            plan.steps.append(SetupStep("rename option", f"{field_name}: {option.get('value')} -> {value}"))
        if option.get("disabled"):
            change["disabled"] = False
            plan.steps.append(SetupStep("enable option", f"{field_name}: {value}"))
        if change:
            plan.updates.append({"id": oid, **change})
    for option in options:
        oid = str(option["id"])
        if oid not in claimed and not option.get("disabled"):
            plan.updates.append({"id": oid, "disabled": True})
            plan.steps.append(SetupStep("disable option", f"{field_name}: {option.get('value')}",
                                        "no objective uses it any more (kept for issues that hold it)"))
    return plan


class FieldSetup:
    def __init__(self, client: JiraClient, registry: FieldRegistry, settings: JiraSettings,
                 state: KeyValueStore, *, sleep: Callable[[float], None] = time.sleep) -> None:
        # every set-up request waits out a 429's Retry-After and is retried (screens.SetupCalls)
        self.client = SetupCalls(client, sleep=sleep)
        self.registry = FieldRegistry(self.client, settings, state)  # type: ignore[arg-type]
        self.outer_registry = registry  # the adapter's cache, dropped when set-up is done
        self.settings = settings
        self.state = state

    def run(self, objectives: Sequence[Objective], *, public_url: str | None,
            dry_run: bool = False) -> list[SetupStep]:
        self.registry.forget()
        steps: list[SetupStep] = []
        ids: dict[str, str | None] = {}
        for role in FIELD_TYPES:  # check every field before changing anything
            self._existing(role)
        for role, (ftype, searcher) in FIELD_TYPES.items():
            ids[role] = self._field(role, ftype, searcher, dry_run, steps)
        desired_objectives = [(o.id, o.name) for o in objectives] + [(UNALIGNED, UNALIGNED_NAME)]
        desired_nature = [(n.value, n.label) for n in Nature]
        for role, desired in (("objective", desired_objectives), ("nature", desired_nature)):
            self._options(role, ids[role], desired, dry_run, steps)
        self._screens(ids, dry_run, steps)
        self._webhook(public_url, dry_run, steps)
        self.outer_registry.forget()
        return steps

    # ------------------------------------------------------------ fields
    def _existing(self, role: str) -> dict[str, Any] | None:
        """The field already called like ours, checked to be of our type."""
        name = getattr(self.settings.fields, role)
        ftype = FIELD_TYPES[role][0]
        existing = self.registry.by_name(name)
        if len(existing) > 1:
            raise ConfigurationError("jira", f"several Jira fields are named {name!r}; rename the extra ones "
                                             f"or choose another name under jira.fields.{role}")
        if not existing:
            return None
        found = existing[0]
        custom = str((found.get("schema") or {}).get("custom") or "")
        if custom and custom != PREFIX + ftype:
            raise ConfigurationError(
                "jira", f"the Jira field {name!r} ({found.get('id')}) has type {custom}, not {PREFIX + ftype}; "
                        f"rename that field in Jira or set another name under jira.fields.{role}")
        return found

    def _field(self, role: str, ftype: str, searcher: str, dry_run: bool, steps: list[SetupStep]) -> str | None:
        name = getattr(self.settings.fields, role)
        found = self._existing(role)
        if found is not None:
            steps.append(SetupStep("create field", name, f"{found.get('id')} exists", needed=False))
            return str(found["id"])
        step = SetupStep("create field", name, f"{ftype} with searcher {searcher}")
        if dry_run:
            steps.append(step)
            return None
        created = self.client.post(self.client.path("field"), {
            "name": name, "type": PREFIX + ftype, "searcherKey": PREFIX + searcher,
            "description": DESCRIPTIONS[role]})
        steps.append(SetupStep(step.action, name, f"{created.get('id')}: {step.detail}", done=True))
        return str(created["id"])

    # ------------------------------------------------------------ options
    def _options(self, role: str, field_id: str | None, desired: Sequence[tuple[str, str]], dry_run: bool,
                 steps: list[SetupStep]) -> None:
        name = getattr(self.settings.fields, role)
        if field_id is None:  # dry run of a field not created yet
            steps.append(SetupStep("create context", name, "global context"))
            steps += [SetupStep("add option", f"{name}: {value}") for _, value in desired]
            return
        context = self.registry.global_context(field_id)
        if context is None:
            if dry_run:
                steps.append(SetupStep("create context", name, "global context"))
                steps += [SetupStep("add option", f"{name}: {value}") for _, value in desired]
                return
            created = self.client.post(self.client.path(f"field/{field_id}/context"), {
                "name": "itsm-align (all projects)", "description": "Global context created by itsm-align",
                "projectIds": [], "issueTypeIds": []})
            context = str(created["id"])
            steps.append(SetupStep("create context", name, f"global context {context}", done=True))
            options: list[dict[str, Any]] = []
        else:
            options = self.registry.options(field_id, refresh=True)
        plan = plan_options(name, field_id, options, desired, self.state)
        if not plan.steps:
            steps.append(SetupStep("sync options", name, f"{len(desired)} options in step", needed=False))
        if dry_run:
            steps += plan.steps
            return
        path = self.client.path(f"field/{field_id}/context/{context}/option")
        if plan.updates:
            self.client.put(path, {"options": plan.updates})
        if plan.adds:
            answer = self.client.post(path, {"options": [{"value": v, "disabled": False} for _, v in plan.adds]})
            by_value = {str(o.get("value")): str(o.get("id")) for o in (answer or {}).get("options") or []}
            for choice, value in plan.adds:
                if value in by_value:
                    plan.mapping[choice] = by_value[value]
        for choice, oid in plan.mapping.items():
            if self.state.get(option_key(field_id, choice)) != oid:
                self.state.set(option_key(field_id, choice), oid)
        steps += [SetupStep(s.action, s.target, s.detail, done=True) for s in plan.steps]

    # ------------------------------------------------------------ screens
    def _screens(self, ids: dict[str, str | None], dry_run: bool, steps: list[SetupStep]) -> None:
        """Every screen the projects in scope use gets the fields (screens.py); Jira is asked each time."""
        fields = {getattr(self.settings.fields, role): ids[role] for role in FIELD_TYPES}
        steps += ScreenSetup(self.client, self.settings.jql).run(fields, dry_run)

    # ------------------------------------------------------------ webhook
    def _webhook(self, public_url: str | None, dry_run: bool, steps: list[SetupStep]) -> None:
        if not public_url:
            steps.append(SetupStep("register webhook", "<service.public_url>/webhooks/jira",
                                   "skipped: set service.public_url in the config to register it"))
            return
        url = public_url.rstrip("/") + "/webhooks/jira"
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else None
        fingerprint = hashlib.sha256(secret.encode()).hexdigest() if secret else ""
        jql = webhook_filter(self.settings.jql)
        body: dict[str, Any] = {"name": WEBHOOK_NAME, "url": url, "events": list(WEBHOOK_EVENTS),
                                "filters": {"issue-related-events-section": jql}, "excludeBody": False}
        if secret:
            body["secret"] = secret
        note = "" if secret else "no jira.webhook_secret: deliveries will not be signed"
        existing = [w for w in self.client.quiet("GET", WEBHOOK_PATH) or [] if w.get("url") == url]
        if existing:
            hook = existing[0]
            same = (set(hook.get("events") or ()) == set(WEBHOOK_EVENTS)
                    and ((hook.get("filters") or {}).get("issue-related-events-section") or "") == jql
                    and hook.get("enabled", True) is not False
                    and (self.state.get(SECRET_KEY) or "") == fingerprint)
            if same:
                steps.append(SetupStep("register webhook", url, "already registered", needed=False))
                return
            action, method, path = "update webhook", "PUT", f"{WEBHOOK_PATH}/{_webhook_id(hook)}"
            body["enabled"] = True
        else:
            action, method, path = "register webhook", "POST", WEBHOOK_PATH
        detail = f"events {', '.join(WEBHOOK_EVENTS)}; JQL {jql or '(all issues)'}" + (f"; {note}" if note else "")
        if dry_run:
            steps.append(SetupStep(action, url, detail))
            return
        self.client.quiet(method, path, body)
        self.state.set(SECRET_KEY, fingerprint)
        steps.append(SetupStep(action, url, detail, done=True))


def webhook_filter(jql: str | None) -> str:
    """The JQL as a webhook filter: an ORDER BY clause means nothing there."""
    return re.sub(r"\s*\border\s+by\b.*$", "", jql or "", flags=re.IGNORECASE | re.DOTALL).strip()


def _webhook_id(hook: dict[str, Any]) -> str:
    if hook.get("id") is not None:
        return str(hook["id"])
    return str(hook.get("self", "")).rstrip("/").rsplit("/", 1)[-1]
