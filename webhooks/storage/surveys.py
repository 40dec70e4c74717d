"""Stakeholder surveys: rounds, invitation links and answers.

A **round** ("2026-Q1") asks stakeholders, per business objective, how important
it is to them and how satisfied they are with IT's support for it (both 1..5),
with an optional comment. Answers come from two places: the service's survey
form (one link per invitation; the link's token is its only credential, and
only its SHA-256 is stored, so a database dump gives nobody a working link) and
files imported with ``itsm-align survey import``. Each link answers once; a
closed round takes no more answers.

:meth:`Surveys.frame` gives the answers in the shape the reports read (columns
``round, respondent, department, objective, importance, satisfaction,
comment``; ``round`` is the round's title). SQLAlchemy Core, so the same code
runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .schema import survey_answers_table as answers_t
from .schema import survey_invitations_table as invitations_t
from .schema import survey_rounds_table as rounds_t

__all__ = [
    "AlreadyAnswered", "Answer", "Invitation", "Rating", "Round", "RoundClosed", "RoundStats",
    "SURVEY_FRAME_COLUMNS", "SurveyError", "Surveys", "UnknownInvitation", "UnknownRound",
    "hash_token",
]

#: Columns of :meth:`Surveys.frame` (the reports' survey columns, then when and how).
SURVEY_FRAME_COLUMNS = ("round", "respondent", "department", "objective", "importance",
                        "satisfaction", "comment", "answered_at", "source")
#: Bytes of randomness in an invitation token (a 32-character URL-safe string).
TOKEN_BYTES = 24


class SurveyError(Exception):
    """A survey operation cannot be done; the message says why and what to do."""


class UnknownRound(SurveyError):
    """No round has that id or title."""


class UnknownInvitation(SurveyError):
    """No invitation has that token."""


class AlreadyAnswered(SurveyError):
    """The invitation's link was answered already (one answer per link)."""


class RoundClosed(SurveyError):
    """The round is closed: it takes no more answers."""


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    title: str
    created_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class RoundStats:
    """A round with its counts: links made and answered, answer rows, respondents."""

    round: Round
    invitations: int
    answered_invitations: int
    answers: int
    respondents: int


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    round: Round
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Rating:
    """One objective rated on the form."""

    objective: str
    importance: int
    satisfaction: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """One imported row: a respondent's rating of one objective."""

    respondent: str
    department: str
    objective: str
    importance: int
    satisfaction: int
    comment: str = ""


