"""Flask application factory for the webhook service.

Typed settings in (the config file's ``service:`` section, validated once by
the config loader in cli/, never per request), with the webhook secret of
each platform served and the adapters the composition root (cli/compose.py)
built. Start-up fails with one :class:`StartupError` that says what to fix
(e.g. a platform with no webhook secret while signatures are required).

Routes: ``POST /webhooks/jira``, ``POST /webhooks/servicenow`` (only for
configured platforms), ``GET /healthz`` (200 with inbox depth), ``GET
/metrics`` (Prometheus text); ``/survey/<token>`` (the stakeholder survey
form) when the objectives are given, ``/dashboard/`` when the ``dashboard:``
settings are given.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from flask import Flask, Response, jsonify
from sqlalchemy.engine import Engine

from itsm_align.integration.base import PlatformAdapter
from itsm_align.scoring.types import Objective

from . import jira_hook, servicenow_hook
from .storage.inbox import Inbox
from .ingest import IngestContext, Rejected, rejected
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Counters, platform_gauges, worker_metrics
from .storage.counters import WorkerCounters
from .parked import setup_problem_metrics
from .settings import DashboardSettings, ServiceSettings
from .storage.engine import create_db_engine, describe
from .storage.statestore import DatabaseStore

log = logging.getLogger("itsm_align.webhooks")

BLUEPRINTS = {"jira": jira_hook.bp, "servicenow": servicenow_hook.bp}

if TYPE_CHECKING:
    from .dashboard.links import PlatformLinks

__all__ = ["create_app", "StartupError"]


class StartupError(RuntimeError):
    """The service cannot start as configured; the message says what to fix."""


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


def create_app(service: ServiceSettings | None = None, *, secrets: Mapping[str, str | None],
               adapters: Mapping[str, PlatformAdapter] | None = None,
               db_engine: Engine | None = None, objectives: Sequence[Objective] | None = None,
               dashboard: DashboardSettings | None = None, links: "PlatformLinks | None" = None,
               rule_objectives: Mapping[str, str | None] | None = None, warm: bool = True,
               readiness: Mapping[str, Callable[[], tuple[bool, str]]] | None = None) -> Flask:
    """Build the service.

    ``service``: the ``service:`` settings (defaults when None); ``secrets``
    maps each platform served to its webhook secret (None: unsigned, only
    allowed with ``require_signature: false``); ``adapters``: the platform
    adapters the views ask to recognise our own echoes (a platform without one
    stores every event); ``db_engine`` shares an existing SQLAlchemy engine.

    ``objectives`` (the config's) serve the survey form at ``/survey/<token>``;
    ``dashboard`` (the ``dashboard:`` settings) adds ``/dashboard/``, which
    also needs the objectives, and uses ``links`` (where Jira / ServiceNow
    are, for native filter links) and ``rule_objectives`` (rule id -> the
    objective it is evidence for, for rule quality). Without them neither is
    served. ``warm``: read the history for the dashboard in a thread at once
    (false where the app is only built to check the config).
    """
    settings = service or ServiceSettings()
    platforms = list(secrets)
    if not platforms:
        raise StartupError("no platform configured: add a 'jira:' or 'servicenow:' section to the config")
    unknown = [p for p in platforms if p not in BLUEPRINTS]
    if unknown:
        raise StartupError(f"unknown platform(s) {', '.join(unknown)}: itsm-align serves {', '.join(BLUEPRINTS)}")
    resolved: dict[str, bytes | None] = {}
    for platform in platforms:
        secret = secrets[platform]
        if not secret and settings.require_signature:
            raise StartupError(
                f"{platform}.webhook_secret is not set: set it (e.g. webhook_secret: ${{ITSM_ALIGN_"
                f"{platform.upper()}_SECRET}}) or, only on a trusted network, service.require_signature: false")
        resolved[platform] = secret.encode("utf-8") if secret else None

    engine = db_engine or create_db_engine(settings.database_url)
    inbox = Inbox(engine, coalesce_seconds=settings.coalesce_seconds)
    wake = _redis_waker(settings.redis_url, settings.redis_wake_key) if settings.redis_url else None
    context = IngestContext(inbox=inbox, counters=Counters(), secrets=resolved, adapters=dict(adapters or {}),
                            wake=wake, signature_max_age=float(settings.signature_max_age_seconds),
                            keep_body=settings.inbox_keep_body)

    app = Flask(__name__, static_folder=None)  # the survey and dashboard blueprints serve their own
    # one byte above the limit: ingest.raw_body refuses past max_body_bytes, chunked or not
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.extensions["itsm_align"] = context
    app.extensions["itsm_align.settings"] = settings
    for platform in platforms:
        app.register_blueprint(BLUEPRINTS[platform])
    app.register_error_handler(Rejected, rejected)  # every refused delivery: its answer and a count

    if objectives:
        _add_survey(app, engine, objectives, settings)
    if dashboard is not None:
        if not objectives:
            raise StartupError("the dashboard needs the objectives: pass them (itsm-align serve does, from "
                               "the config's objectives:)")
        _add_dashboard(app, engine, objectives, dashboard, links, rule_objectives or {}, warm)

    worker_counters = WorkerCounters(engine)

    @app.get("/readyz")
    def readyz() -> Response:
        """Ready to take traffic: the store answers, and every check the
        composition root gave (rules loaded, platform credentials accepted:
        cached, refreshed in the background) holds. 503 with the details if not."""
        checks: dict[str, dict[str, object]] = {}
        try:
            inbox.depth(include_done=False)
            checks["store"] = {"ok": True, "detail": describe(engine)}
        except Exception as error:
            checks["store"] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
        for name, check in (readiness or {}).items():
            ok, detail = check()
            checks[name] = {"ok": ok, "detail": detail}
        ready = all(check["ok"] for check in checks.values())
        response = jsonify(status="ready" if ready else "not ready", checks=checks)
        response.status_code = 200 if ready else 503
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", platforms=platforms, inbox=inbox.depth(include_done=False))

    @app.get("/metrics")
    def metrics() -> Response:
        text = context.counters.render(lambda: inbox.depth(include_done=False), lambda: platform_gauges(
            platforms, inbox.oldest_owed, lambda platform, key: DatabaseStore(engine, platform).get(key), time.time)
            + setup_problem_metrics(inbox) + worker_metrics(worker_counters.totals()))
        return Response(text, content_type=METRICS_CONTENT_TYPE)

    log.info("webhook service ready for %s (database: %s)", ", ".join(platforms), describe(engine))
    return app


def _add_survey(app: Flask, engine: Engine, objectives: Sequence[Objective], settings: ServiceSettings) -> None:
    from . import survey
    from .storage.surveys import Surveys

    app.extensions["itsm_align.survey"] = survey.SurveyContext(
        surveys=Surveys(engine), objectives=list(objectives), public_url=settings.public_url)
    app.register_blueprint(survey.bp)


def _add_dashboard(app: Flask, engine: Engine, objectives: Sequence[Objective], settings: DashboardSettings,
                   links: "PlatformLinks | None", rule_objectives: Mapping[str, str | None], warm: bool) -> None:
    import threading

    from .dashboard import Access, DashboardContext, HistoryCache, PlatformLinks, SurveyCache, bp
    from .dashboard.views import warm as warm_dashboard
    from .storage.surveys import Surveys

    surveys = Surveys(engine)
    context = DashboardContext(
        access=Access(settings), history=HistoryCache(engine, refresh_seconds=settings.refresh_seconds),
        surveys=surveys, survey_cache=SurveyCache(surveys), objectives=list(objectives),
        rule_objectives=dict(rule_objectives), links=links or PlatformLinks(), freq=settings.trend)
    app.extensions["itsm_align.dashboard"] = context
    app.register_blueprint(bp)
    if warm:  # a large history takes seconds to read: not on the first visitor's time
        threading.Thread(target=warm_dashboard, args=(context,), name="itsm-align-dashboard-warm",
                         daemon=True).start()
