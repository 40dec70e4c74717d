"""Jira webhook payload -> Event. Runs on the ingest hot path: no HTTP, no copies.

Tolerates what real deliveries carry (see ../shared/data/jira/webhooks/): extra
top-level keys, ``timestamp`` as a formatted string, changelog items without
``fieldId`` (older Jira: the display name is mapped to an id when known), users
identified by ``name``/``key`` instead of ``accountId`` (older Data Center).
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qsl

from itsm_align.integration.base import Event

PLATFORM = "jira"
#: dict first: payloads come from json.loads, and an exact type check is far cheaper than the ABC
_MAP = (dict, Mapping)
ISSUE_ACTIONS = {"jira:issue_created": "upsert", "jira:issue_updated": "upsert", "jira:issue_deleted": "delete"}
PROJECT_ACTIONS = {"project_created": "upsert", "project_updated": "upsert", "project_deleted": "delete"}


def actor_of(payload: Mapping[str, Any]) -> str | None:
    """Who made the change: ``user.accountId`` (Cloud), else ``name``/``key`` (old DC),
    else the ``username`` in the user's ``self`` link (oldest payloads)."""
    user = payload.get("user")
    if not isinstance(user, _MAP):
        return None
    for key in ("accountId", "name", "key"):
        value = user.get(key)
        if value:
            return str(value)
    link = user.get("self")  # very old payloads: only .../user?username=jira_test
    if isinstance(link, str) and "?" in link:
        query = dict(parse_qsl(link.split("?", 1)[1]))
        for key in ("accountId", "username", "key"):
            if query.get(key):
                return query[key]
    return None


def changed_fields(payload: Mapping[str, Any], name_to_id: Mapping[str, str]) -> tuple[str, ...] | None:
    """Field ids in the changelog (display name mapped through ``name_to_id``
    when an old payload has no ``fieldId``); None when there is no changelog."""
    changelog = payload.get("changelog")
    if not isinstance(changelog, _MAP):
        return None
    items = changelog.get("items")
    if not isinstance(items, list):
        return None
    out: list[str] = []
    for item in items:
        if not isinstance(item, _MAP):
            continue
        field_id = item.get("fieldId")
        if not field_id:
            name = item.get("field")
            if not name:
                continue
            field_id = name_to_id.get(str(name), str(name))
        field_id = str(field_id)
        if field_id not in out:
            out.append(field_id)
    return tuple(out)


def _key_of(obj: Any) -> str | None:
    if isinstance(obj, _MAP):
        key = obj.get("key")
        if isinstance(key, str) and key.strip():
            return key
    return None


def parse_event(payload: Any, headers: Mapping[str, str] | None = None, *,
                name_to_id: Mapping[str, str] | None = None,
                objective_field: tuple[str, ...] = (),
                account_id: str | None = None) -> Event:
    """Normalise one delivery. ``objective_field`` holds the objective field's id
    and name (whatever is known) to flag a person setting it; ``account_id`` is
    our integration account when known."""
    if not isinstance(payload, _MAP):
        raise ValueError("not a Jira webhook: the body is not a JSON object")
    event_type = payload.get("webhookEvent")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("not a Jira webhook: no 'webhookEvent'")
    actor = actor_of(payload)
    ours = bool(account_id) and actor == account_id

    if event_type in ISSUE_ACTIONS:
        key = _key_of(payload.get("issue"))
        if key is None:
            raise ValueError(f"{event_type} without issue.key: not a Jira issue event")
        changed = changed_fields(payload, name_to_id or {})
        by_person = (not ours and actor is not None and changed is not None
                     and any(f in objective_field for f in changed))
        return Event(platform=PLATFORM, action=ISSUE_ACTIONS[event_type], subject="ticket", key=key,  # type: ignore[arg-type]
                     event_type=event_type, actor=actor, actor_is_integration=ours,
                     changed_fields=changed, objective_set_by_person=by_person, payload=payload)

    if event_type in PROJECT_ACTIONS:
        key = _key_of(payload.get("project"))
        if key is None:
            raise ValueError(f"{event_type} without project.key: not a Jira project event")
        return Event(platform=PLATFORM, action=PROJECT_ACTIONS[event_type], subject="project", key=key,  # type: ignore[arg-type]
                     event_type=event_type, actor=actor, actor_is_integration=ours, payload=payload)

    # comments, links, worklogs, sprints, versions...: answered 200 and ignored
    key = _key_of(payload.get("issue")) or _key_of(payload.get("project")) or ""
    return Event(platform=PLATFORM, action="ignore", subject="ticket", key=key, event_type=event_type,
                 actor=actor, actor_is_integration=ours, payload=payload)
