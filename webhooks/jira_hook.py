"""``POST /webhooks/jira``: Jira Cloud / Data Center admin webhook deliveries.

Thin view: size limit, signature, JSON shape, then one small handler per
``webhookEvent`` (dispatched by dict). Known events that need no work
(comments, links, worklogs...) and unknown ones are answered 200 so Jira does
not retry them; the adapter's ``parse_event`` / ``is_own_echo`` drop our own
writes coming back before they reach the inbox.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Mapping

from flask import Blueprint, Response, request

from . import ingest
from .ingest import IngestContext, Rejected, answer
from .signatures import verify_jira

PLATFORM = "jira"
bp = Blueprint(PLATFORM, __name__)  # named after the platform: ingest.rejected counts by it

#: Delivered by Jira but never change what we assess: answered 200 at once.
IGNORED_EVENTS = frozenset({
    "comment_created", "comment_updated", "comment_deleted",
    "issuelink_created", "issuelink_deleted",
    "worklog_created", "worklog_updated", "worklog_deleted",
    "attachment_created", "attachment_deleted",
    "jira:worklog_updated", "user_created", "user_updated", "user_deleted",
    "sprint_created", "sprint_updated", "sprint_started", "sprint_closed", "sprint_deleted",
    "board_created", "board_updated", "board_deleted", "board_configuration_changed",
    "jira:version_created", "jira:version_updated", "jira:version_released",
    "jira:version_unreleased", "jira:version_deleted", "jira:version_moved", "jira:version_merged",
    "option_voting_changed", "option_watching_changed", "option_unassigned_issues_changed",
    "option_subtasks_changed", "option_attachments_changed", "option_issuelinks_changed",
    "option_timetracking_changed",
})

Handler = Callable[[IngestContext, Mapping[str, Any], bytes, str, str], Response]


def _key_of(payload: Mapping[str, Any], section: str) -> str:
    obj = payload.get(section)
    key = obj.get("key") if isinstance(obj, Mapping) else None
    if not isinstance(key, str) or not key:
        raise Rejected(400, "malformed", f"{payload.get('webhookEvent')} delivery has no {section}.key")
    return key


def _handle(ctx: IngestContext, payload: Mapping[str, Any], body: bytes, delivery_id: str, event_name: str, *,
            section: str, subject: str, action: str) -> Response:
    key = _key_of(payload, section)  # Jira issue key / project key, as the adapter's Event.key
    return ingest.accept(ctx, PLATFORM, delivery_id, key, event_type=event_name, body=body, payload=payload,
                         subject=subject, action=action)


def issue_changed(ctx, payload, body, delivery_id, event_name):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, event_name, section="issue", subject="ticket", action="upsert")


def issue_deleted(ctx, payload, body, delivery_id, event_name):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, event_name, section="issue", subject="ticket", action="delete")


def project_changed(ctx, payload, body, delivery_id, event_name):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, event_name, section="project", subject="project",
                   action="upsert")


def project_deleted(ctx, payload, body, delivery_id, event_name):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, event_name, section="project", subject="project",
                   action="delete")


HANDLERS: dict[str, Handler] = {
    "jira:issue_created": issue_changed,
    "jira:issue_updated": issue_changed,
    "jira:issue_deleted": issue_deleted,
    "project_created": project_changed,
    "project_updated": project_changed,
    "project_deleted": project_deleted,
}


def _receive(ctx: IngestContext) -> Response:
    body = ingest.signed_body(ctx, PLATFORM, lambda secret, body: verify_jira(
        secret, body, request.headers.get("X-Hub-Signature")))
    payload = ingest.parse_json(body)
    event_name = payload.get("webhookEvent")
    if not isinstance(event_name, str) or not event_name:
        raise Rejected(400, "malformed", "body has no 'webhookEvent' string: not a Jira webhook delivery")
    delivery_id = request.headers.get("X-Atlassian-Webhook-Identifier") or hashlib.sha256(body).hexdigest()
    handler = HANDLERS.get(event_name)
    if handler is None:
        known = event_name in IGNORED_EVENTS
        ctx.counters.inc(PLATFORM, "ignored", event_name if known else "unknown_event")
        return answer(200, "ignored", f"event {event_name} needs no work" if known
                      else f"event {event_name} is not handled")
    return handler(ctx, payload, body, delivery_id, event_name)


@bp.post("/webhooks/jira")
def receive() -> Response:
    return _receive(ingest.context())
