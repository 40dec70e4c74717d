"""``POST /webhooks/servicenow``: events from our async business rule on ``task``.

Body and headers are the contract in the README (event id, operation, table,
sys_id, number, sys_mod_count, sys_updated_on/by, fields, display). Checks:
size, signature over ``timestamp + "." + body`` and its age (stale: 401),
shape (400), reused event id (200 duplicate, through the inbox INSERT), and an
event older (by ``sys_mod_count``) than one already processed for the same
record is dropped (200).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import Blueprint, Response, request

from . import ingest
from .ingest import IngestContext, Rejected, answer
from .signatures import verify_servicenow

PLATFORM = "servicenow"
bp = Blueprint(PLATFORM, __name__)  # named after the platform: ingest.rejected counts by it

PROJECT_CLASSES = frozenset({"pm_project"})

Handler = Callable[[IngestContext, Mapping[str, Any], bytes, str], Response]


def _fields(payload: Mapping[str, Any]) -> tuple[str, str, int]:
    table, sys_id, count = payload.get("table"), payload.get("sys_id"), payload.get("sys_mod_count")
    if not isinstance(table, str) or not table:
        raise Rejected(400, "malformed", "event has no 'table'")
    if not isinstance(sys_id, str) or not sys_id:
        raise Rejected(400, "malformed", "event has no 'sys_id'")
    if isinstance(count, bool) or not isinstance(count, (int, str)) or \
            (isinstance(count, str) and not (count.isascii() and count.strip().isdigit() and len(count) <= 20)):
        raise Rejected(400, "malformed", "event 'sys_mod_count' must be a whole number (up to 20 digits)")
    version = int(count)
    if not 0 <= version <= ingest.MAX_VERSION:
        raise Rejected(400, "malformed", f"event 'sys_mod_count' {version} is out of range (0 to {ingest.MAX_VERSION})")
    return table, sys_id, version


def _handle(ctx: IngestContext, payload: Mapping[str, Any], body: bytes, delivery_id: str, *,
            action: str) -> Response:
    table, sys_id, version = _fields(payload)
    key = f"{table}:{sys_id}"
    cls = payload.get("sys_class_name")
    subject = "project" if (cls if isinstance(cls, str) and cls else table) in PROJECT_CLASSES else "ticket"
    processed = ctx.inbox.processed_version(PLATFORM, key)
    if processed is not None and version < processed:
        ctx.counters.inc(PLATFORM, "ignored", "older_version")
        return answer(200, "ignored", f"sys_mod_count {version} is older than {processed}, already processed")
    return ingest.accept(ctx, PLATFORM, delivery_id, key, event_type=f"servicenow:{payload['operation']}",
                         body=body, payload=payload, subject=subject, action=action, version=version)


def record_changed(ctx, payload, body, delivery_id):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, action="upsert")


def record_deleted(ctx, payload, body, delivery_id):  # type: ignore[no-untyped-def]
    return _handle(ctx, payload, body, delivery_id, action="delete")


HANDLERS: dict[str, Handler] = {
    "insert": record_changed,
    "update": record_changed,
    "delete": record_deleted,
}


def _receive(ctx: IngestContext) -> Response:
    body = ingest.signed_body(ctx, PLATFORM, lambda secret, body: verify_servicenow(
        secret, body, request.headers.get("X-ITSM-Align-Timestamp"), request.headers.get("X-ITSM-Align-Signature"),
        max_age=ctx.signature_max_age))
    payload = ingest.parse_json(body)
    event_id = payload.get("event_id")
    header_id = request.headers.get("X-ITSM-Align-Event-Id")
    if not isinstance(event_id, str) or not event_id:
        raise Rejected(400, "malformed", "event has no 'event_id'")
    if header_id and header_id != event_id:
        raise Rejected(400, "malformed", "X-ITSM-Align-Event-Id does not match the body's event_id")
    operation = payload.get("operation")
    if not isinstance(operation, str) or not operation:
        raise Rejected(400, "malformed", "event has no 'operation'")
    handler = HANDLERS.get(operation)
    if handler is None:
        ctx.counters.inc(PLATFORM, "ignored", "unknown_event")
        return answer(200, "ignored", f"operation {operation} is not handled")
    return handler(ctx, payload, body, event_id)


@bp.post("/webhooks/servicenow")
def receive() -> Response:
    return _receive(ingest.context())
