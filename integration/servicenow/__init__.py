"""ServiceNow adapter (PySNC): events from our async business rule, fetch and
write-back of the u_ columns on task, set-up, update set and back-fill.

Names are resolved lazily so that importing the settings (the config loader
does) does not load PySNC and requests.
"""
from __future__ import annotations

from typing import Any

__all__ = ["ServiceNowAdapter", "ServiceNowSettings"]


def __getattr__(name: str) -> Any:
    if name == "ServiceNowAdapter":
        from .adapter import ServiceNowAdapter
        return ServiceNowAdapter
    if name == "ServiceNowSettings":
        from .settings import ServiceNowSettings
        return ServiceNowSettings
    raise AttributeError(name)