def hash_token(token: str) -> str:
    """What is stored for an invitation token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _round(row: Any) -> Round:
    return Round(id=row.id, title=row.title, created_at=_utc(row.created_at),  # type: ignore[arg-type]
                 closed_at=_utc(row.closed_at))


def _check_rating(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise SurveyError(f"{what} must be a whole number from 1 to 5, got {value!r}")


class Surveys:
    """Survey rounds, invitations and answers in the service database."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    # ------------------------------------------------------------ rounds
    def create_round(self, title: str, *, invitations: int = 0) -> tuple[Round, list[str]]:
        """A new open round and ``invitations`` link tokens for it (shown once:
        only their hashes are stored)."""
        title = " ".join(title.split())
        if not title:
            raise SurveyError("a survey round needs a title, e.g. --title '2026-Q1 business survey'")
        if len(title) > 200:
            raise SurveyError(f"the title is {len(title)} characters long; keep it to 200")
        if invitations < 0:
            raise SurveyError("the number of invitations cannot be negative")
        now = self.clock()
        with self.engine.begin() as connection:
            taken = connection.execute(sa.select(rounds_t.c.id).where(rounds_t.c.title == title)).first()
            if taken is not None:
                raise SurveyError(f"a round titled {title!r} exists already (id {taken.id}): choose another "
                                  "title, or add links to it with `itsm-align survey invite`")
            round_id = connection.execute(rounds_t.insert().values(
                title=title, created_at=now, closed_at=None)).inserted_primary_key[0]
            tokens = self._invite(connection, round_id, invitations, now)
        return Round(round_id, title, now, None), tokens

    def invite(self, round_id: int, count: int) -> list[str]:
        """``count`` more link tokens for an open round."""
        if count < 1:
            raise SurveyError("ask for at least one invitation")
        with self.engine.begin() as connection:
            found = self._round_by_id(connection, round_id)
            if not found.is_open:
                raise RoundClosed(f"round {found.title!r} is closed: links to it could not be answered")
            return self._invite(connection, round_id, count, self.clock())

    @staticmethod
    def _invite(connection: Connection, round_id: int, count: int, now: datetime) -> list[str]:
        tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in range(count)]
        if tokens:
            connection.execute(invitations_t.insert(), [
                {"round_id": round_id, "token_hash": hash_token(t), "created_at": now, "used_at": None}
                for t in tokens])
        return tokens

    def round(self, ref: int | str) -> Round:
        """The round with this id (a number) or title."""
        with self.engine.connect() as connection:
            if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
                row = connection.execute(sa.select(rounds_t).where(rounds_t.c.id == int(ref))).first()
                if row is not None:
                    return _round(row)
            row = connection.execute(sa.select(rounds_t).where(rounds_t.c.title == str(ref).strip())).first()
        if row is None:
            raise UnknownRound(f"no survey round has the id or title {str(ref)!r}: "
                               "`itsm-align survey list` shows the rounds")
        return _round(row)

    @staticmethod
    def _round_by_id(connection: Connection, round_id: int) -> Round:
        row = connection.execute(sa.select(rounds_t).where(rounds_t.c.id == round_id)).first()
        if row is None:
            raise UnknownRound(f"no survey round has the id {round_id}: `itsm-align survey list` shows the rounds")
        return _round(row)

    def rounds(self) -> list[RoundStats]:
        """Every round, oldest first, with its counts."""
        invites = (sa.select(invitations_t.c.round_id, sa.func.count().label("invitations"),
                             sa.func.count(invitations_t.c.used_at).label("used"))
                   .group_by(invitations_t.c.round_id).subquery())
        answered = (sa.select(answers_t.c.round_id, sa.func.count().label("answers"))
                    .group_by(answers_t.c.round_id).subquery())
        people = (sa.select(answers_t.c.round_id, answers_t.c.respondent, answers_t.c.department,
                            answers_t.c.invitation_id).distinct().subquery())
        respondents = (sa.select(people.c.round_id, sa.func.count().label("respondents"))
                       .group_by(people.c.round_id).subquery())
        query = (sa.select(rounds_t, sa.func.coalesce(invites.c.invitations, 0).label("invitations"),
                           sa.func.coalesce(invites.c.used, 0).label("used"),
                           sa.func.coalesce(answered.c.answers, 0).label("answers"),
                           sa.func.coalesce(respondents.c.respondents, 0).label("respondents"))
                 .select_from(rounds_t.outerjoin(invites, invites.c.round_id == rounds_t.c.id)
                              .outerjoin(answered, answered.c.round_id == rounds_t.c.id)
                              .outerjoin(respondents, respondents.c.round_id == rounds_t.c.id))
                 .order_by(rounds_t.c.id))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [RoundStats(_round(row), int(row.invitations), int(row.used), int(row.answers),
                           int(row.respondents)) for row in rows]

    def close(self, round_id: int) -> Round:
        """Close the round (idempotent): its links take no more answers."""
        with self.engine.begin() as connection:
            found = self._round_by_id(connection, round_id)
            if found.is_open:
                now = self.clock()
                connection.execute(rounds_t.update().where(rounds_t.c.id == round_id).values(closed_at=now))
                found = Round(found.id, found.title, found.created_at, now)
        return found

    # ------------------------------------------------------------ the form
    def invitation(self, token: str) -> Invitation | None:
        """The invitation behind a link token (None: no such link)."""
        query = (sa.select(invitations_t.c.id, invitations_t.c.used_at, rounds_t)
                 .join(rounds_t, rounds_t.c.id == invitations_t.c.round_id)
                 .where(invitations_t.c.token_hash == hash_token(token)))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return Invitation(id=row[0], used_at=_utc(row[1]), round=_round(row))

    def answer(self, token: str, *, respondent: str, department: str, ratings: Sequence[Rating]) -> int:
        """Store one stakeholder's ratings given through an invitation link, and
        mark the link used, in one transaction. Returns the rows stored.

        Raises UnknownInvitation, AlreadyAnswered (also when two submissions
        race: exactly one wins) or RoundClosed; nothing is stored then."""
        if not ratings:
            raise SurveyError("rate at least one objective")
        for rating in ratings:
            _check_rating(rating.importance, f"importance of {rating.objective}")
            _check_rating(rating.satisfaction, f"satisfaction with {rating.objective}")
        now = self.clock()
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(invitations_t.c.id, invitations_t.c.round_id, rounds_t.c.closed_at)
                .join(rounds_t, rounds_t.c.id == invitations_t.c.round_id)
                .where(invitations_t.c.token_hash == hash_token(token))).first()
            if row is None:
                raise UnknownInvitation("this survey link is not known")
            if row.closed_at is not None:
                raise RoundClosed("this survey round is closed")
            claimed = connection.execute(
                invitations_t.update()
                .where(invitations_t.c.id == row.id, invitations_t.c.used_at.is_(None))
                .values(used_at=now))
            if claimed.rowcount != 1:
                raise AlreadyAnswered("this survey link has been answered already")
            connection.execute(answers_t.insert(), [
                {"round_id": row.round_id, "invitation_id": row.id, "respondent": respondent.strip(),
                 "department": department.strip(), "objective": r.objective, "importance": r.importance,
                 "satisfaction": r.satisfaction, "comment": r.comment.strip(), "answered_at": now,
                 "source": "form"} for r in ratings])
        return len(ratings)

    # ------------------------------------------------------------ import
    def import_answers(self, round_id: int, answers: Sequence[Answer]) -> int:
        """Add imported answers to a round, all or nothing. A respondent
        (respondent + department) who already rated an objective in the round
        is refused, so importing one file twice adds nothing twice."""
        for answer in answers:
            _check_rating(answer.importance, f"importance of {answer.objective}")
            _check_rating(answer.satisfaction, f"satisfaction with {answer.objective}")
        now = self.clock()
        with self.engine.begin() as connection:
            self._round_by_id(connection, round_id)
            existing = {(r.respondent, r.department, r.objective) for r in connection.execute(
                sa.select(answers_t.c.respondent, answers_t.c.department, answers_t.c.objective)
                .where(answers_t.c.round_id == round_id))}
            clashes = sorted({(a.respondent, a.department, a.objective) for a in answers} & existing)
            if clashes:
                shown = ", ".join(f"{r} ({d}) on {o}" for r, d, o in clashes[:5])
                more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
                raise SurveyError(f"{len(clashes)} answer(s) are in this round already: {shown}{more}. "
                                  "Was this file imported before? Import it into a new round instead.")
            if answers:
                connection.execute(answers_t.insert(), [
                    {"round_id": round_id, "invitation_id": None, "respondent": a.respondent,
                     "department": a.department, "objective": a.objective, "importance": a.importance,
                     "satisfaction": a.satisfaction, "comment": a.comment, "answered_at": now,
                     "source": "import"} for a in answers])
        return len(answers)

    # ------------------------------------------------------------ for reports
    def version(self) -> tuple[int, int]:
        """Changes whenever an answer is added or a round created (for caches)."""
        with self.engine.connect() as connection:
            answers = connection.execute(sa.select(sa.func.max(answers_t.c.id))).scalar()
            rounds = connection.execute(sa.select(sa.func.max(rounds_t.c.id))).scalar()
        return int(answers or 0), int(rounds or 0)

    def frame(self, *, round_ids: Sequence[int] | None = None):  # -> pandas.DataFrame
        """Every answer (of ``round_ids`` when given) in the reports' survey
        shape, plus ``answered_at`` and ``source`` (form | import): one row per
        respondent and objective; ``round`` is the round's title. A respondent
        who left the name empty is "(anonymous)"."""
        import pandas as pd

        query = (sa.select(rounds_t.c.title.label("round"), answers_t.c.respondent, answers_t.c.department,
                           answers_t.c.objective, answers_t.c.importance, answers_t.c.satisfaction,
                           answers_t.c.comment, answers_t.c.answered_at, answers_t.c.source)
                 .join(rounds_t, rounds_t.c.id == answers_t.c.round_id).order_by(answers_t.c.id))
        if round_ids is not None:
            query = query.where(answers_t.c.round_id.in_(list(round_ids)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame([tuple(row) for row in rows], columns=list(SURVEY_FRAME_COLUMNS))
        frame["respondent"] = frame["respondent"].where(frame["respondent"] != "", "(anonymous)")
        frame["importance"] = frame["importance"].astype("int64")
        frame["satisfaction"] = frame["satisfaction"].astype("int64")
        frame["comment"] = frame["comment"].fillna("").astype(str)
        frame["answered_at"] = pd.to_datetime(frame["answered_at"], utc=True)
        return frame
