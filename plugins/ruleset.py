"""The ``objectives``, ``rules`` and ``scoring`` config sections, validated with pydantic.

Unknown keys are errors (``extra="forbid"``). Problems carry a ``loc`` relative to the
config file's root, e.g. ``("rules", 3, "when", "all", 1, "regex")``, so the config loader
can turn it into a file line. ``when:`` is checked by the compiler, not here, because
its keys depend on the rule types plugins register.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from itsm_align.scoring.model import DEFAULT_NATURE_BY_TYPE, ScoringSettings
from itsm_align.scoring.types import UNALIGNED, Nature, Objective
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Loc = tuple[str | int, ...]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectiveSpec(_Spec):
    """One business objective: ``{id: revenue, name: Grow online revenue, weight: 5}``."""

    id: str = Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64,
                    description="stable id: lower-case letters, digits, _ and -")
    name: str = Field(min_length=1, max_length=255, description="what people see")
    weight: int = Field(ge=1, le=5, description="priority weight 1 (low) .. 5 (high)")
    owner: str | None = Field(default=None, description="who answers for it on the business side (reports)")
    description: str = Field(default="", description="what it means, for people and reports")
    kpis: tuple[str, ...] = Field(default=(), description="how the business measures it (shown in reports)")

    @model_validator(mode="after")
    def _not_reserved(self) -> ObjectiveSpec:
        if self.id == UNALIGNED:
            raise ValueError(f"id {UNALIGNED!r} is reserved for work no rule matched; pick another id")
        return self

    def to_objective(self) -> Objective:
        return Objective(self.id, self.name, self.weight, self.owner, self.description, tuple(self.kpis))


class RuleSpec(_Spec):
    """One mapping rule. Either ``objective`` + ``confidence`` + ``when``, or ``inherit``."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=128,
                    description="stable rule id: letters, digits, _ . -")
    objective: str | None = Field(default=None, description="the objective id a match is evidence for")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="how sure a match makes us (0-1)")
    nature: Nature | None = Field(default=None, description="the work nature when this rule decides")
    when: Any = Field(default=None, description="conditions: a mapping such as {project: [SHOP, PAY]} "
                      "(several keys: all must hold), all/any/not, text, regex, fields.<id>",
                      json_schema_extra={"type": ["object", "array"]})
    inherit: Literal["parent", "epic", "project"] | None = Field(
        default=None, description="instead of objective/when: take the objective of this relative")
    decay: float | None = Field(default=None, gt=0.0, le=1.0,
                                description="inherit rules: the relative's evidence x decay (default scoring.inherit_default_decay)")
    description: str = Field(default="", description="a note for people")
    enabled: bool = Field(default=True, description="false keeps the rule in the file without running it")

    @model_validator(mode="after")
    def _shape(self) -> RuleSpec:
        if self.inherit:
            if self.objective is not None or self.confidence is not None:
                raise ValueError("an inherit rule takes its objective and evidence from the "
                                 f"{self.inherit}'s assessment: remove objective and confidence")
        else:
            missing = [k for k in ("objective", "confidence", "when") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}: a rule needs objective, confidence "
                                 "and when (or inherit: parent|epic|project)")
            if self.decay is not None:
                raise ValueError("decay applies only to inherit rules: remove it or add inherit")
        return self


class ScoringSpec(_Spec):
    """The ``scoring:`` section: overrides of the default model's knobs."""

    nature_by_type: dict[str, Nature] = Field(default_factory=dict,
                                              description="item type -> proactive|reactive, merged over the defaults")
    default_nature: Nature = Field(default=Nature.PROACTIVE,
                                   description="work nature when neither a rule nor the item type decides")
    inherit_default_decay: float = Field(default=0.8, gt=0.0, le=1.0,
                                         description="decay of inherit rules without their own decay")

    def to_settings(self) -> ScoringSettings:
        merged = dict(DEFAULT_NATURE_BY_TYPE)
        merged.update({k.strip().lower(): v for k, v in self.nature_by_type.items()})
        return ScoringSettings(merged, self.default_nature, self.inherit_default_decay)


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with the rule set: where (from the config root), whose, what to do."""

    loc: Loc
    message: str
    rule_id: str | None = None
    objective_id: str | None = None

    def __str__(self) -> str:
        where = format_loc(self.loc) or "(root)"
        who = f" (rule {self.rule_id})" if self.rule_id else (
            f" (objective {self.objective_id})" if self.objective_id else "")
        return f"{where}{who}: {self.message}"


class RulesetError(Exception):
    """The objectives/rules cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the rule set:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


