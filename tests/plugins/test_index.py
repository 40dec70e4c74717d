"""The compiled index (hash lookups, combined RE2 sets, candidate filtering) changes nothing:
an item matches exactly the rules a plain rule-by-rule evaluation says it matches."""
from __future__ import annotations

import random

import pytest
from itsm_align.plugins.compiler import RuleTypeRegistry, WhenCompiler
from itsm_align.plugins.engine import build_engine
from itsm_align.plugins.manager import get_plugin_manager
from itsm_align.plugins.ruletypes import Facts
from itsm_align.scoring.types import WorkItem

WORDS = ["gdpr", "invoice", "checkout", "outage", "latency", "refund", "vpn", "backup", "audit", "email",
         "payroll", "sso", "cookie", "ledger", "kafka", "router", "printer", "budget", "data subject",
         "credit card", "disaster recovery", "Zahlung", "café"]
PROJECTS = ["SHOP", "PAY", "OPS", "HR", "FIN", "NET", "SEC"]
TYPES = ["incident", "bug", "story", "task", "change", "problem"]
SERVICES = ["Email", "ERP", "Web Shop", "VPN", None]
REGEXES = [r"INC\d{5,}", r"(?i)^\[sec\]", r"CVE-\d{4}-\d+", r"(?i)p[0-9]\b", r"\bv\d+\.\d+", r"[A-Z]{3,}-\d+"]


def random_condition(rnd: random.Random, depth: int = 0) -> dict:
    kind = rnd.random()
    if depth < 2 and kind < 0.15:
        op = rnd.choice(["all", "any"])
        return {op: [random_condition(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if depth < 2 and kind < 0.2:
        return {"not": random_condition(rnd, depth + 1)}
    if kind < 0.45:
        field = rnd.choice(["project", "type", "business_service", "labels", "fields.customfield_1"])
        pool = {"project": PROJECTS, "type": TYPES, "business_service": SERVICES[:-1],
                "labels": WORDS[:8], "fields.customfield_1": ["Checkout", "Search", 3]}[field]
        return {field: rnd.sample(pool, rnd.randint(1, 2)) if rnd.random() < 0.5 else rnd.choice(pool)}
    if kind < 0.75:
        mode = rnd.choice(["any", "all"])
        return {"text": {mode: rnd.sample(WORDS, rnd.randint(1, 3))}}
    if kind < 0.9:
        field = rnd.choice(["text", "summary", "assignment_group"])
        return {"regex": {field: rnd.choice(REGEXES)}}
    return {"effort": {rnd.choice(["gt", "lte"]): rnd.randint(1, 20)}}


def random_item(rnd: random.Random, i: int) -> WorkItem:
    words = rnd.sample(WORDS, 3) + ["lorem", "ipsum", "Sec", "INC123456", "CVE-2024-1234", "v2.1", "P1"]
    rnd.shuffle(words)
    summary = ("[SEC] " if rnd.random() < 0.2 else "") + " ".join(words[:5])
    return WorkItem(
        platform="jira", key=f"K-{i}", project=rnd.choice(PROJECTS), type=rnd.choice(TYPES),
        business_service=rnd.choice(SERVICES), labels=tuple(rnd.sample(WORDS[:8], rnd.randint(0, 2))),
        summary=summary, description=" ".join(rnd.choice(WORDS + ["the", "and", "OPS-12"]) for _ in range(40)),
        assignment_group=rnd.choice(["NET-EU", "DB", "SEC-OPS", None]), effort=rnd.choice([None, 1, 8, 30]),
        raw={"customfield_1": rnd.choice([{"value": "Checkout"}, "search", 3.0, None])})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_matches_equal_plain_evaluation(seed: int) -> None:
    rnd = random.Random(seed)
    objectives = [{"id": f"o{i}", "name": f"O{i}", "weight": i + 1} for i in range(5)]
    rules = [{"id": f"r{i}", "objective": f"o{rnd.randrange(5)}", "confidence": round(rnd.uniform(0.1, 1), 2),
              "when": random_condition(rnd)} for i in range(400)]
    pm = get_plugin_manager(load_entrypoints=False)
    engine = build_engine(objectives, rules, pm=pm)

    # the oracle: the same rules compiled again but never indexed, each leaf evaluated on its own
    compiler = WhenCompiler(RuleTypeRegistry.from_plugin_manager(pm))
    plain = {r["id"]: compiler.compile(r["when"], (), r["id"]) for r in rules}

    total = 0
    for i in range(150):
        it = random_item(rnd, i)
        expected = {rid for rid, cond in plain.items() if cond.evaluate(Facts(it, set())) is not None}
        got = {m.rule_id for m in engine.assess(it).matches}
        assert got == expected, it
        explained = {o.rule_id for o in engine.explain(it).fired}
        assert explained == expected
        total += len(expected)
    assert total > 150  # the generated rules really match things


def test_only_triggered_rules_are_evaluated() -> None:
    """With thousands of rules an item evaluates a handful: those whose index entries fired
    plus the rules that can hold without any trigger."""
    objectives = [{"id": "o", "name": "O", "weight": 3}]
    rules = [{"id": f"p{i}", "objective": "o", "confidence": 0.5, "when": {"project": f"P{i}"}} for i in range(3000)]
    rules += [{"id": f"k{i}", "objective": "o", "confidence": 0.5, "when": {"text": f"word{i}"}} for i in range(2000)]
    rules += [{"id": "neg", "objective": "o", "confidence": 0.5, "when": {"not": {"project": "P1"}}}]
    rules += [{"id": "both", "objective": "o", "confidence": 0.5,
               "when": {"all": [{"effort": {"gt": 1}}, {"text": "word7"}]}}]
    engine = build_engine(objectives, rules, pm=get_plugin_manager(load_entrypoints=False))
    index = engine._index
    facts = index.facts(WorkItem(platform="jira", key="K", project="P42", summary="about word7 and word9"))
    assert sorted(r.id for r in index.candidates(facts)) == ["both", "k7", "k9", "neg", "p42"]
    assert [r.id for r in index.always] == ["neg"]


def test_pattern_sets_split_into_chunks_still_agree(monkeypatch) -> None:
    from itsm_align.plugins import matcher

    monkeypatch.setattr(matcher, "SET_CHUNK", 7)
    test_indexed_matches_equal_plain_evaluation(4)
