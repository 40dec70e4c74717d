"""``itsm-align survey``: stakeholder survey rounds, their links and imported answers.

``create`` opens a round and prints one link per invitation
(``<service.public_url>/survey/<token>``; the token is shown once, only its hash is
stored); ``invite`` adds links to an open round; ``import`` loads answers collected
elsewhere (a Microsoft Forms or Google Forms export reshaped to one row per respondent
and objective, see README "Surveys"); ``close`` stops a round taking answers; ``list``
shows the rounds with their counts.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import click

from .common import EXIT_BAD_INPUT, config_option, fail, load_or_exit, print_rows
from .config import AppConfig

#: Accepted header names (lower case, spaces and dashes as underscores) per column.
COLUMNS = {
    "respondent": ("respondent", "name", "respondent_name", "email"),
    "department": ("department", "role", "department_or_role", "team", "function"),
    "objective": ("objective", "objective_id"),
    "importance": ("importance",),
    "satisfaction": ("satisfaction",),
    "comment": ("comment", "comments", "feedback"),
}
REQUIRED = ("respondent", "department", "objective", "importance", "satisfaction")


def _stores(config: AppConfig):  # type: ignore[no-untyped-def]
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.surveys import Surveys

    return Surveys(create_db_engine(config.service.database_url))


def _link(config: AppConfig, token: str) -> str:
    base = (config.service.public_url or "").rstrip("/")
    return f"{base}/survey/{token}"


@click.group()
def survey() -> None:
    """Stakeholder surveys: what the business says matters, beside where IT effort goes."""


@survey.command()
@config_option
@click.option("--title", required=True, help="The round's name, e.g. '2026-Q1' (name rounds so they sort).")
@click.option("--invitations", type=click.IntRange(min=0, max=10_000), default=1, show_default=True,
              help="Links to make: one per person asked (each link answers once).")
def create(config_path: Path | None, title: str, invitations: int) -> None:
    """Open a survey round and print its links.

    Example: itsm-align survey create --title "Q1 2027 priorities" --invitations 25 --config itsm-align.yaml"""
    from itsm_align.webhooks.storage.surveys import SurveyError

    config = load_or_exit(config_path, build=False)
    try:
        made, tokens = _stores(config).create_round(title, invitations=invitations)
    except SurveyError as error:
        fail("Cannot create the survey round", [str(error)])
    click.echo(f"survey round {made.id} {made.title!r} is open: {len(tokens)} link(s), one per person, "
               "each answers once", err=True)
    _print_links(config, tokens)


def _print_links(config: AppConfig, tokens: Sequence[str]) -> None:
    if not config.service.public_url:
        click.echo("service.public_url is not set, so the links below lack the service's address: set it "
                   "(e.g. public_url: https://itsm-align.example.com) and prefix each path with it", err=True)
    for token in tokens:
        click.echo(_link(config, token))


@survey.command()
@config_option
@click.argument("round_ref", metavar="ROUND")
@click.option("--invitations", type=click.IntRange(min=1, max=10_000), default=1, show_default=True,
              help="Links to add.")
def invite(config_path: Path | None, round_ref: str, invitations: int) -> None:
    """Add links to an open round (ROUND: its id or title).

    Example: itsm-align survey invite "Q1 2027 priorities" --invitations 10 --config itsm-align.yaml"""
    from itsm_align.webhooks.storage.surveys import SurveyError

    config = load_or_exit(config_path, build=False)
    store = _stores(config)
    try:
        found = store.round(round_ref)
        tokens = store.invite(found.id, invitations)
    except SurveyError as error:
        fail("Cannot add links", [str(error)])
    click.echo(f"{len(tokens)} new link(s) for round {found.id} {found.title!r}", err=True)
    _print_links(config, tokens)


@survey.command()
@config_option
@click.argument("round_ref", metavar="ROUND")
def close(config_path: Path | None, round_ref: str) -> None:
    """Close a round (ROUND: its id or title): its links take no more answers.

    Example: itsm-align survey close "Q1 2027 priorities" --config itsm-align.yaml"""
    from itsm_align.webhooks.storage.surveys import SurveyError

    config = load_or_exit(config_path, build=False)
    store = _stores(config)
    try:
        found = store.round(round_ref)
        was_open = found.is_open
        closed = store.close(found.id)
    except SurveyError as error:
        fail("Cannot close the round", [str(error)])
    state = "closed" if was_open else "was already closed"
    click.echo(f"survey round {closed.id} {closed.title!r} {state} ({closed.closed_at:%Y-%m-%d %H:%M} UTC)")


@survey.command(name="list")
@config_option
def list_rounds(config_path: Path | None) -> None:
    """List the rounds: links made and answered, respondents, ratings.

    Example: itsm-align survey list --config itsm-align.yaml"""
    config = load_or_exit(config_path, build=False)
    rounds = _stores(config).rounds()
    if not rounds:
        click.echo("no survey rounds yet: itsm-align survey create --title 2026-Q1 --invitations 20")
        return
    columns = ("id", "title", "created", "status", "links", "answered", "respondents", "ratings")
    lines = [(str(s.round.id), s.round.title, f"{s.round.created_at:%Y-%m-%d}",
              "open" if s.round.is_open else f"closed {s.round.closed_at:%Y-%m-%d}", str(s.invitations),
              str(s.answered_invitations), str(s.respondents), str(s.answers)) for s in rounds]
    print_rows(columns, lines)


# ---------------------------------------------------------------- import
@dataclass(frozen=True)
class Problem:
    row: int  # data row, 1 = the first row under the header
    line: int  # line of the file where the row starts
    message: str

    def __str__(self) -> str:
        return f"row {self.row} (line {self.line}): {self.message}"


def _header_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").replace("/", " ").split())


def _rating(text: str, what: str) -> tuple[int | None, str | None]:
    value = text.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if value in ("1", "2", "3", "4", "5"):
        return int(value), None
    shown = repr(text.strip()) if text.strip() else "empty"
    return None, f"{what} is {shown}: give a whole number from 1 to 5"


def parse_answers(text: str, objectives: dict[str, str], source: str = "FILE"):  # type: ignore[no-untyped-def]
    """The answers in a CSV text, or the problems found (row numbers and lines).

    ``objectives``: objective id -> name; an objective may be given by id or by its
    name (case-insensitive)."""
    from itsm_align.webhooks.storage.surveys import Answer

    text = text.lstrip("\ufeff")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(0, 1, f"{source} is empty: the first line must name the columns "
                                  f"{', '.join(REQUIRED)}, comment")]
    where: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _header_key(name)
        for column, aliases in COLUMNS.items():
            if key in aliases and column not in where:
                where[column] = index
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        return [], [Problem(0, 1, (
            f"the header lacks the column(s) {', '.join(missing)} (found: {', '.join(h.strip() for h in header)}). "
            f"Name the columns {', '.join(REQUIRED)}, comment (department may be called role)"))]
    by_name = {name.strip().lower(): oid for oid, name in objectives.items()}
    answers, problems = [], []
    seen: dict[tuple[str, str, str], int] = {}
    line = reader.line_num + 1
    for number, record in enumerate(reader, start=1):
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue

        def cell(column: str) -> str:
            index = where.get(column)
            return record[index].strip() if index is not None and index < len(record) else ""

        errors = []
        respondent, department = cell("respondent"), cell("department")
        if not respondent:
            errors.append("respondent is empty: give a name or an anonymous id such as R12")
        if not department:
            errors.append("department (or role) is empty")
        given = cell("objective")
        objective = given if given in objectives else by_name.get(given.lower())
        if objective is None:
            errors.append(f"objective {given!r} is not a configured objective; use one of "
                          f"{', '.join(objectives)}" if given else "objective is empty")
        importance, problem = _rating(cell("importance"), "importance")
        if problem:
            errors.append(problem)
        satisfaction, problem = _rating(cell("satisfaction"), "satisfaction")
        if problem:
            errors.append(problem)
        if objective and respondent and department:
            first = seen.setdefault((respondent, department, objective), number)
            if first != number:
                errors.append(f"{respondent} ({department}) rated {objective} already in row {first}")
        problems += [Problem(number, start, e) for e in errors]
        if not errors:
            answers.append(Answer(respondent, department, objective, importance, satisfaction,  # type: ignore[arg-type]
                                  cell("comment")))
    return answers, problems


@survey.command(name="import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--round", "round_ref", metavar="ROUND",
              help="Round to add the answers to (id or title); a new round of that title is made if none has "
                   "it. Default: a new round named after the file.")
def import_answers(config_path: Path | None, file: Path, round_ref: str | None) -> None:
    """Import answers from a CSV file: one row per respondent and objective.

    Columns: respondent, department (or role), objective (id or name),
    importance (1-5), satisfaction (1-5), comment. Every problem is listed with
    its row number and nothing is imported until the file is clean.

    Example: itsm-align survey import answers.csv --round "Q1 2027 priorities" --config itsm-align.yaml"""
    from itsm_align.webhooks.storage.surveys import SurveyError, UnknownRound

    config = load_or_exit(config_path, build=False)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        fail(f"{file} is not UTF-8 text", [f"byte {error.start}: save the file as CSV UTF-8 "
                                           "(Excel: File > Save As > CSV UTF-8)"])
    objectives = {o.id: o.name for o in config.objectives}
    answers, problems = parse_answers(text, objectives, str(file))
    if problems:
        shown = [str(p) for p in problems[:50]]
        if len(problems) > 50:
            shown.append(f"... and {len(problems) - 50} more")
        fail(f"{file}: {len(problems)} problem(s); nothing was imported. Fix them and import again.", shown,
             EXIT_BAD_INPUT)
    if not answers:
        fail(f"{file} has no answers under its header; nothing was imported")
    store = _stores(config)
    title = round_ref or file.stem
    try:
        try:
            target = store.round(title)
        except UnknownRound:
            target, _ = store.create_round(title)
            click.echo(f"made survey round {target.id} {target.title!r}", err=True)
        count = store.import_answers(target.id, answers)
    except SurveyError as error:
        fail(f"{file}: nothing was imported", [str(error)])
    respondents = len({(a.respondent, a.department) for a in answers})
    click.echo(f"imported {count} rating(s) from {respondents} respondent(s) into survey round "
               f"{target.id} {target.title!r}")
