"""The alignment engine: a compiled rule set that turns a WorkItem into an Assessment.

``build_engine`` validates and compiles objectives and rules once per config load;
``Engine.assess`` then runs, per item: plugin matches (``itsm_align_match``), the compiled
YAML rules (each in its own error boundary), inheritance when nothing matched, the
scoring hook (``itsm_align_score``) and the observers (``itsm_align_assessed``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pluggy
from itsm_align.scoring.model import ScoringSettings
from itsm_align.scoring.model import assess as default_assess
from itsm_align.scoring.types import Assessment, Match, Objective, RuleError, WorkItem

from .compiler import RuleTypeRegistry, WhenCompiler
from .inherit import Related, inherited_match, related_key
from .manager import get_plugin_manager
from .matcher import CompiledRule, RuleIndex
from .ruleset import (
    ObjectiveSpec,
    RuleProblem,
    RulesetError,
    RuleSpec,
    ScoringSpec,
    parse_objectives,
    parse_rules,
    parse_scoring,
)
from .ruletypes import Facts

log = logging.getLogger(__name__)

Status = Literal["fired", "failed", "not fired", "skipped"]


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule did for one item: ``detail`` is the reason, the error or the why-not."""

    rule_id: str
    objective: str | None
    status: Status
    detail: str


