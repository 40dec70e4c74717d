"""Flask application factory for the webhook service.

Layered configuration, validated once here (never per request): the config
file's ``service:`` section (or ``ServiceSettings`` defaults), then the
keyword overrides tests pass. Start-up fails with one :class:`StartupError`
that says what to fix (e.g. a platform with no webhook secret while
signatures are required).

Routes: ``POST /webhooks/jira``, ``POST /webhooks/servicenow`` (only for
configured platforms), ``GET /healthz`` (200 with inbox depth), ``GET
/metrics`` (Prometheus text).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, Response, jsonify
from sqlalchemy.engine import Engine

from itsm_align.integration.base import PlatformAdapter

from . import jira_hook, servicenow_hook
from .adapters import StartupError, build_adapters, configured_platforms, secret_of
from .inbox import Inbox
from .ingest import IngestContext
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Counters
from .settings import ServiceSettings
from .store import create_db_engine, describe

log = logging.getLogger("itsm_align.webhooks")

BLUEPRINTS = {"jira": jira_hook.bp, "servicenow": servicenow_hook.bp}

__all__ = ["create_app", "StartupError"]


def _redis_waker(url: str, key: str):  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(url)

    def wake(platform: str) -> None:
        # one token per event; trimmed so the list stays small while no worker listens
        pipe = client.pipeline(transaction=False)
        pipe.lpush(key, platform)
        pipe.ltrim(key, 0, 999)
        pipe.execute()

    return wake


def create_app(config: Any = None, *, service: ServiceSettings | None = None,
               secrets: Mapping[str, str | None] | None = None,
               adapters: Mapping[str, PlatformAdapter] | None = None,
               db_engine: Engine | None = None) -> Flask:
    """Build the service.

    ``config``: an ``AppConfig`` (``load_config``); ``service`` overrides its
    ``service:`` section; ``secrets`` maps platform -> webhook secret and
    enables that platform even without a config section (tests, benchmarks);
    ``adapters`` replaces the adapters built from the config; ``db_engine``
    shares an existing SQLAlchemy engine.
    """
    settings = service or getattr(config, "service", None) or ServiceSettings()
    platforms = list(dict.fromkeys([*configured_platforms(config), *(secrets or {})]))
    if not platforms:
        raise StartupError("no platform configured: add a 'jira:' or 'servicenow:' section to the config")
    resolved: dict[str, bytes | None] = {}
    for platform in platforms:
        secret = (secrets or {}).get(platform) or secret_of(config, platform)
        if secret is None and settings.require_signature:
            raise StartupError(
                f"{platform}.webhook_secret is not set: set it (e.g. webhook_secret: ${{ITSM_ALIGN_"
                f"{platform.upper()}_SECRET}}) or, only on a trusted network, service.require_signature: false")
        resolved[platform] = secret.encode("utf-8") if secret else None

    engine = db_engine or create_db_engine(settings.database_url)
    if adapters is None:
        adapters = build_adapters(config, engine) if config is not None else {}
    inbox = Inbox(engine, coalesce_seconds=settings.coalesce_seconds)
    wake = _redis_waker(settings.redis_url, settings.redis_wake_key) if settings.redis_url else None
    context = IngestContext(inbox=inbox, counters=Counters(), secrets=resolved, adapters=dict(adapters),
                            wake=wake, signature_max_age=float(settings.signature_max_age_seconds),
                            keep_body=settings.inbox_keep_body)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["itsm_align"] = context
    app.extensions["itsm_align.settings"] = settings
    for platform in platforms:
        app.register_blueprint(BLUEPRINTS[platform])

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", platforms=platforms, inbox=inbox.depth(include_done=False))

    @app.get("/metrics")
    def metrics() -> Response:
        text = context.counters.render(lambda: inbox.depth(include_done=False))
        return Response(text, content_type=METRICS_CONTENT_TYPE)

    log.info("webhook service ready for %s (database: %s)", ", ".join(platforms), describe(engine))
    return app
