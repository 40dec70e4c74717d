"""Where the public reference data lives: ``../shared/data`` beside the checkout
(as in every developer checkout and in CI), or ``$ITSM_ALIGN_SHARED_DATA``."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("ITSM_ALIGN_SHARED_DATA") or (REPO.parent / "shared" / "data")).resolve()


def shared_data(*parts: str) -> Path:
    """A path inside the shared data folder; fails with a clear message when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(
            f"the shared reference data is not at {SHARED_DATA}: check out shared/ beside the repository "
            f"or point ITSM_ALIGN_SHARED_DATA at its data/ folder")
    return path
