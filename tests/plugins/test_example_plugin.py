"""The example third-party plugin, really pip-installed, works from YAML via its entry point.

pip builds the package offline (no index, no build isolation: setuptools and wheel come
from this virtualenv) into a temporary ``--target`` directory; a fresh interpreter with that
directory on its path then loads it through ``get_plugin_manager()``'s entry-point scan.
The project's own virtualenv is left untouched.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO

EXAMPLE = REPO / "examples" / "itsm-align-example-plugin"

SCRIPT = textwrap.dedent("""
    import json, sys
    import yaml
    from itsm_align.plugins.engine import build_engine
    from itsm_align.plugins.manager import get_plugin_manager
    from itsm_align.plugins.ruleset import RulesetError
    from itsm_align.scoring.types import WorkItem

    cfg = yaml.safe_load('''
    objectives:
      - {id: reliability, name: Keep services up, weight: 4}
    rules:
      - {id: tier1-services, objective: reliability, confidence: 0.8, when: {cmdb_tier: {tier: 1}}}
      - {id: breached, objective: reliability, confidence: 0.5, nature: reactive, when: {sla_breach: true}}
    ''')
    pm = get_plugin_manager()
    engine = build_engine(cfg["objectives"], cfg["rules"], pm=pm)
    out = {"plugins": sorted(pm.get_name(p) for p in pm.get_plugins()),
           "counts": engine.rule_counts_by_type, "results": {}}
    for key, raw in [("T1", {"u_ci_tier": "1"}), ("T2", {"ci_tier": 2}), ("SLA", {"made_sla": "false"}),
                     ("BOTH", {"u_ci_tier": {"value": "1"}, "sla_breached": True})]:
        a = engine.assess(WorkItem(platform="servicenow", key=key, type="incident", raw=raw))
        out["results"][key] = [a.objective, a.score, a.nature.value, a.rationale]
    try:
        build_engine(cfg["objectives"], [{"id": "bad", "objective": "reliability", "confidence": 1,
                                          "when": {"cmdb_tier": {"tier": 9}}}], pm=pm)
    except RulesetError as exc:
        out["error"] = str(exc.problems[0])
    print(json.dumps(out))
""")


def _can_build_offline() -> str | None:
    import setuptools

    major_minor = tuple(int(x) for x in setuptools.__version__.split(".")[:2])
    if importlib.util.find_spec("wheel") is None and major_minor < (70, 1):
        return (f"building a package offline needs the 'wheel' package or setuptools>=70.1 in this "
                f"virtualenv (found setuptools {setuptools.__version__}, no wheel): pip install wheel")
    return None


def test_example_plugin_installs_and_its_rule_types_work_from_yaml(tmp_path: Path) -> None:
    reason = _can_build_offline()
    if reason:
        pytest.skip(reason)
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=240)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "itsm_align_example_plugin" / "__init__.py").is_file()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "example" in out["plugins"]
    assert out["counts"] == {"cmdb_tier": 1, "sla_breach": 1}
    r = out["results"]
    assert r["T1"][:2] == ["reliability", 80] and "tier1-services: fields.u_ci_tier is 1" in r["T1"][3]
    assert r["T2"][:2] == ["unaligned", 0]
    assert r["SLA"][:3] == ["reliability", 50, "reactive"] and "breached: SLA breached" in r["SLA"][3]
    assert r["BOTH"][:3] == ["reliability", 90, "reactive"]  # 1 - (1 - 0.8) x (1 - 0.5) = 0.9
    assert out["error"] == "rules[0].when.cmdb_tier.tier (rule bad): cmdb_tier: tiers are whole numbers 1-4, got 9"


def test_without_the_install_its_keys_are_unknown(pm) -> None:
    from itsm_align.plugins.engine import build_engine
    from itsm_align.plugins.ruleset import RulesetError

    with pytest.raises(RulesetError, match="unknown condition 'cmdb_tier'"):
        build_engine([{"id": "r", "name": "R", "weight": 1}],
                     [{"id": "x", "objective": "r", "confidence": 1, "when": {"cmdb_tier": {"tier": 1}}}], pm=pm)
