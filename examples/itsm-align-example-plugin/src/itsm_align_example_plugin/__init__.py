"""Example itsm-align rule plugin: ``cmdb_tier`` and ``sla_breach`` conditions.

Everything a rule plugin needs: a ``RuleType`` per new ``when:`` key, returned from the
``itsm_align_register_rule_types`` hook, and an entry point in the ``itsm_align`` group.
"""
from __future__ import annotations

from typing import Any

from itsm_align.plugins import hookimpl
from itsm_align.plugins.ruletypes import (
    AnyOf,
    Condition,
    ConditionError,
    FieldEquals,
    Predicate,
    RuleType,
    scalars,
)
from itsm_align.scoring.types import WorkItem

#: Raw fields an adapter may fill with the CI's tier (ServiceNow dot-walk, Jira Assets).
TIER_FIELDS = ("fields.u_ci_tier", "fields.ci_tier")


class CmdbTier(RuleType):
    """``{cmdb_tier: {tier: 1}}`` or ``{cmdb_tier: {tier: [1, 2]}}``."""

    name = "cmdb_tier"
    keys = ("cmdb_tier",)

    def compile(self, key: str, value: Any) -> Condition:
        if not isinstance(value, dict) or set(value) != {"tier"}:
            raise ConditionError("cmdb_tier takes {tier: N} or {tier: [N, M]} with tiers 1-4")
        tiers = value["tier"] if isinstance(value["tier"], list) else [value["tier"]]
        if not tiers or any(not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= 4 for t in tiers):
            raise ConditionError(f"cmdb_tier: tiers are whole numbers 1-4, got {value['tier']!r}", ("tier",))
        # composed from built-in nodes, so the engine indexes it like any field equality
        return AnyOf(FieldEquals(field, tiers) for field in TIER_FIELDS)


class SlaBreach(RuleType):
    """``{sla_breach: true}`` (or false): the ticket missed (met) its SLA."""

    name = "sla_breach"
    keys = ("sla_breach",)

    def compile(self, key: str, value: Any) -> Condition:
        if not isinstance(value, bool):
            raise ConditionError(f"sla_breach takes true or false, got {value!r}")

        def check(item: WorkItem) -> str | None:
            raw = item.raw or {}
            breached = None
            if "sla_breached" in raw:
                breached = _truthy(raw["sla_breached"])
            elif "made_sla" in raw:
                breached = not _truthy(raw["made_sla"])
            if breached is None or breached != value:
                return None
            return "SLA breached" if breached else "SLA met"

        return Predicate(["fields.sla_breached", "fields.made_sla"], check,
                         "SLA breached" if value else "SLA met")


def _truthy(value: Any) -> bool:
    values = scalars(value)
    return bool(values) and str(values[0]).strip().lower() in ("true", "1", "yes")


@hookimpl
def itsm_align_register_rule_types() -> list[RuleType]:
    return [CmdbTier(), SlaBreach()]
