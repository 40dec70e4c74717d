"""The stakeholder survey form: ``GET /survey/<token>`` shows it, ``POST`` stores it.

The token in the link is the only credential (the database keeps its SHA-256). The
form rates every configured objective (importance and satisfaction with IT's support,
1-5, and a comment) and asks for the respondent's name (optional) and department or
role. Objectives left unrated are skipped; one rated on one scale only is sent back
with a message. A used link, a closed round or an unknown link gets a page that says so
(never a 500).

Cross-site requests: the form posts to its own URL; a POST whose ``Origin`` (or, when
absent, ``Referer``) names another host is refused, and pages carry ``Referrer-Policy:
same-origin`` so the token never leaks to another site (while the browser still names
this site as the Origin of its own POST).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, request

from itsm_align.scoring.types import Objective

from .storage.surveys import (
    AlreadyAnswered, Invitation, Rating, RoundClosed, SurveyError, Surveys, UnknownInvitation,
)

log = logging.getLogger("itsm_align.webhooks.survey")

__all__ = ["SurveyContext", "bp"]

bp = Blueprint("survey", __name__, url_prefix="/survey", static_folder="static", static_url_path="/static")

#: What a token looks like (anything else is not looked up).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
MAX_COMMENT = 2000
MAX_NAME = 200

HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "Referrer-Policy": "same-origin",  # the token never goes to another site in a Referer
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class SurveyContext:
    surveys: Surveys
    objectives: Sequence[Objective]
    public_url: str | None = None


def _context() -> SurveyContext:
    return current_app.extensions["itsm_align.survey"]


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _message(status: int, title: str, message: str, hint: str = "") -> tuple[str, int]:
    return render_template("survey/message.html", title=title, message=message, hint=hint), status


def _unusable(invitation: Invitation | None) -> tuple[str, int] | None:
    """The page for a link that cannot be answered, or None if it can."""
    if invitation is None:
        return _message(404, "This survey link is not valid",
                        "The link may have been copied incompletely, or it belongs to another survey.",
                        "Open the link from the invitation again, or ask the person who sent it for a new one.")
    if invitation.used_at is not None:
        return _message(409, "This survey link has been answered already",
                        f"Thank you: the answer to “{invitation.round.title}” sent through this link is recorded. "
                        "Each link can be answered once.",
                        "If you meant to change your answer, ask the person who sent the survey for a new link.")
    if not invitation.round.is_open:
        return _message(410, "This survey is closed",
                        f"“{invitation.round.title}” closed on {invitation.round.closed_at:%d %B %Y} and takes no "
                        "more answers.",
                        "Thank you all the same. The results are shared by the people who ran the survey.")
    return None


def _lookup(token: str) -> Invitation | None:
    return _context().surveys.invitation(token) if TOKEN.match(token) else None


@bp.get("/<token>")
def form(token: str) -> Any:
    invitation = _lookup(token)
    unusable = _unusable(invitation)
    if unusable is not None:
        return unusable
    return render_template("survey/form.html", round=invitation.round, objectives=_context().objectives,  # type: ignore[union-attr]
                           values={}, errors={}, problems=[])


def _same_origin() -> bool:
    """False when the browser says the form was posted from another site."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return source != "null"
    allowed = {request.host.lower()}
    public = _context().public_url
    if public:
        allowed.add(urlsplit(public).netloc.lower())
    return urlsplit(source).netloc.lower() in allowed


@bp.post("/<token>")
def submit(token: str) -> Any:
    if not _same_origin():
        return _message(403, "This answer was sent from another site",
                        "For your protection, answers are only accepted from the survey page itself.",
                        "Open your survey link again and send the form from there.")
    context = _context()
    invitation = _lookup(token)
    unusable = _unusable(invitation)
    if unusable is not None:
        return unusable
    ratings, values, errors, problems = _read_form(context.objectives)
    if problems or errors:
        return render_template("survey/form.html", round=invitation.round, objectives=context.objectives,  # type: ignore[union-attr]
                               values=values, errors=errors, problems=problems), 400
    try:
        stored = context.surveys.answer(token, respondent=values["respondent"], department=values["department"],
                                        ratings=ratings)
    except (AlreadyAnswered, RoundClosed, UnknownInvitation):
        return _unusable(_lookup(token)) or _message(409, "This survey link has been answered already", "")
    except SurveyError as error:  # a rating the form checks already; defensive
        return render_template("survey/form.html", round=invitation.round, objectives=context.objectives,  # type: ignore[union-attr]
                               values=values, errors={}, problems=[str(error)]), 400
    log.info("survey %r: %d rating(s) stored", invitation.round.title, stored)  # type: ignore[union-attr]
    return render_template("survey/thanks.html", round=invitation.round, count=stored)  # type: ignore[union-attr]


def _read_form(objectives: Sequence[Objective]) -> tuple[list[Rating], dict[str, Any], dict[str, str], list[str]]:
    form = request.form
    values: dict[str, Any] = {"respondent": form.get("respondent", "").strip()[:MAX_NAME],
                              "department": form.get("department", "").strip()[:MAX_NAME]}
    errors: dict[str, str] = {}
    problems: list[str] = []
    if not values["department"]:
        errors["department"] = "Say which department or role you answer for."
    ratings = []
    for objective in objectives:
        importance = _score(form.get(f"importance-{objective.id}", ""))
        satisfaction = _score(form.get(f"satisfaction-{objective.id}", ""))
        comment = form.get(f"comment-{objective.id}", "").strip()
        values[objective.id] = {"importance": importance, "satisfaction": satisfaction, "comment": comment}
        if len(comment) > MAX_COMMENT:
            errors[objective.id] = f"Keep the comment to {MAX_COMMENT} characters (it has {len(comment)})."
        elif importance is None and satisfaction is None:
            if comment:
                errors[objective.id] = "Rate importance and satisfaction too, or remove the comment."
        elif importance is None or satisfaction is None:
            errors[objective.id] = "Rate both importance and satisfaction, or neither to skip this objective."
        else:
            ratings.append(Rating(objective.id, importance, satisfaction, comment))
    if not ratings and not errors:
        problems.append("Rate at least one objective before sending.")
    return ratings, values, errors, problems


def _score(text: str) -> int | None:
    return int(text) if text in ("1", "2", "3", "4", "5") else None
