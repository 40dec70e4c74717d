"""Benchmark: classification time per item for 100, 1,000 and 10,000 rules.

Run from the repository root::

    .venv/bin/python benchmarks/rules.py           # full run (a few minutes)
    .venv/bin/python benchmarks/rules.py --quick   # fewer items

Rules are a realistic mix: about half field equality / any-of, a third keywords and
phrases, the rest regular expressions. Tickets are synthetic: ~80-character summaries and
~600-character descriptions drawn from a vocabulary where a few domain terms appear per
ticket. "Ours" is the whole classification (index, RE2 sets, candidate rules, evidence,
score, rationale: ``Engine.assess``); the baseline evaluates the same rules with the
``rule-engine`` package one by one. The script prints a markdown table and checks that
both sides matched the same rules; it asserts nothing.

Each ticket is classified ``--repeat`` times (default 3) on both sides and its fastest time
kept, as ``timeit`` does, so other processes on a busy machine distort the figures less;
the clock is this thread's CPU time unless ``--clock wall``.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import rule_engine
from itsm_align.plugins.engine import build_engine
from itsm_align.plugins.manager import get_plugin_manager
from itsm_align.scoring.types import WorkItem

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "ber", "dan", "fel", "gor", "hul", "jin",
             "kor", "lim", "mor", "nim", "pol", "quin", "ras", "sel", "tor", "ul", "ven", "wex", "yor", "zed"]


def make_words(rnd: random.Random, n: int, syllables: tuple[int, int]) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(*syllables))))
    return sorted(out)


@dataclass
class World:
    common: list[str]
    terms: list[str]  # domain terms keyword rules use
    values: dict[str, list[Any]]  # equality fields -> their values


def make_world(rnd: random.Random) -> World:
    common = make_words(rnd, 4000, (1, 3))
    terms = [w for w in make_words(rnd, 1700, (3, 4)) if w not in set(common)][:1500]
    values = {
        "project": [f"P{i:03d}" for i in range(300)],
        "assignment_group": [f"Group {i}" for i in range(300)],
        "business_service": [f"Service {i}" for i in range(200)],
        "labels": [f"label{i}" for i in range(500)],
        "components": [f"comp{i}" for i in range(200)],
        "type": ["incident", "bug", "story", "task", "change", "problem", "epic", "request"],
        "priority": ["P1", "P2", "P3", "P4", "P5"],
        **{f"fields.customfield_{10000 + i}": [f"Option {j}" for j in range(50)] for i in range(20)},
    }
    return World(common, terms, values)


EQ_FIELDS = [("project", 20), ("assignment_group", 20), ("business_service", 15), ("labels", 15),
             ("components", 10), ("type", 2), ("priority", 2)] + \
            [(f"fields.customfield_{10000 + i}", 1) for i in range(20)]


def make_rules(rnd: random.Random, world: World, n: int) -> list[dict]:
    names, weights = zip(*EQ_FIELDS, strict=True)
    rules = []
    for i in range(n):
        roll = rnd.random()
        if roll < 0.5:
            field = rnd.choices(names, weights)[0]
            pool = world.values[field]
            value: Any = rnd.sample(pool, rnd.randint(2, 4)) if rnd.random() < 0.5 else rnd.choice(pool)
            when: dict = {field: value}
        elif roll < 0.83:
            words = [" ".join(rnd.sample(world.terms, 2)) if rnd.random() < 0.1 else rnd.choice(world.terms)
                     for _ in range(rnd.randint(1, 3))]
            when = {"text": {"all" if rnd.random() < 0.15 and len(words) > 1 else "any": words}}
        else:
            k = rnd.randrange(10_000)
            term = rnd.choice(world.terms)
            when = {"regex": rnd.choice([
                {"text": rf"INC{k:05d}\d{{2}}"},
                {"text": rf"(?i)\berr(or)?[- ]?{k}\b"},
                {"summary": rf"(?i)^\[{term}\]"},
                {"text": rf"\bCVE-20\d\d-{k}\b"},
                {"text": rf"(?i)\b{term}s?\s+(is\s+)?(down|slow)\b"},
                {"assignment_group": rf"^Group {k % 300}\d*$"},
            ])}
        rules.append({"id": f"r{i}", "objective": f"o{i % 7}", "confidence": round(rnd.uniform(0.3, 0.95), 2),
                      "when": when})
    return rules


def make_text(rnd: random.Random, world: World, length: int, term_rate: float) -> str:
    words: list[str] = []
    size = 0
    while size < length:
        roll = rnd.random()
        if roll < term_rate:
            w = rnd.choice(world.terms)
        elif roll < term_rate + 0.01:
            w = rnd.choice([f"INC{rnd.randrange(10_000):05d}{rnd.randrange(100):02d}",
                            f"error {rnd.randrange(10_000)}", f"CVE-2024-{rnd.randrange(10_000)}"])
        else:
            w = rnd.choice(world.common)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)[:length].rsplit(" ", 1)[0].capitalize() + "."


def make_items(rnd: random.Random, world: World, n: int) -> list[WorkItem]:
    v = world.values
    items = []
    for i in range(n):
        summary = make_text(rnd, world, 80, 0.06)
        if rnd.random() < 0.05:
            summary = f"[{rnd.choice(world.terms)}] {summary}"
        items.append(WorkItem(
            platform="jira", key=f"B-{i}", project=rnd.choice(v["project"]), type=rnd.choice(v["type"]),
            summary=summary, description=make_text(rnd, world, 600, 0.04),
            labels=tuple(rnd.sample(v["labels"], rnd.randint(0, 3))),
            components=tuple(rnd.sample(v["components"], rnd.randint(0, 2))),
            priority=rnd.choice(v["priority"]), assignment_group=rnd.choice(v["assignment_group"]),
            business_service=rnd.choice(v["business_service"]),
            raw={f"customfield_{10000 + k}": {"value": rnd.choice(v[f"fields.customfield_{10000 + k}"])}
                 for k in range(20) if rnd.random() < 0.5},
        ))
    return items


# ---------------------------------------------------------------- the baseline

LIST_FIELDS = {"labels", "components"}


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _var(field: str) -> str:
    return field.replace("fields.", "f_")


def _keyword(phrase: str) -> str:
    return r"(?i)\b" + r"\s+".join(re.escape(w) for w in phrase.split()) + r"\b"


def baseline_expression(when: dict) -> str:
    (key, value), = when.items()
    if key == "text":
        (mode, words), = value.items()
        joiner = " and " if mode == "all" else " or "
        return joiner.join(f"(text =~~ {_lit(_keyword(w))})" for w in words)
    if key == "regex":
        (field, pattern), = value.items()
        var = "text" if field == "text" else _var(field)
        return f"({var} != null and {var} =~~ {_lit(pattern)})"
    var = _var(key)
    values = value if isinstance(value, list) else [value]
    if key in LIST_FIELDS:
        return " or ".join(f"({_lit(v)} in {var})" for v in values)
    return f"{var} in [{', '.join(_lit(v) for v in values)}]"


def baseline_context(item: WorkItem) -> dict[str, Any]:
    ctx: dict[str, Any] = {name: getattr(item, name) for name in
                           ("project", "type", "priority", "assignment_group", "business_service")}
    ctx["labels"] = list(item.labels)
    ctx["components"] = list(item.components)
    ctx["summary"] = item.summary
    ctx["text"] = f"{item.summary}\n{item.description}"
    for k in range(20):
        raw = item.raw.get(f"customfield_{10000 + k}")
        ctx[f"f_customfield_{10000 + k}"] = raw["value"] if raw else None
    return ctx


# ---------------------------------------------------------------- measuring

#: The clock both sides are timed with: "cpu" (this thread's CPU time, so other processes
#: on a busy machine do not inflate the figures) or "wall".
CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}
clock = CLOCKS["cpu"]


def time_ours(engine, items: list[WorkItem], repeat: int) -> list[float]:
    """Per item: the fastest of ``repeat`` classifications, in µs."""
    for it in items[:20]:  # warm the RE2 DFA caches
        engine.assess(it)
    best = [float("inf")] * len(items)
    for _ in range(repeat):
        for i, it in enumerate(items):
            t0 = clock()
            engine.assess(it)
            best[i] = min(best[i], (clock() - t0) / 1000.0)
    return best


def time_baseline(rules: list[tuple[str, Any]], items: list[WorkItem],
                  repeat: int) -> tuple[list[float], list[set[str]]]:
    """Per item: the fastest of ``repeat`` evaluations of every rule, in ms, and the rules matched."""
    best, matched = [float("inf")] * len(items), []
    for r in range(repeat):
        for i, it in enumerate(items):
            t0 = clock()
            ctx = baseline_context(it)
            hits = {rid for rid, rule in rules if rule.matches(ctx)}
            best[i] = min(best[i], (clock() - t0) / 1e6)
            if r == 0:
                matched.append(hits)
    return best, matched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer items (about a minute)")
    parser.add_argument("--sizes", default="100,1000,10000", help="rule counts, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3,
                        help="classify each item this many times and keep its fastest time (both sides)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: thread CPU time (default, robust on a busy machine); wall: elapsed time")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]

    rnd = random.Random(args.seed)
    world = make_world(rnd)
    n_ours = 300 if args.quick else 2000
    items = make_items(rnd, world, n_ours)
    objectives = [{"id": f"o{i}", "name": f"Objective {i}", "weight": 1 + i % 5} for i in range(7)]
    context = rule_engine.Context(default_value=None)

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        rules = make_rules(random.Random(args.seed + size), world, size)
        t0 = time.perf_counter()
        engine = build_engine(objectives, rules, pm=get_plugin_manager(load_entrypoints=False))
        build_s = time.perf_counter() - t0
        ours = time_ours(engine, items, args.repeat)

        compiled = [(r["id"], rule_engine.Rule(baseline_expression(r["when"]), context=context)) for r in rules]
        n_base = max(5, min(100, 200_000 // size)) // (4 if args.quick else 1)
        base_items = items[:n_base]
        base, base_hits = time_baseline(compiled, base_items, args.repeat)
        ours_hits = [{m.rule_id for m in engine.assess(it).matches} for it in base_items]
        disagree = sum(a != b for a, b in zip(ours_hits, base_hits, strict=True))
        avg_hits = statistics.mean(len(h) for h in ours_hits)

        med_ours, med_base = statistics.median(ours), statistics.median(base)
        rows.append((size, med_ours, min(ours), max(ours), med_base, med_base * 1000 / med_ours,
                     build_s, len(ours), len(base), disagree, avg_hits))
        print(f"{size:>6} rules: ours {med_ours:7.1f} µs median over {len(ours)} items "
              f"(engine built in {build_s:.2f} s); rule-engine {med_base:8.2f} ms over {len(base)} items; "
              f"{avg_hits:.1f} rules matched per item; disagreements {disagree}", file=sys.stderr)

    print()
    print(f"Clock: {args.clock}; per ticket the fastest of {args.repeat} runs; {len(items)} tickets for ours, "
          f"{rows[0][8]}-{rows[-1][8]} for the baseline.")
    print()
    print("| rules | ours median (min-max) µs | baseline (rule-engine) median ms | speed-up |")
    print("| ---: | ---: | ---: | ---: |")
    for size, med, lo, hi, base, speedup, *_ in rows:
        print(f"| {size:,} | {med:.0f} ({lo:.0f}-{hi:,.0f}) | {base:.2f} | {speedup:,.0f}x |")
    print()
    print("Same rules, same tickets; " + "; ".join(
        f"{r[0]:,} rules: {r[9]} of {r[8]} baseline tickets matched differently, engine built in {r[6]:.2f} s"
        for r in rows) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
