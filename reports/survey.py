"""What people say versus what IT does: survey responses beside priority and effort.

A survey round asks respondents, per objective, how important it is to them and how
satisfied they are with what IT delivers for it (both 1..5). Per round and objective:

* ``priority_share``: stated priority (objective weight / sum of weights);
* ``importance_mean`` and ``importance_share`` (the mean importance normalised over
  the objectives answered in that round, so the shares of a round add up to 1);
* ``satisfaction_mean``;
* ``effort_share``: the objective's share of the current estate's effort in the report
  period (rounds carry no dates, so every round is compared with the same effort).

A row is flagged where these disagree (thresholds below).

The input contract (what a survey store or ``itsm-align survey import`` hands in): a
pandas DataFrame with one row per respondent and objective, columns
(:data:`SURVEY_COLUMNS`):

=============  ============================================================================
``round``      the survey round, text (e.g. "2026-Q1"). Rounds are ordered by name, so name
               them to sort; or pass an *ordered* categorical, whose category order is used
               (e.g. rounds by opening date). The last round is the latest.
``respondent`` who answered (name, e-mail or an opaque token), text
``department`` department or role, text
``objective``  the objective id as in the config (``revenue``); ids not in the config are
               kept and listed after the declared objectives
``importance`` how important the objective is to the respondent, whole number 1..5
``satisfaction`` satisfaction with IT's support for it, whole number 1..5
``comment``    free text, optional (column may be absent; empty/NaN = no comment)
=============  ============================================================================

Extra columns are ignored. :func:`normalise_survey` checks the frame and raises
``ValueError`` naming the column and rows when it breaks the contract; every function
here calls it, so callers may pass their frame as is.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from itsm_align.scoring.types import Objective

from .estate import effort_by_objective
from .frame import Period
from .objectives import names_of, objective_order, priority_shares

__all__ = [
    "HIGH_IMPORTANCE", "LOW_SATISFACTION", "SHARE_GAP", "SURVEY_COLUMNS",
    "importance_by_objective", "latest_round", "normalise_survey", "survey_comments",
    "survey_table",
]

SURVEY_COLUMNS = ("round", "respondent", "department", "objective", "importance",
                  "satisfaction", "comment")
#: Two shares disagree when they differ by more than this (10 percentage points).
SHARE_GAP = 0.10
#: "Important but unsatisfied": mean importance at least this...
HIGH_IMPORTANCE = 4.0
#: ...while mean satisfaction is at most this.
LOW_SATISFACTION = 2.0

_FLAGS = (
    ("priority vs effort", "priority_share", "effort_share"),
    ("importance vs effort", "importance_share", "effort_share"),
    ("priority vs importance", "priority_share", "importance_share"),
)
UNSATISFIED = "important but unsatisfied"


def normalise_survey(frame: pd.DataFrame) -> pd.DataFrame:
    """Check and type survey responses.

    Requires every column of :data:`SURVEY_COLUMNS` except ``comment`` (filled with "").
    ``importance`` and ``satisfaction`` must be integers 1..5; raises ``ValueError``
    naming the column and the offending rows otherwise.
    """
    missing = [c for c in SURVEY_COLUMNS if c != "comment" and c not in frame.columns]
    if missing:
        raise ValueError(f"survey responses lack column(s): {', '.join(missing)}")
    survey = frame.reset_index(drop=True)
    out = pd.DataFrame({name: survey[name].astype("str") for name in
                        ("respondent", "department", "objective")})
    rounds = survey["round"]
    if isinstance(rounds.dtype, pd.CategoricalDtype) and rounds.cat.ordered:
        out.insert(0, "round", rounds.cat.rename_categories(
            [str(c) for c in rounds.cat.categories]).cat.remove_unused_categories())
    else:
        order = sorted(rounds.astype("str").unique())
        out.insert(0, "round", pd.Categorical(rounds.astype("str"), categories=order,
                                              ordered=True))
    for name in ("importance", "satisfaction"):
        values = pd.to_numeric(survey[name], errors="coerce")
        bad = values.isna() | (values < 1) | (values > 5) | (values % 1 != 0)
        if bad.any():
            rows = ", ".join(map(str, np.flatnonzero(bad.to_numpy())[:5]))
            raise ValueError(f"survey column {name!r} must hold whole numbers 1..5; "
                             f"bad value(s) in row(s) {rows}")
        out[name] = values.astype("int64")
    comment = survey["comment"] if "comment" in survey else pd.Series("", index=survey.index)
    out["comment"] = comment.fillna("").astype("str").str.strip()
    return out


def latest_round(survey: pd.DataFrame) -> str:
    """The latest round (see the module docstring for the order). ``ValueError`` when
    there is none."""
    if survey.empty:
        raise ValueError("the survey has no responses, hence no round")
    return str(_rounds(survey)[-1])


def _rounds(survey: pd.DataFrame) -> list[str]:
    """The rounds present, oldest first."""
    rounds = survey["round"]
    if isinstance(rounds.dtype, pd.CategoricalDtype) and rounds.cat.ordered:
        present = set(rounds.dropna().astype("str"))
        return [str(c) for c in rounds.cat.categories if str(c) in present]
    return sorted(rounds.astype("str").unique())


def importance_by_objective(survey: pd.DataFrame, survey_round: str) -> pd.DataFrame:
    """Responses, mean importance, importance share and mean satisfaction per objective
    id for one round (indexed by objective id)."""
    responses = survey[(survey["round"].astype("str") == str(survey_round)).to_numpy()]
    grouped = responses.groupby("objective").agg(
        responses=("importance", "size"),
        importance_mean=("importance", "mean"),
        satisfaction_mean=("satisfaction", "mean"),
    )
    total = grouped["importance_mean"].sum()
    grouped["importance_share"] = grouped["importance_mean"] / total if total else np.nan
    return grouped


def survey_table(survey: pd.DataFrame, objectives: Sequence[Objective],
                 history: pd.DataFrame, *, period: Period | None = None) -> pd.DataFrame:
    """Per round and objective: stated priority, surveyed importance, satisfaction and
    effort side by side, with the disagreements flagged.

    Every declared objective appears in every round (``responses`` 0 when nobody rated
    it); objectives rated but not declared follow. ``flags`` lists, "; "-separated:

    * "priority vs effort", "importance vs effort", "priority vs importance": the two
      shares differ by more than :data:`SHARE_GAP`;
    * "important but unsatisfied": mean importance >= :data:`HIGH_IMPORTANCE` and mean
      satisfaction <= :data:`LOW_SATISFACTION`.

    ``flagged`` is True where ``flags`` is not empty.
    """
    survey = normalise_survey(survey)
    priority = priority_shares(objectives)
    effort = effort_by_objective(history, period=period)["effort_share"]
    rated = set(survey["objective"])
    order = [oid for oid in objective_order(objectives, rated) if oid in priority or oid in rated]
    tables = []
    for survey_round in _rounds(survey):
        table = importance_by_objective(survey, survey_round).reindex(order)
        table["responses"] = table["responses"].fillna(0).astype("int64")
        table.insert(0, "round", survey_round)
        tables.append(table)
    table = pd.concat(tables).rename_axis("objective").reset_index()
    table["round"] = pd.Categorical(table["round"], categories=_rounds(survey), ordered=True)
    table.insert(2, "name", names_of(table["objective"], objectives))
    table["priority_share"] = table["objective"].map(priority).fillna(0.0)
    table["effort_share"] = table["objective"].map(effort).fillna(0.0)
    hits = pd.DataFrame({label: (table[left] - table[right]).abs() > SHARE_GAP
                         for label, left, right in _FLAGS})
    hits[UNSATISFIED] = ((table["importance_mean"] >= HIGH_IMPORTANCE)
                         & (table["satisfaction_mean"] <= LOW_SATISFACTION))
    # a boolean frame times its labels concatenates the labels of the True cells
    flags = hits.dot(pd.Series([f"{label}; " for label in hits.columns],
                               index=hits.columns)).str.removesuffix("; ")
    table["flags"] = flags
    table["flagged"] = flags != ""
    return table[["round", "objective", "name", "responses", "priority_share",
                  "importance_mean", "importance_share", "satisfaction_mean", "effort_share",
                  "flags", "flagged"]]


def survey_comments(survey: pd.DataFrame, objectives: Sequence[Objective], *,
                    survey_round: str | None = None) -> pd.DataFrame:
    """The non-empty comments, grouped by objective (declared order, then round,
    department, respondent); all rounds unless ``survey_round`` is given."""
    survey = normalise_survey(survey)
    comments = survey[survey["comment"] != ""]
    if survey_round is not None:
        comments = comments[(comments["round"].astype("str") == str(survey_round)).to_numpy()]
    rank = {oid: i for i, oid in enumerate(objective_order(objectives,
                                                           comments["objective"].unique()))}
    comments = (comments.assign(_rank=comments["objective"].map(rank),
                                name=names_of(comments["objective"], objectives))
                .sort_values(["_rank", "round", "department", "respondent"], kind="stable"))
    comments = comments.assign(round=comments["round"].astype("str"))
    return comments[["objective", "name", "round", "department", "respondent",
                     "comment"]].reset_index(drop=True)
