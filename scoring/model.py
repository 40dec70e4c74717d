"""The default scoring model: matches + objectives -> one Assessment.

Pure and deterministic. The model (documented in the README):

* evidence per objective = noisy-OR of the confidences of the rules that matched it,
  ``1 - prod(1 - c)``, so independent weak hints add up but never exceed 1;
* primary objective = highest ``evidence x weight``; ties go to the higher weight, then to
  the objective listed first in the config;
* score = ``round(100 x evidence x weight / highest weight in the config)`` (half up);
* no match = ``Unaligned``, score 0;
* human override: when a person set the objective on the platform and it is still a
  known objective (or Unaligned), it stands with evidence 1.0 and the assessment is
  marked ``overridden``;
* work nature: from the rules that matched (the primary objective's strongest match that
  declares one, else any match's), else by item type, else the configured default.

A plugin may replace this model through the ``itsm_align_score`` hook.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .types import (
    UNALIGNED,
    UNALIGNED_NAME,
    Assessment,
    Evidence,
    Match,
    Nature,
    Objective,
    RuleError,
    SetBy,
    WorkItem,
)

#: Longest rationale we produce; platforms show it in one text field.
RATIONALE_MAX = 500

_R, _P = Nature.REACTIVE, Nature.PROACTIVE
DEFAULT_NATURE_BY_TYPE: Mapping[str, Nature] = MappingProxyType({
    "incident": _R, "bug": _R, "service request": _R, "service_request": _R,
    "sc_req_item": _R, "request": _R,
    "problem": _P, "change": _P, "change_request": _P, "story": _P, "task": _P,
    "epic": _P, "project": _P, "rm_story": _P, "pm_project": _P,
})


@dataclass(frozen=True)
class ScoringSettings:
    """Knobs of the default model, from the ``scoring:`` config section.

    ``nature_by_type`` maps a lower-case item type to its work nature when no rule says;
    ``default_nature`` covers unknown types; ``inherit_default_decay`` is the decay an
    ``inherit`` rule uses when it does not set its own.
    """

    nature_by_type: Mapping[str, Nature] = field(default_factory=lambda: DEFAULT_NATURE_BY_TYPE)
    default_nature: Nature = Nature.PROACTIVE
    inherit_default_decay: float = 0.8

    def nature_for_type(self, item_type: str | None) -> Nature:
        """The nature an item of this type has when no rule declares one."""
        if item_type:
            nature = self.nature_by_type.get(item_type.strip().lower())
            if nature is not None:
                return Nature(nature)
        return self.default_nature


def noisy_or(confidences: Iterable[float]) -> float:
    """Combine independent confidences: ``1 - prod(1 - c)``, each clamped to 0..1.

    Multiplied in sorted order, so the result does not depend on the order of the inputs
    (floating-point products do otherwise).
    """
    values = [_clamp(c) for c in confidences]
    if len(values) == 1:
        return values[0]
    values.sort()
    miss = 1.0
    for c in values:
        miss *= 1.0 - c
    return _clamp(1.0 - miss)


def score_of(evidence: float, weight: float, max_weight: float) -> int:
    """``round(100 x evidence x weight / max_weight)`` rounded half up, bounded 0..100."""
    if max_weight <= 0:
        return 0
    raw = 100.0 * _clamp(evidence) * weight / max_weight
    return max(0, min(100, math.floor(raw + 0.5 + 1e-9)))


def assess(
    item: WorkItem,
    matches: Iterable[Match],
    objectives: Sequence[Objective],
    *,
    settings: ScoringSettings | None = None,
    ruleset_version: str = "",
    errors: Iterable[RuleError] = (),
) -> Assessment:
    """Score one item from the matches the rules produced (see the module docstring)."""
    settings = settings or _DEFAULT_SETTINGS
    errors = list(errors)
    order, by_id, max_weight = _tables(objectives)

    grouped: dict[str, list[Match]] = {}
    for m in matches:
        group = grouped.get(m.objective)
        if group is not None:
            group.append(m)
        elif m.objective in by_id:
            grouped[m.objective] = [m]
        else:
            errors.append(RuleError(m.rule_id, f"matched unknown objective {m.objective!r}; "
                                               f"known: {', '.join(by_id) or 'none'}"))
    evidence = {}
    for oid, ms in grouped.items():
        if len(ms) == 1:
            evidence[oid] = Evidence(oid, _clamp(ms[0].confidence), (ms[0],))
        else:
            ms.sort(key=_match_order)
            evidence[oid] = Evidence(oid, noisy_or([m.confidence for m in ms]), tuple(ms))

    override = _override(item, by_id)
    if override is not None:
        primary = override
        if primary != UNALIGNED:
            old = evidence.get(primary)
            evidence[primary] = Evidence(primary, 1.0, old.matches if old else ())
    else:
        primary = _primary(evidence, by_id, order)

    ranked = sorted(
        evidence.values(),
        key=lambda e: (e.objective != primary, -e.evidence * by_id[e.objective].weight,
                       -by_id[e.objective].weight, order[e.objective]),
    )
    if primary == UNALIGNED:
        score = 0
    else:
        score = score_of(evidence[primary].evidence, by_id[primary].weight, max_weight)
    nature = _nature(item, evidence.get(primary), ranked, settings)
    rationale = _rationale(primary, score, ranked, by_id, override is not None)
    return Assessment(
        item_key=item.key,
        platform=item.platform,
        objective=primary,
        score=score,
        nature=nature,
        rationale=rationale,
        evidence=tuple(ranked),
        ruleset_version=ruleset_version,
        overridden=override is not None,
        errors=tuple(errors),
        kind=item.kind,
    )


_DEFAULT_SETTINGS = ScoringSettings()
_TABLES: dict[int, tuple[Sequence[Objective], tuple]] = {}


def _tables(objectives: Sequence[Objective]) -> tuple[dict[str, int], dict[str, Objective], int]:
    """Lookups over the objectives, cached for the (immutable) tuple an engine passes each time."""
    hit = _TABLES.get(id(objectives))
    if hit is not None and hit[0] is objectives:
        return hit[1]
    tables = ({o.id: i for i, o in enumerate(objectives)}, {o.id: o for o in objectives},
              max((o.weight for o in objectives), default=0))
    if isinstance(objectives, tuple):
        if len(_TABLES) > 64:
            _TABLES.clear()
        _TABLES[id(objectives)] = (objectives, tables)
    return tables


def _clamp(x: float) -> float:
    if x != x:  # NaN counts as no confidence
        return 0.0
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


def _match_order(m: Match) -> tuple:
    """Strongest first; rule id and reason make the order total (deterministic)."""
    return (-_clamp(m.confidence), m.rule_id, m.reason)


def _override(item: WorkItem, by_id: Mapping[str, Objective]) -> str | None:
    cur = item.current
    if cur.objective_set_by is SetBy.PERSON and cur.objective is not None:
        if cur.objective in by_id or cur.objective == UNALIGNED:
            return cur.objective
    return None


def _primary(evidence: Mapping[str, Evidence], by_id: Mapping[str, Objective],
             order: Mapping[str, int]) -> str:
    best, best_key = UNALIGNED, None
    for oid, ev in evidence.items():
        if ev.evidence <= 0.0:
            continue
        w = by_id[oid].weight
        key = (ev.evidence * w, w, -order[oid])
        if best_key is None or key > best_key:
            best, best_key = oid, key
    return best


def _nature(item: WorkItem, primary: Evidence | None, ranked: Sequence[Evidence],
            settings: ScoringSettings) -> Nature:
    if primary is not None:
        for m in primary.matches:
            if m.nature is not None:
                return Nature(m.nature)
    declared = [m for e in ranked for m in e.matches if m.nature is not None]
    if declared:
        best = max(declared, key=lambda m: _clamp(m.confidence))
        return Nature(best.nature)
    return settings.nature_for_type(item.type)


def _one_line(text: str) -> str:
    text = str(text)
    if "\n" in text or "\r" in text or "\t" in text or "  " in text:
        return " ".join(text.split())
    return text.strip()


def _rationale(primary: str, score: int, ranked: Sequence[Evidence],
               by_id: Mapping[str, Objective], overridden: bool) -> str:
    if primary == UNALIGNED:
        head = f"{UNALIGNED_NAME} ({score})"
    else:
        head = f"{by_id[primary].name} ({score})"
    parts = ["set by a person"] if overridden else []
    if primary == UNALIGNED and not ranked and not overridden:
        parts.append("no rule matched")
    size = len(head)
    for e in ranked:
        if size > RATIONALE_MAX:
            break  # the rest would be cut anyway
        if e.objective == primary:
            for m in e.matches:
                parts.append(f"{m.rule_id}: {_one_line(m.reason)}")
                size += len(parts[-1]) + 2
                if size > RATIONALE_MAX:
                    break
    others = []
    for e in ranked:
        if e.objective == primary:
            continue
        if size > RATIONALE_MAX:
            break
        rules = []
        for m in e.matches:
            rules.append(f"{m.rule_id} ({_one_line(m.reason)})")
            size += len(rules[-1]) + 2
            if size > RATIONALE_MAX:
                break
        others.append(f"{by_id[e.objective].name}: " + ", ".join(rules))
    if others:
        parts.append("also " + ", ".join(others))
    text = head + (": " + "; ".join(parts) if parts else "")
    return text if len(text) <= RATIONALE_MAX else text[: RATIONALE_MAX - 1] + "…"
