"""``itsm-align demo`` (make demo), run as a newcomer's script would: no terminal.

The end-to-end test runs the real command in a subprocess with stdin and stdout
not a terminal, in a work folder of its own, and checks what it promises: exit 0
after the summary (counts by objective), the report written, every seeded ticket
assessed and its fields written, people's changes tagged live (an override kept,
a new project assessed), no process left behind, and nothing listening beyond
127.0.0.1. A ``sitecustomize`` put on PYTHONPATH records, in every Python process
the demo starts (serve, gunicorn's worker, the worker), its pid and every socket
bind, through Python's audit hooks.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from itsm_align.cli.config import load_config
from itsm_align.cli.demo_stack import DEMO_FILES, fresh_workdir
from itsm_align.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
OBJECTIVES = ("Grow online revenue", "Stay compliant", "Reduce security risk", "Keep the platform reliable",
              "Improve customer experience", "Cut run costs", "Make employees productive", "Unaligned")

SITECUSTOMIZE = '''\
import json, os, sys

_LOG = os.environ.get("DEMO_TEST_SOCKET_LOG")


def _write(kind, value):
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps([kind, os.getpid(), value]) + "\\n")


def _hook(event, args):
    if event == "socket.bind":
        address = args[1]
        _write("bind", list(address) if isinstance(address, tuple) else str(address))


if _LOG:
    _write("process", None)
    os.register_at_fork(after_in_child=lambda: _write("process", "forked"))
    sys.addaudithook(_hook)
'''


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and b"itsm_align" in cmdline


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("demo")
    hook = base / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = base / "sockets.jsonl"
    workdir = base / "work"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ITSM_ALIGN_")}
    env.update({"PYTHONPATH": os.pathsep.join([str(hook), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                "DEMO_TEST_SOCKET_LOG": str(log), "CI": "true", "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"})
    done = subprocess.run([sys.executable, "-c", "from itsm_align.cli.main import main; main()", "demo",
                           "--workdir", str(workdir)], cwd=base, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return {"code": done.returncode, "output": done.stdout.decode("utf-8", "replace"), "workdir": workdir,
            "events": events}


def _history(workdir: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(workdir / "demo.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT platform, item_key, kind, objective, overridden, source FROM assessment_history"
                          " ORDER BY id").fetchall()


def test_runs_to_its_summary_without_a_terminal_and_exits_0(demo_run: dict) -> None:
    output = demo_run["output"]
    assert demo_run["code"] == 0, output[-4000:]
    assert "every ticket by business objective" in output
    for name in OBJECTIVES:  # a row per objective: Jira count, ServiceNow count, share
        assert re.search(rf"{re.escape(name)}\W+\d+\W+\d+\W+\d+%", output), f"no counts for {name}\n{output[-4000:]}"
    assert "not assessed" not in output
    assert re.search(r"All \d+ seeded tickets and the new ones carry their objective, score, rationale and work "
                     r"nature", output), output[-3000:]
    assert re.search(r"Dashboard: http://127\.0\.0\.1:\d+/dashboard/login\?token=\S{16,}", output)
    assert "Stopped the sandboxes, itsm-align serve and the worker" in output


def test_writes_the_html_report(demo_run: dict) -> None:
    page = demo_run["workdir"] / "report" / "report.html"
    assert page.is_file() and f"Report:    {page}" in demo_run["output"]
    text = page.read_text(encoding="utf-8")
    assert "Northwind Outfitters" in text and "Grow online revenue" in text


def test_every_seeded_ticket_was_assessed_and_people_changes_live(demo_run: dict) -> None:
    from itsm_align.sandbox.demo_company import DemoCompany
    from itsm_align.sandbox.jira import JiraSandbox
    from itsm_align.sandbox.servicenow import ServiceNowSandbox

    company = DemoCompany.load()  # the same company seeded the same way gives the same keys
    with JiraSandbox() as jira, ServiceNowSandbox() as sn:
        seeded = {("jira", key) for key in company.seed_jira(jira)}
        seeded |= {("servicenow", number) for number in company.seed_servicenow(sn)}
    rows = _history(demo_run["workdir"])
    backfilled = {(row["platform"], row["item_key"]) for row in rows if row["source"] == "backfill"}
    assert seeded <= backfilled, sorted(seeded - backfilled)[:10]
    live = [row for row in rows if row["source"] == "worker"]
    assert {row["platform"] for row in live if row["overridden"]} == {"jira", "servicenow"}  # kept by hand
    assert any(row["kind"] == "project" and row["item_key"] == "LOYAL" for row in live)  # the new project
    assert len({row["item_key"] for row in live if row["kind"] == "ticket"}) >= 15


def test_leaves_no_process_and_listened_on_loopback_only(demo_run: dict) -> None:
    events = demo_run["events"]
    pids = {pid for kind, pid, _ in events if kind == "process"}
    assert len(pids) >= 4  # the demo, serve, gunicorn's worker, the worker
    assert [pid for pid in pids if _alive(pid)] == []
    binds = [value for kind, _, value in events if kind == "bind" and isinstance(value, list)]
    assert binds, "no socket bind seen: the audit hook did not run"
    assert {host for host, *_ in binds} <= {"127.0.0.1", "::1"}, binds
    # urllib3 probes IPv6 support by binding ::1 port 0; nothing of ours listens on IPv6
    assert all(port == 0 for host, port, *_ in binds if host == "::1"), binds
    assert [port for host, port, *_ in binds if host == "127.0.0.1" and port], "serve binds its port"


def test_fresh_workdir_removes_only_the_last_demos_files(tmp_path: Path) -> None:
    for name in DEMO_FILES:
        (tmp_path / name).write_text("old")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.html").write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    fresh_workdir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_sandbox_config_has_the_example_objectives_and_rules_and_loads_as_is(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("ITSM_ALIGN_"):
            monkeypatch.delenv(name)
    example = yaml.safe_load((REPO / "config" / "itsm-align.yaml").read_text(encoding="utf-8"))
    sandbox = yaml.safe_load((REPO / "config" / "sandbox.yaml").read_text(encoding="utf-8"))
    for section in ("objectives", "rules", "scoring"):
        assert sandbox[section] == example[section], f"config/sandbox.yaml's {section} differ from itsm-align.yaml's"
    config = load_config(REPO / "config" / "sandbox.yaml")
    assert config.jira is not None and config.servicenow is not None and config.dashboard is not None
    assert config.service.public_url.startswith("http://127.0.0.1:")


def test_a_missing_config_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--config", str(tmp_path / "nope.yaml"),
                                      "--workdir", str(tmp_path / "work")])
    assert result.exit_code == 2
    assert "No demo config at" in result.output and "config/sandbox.yaml" in result.output
    assert not (tmp_path / "work").exists()
