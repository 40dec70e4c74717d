"""The systemd units in deploy/ are valid (systemd-analyze verify, where installed)
and start the commands that exist; the repository carries the licence pyproject names."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def test_the_units_exist_and_run_real_commands() -> None:
    assert [u.name for u in UNITS] == ["itsm-align-serve.service", "itsm-align-worker.service"]
    for unit in UNITS:
        start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        command = start.split("/bin/itsm-align ", 1)[1].split()[0]
        assert command in {"serve", "worker"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    executable = Path(sys.executable).with_name("itsm-align")
    for unit in UNITS:  # point ExecStart at this checkout's itsm-align, which exists
        text = unit.read_text().replace("/opt/itsm-align/.venv/bin/itsm-align", str(executable))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_the_licence_file_matches_pyproject() -> None:
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text()
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
