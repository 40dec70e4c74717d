"""REST handlers: projects, project properties and admin webhooks."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlparse

from .call import Call, Reply, page
from .delivery import Webhook
from .errors import JiraError, not_found
from .jql import compile_jql
from .model import Project

MAX_PROPERTY_BYTES = 32768


def _project(call: Call) -> Project:
    ref = call.path["project"]
    project = call.svc.site.project(ref) or call.svc.site.project(ref.upper())
    if project is None:
        raise not_found(f"No project could be found with key '{ref}'.")
    return project


def get_project(call: Call) -> Reply:
    with call.svc.lock:
        project = _project(call)
        return Reply(200, project.json(call.svc.base_url, call.svc.site.users.get(project.lead), call.version, call.svc.datacenter))


def search_projects(call: Call) -> Reply:
    """``GET /rest/api/3/project/search`` (Cloud): a page of projects, ``keys`` / ``id`` filter."""
    svc = call.svc
    keys = {k.upper() for k in call.list_arg("keys") or []}
    ids = set(call.list_arg("id") or [])
    with svc.lock:
        found = [p.json(svc.base_url, svc.site.users.get(p.lead), call.version, svc.datacenter) for p in svc.site.projects.values()
                 if (not keys or p.key in keys) and (not ids or p.id in ids)]
    return Reply(200, page(found, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 50, 1), 100),
                           f"{svc.base_url}/rest/api/{call.version}/project/search"))


def all_projects(call: Call) -> Reply:
    """``GET /rest/api/2/project`` (Data Center: every project, no paging)."""
    svc = call.svc
    with svc.lock:
        return Reply(200, [p.json(svc.base_url, svc.site.users.get(p.lead), call.version, svc.datacenter)
                           for p in svc.site.projects.values()])


def update_project(call: Call) -> Reply:
    call.require_admin()
    body = call.obj()
    svc = call.svc
    with svc.lock:
        project = _project(call)
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise JiraError(400, [], {"projectName": "You must specify a valid project name."})
            project.name = body["name"].strip()
        if "description" in body:
            project.description = str(body["description"] or "")
        if "leadAccountId" in body:
            if body["leadAccountId"] not in svc.site.users:
                raise JiraError(400, [], {"projectLead": "The project lead you specified does not exist."})
            project.lead = body["leadAccountId"]
        svc.emit_project("project_updated", project, call.user)
        return Reply(200, project.json(svc.base_url, svc.site.users.get(project.lead)))


def list_properties(call: Call) -> Reply:
    with call.svc.lock:
        project = _project(call)
        base = f"{call.svc.base_url}/rest/api/{call.version}/project/{project.id}/properties"
        return Reply(200, {"keys": [{"self": f"{base}/{k}", "key": k} for k in project.properties]})


def get_property(call: Call) -> Reply:
    with call.svc.lock:
        project = _project(call)
        key = call.path["prop"]
        if key not in project.properties:
            raise not_found(f"The property with key '{key}' does not exist.")
        return Reply(200, {"key": key, "value": project.properties[key]})


def put_property(call: Call) -> Reply:
    key = call.path["prop"]
    if len(key) > 255:
        raise JiraError(400, ["The property key can not be longer than 255 characters."])
    if len(call.raw) > MAX_PROPERTY_BYTES:
        raise JiraError(400, [f"The property value can not be longer than {MAX_PROPERTY_BYTES} bytes."])
    try:
        value = json.loads(call.raw)
    except (ValueError, UnicodeDecodeError):
        raise JiraError(400, ["The property value must be a valid JSON."]) from None
    with call.svc.lock:
        project = _project(call)
        created = key not in project.properties
        project.properties[key] = value
        return Reply(201 if created else 200, {})


def delete_property(call: Call) -> Reply:
    with call.svc.lock:
        project = _project(call)
        key = call.path["prop"]
        if key not in project.properties:
            raise not_found(f"The property with key '{key}' does not exist.")
        del project.properties[key]
        return Reply(204)


# ---- admin webhooks (/rest/webhooks/1.0/webhook) -------------------------------
def _webhook_fields(call: Call, body: dict[str, Any], current: Webhook | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = body.get("name", current.name if current else None)
    url = body.get("url", current.url if current else None)
    events = body.get("events", current.events if current else None)
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "The webhook name must be specified."
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.netloc:
        errors["url"] = "The webhook URL must be an absolute http(s) URL."
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors["events"] = "At least one event must be specified."
    filters = body.get("filters")
    jql = current.jql if current and filters is None else None
    if isinstance(filters, dict):
        jql = filters.get("issue-related-events-section") or None
    if jql:
        try:
            compile_jql(jql, call.svc.site, call.user.account_id)
        except JiraError as exc:
            errors["filters"] = "Invalid JQL filter: " + "; ".join(exc.messages)
    secret = body.get("secret", current.secret if current else None)
    if secret is not None and not isinstance(secret, str):
        errors["secret"] = "The secret must be a string."
    if errors:
        raise JiraError(400, [], errors)
    return {"name": name.strip(), "url": url, "events": list(events), "jql": jql, "secret": secret or None,
            "exclude_body": bool(body.get("excludeBody", current.exclude_body if current else False)),
            "enabled": bool(body.get("enabled", current.enabled if current else True))}


def list_webhooks(call: Call) -> Reply:
    call.require_admin()
    with call.svc.lock:
        return Reply(200, [h.json(call.svc.base_url) for h in call.svc.webhooks.values()])


def create_webhook(call: Call) -> Reply:
    call.require_admin()
    body = call.obj()
    svc = call.svc
    with svc.lock:
        values = _webhook_fields(call, body, None)
        hook = Webhook(next(svc.site.ids.webhook), updated_by=call.user.account_id, updated=time.time(), **values)
        svc.webhooks[hook.id] = hook
        return Reply(201, hook.json(svc.base_url))


def _hook(call: Call) -> Webhook:
    hook = call.svc.webhooks.get(call.path["hook_id"])
    if hook is None:
        raise not_found(f"Webhook with id {call.path['hook_id']} does not exist.")
    return hook


def get_webhook(call: Call) -> Reply:
    call.require_admin()
    with call.svc.lock:
        return Reply(200, _hook(call).json(call.svc.base_url))


def update_webhook(call: Call) -> Reply:
    call.require_admin()
    body = call.obj()
    with call.svc.lock:
        hook = _hook(call)
        for name, value in _webhook_fields(call, body, hook).items():
            setattr(hook, name, value)
        hook.updated, hook.updated_by = time.time(), call.user.account_id
        return Reply(200, hook.json(call.svc.base_url))


def delete_webhook(call: Call) -> Reply:
    call.require_admin()
    with call.svc.lock:
        _hook(call)
        del call.svc.webhooks[call.path["hook_id"]]
        return Reply(204)
