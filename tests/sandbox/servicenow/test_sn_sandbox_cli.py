"""``itsm-align sandbox-servicenow``: runs the sandbox in the foreground."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner

from itsm_align.cli.sandbox import sandbox_servicenow


def test_serves_until_terminated(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from itsm_align.cli.main import main; main()", "sandbox-servicenow",
         "--port", "0", "--ca-out", str(ca), "--seed", "3", "--admin-password", "pw-for-test"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # blocks until the server prints its address
        m = re.match(r"ServiceNow sandbox on (https://127\.0\.0\.1:\d+)", first)
        assert m, first + proc.stderr.read() if proc.poll() is not None else first
        session = requests.Session()
        session.trust_env = False
        session.verify = str(ca)
        r = session.get(f"{m.group(1)}/api/now/table/incident", auth=("admin", "pw-for-test"), timeout=10)
        assert r.status_code == 200 and len(r.json()["result"]) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "pw-for-test" not in out + err  # passwords are never printed


def test_refuses_a_ca_path_in_a_missing_directory(tmp_path: Path):
    result = CliRunner().invoke(sandbox_servicenow, ["--port", "0", "--ca-out", str(tmp_path / "no" / "ca.pem")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_refuses_a_busy_port(servicenow_sandbox, tmp_path: Path):
    port = int(servicenow_sandbox.url.rsplit(":", 1)[1])
    result = CliRunner().invoke(sandbox_servicenow, ["--port", str(port), "--ca-out", str(tmp_path / "ca.pem")])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
