"""The dashboard's routes (``/dashboard/...``): thin views over :mod:`.pages`.

``/`` overview · ``/items`` drill-down (``/items.csv`` the same list as CSV) ·
``/admin`` rule quality and survey rounds (admin role) · ``/login``, ``/logout`` ·
``/assets/plotly.min.js`` the plotly.js bundle of the installed ``plotly`` package.
Every page needs a role (see :mod:`.access`); a missing one gets a page that says how
to get access.
"""
from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from flask import (
    Blueprint, Response, current_app, g, redirect, render_template, request, send_file, url_for,
)

from itsm_align.scoring.types import Objective

from ..storage.surveys import Surveys
from .access import COOKIE, Access, Denied, Role
from .data import HistoryCache, SurveyCache
from .filters import DIMENSIONS, PRESETS, FilterError, Filters, choices
from .links import PlatformLinks
from .pages import admin_rules, drill, names_of, overview, overview_charts

__all__ = ["DashboardContext", "bp", "warm"]

log = logging.getLogger("itsm_align.webhooks.dashboard")

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", static_folder="../static",
               static_url_path="/static")

SECURITY_HEADERS = {
    # scripts only from here (plotly.js and ours); plotly sets inline styles on its SVG
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass
class DashboardContext:
    """What the dashboard's views need; the app factory builds it."""

    access: Access
    history: HistoryCache
    surveys: Surveys
    survey_cache: SurveyCache
    objectives: Sequence[Objective]
    rule_objectives: Mapping[str, str | None]
    links: PlatformLinks
    freq: str


def _context() -> DashboardContext:
    return current_app.extensions["itsm_align.dashboard"]


def _require(role: Role) -> None:
    g.dashboard_verdict = _context().access.require(request, role)


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "dashboard.plotly_js" and request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(Denied)
def _denied(error: Denied) -> tuple[str, int]:
    context = _context()
    return render_template("dashboard/denied.html", status=error.status, problem=error.verdict.problem,
                           who=error.verdict.who, needed=error.needed.name.lower(),
                           settings=context.access.settings, uses_tokens=context.access.uses_tokens,
                           next=request.full_path.rstrip("?")), error.status


@bp.errorhandler(FilterError)
def _bad_filter(error: FilterError) -> tuple[str, int]:
    return render_template("dashboard/message.html", title="That filter cannot be used",
                           message=str(error), link=url_for("dashboard.index"),
                           link_text="Start again without filters", role=_role()), 400


def _role() -> str:
    verdict = getattr(g, "dashboard_verdict", None)
    return verdict.role.name.lower() if verdict is not None and verdict.role is not None else ""


def _common(filters: Filters, snapshot: Any) -> dict[str, Any]:
    context = _context()
    names = names_of(context.objectives)
    history = snapshot.history
    objective_choices = [(o.id, o.name) for o in context.objectives] + [("unaligned", "Unaligned")]
    known = {value for value, _ in objective_choices}
    objective_choices += [(v, v) for v in choices(history, "objective") if v not in known]
    today = date.today()
    return {
        "filters": filters, "names": names, "role": _role(),
        "who": getattr(g, "dashboard_verdict").who,
        "choices": {"objective": objective_choices,
                    **{name: [(v, v) for v in choices(history, name)] for name, _ in DIMENSIONS[1:]}},
        "presets": [(label, filters.preset(days, today).query()) for label, days in PRESETS],
        "active_preset": next((label for label, days in PRESETS
                               if filters.preset(days, today).since == filters.since and not filters.until), None),
        "read_at": snapshot.read_at, "rows": len(history),
    }


@bp.get("/")
def index() -> str:
    _require(Role.READ)
    started = time.perf_counter()
    context = _context()
    filters = Filters.parse(request.args).page_filters()
    snapshot = context.history.snapshot()
    page = _overview(snapshot, filters, request.args.get("round") or None)
    html = render_template("dashboard/index.html", page=page, freq=context.freq,
                           **_common(filters, snapshot))
    current_app.logger.debug("dashboard page in %.0f ms", (time.perf_counter() - started) * 1000)
    return html


def _overview(snapshot: Any, filters: Filters, survey_round: str | None = None,
              context: DashboardContext | None = None) -> Any:
    context = context or _context()
    survey_version, survey = context.survey_cache.state()
    return snapshot.memo(("overview", filters.key(), survey_version, survey_round), lambda: overview(
        snapshot, filters, context.objectives, survey, freq=context.freq, survey_round=survey_round))


def _charts(snapshot: Any, filters: Filters, survey_round: str | None = None,
            context: DashboardContext | None = None) -> str:
    context = context or _context()
    survey_version, _ = context.survey_cache.state()
    return snapshot.memo(("charts", filters.key(), survey_version, survey_round), lambda: "{" + ",".join(
        f'"{name}":{{"figure":{chart.figure},"drill":{chart.drill_json}}}'
        for name, chart in overview_charts(_overview(snapshot, filters, survey_round, context)).items()) + "}")


def warm(context: DashboardContext) -> None:
    """Read the history and compute the overview of every period preset, so the first
    person to open the dashboard does not wait (run in a thread by the app factory)."""
    try:
        snapshot = context.history.snapshot()
        today = date.today()
        for _, days in PRESETS[::-1]:  # all time (the default page) first
            filters = Filters().preset(days, today)
            _charts(snapshot, filters, None, context)
    except Exception:  # noqa: BLE001 - a request will try again and show the error
        log.exception("dashboard: preparing the first page failed")


@bp.get("/charts.json")
def charts() -> Response:
    """The overview's figures for these filters: ``{name: {"figure": ..., "drill": [url per point]}}``."""
    _require(Role.READ)
    filters = Filters.parse(request.args).page_filters()
    return Response(_charts(_context().history.snapshot(), filters, request.args.get("round") or None),
                    content_type="application/json")


@bp.get("/items")
def items() -> str:
    _require(Role.READ)
    context = _context()
    filters = Filters.parse(request.args)
    snapshot = context.history.snapshot()
    result = drill(snapshot, filters, context.objectives, context.links)
    return render_template("dashboard/items.html", drill=result, **_common(filters, snapshot))


@bp.get("/items.csv")
def items_csv() -> Response:
    _require(Role.READ)
    context = _context()
    filters = Filters.parse(request.args)
    result = drill(context.history.snapshot(), filters, context.objectives, context.links)
    out = io.StringIO()
    result.frame.to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL)
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="itsm-align-items.csv"'})


