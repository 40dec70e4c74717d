"""Build the platform adapters the service talks through, from the config.

Imported lazily so the ingest path of one platform does not need the other
platform's client libraries loaded, and so a missing section simply means
that platform is not served.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from itsm_align.integration.base import PlatformAdapter

from .statestore import DatabaseStore


class StartupError(RuntimeError):
    """The service cannot start as configured; the message says what to fix."""


def configured_platforms(config: Any) -> list[str]:
    """Platforms with a section in the config (``jira:``, ``servicenow:``)."""
    if config is None:
        return []
    return [name for name in ("jira", "servicenow") if getattr(config, name, None) is not None]


def build_adapter(platform: str, config: Any, engine: Engine, assessor: Any = None) -> PlatformAdapter:
    """The real adapter for ``platform`` with a database-backed state store.

    ``assessor`` (the rule engine) tells the adapter the objectives (option /
    choice <-> objective id) and the fields rules read, so fetches ask for
    exactly those; the ingest side does not need it."""
    store = DatabaseStore(engine, namespace=platform)
    adapter: Any
    if platform == "jira":
        from itsm_align.integration.jira.adapter import JiraAdapter

        adapter = JiraAdapter(config.jira, store)
    elif platform == "servicenow":
        from itsm_align.integration.servicenow.adapter import ServiceNowAdapter

        adapter = ServiceNowAdapter(config.servicenow, store)
    else:
        raise StartupError(f"unknown platform {platform!r}")
    if assessor is not None and hasattr(adapter, "configure"):
        adapter.configure(objectives=getattr(assessor, "objectives", None),
                          fields_read=sorted(getattr(assessor, "fields_read", ()) or ()))
    return adapter


def build_adapters(config: Any, engine: Engine, assessor: Any = None) -> dict[str, PlatformAdapter]:
    return {platform: build_adapter(platform, config, engine, assessor)
            for platform in configured_platforms(config)}


def secret_of(config: Any, platform: str) -> str | None:
    section = getattr(config, platform, None) if config is not None else None
    secret = getattr(section, "webhook_secret", None)
    if secret is None:
        return None
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
    return value or None
