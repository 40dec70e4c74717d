"""Where the public reference data lives: ``$ITSM_ALIGN_SHARED_DATA``, else
``../shared/data`` beside the checkout (as in every developer checkout and in
CI), else beside the local repository this checkout was cloned from (a scratch
clone in a temporary folder)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _origin_checkout() -> Path | None:
    """The local repository ``origin`` points at, when it is a path on this machine."""
    try:
        url = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    url = url.removeprefix("file://")
    return Path(url).resolve() if url.startswith("/") else None


def _find() -> Path:
    if os.environ.get("ITSM_ALIGN_SHARED_DATA"):
        return Path(os.environ["ITSM_ALIGN_SHARED_DATA"]).resolve()
    beside = (REPO.parent / "shared" / "data").resolve()
    if beside.is_dir():
        return beside
    origin = _origin_checkout()
    if origin is not None and (origin.parent / "shared" / "data").is_dir():
        return (origin.parent / "shared" / "data").resolve()
    return beside


SHARED_DATA = _find()


def shared_data(*parts: str) -> Path:
    """A path inside the shared data folder; fails with a clear message when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(
            f"the shared reference data is not at {SHARED_DATA}: check out shared/ beside the repository "
            f"or point ITSM_ALIGN_SHARED_DATA at its data/ folder")
    return path