@bp.get("/admin")
def admin() -> str:
    _require(Role.ADMIN)
    context = _context()
    filters = Filters.parse(request.args).page_filters()
    snapshot = context.history.snapshot()
    quality = snapshot.memo(("rules", filters.period),
                            lambda: admin_rules(snapshot, filters, context.rule_objectives))
    rounds = context.surveys.rounds()
    return render_template("dashboard/admin.html", quality=quality, rounds=rounds,
                           **_common(filters, snapshot))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """A token typed in (POST) or carried by a link (``?token=``) becomes an
    HttpOnly cookie; the token is never put back into a URL."""
    context = _context()
    token = request.form.get("token", "") if request.method == "POST" else request.args.get("token", "")
    target = _safe_next(request.values.get("next", ""))
    problem = ""
    if token:
        role = context.access.token_role(token)
        if role is not None:
            response = redirect(target, code=303)
            response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="Strict",
                                secure=request.is_secure, path="/dashboard", max_age=30 * 86400)
            return response
        problem = ("That token is not one of the dashboard's tokens. Check that it was copied whole, "
                   "or ask your itsm-align administrator for a new one.")
    status = 401 if problem else 200
    return render_template("dashboard/login.html", problem=problem, next=target,
                           settings=context.access.settings, uses_tokens=context.access.uses_tokens), status


@bp.post("/logout")
def logout() -> Response:
    response = redirect(url_for("dashboard.login"), code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


def _safe_next(target: str) -> str:
    """Only a path inside the dashboard (never another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard"):
        return url_for("dashboard.index")
    return target


@bp.get("/assets/plotly.min.js")
def plotly_js() -> Response:
    _require(Role.READ)
    bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
    with resources.as_file(bundle) as path:
        return send_file(path, mimetype="text/javascript", max_age=86400, conditional=True)
