"""What both webhook blueprints share: the size-limited raw body, answers with
a reason, and handing an accepted event to the inbox (then waking a worker).

Answers (the platform retries only 408/409/425/429/5xx, so everything we do
not want again is a 2xx or a 4xx): 202 stored; 200 duplicate / ignored /
own change / older version; 400 bad shape; 401 bad signature; 413 too big.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import orjson
from flask import Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from itsm_align.integration.base import Event, PlatformAdapter

from .storage.inbox import Inbox
from .metrics import Counters
from .signatures import SignatureError

log = logging.getLogger("itsm_align.webhooks")


@dataclass
class IngestContext:
    """Everything a view needs, built once per process by the app factory."""

    inbox: Inbox
    counters: Counters
    secrets: Mapping[str, bytes | None]
    adapters: Mapping[str, PlatformAdapter] = field(default_factory=dict)
    wake: Callable[[str], None] | None = None
    signature_max_age: float = 300.0
    keep_body: bool = False  # service.inbox_keep_body


def answer(status: int, outcome: str, reason: str = "") -> Response:
    body = {"status": outcome}
    if reason:
        body["reason"] = reason
    return Response(json.dumps(body), status=status, mimetype="application/json")


ACCEPTED_BODY = b'{"status":"accepted"}'


def accepted() -> Response:
    return Response(ACCEPTED_BODY, status=202, mimetype="application/json")


class Rejected(Exception):
    """Stop processing a delivery with this answer: raised anywhere under a
    webhook view, answered by :func:`rejected` (the app factory registers it
    as Flask's error handler) and counted as rejected."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def raw_body() -> bytes:
    """The request body, bytes exactly as sent; 413 past ``service.max_body_bytes``,
    the same with Content-Length and with chunked transfer encoding.

    The app sets Flask's MAX_CONTENT_LENGTH one byte above the limit: werkzeug
    then refuses a larger Content-Length at once and stops reading a chunked
    body one byte past the limit, and a body of exactly the limit is read whole
    in both cases (werkzeug cannot tell "exactly the limit" from "more" on a
    chunked stream cut at the limit itself)."""
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge as error:
        raise Rejected(413, "too_large", "body is larger than service.max_body_bytes") from error
    limit = request.max_content_length
    if limit is not None and len(body) >= limit:
        raise Rejected(413, "too_large", "body is larger than service.max_body_bytes")
    return body


def signed_body(ctx: IngestContext, platform: str, verify: Callable[[bytes, bytes], None]) -> bytes:
    """The raw body (413 past the size limit), checked with ``verify(secret,
    body)`` when the platform has a secret: its :class:`SignatureError` is a 401."""
    body = raw_body()
    secret = ctx.secrets.get(platform)
    if secret is not None:
        try:
            verify(secret, body)
        except SignatureError as error:  # a header that is not even well-formed is a bad request
            status = 400 if error.reason == "malformed" else 401
            raise Rejected(status, f"signature_{error.reason}", str(error)) from error
    return body


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (orjson: a 10 KB delivery parses in about a
    third of the standard library's time, and this is on every ack's path)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:  # also invalid UTF-8
        raise Rejected(400, "malformed", f"body is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise Rejected(400, "malformed", "body must be a JSON object")
    return payload


class HeaderView(Mapping[str, str]):
    """The request headers as the adapters' ``Mapping``, with an O(1) truth test
    (werkzeug's EnvironHeaders walks the whole environ for ``bool()``/``len()``,
    which showed up on the ingest hot path)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Any) -> None:
        self._headers = headers

    def __getitem__(self, key: str) -> str:
        return self._headers[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._headers.get(key, default)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (key for key, _ in self._headers.items())

    def __len__(self) -> int:
        return len(self._headers)

    def __bool__(self) -> bool:
        return True


def loop_check(ctx: IngestContext, platform: str, payload: Mapping[str, Any]) -> Event | Response:
    """Ask the adapter what the event is; an ignore or our own echo is answered here."""
    adapter = ctx.adapters.get(platform)
    if adapter is None:
        raise LookupError(platform)
    try:
        event = adapter.parse_event(payload, HeaderView(request.headers))
    except ValueError as error:
        raise Rejected(400, "malformed", str(error)) from error
    except (TypeError, KeyError, AttributeError, IndexError) as error:
        # a signed body whose fields have types no platform sends: refuse it with
        # the reason rather than fail (and let the platform retry it forever)
        log.warning("%s delivery with an unexpected shape refused: %s: %s", platform, type(error).__name__, error)
        raise Rejected(400, "malformed", f"the event's fields do not have the expected types "
                                         f"({type(error).__name__}: {error})") from error
    if event.action == "ignore":
        ctx.counters.inc(platform, "ignored", event.event_type)
        return answer(200, "ignored", f"event {event.event_type} needs no work")
    if adapter.is_own_echo(event):
        ctx.counters.inc(platform, "ignored", "own_change")
        return answer(200, "ignored", "own change")
    return event


def event_record(platform: str, delivery_id: str, item_key: str, *, event_type: str, body: bytes, subject: str,
                 action: str, version: int | None, event: Event | None) -> bytes:
    """What the inbox keeps of a delivery when raw bodies are not kept: the
    normalised event and the body's size (``service.inbox_keep_body`` keeps
    the raw body instead, for audit)."""
    record: dict[str, Any] = {
        "platform": platform, "delivery_id": delivery_id, "key": item_key, "event_type": event_type,
        "subject": subject, "action": action, "version": version,
        "body_bytes": len(body)}
    if event is not None:
        record["actor"] = event.actor
        record["changed_fields"] = list(event.changed_fields) if event.changed_fields is not None else None
        record["objective_set_by_person"] = event.objective_set_by_person
    return orjson.dumps(record)


#: Bounds of what a delivery may put in an inbox row (the columns' sizes,
#: PostgreSQL's BIGINT): past them the delivery is a 400 with the reason.
MAX_DELIVERY_ID, MAX_KEY, MAX_EVENT_TYPE = 200, 200, 100
MAX_VERSION = 2 ** 63 - 1


def check_bounds(delivery_id: str, item_key: str, event_type: str, version: int | None) -> None:
    """Everything a delivery stores, bounded and typed before it reaches the database."""
    for name, value, most in (("delivery id", delivery_id, MAX_DELIVERY_ID), ("item key", item_key, MAX_KEY),
                              ("event type", event_type, MAX_EVENT_TYPE)):
        if not isinstance(value, str) or not value:
            raise Rejected(400, "malformed", f"the event has no {name}")
        if len(value) > most:
            raise Rejected(400, "malformed", f"{name} is {len(value)} characters long; at most {most} are accepted")
    if version is not None and not 0 <= version <= MAX_VERSION:
        raise Rejected(400, "malformed", f"version {version} is out of range (0 to {MAX_VERSION})")


def store(ctx: IngestContext, platform: str, delivery_id: str, item_key: str, *, event_type: str,
          body: bytes, subject: str, action: str, version: int | None = None, event: Event | None = None
          ) -> Response:
    """INSERT into the inbox (the same statement detects a replay), then 202.
    The row holds the raw body with ``service.inbox_keep_body``, else the
    normalised event (see :func:`event_record`)."""
    check_bounds(delivery_id, item_key, event_type, version)
    kept = body if ctx.keep_body else event_record(
        platform, delivery_id, item_key, event_type=event_type, body=body, subject=subject, action=action,
        version=version, event=event)
    if not ctx.inbox.add(platform, delivery_id, item_key, event_type=event_type, payload=kept,
                         subject=subject, action=action, version=version):
        ctx.counters.inc(platform, "duplicate")
        return answer(200, "duplicate", f"delivery {delivery_id} was already received")
    ctx.counters.inc(platform, "accepted")
    if ctx.wake is not None:
        try:
            ctx.wake(platform)
        except Exception as error:  # the row is committed: a worker will poll it up
            log.warning("could not wake workers through Redis: %s", error)
    return accepted()


def context() -> IngestContext:
    """The ingest context the app factory built for this process."""
    return current_app.extensions["itsm_align"]


def rejected(rejection: Rejected) -> Response:
    """Flask error handler for :class:`Rejected`: its answer, a count and a log
    line under the platform whose view refused the delivery (each webhook
    blueprint is named after its platform)."""
    platform = request.blueprint or "unknown"
    context().counters.inc(platform, "rejected", rejection.reason)
    if rejection.reason.startswith("signature_"):
        # a secret that differs between the platform and us, or someone forging deliveries
        log.warning("%s webhook from %s refused: %s (check %s.webhook_secret on both sides)", platform,
                    request.remote_addr or "an unknown address", rejection.message, platform)
    else:
        log.info("%s webhook rejected (%s): %s", platform, rejection.status, rejection.message)
    return answer(rejection.status, "rejected", rejection.message)


def accept(ctx: IngestContext, platform: str, delivery_id: str, key: str, *, event_type: str, body: bytes,
           payload: Mapping[str, Any], subject: str, action: str, version: int | None = None) -> Response:
    """The step both platform views end with: when the platform has an adapter,
    it names the event (key, subject, action) and our own echoes and ignored
    events are answered here; everything else is stored (202) or recognised as
    a replay (200)."""
    event = None
    if platform in ctx.adapters:
        event = loop_check(ctx, platform, payload)
        if isinstance(event, Response):
            return event
        key, subject, action = event.key, event.subject, event.action
    return store(ctx, platform, delivery_id, key, event_type=event_type, body=body, subject=subject,
                 action=action, version=version, event=event)