@dataclass(frozen=True)
class Explanation:
    """An assessment plus the story of every rule behind it (for ``itsm-align explain``)."""

    assessment: Assessment
    outcomes: tuple[RuleOutcome, ...]

    @property
    def rules(self) -> tuple[RuleOutcome, ...]:
        """Every rule's outcome, in config order (plugin matches first)."""
        return self.outcomes

    @property
    def fired(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "fired")

    @property
    def failed(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def not_fired(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in ("not fired", "skipped"))


class Engine:
    """A compiled rule set bound to a plugin manager. Build it with :func:`build_engine`.

    ``objectives`` (config order), ``settings`` (the scoring knobs), ``version`` (a stable
    12-hex hash of objectives, rules and scoring settings; stored with each assessment),
    ``rule_count`` (enabled rules), ``rule_counts_by_type`` (rules using each rule type;
    a rule using two types counts for both; ``inherit`` for inheritance rules) and
    ``fields_read`` (WorkItem attribute names and ``fields.<id>`` ids the YAML rules and
    the default model read, so adapters can fetch only those; plugins contributing
    matches in code may read more). Rule types are fixed when the engine is built; the
    match, score and observe hooks are looked up on every call. Safe to share between
    threads: nothing in it changes after it is built.
    """

    def __init__(self, objectives: tuple[Objective, ...], rules: list[CompiledRule],
                 settings: ScoringSettings, pm: pluggy.PluginManager, version: str) -> None:
        self.objectives = objectives
        self.settings = settings
        self.pm = pm
        self.version = version
        self._known = {o.id for o in objectives}
        self._rules = rules
        self._index = RuleIndex(rules)
        self._inherit = [r for r in rules if r.inherit]
        self.rule_count = len(rules)
        counts: dict[str, int] = {}
        for r in rules:
            for t in sorted(r.types):
                counts[t] = counts.get(t, 0) + 1
        self.rule_counts_by_type = counts
        reads: set[str] = {"type"}
        for r in rules:
            if r.condition is not None:
                reads |= r.condition.reads()
            if r.inherit:
                reads |= {"parent"} if r.inherit == "parent" else (
                    {"parent", "fields.epic"} if r.inherit == "epic" else {"project", "kind"})
        self.fields_read: frozenset[str] = frozenset(reads)

    # ------------------------------------------------------------------ public

    def assess(self, item: WorkItem, related: Related | Mapping[str, Assessment] | None = None) -> Assessment:
        """Classify and score one item. ``related`` gives the latest assessment of a
        parent/epic/project by key, for inheritance rules: a callable ``key -> Assessment |
        None`` or a mapping (None: no inheritance)."""
        return self._run(item, _lookup(related), None)

    def explain(self, item: WorkItem, related: Related | Mapping[str, Assessment] | None = None) -> Explanation:
        """Like :meth:`assess`, and say for every rule whether it fired, failed, or why not."""
        outcomes: list[RuleOutcome] = []
        assessment = self._run(item, _lookup(related), outcomes)
        return Explanation(assessment, tuple(outcomes))

    # ------------------------------------------------------------------ steps

    def _run(self, item: WorkItem, related: Related | None, outcomes: list[RuleOutcome] | None) -> Assessment:
        errors: list[RuleError] = []
        matches = self._plugin_matches(item, errors, outcomes)
        try:
            facts = self._index.facts(item)
        except Exception as exc:  # a malformed item must not take the service down
            log.warning("rule index failed on %s: %r", item.key, exc)
            errors.append(RuleError("index", f"{type(exc).__name__}: {exc}"))
            facts = Facts(item, set())
        rules = self._rules if outcomes is not None else self._index.candidates(facts)
        for rule in rules:
            if rule.inherit:
                continue
            try:
                reason = rule.condition.evaluate(facts)
            except Exception as exc:
                errors.append(self._rule_failed(rule, item, exc, outcomes))
                continue
            if reason is not None:
                matches.append(Match(rule.objective, rule.confidence, rule.id, reason, rule.nature))
                if outcomes is not None:
                    outcomes.append(RuleOutcome(rule.id, rule.objective, "fired", reason))
            elif outcomes is not None:
                outcomes.append(RuleOutcome(rule.id, rule.objective, "not fired",
                                            self._why_not(rule, facts)))
        self._inherited(item, related, facts, matches, errors, outcomes)
        assessment = self._score(item, matches, errors)
        self._observe(item, assessment)
        return assessment

    def _plugin_matches(self, item: WorkItem, errors: list[RuleError],
                        outcomes: list[RuleOutcome] | None) -> list[Match]:
        matches: list[Match] = []
        for impl in self.pm.hook.itsm_align_match.get_hookimpls():
            rule_id = f"plugin:{impl.plugin_name}"
            try:
                kwargs = {"item": item, "objectives": self.objectives}
                result = impl.function(*[kwargs[a] for a in impl.argnames])
                got = [m for m in (result or ()) if _check_match(m)]
            except Exception as exc:
                log.warning("rule plugin %s failed on %s: %r", impl.plugin_name, item.key, exc)
                errors.append(RuleError(rule_id, f"{type(exc).__name__}: {exc}"))
                if outcomes is not None:
                    outcomes.append(RuleOutcome(rule_id, None, "failed", f"{type(exc).__name__}: {exc}"))
                continue
            matches += got
            if outcomes is not None:
                outcomes += [RuleOutcome(m.rule_id, m.objective, "fired", m.reason) for m in got]
        return matches

    def _inherited(self, item: WorkItem, related: Related | None, facts: Facts, matches: list[Match],
                   errors: list[RuleError], outcomes: list[RuleOutcome] | None) -> None:
        own = bool(matches)
        # Two inherit rules reaching the same related item (an epic that is also the
        # parent) carry the same evidence: count it once, not as independent evidence.
        used: dict[str, str] = {}
        for rule in self._inherit:
            if own:
                if outcomes is not None:
                    outcomes.append(RuleOutcome(rule.id, None, "skipped", "the item has matches of its own"))
                continue
            try:
                if rule.condition is not None and rule.condition.evaluate(facts) is None:
                    if outcomes is not None:
                        outcomes.append(RuleOutcome(rule.id, None, "not fired", rule.condition.why_not(facts)))
                    continue
                source = related_key(item, rule.inherit)
                if source is not None and source in used:
                    if outcomes is not None:
                        outcomes.append(RuleOutcome(
                            rule.id, None, "skipped", f"{source} was already inherited through rule {used[source]}"))
                    continue
                match, why = inherited_match(item, rule.id, rule.inherit, rule.decay, related, self._known)
                if match is not None and source is not None:
                    used[source] = rule.id
            except Exception as exc:
                errors.append(self._rule_failed(rule, item, exc, outcomes))
                continue
            if match is not None:
                matches.append(dataclasses.replace(match, nature=rule.nature))
                if outcomes is not None:
                    outcomes.append(RuleOutcome(rule.id, match.objective, "fired", match.reason))
            elif outcomes is not None:
                outcomes.append(RuleOutcome(rule.id, None, "not fired", why))

    def _score(self, item: WorkItem, matches: list[Match], errors: list[RuleError]) -> Assessment:
        try:
            result = self.pm.hook.itsm_align_score(
                item=item, matches=tuple(matches), objectives=self.objectives, settings=self.settings,
                ruleset_version=self.version, errors=tuple(errors))
            if isinstance(result, Assessment):
                return result
            raise TypeError(f"itsm_align_score returned {result!r}, not an Assessment")
        except Exception as exc:
            log.warning("scoring plugin failed on %s, using the default model: %r", item.key, exc)
            errors = [*errors, RuleError("plugin:score", f"{type(exc).__name__}: {exc}")]
            return default_assess(item, matches, self.objectives, settings=self.settings,
                                  ruleset_version=self.version, errors=errors)

    def _observe(self, item: WorkItem, assessment: Assessment) -> None:
        for impl in self.pm.hook.itsm_align_assessed.get_hookimpls():
            kwargs = {"item": item, "assessment": assessment}
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:
                log.warning("observer plugin %s failed on %s: %r", impl.plugin_name, item.key, exc)

    @staticmethod
    def _rule_failed(rule: CompiledRule, item: WorkItem, exc: Exception,
                     outcomes: list[RuleOutcome] | None) -> RuleError:
        message = f"{type(exc).__name__}: {exc}"
        log.warning("rule %s failed on %s: %s", rule.id, item.key, message)
        if outcomes is not None:
            outcomes.append(RuleOutcome(rule.id, rule.objective, "failed", message))
        return RuleError(rule.id, message)

    @staticmethod
    def _why_not(rule: CompiledRule, facts: Facts) -> str:
        try:
            return rule.condition.why_not(facts)
        except Exception as exc:  # explaining must never fail the explanation
            return f"(could not explain: {exc!r})"


def _lookup(related: Related | Mapping[str, Assessment] | None) -> Related | None:
    if related is None or callable(related):
        return related
    if isinstance(related, Mapping):
        return related.get
    raise TypeError(f"related must be a callable key -> Assessment or a mapping, got {type(related).__name__}")


def _check_match(m: Any) -> bool:
    if not isinstance(m, Match):
        raise TypeError(f"itsm_align_match must yield Match objects, got {m!r}")
    return True


def _as_input(entry: Any) -> Any:
    if isinstance(entry, Objective):
        return {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    return entry


def build_engine(objectives: Iterable[Any], rules: Iterable[Any], *, scoring: Any = None,
                 pm: pluggy.PluginManager | None = None) -> Engine:
    """Validate and compile a rule set. Raises :class:`RulesetError` listing every problem.

    ``objectives``: ObjectiveSpec, Objective or plain dicts; ``rules``: RuleSpec or dicts;
    ``scoring``: ScoringSpec, ScoringSettings, a dict or None; ``pm``: a plugin manager
    (default: a fresh :func:`get_plugin_manager`).
    """
    pm = pm or get_plugin_manager()
    obj_specs, problems = parse_objectives([_as_input(o) for o in objectives])
    rule_specs, rule_problems = parse_rules(list(rules), {o.id for o in obj_specs})
    problems += rule_problems
    if isinstance(scoring, ScoringSettings):
        settings, scoring_spec = scoring, None
    else:
        scoring_spec, scoring_problems = parse_scoring(scoring)
        problems += scoring_problems
        settings = scoring_spec.to_settings()

    registry = RuleTypeRegistry.from_plugin_manager(pm)
    problems += registry.problems
    compiler = WhenCompiler(registry)
    compiled: list[CompiledRule] = []
    for position, spec in rule_specs:
        cond = None
        if spec.when is not None:
            cond = compiler.compile(spec.when, ("rules", position, "when"), spec.id)
            if cond is None:
                continue
        if not spec.enabled:
            continue
        types = set(compiler.used) if spec.when is not None else set()
        if spec.inherit:
            types.add("inherit")
        compiled.append(CompiledRule(
            id=spec.id, objective=spec.objective,
            confidence=spec.confidence if spec.confidence is not None else 1.0,
            condition=cond, position=position, nature=spec.nature, inherit=spec.inherit,
            decay=spec.decay if spec.decay is not None else settings.inherit_default_decay,
            types=frozenset(types)))
    problems += compiler.problems
    if problems:
        raise RulesetError(problems)
    objectives_t = tuple(s.to_objective() for s in obj_specs)
    version = ruleset_version(obj_specs, [s for _, s in rule_specs], scoring_spec)
    try:
        return Engine(objectives_t, compiled, settings, pm, version)
    except Exception as exc:  # e.g. an RE2 set beyond the memory budget
        raise RulesetError([RuleProblem(("rules",), f"the rule set could not be compiled: {exc}; "
                                                    "split very large pattern lists or simplify patterns")]) from exc


def ruleset_version(objectives: Sequence[ObjectiveSpec], rules: Sequence[RuleSpec],
                    scoring: ScoringSpec | None) -> str:
    """A stable short hash of the objectives, rules and scoring settings."""
    doc = {
        "objectives": [o.model_dump(mode="json") for o in objectives],
        "rules": [r.model_dump(mode="json") for r in rules],
        "scoring": scoring.model_dump(mode="json") if scoring is not None else None,
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
