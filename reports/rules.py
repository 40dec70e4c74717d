"""Rule quality, for the administrators who maintain the rules.

Which rows count: per item (tickets and projects: rules assess both), its latest
assessment in the period, unless it is a deletion. On those assessments:

* **fired**: the number of items whose assessment lists the rule in ``rule_ids``;
* **overrides**: of those, the items a person overrode (``overridden``) to an objective
  other than the one the rule is evidence for. Rules mapped to ``None`` (inheritance
  rules, whose objective is the parent's) and rules missing from ``rule_objectives``
  have no objective to disagree with: their overrides and override rate are missing;
* **never fired**: rules of ``rule_objectives`` that fired on no item;
* **disagreements**: items on which rules for more than one distinct objective fired.

Only the ``rule_ids`` lists of those latest assessments are exploded, never the whole
history, which keeps this fast on millions of rows.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estate import latest_assessments
from .frame import Period

__all__ = ["RuleQuality", "rule_lists", "rule_quality"]

_KINDS = ("ticket", "project")


@dataclass(frozen=True, slots=True)
class RuleQuality:
    """What :func:`rule_quality` found.

    ``rules``: one row per rule (declared or seen firing): ``rule_id``, ``objective``
    (the objective the rule is evidence for; missing for inheritance and unknown rules),
    ``registered`` (in ``rule_objectives``), ``fired``, ``overrides`` (nullable int),
    ``override_rate`` (overrides / fired), ``conflicts`` (items where it fired and rules
    disagreed) and ``override_examples`` (item keys, a tuple); most fired first.

    ``never_fired``: the registered rules that fired on no item, sorted.

    ``disagreements``: one row per item on which rules disagreed: ``platform``,
    ``item_key``, ``summary``, ``objective`` (the assessment's), ``rule_objectives``
    and ``rules`` (", "-joined, sorted), ``effort``, ``url``; largest effort first.
    """

    rules: pd.DataFrame
    never_fired: tuple[str, ...]
    disagreements: pd.DataFrame


def rule_quality(history: pd.DataFrame, rule_objectives: Mapping[str, str | None], *,
                 period: Period | None = None, examples: int = 3) -> RuleQuality:
    """Measure how often each rule fires, is overridden and disagrees with other rules
    (see the module docstring for which rows count)."""
    latest = latest_assessments(history, period=period, kinds=_KINDS).reset_index(drop=True)
    fired = rule_lists(latest["rule_ids"]).explode().dropna()
    pairs = pd.DataFrame({"pos": fired.index.to_numpy(dtype=np.int64),
                          "rule": fired.astype("str").to_numpy()}).drop_duplicates()
    pairs["rule"] = pairs["rule"].astype("category")
    targets = pairs["rule"].map(dict(rule_objectives)).astype(object).to_numpy()
    has_target = pd.notna(targets)
    objective = latest["objective"].astype(object).to_numpy()[pairs["pos"].to_numpy()]
    against = (has_target & latest["overridden"].to_numpy()[pairs["pos"].to_numpy()]
               & (objective != targets))
    pairs["target"] = targets
    pairs["against"] = against
    pairs["item_key"] = latest["item_key"].to_numpy()[pairs["pos"].to_numpy()]

    claims = pairs.loc[has_target, ["pos", "target"]].drop_duplicates()
    claims_per_item = claims.groupby("pos").size()
    disputed = claims_per_item.index[claims_per_item.to_numpy() > 1]
    pairs["conflict"] = has_target & pairs["pos"].isin(disputed).to_numpy()

    table = _per_rule(pairs, rule_objectives, examples)
    never = tuple(table.loc[table["registered"] & (table["fired"] == 0), "rule_id"].sort_values())
    return RuleQuality(rules=table, never_fired=never,
                       disagreements=_disagreements(latest, pairs[pairs["conflict"]]))


def rule_lists(column: pd.Series) -> pd.Series:
    """``rule_ids`` as lists of rule ids, whatever form the rows hold them in.

    The history store keeps a JSON list per row (``["a", "b"]``); a scored ticket file
    a comma-separated text (``"a, b"``); a frame built in code a list or tuple. Text is
    decoded here, on the rows a KPI counts, rather than for every row of the history.
    Missing and empty values become empty lists.
    """
    values = column.to_numpy(dtype=object)
    lists: list[list[str]] = [[] for _ in range(len(values))]
    json_rows: list[int] = []
    for row, value in enumerate(values):
        if isinstance(value, (list, tuple, np.ndarray)):
            lists[row] = [str(v) for v in value]
        elif isinstance(value, str) and value.strip():
            text = value.strip()
            if text.startswith("["):
                json_rows.append(row)
            else:
                lists[row] = [part.strip() for part in text.split(",") if part.strip()]
    if json_rows:
        # one json.loads over all rows: the C parser without a Python call per row
        texts = [values[row] for row in json_rows]
        try:
            decoded = json.loads("[" + ",".join(texts) + "]")
        except json.JSONDecodeError:
            decoded = [_json_list(text) for text in texts]
        for row, rule_ids in zip(json_rows, decoded):
            lists[row] = [str(v) for v in rule_ids]
    return pd.Series(lists, index=column.index, dtype=object)


def _json_list(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list):
        raise ValueError(f"rule_ids value {text[:60]!r} is not a JSON list of rule ids; "
                         'expected e.g. ["shop-projects", "gdpr-words"]')
    return value


def _per_rule(pairs: pd.DataFrame, rule_objectives: Mapping[str, str | None],
              examples: int) -> pd.DataFrame:
    counts = pairs.groupby("rule", observed=True).agg(
        fired=("pos", "size"), overrides=("against", "sum"), conflicts=("conflict", "sum"))
    counts.index = counts.index.astype("str")
    every_rule = sorted(set(rule_objectives) | set(counts.index))
    table = counts.reindex(every_rule, fill_value=0).rename_axis("rule_id").reset_index()
    table["objective"] = table["rule_id"].map(dict(rule_objectives)).astype(object)
    table["registered"] = table["rule_id"].isin(list(rule_objectives))
    no_target = table["objective"].isna()
    table["overrides"] = table["overrides"].astype("Int64").mask(no_target)
    table["override_rate"] = (table["overrides"].astype("Float64")
                              / table["fired"].where(table["fired"] > 0)).astype("float64")
    overridden = pairs[pairs["against"]].sort_values("item_key", kind="stable")
    shown = overridden.groupby("rule", observed=True).head(examples)
    keys = shown.groupby("rule", observed=True)["item_key"].agg(tuple)
    keys.index = keys.index.astype("str")
    table["override_examples"] = [keys.get(rule, ()) for rule in table["rule_id"]]
    table = table.sort_values(["fired", "rule_id"], ascending=[False, True], kind="stable")
    return table[["rule_id", "objective", "registered", "fired", "overrides", "override_rate",
                  "conflicts", "override_examples"]].reset_index(drop=True)


def _joined(pos: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct labels of each ``pos``, sorted and ", "-joined: (positions, texts).

    Concatenates with ``np.add.reduceat`` over the sorted pairs instead of a Python
    ``str.join`` per group, which is an order of magnitude faster on many items.
    """
    if len(pos) == 0:
        return np.asarray(pos, dtype=np.int64), np.asarray([], dtype=object)
    pairs = pd.DataFrame({"pos": pos, "label": labels}).drop_duplicates()
    pairs = pairs.sort_values(["pos", "label"], kind="stable")
    pos_sorted = pairs["pos"].to_numpy()
    starts = np.flatnonzero(np.r_[True, pos_sorted[1:] != pos_sorted[:-1]])
    texts = np.add.reduceat((pairs["label"].to_numpy(dtype=object) + ", "), starts)
    return pos_sorted[starts], pd.Series(texts, dtype=object).str[:-2].to_numpy()


def _disagreements(latest: pd.DataFrame, conflicting: pd.DataFrame) -> pd.DataFrame:
    pos = conflicting["pos"].to_numpy()
    items_pos, objectives = _joined(pos, conflicting["target"].to_numpy(dtype=object))
    _, rules = _joined(pos, conflicting["rule"].astype("str").to_numpy(dtype=object))
    items = latest.take(items_pos)
    table = pd.DataFrame({
        "platform": items["platform"].astype("str").to_numpy(),
        "item_key": items["item_key"].to_numpy(),
        "summary": items["summary"].to_numpy(),
        "objective": items["objective"].astype("str").to_numpy(),
        "rule_objectives": objectives,
        "rules": rules,
        "effort": items["effort"].to_numpy(),
        "url": items["url"].to_numpy(),
        "_weight": items["weight"].to_numpy(),
    })
    return (table.sort_values(["_weight", "item_key"], ascending=[False, True], kind="stable")
            .drop(columns="_weight").reset_index(drop=True))