_ID_HINTS = {
    ("objectives", "id"): "use lower-case letters, digits, _ and - (e.g. online-revenue)",
    ("rules", "id"): "start with a letter or digit, then letters, digits, _ . - (e.g. shop-projects)",
}


def format_loc(loc: Loc) -> str:
    """``("rules", 3, "when")`` -> ``rules[3].when``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_problems(exc: ValidationError, prefix: Loc, *, rule_id: str | None = None,
                        objective_id: str | None = None, known: tuple[str, ...] = ()) -> list[RuleProblem]:
    """pydantic errors as RuleProblems with a root-relative loc and a fix in the message."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}; known: {', '.join(known)}"
        elif err["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
        elif err["type"] == "string_pattern_mismatch":
            hint = _ID_HINTS.get(prefix[:1] + loc[-1:], "")
            msg = f"{loc[-1]} {err.get('input')!r} is not allowed" + (f": {hint}" if hint else f" ({msg})")
        problems.append(RuleProblem(prefix + loc, msg, rule_id, objective_id))
    return problems


def parse_objectives(raw: Any) -> tuple[list[ObjectiveSpec], list[RuleProblem]]:
    """Validate the ``objectives`` section (specs or dicts); duplicates are problems."""
    specs, problems, seen = [], [], {}
    if not isinstance(raw, (list, tuple)) or not raw:
        return [], [RuleProblem(("objectives",), "list at least one objective "
                                "({id: revenue, name: Grow online revenue, weight: 5})")]
    for i, entry in enumerate(raw):
        oid = _peek(entry, "id")
        try:
            spec = entry if isinstance(entry, ObjectiveSpec) else ObjectiveSpec.model_validate(entry)
        except ValidationError as exc:
            problems += validation_problems(exc, ("objectives", i), objective_id=oid,
                                            known=tuple(ObjectiveSpec.model_fields))
            continue
        if spec.id in seen:
            problems.append(RuleProblem(("objectives", i, "id"), f"duplicate objective id {spec.id!r} "
                                        f"(first at objectives[{seen[spec.id]}]); ids must be unique",
                                        objective_id=spec.id))
            continue
        seen[spec.id] = i
        specs.append(spec)
    return specs, problems


def parse_rules(raw: Any, objective_ids: set[str]) -> tuple[list[tuple[int, RuleSpec]], list[RuleProblem]]:
    """Validate the ``rules`` section; returns (index in the file, spec) pairs and problems."""
    if raw is None:
        return [], []
    if not isinstance(raw, (list, tuple)):
        return [], [RuleProblem(("rules",), "rules must be a list of rules")]
    specs, problems, seen = [], [], {}
    for i, entry in enumerate(raw):
        rid = _peek(entry, "id")
        try:
            spec = entry if isinstance(entry, RuleSpec) else RuleSpec.model_validate(entry)
        except ValidationError as exc:
            problems += validation_problems(exc, ("rules", i), rule_id=rid, known=tuple(RuleSpec.model_fields))
            continue
        if spec.id in seen:
            problems.append(RuleProblem(("rules", i, "id"), f"duplicate rule id {spec.id!r} (first at "
                                        f"rules[{seen[spec.id]}]); ids must be unique", spec.id))
            continue
        seen[spec.id] = i
        if spec.objective is not None and spec.objective not in objective_ids:
            problems.append(RuleProblem(("rules", i, "objective"), f"unknown objective {spec.objective!r}; "
                                        f"known: {', '.join(sorted(objective_ids)) or 'none'}",
                                        spec.id, spec.objective))
            # still compiled (the build fails anyway), so problems in its `when:` are reported too
        specs.append((i, spec))
    return specs, problems


def parse_scoring(raw: Any) -> tuple[ScoringSpec, list[RuleProblem]]:
    if raw is None:
        return ScoringSpec(), []
    if isinstance(raw, ScoringSpec):
        return raw, []
    try:
        return ScoringSpec.model_validate(raw), []
    except ValidationError as exc:
        return ScoringSpec(), validation_problems(exc, ("scoring",), known=tuple(ScoringSpec.model_fields))


def _peek(entry: Any, key: str) -> str | None:
    value = entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)
    return value if isinstance(value, str) else None
