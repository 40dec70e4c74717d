"""The composition root: the one place that builds platform adapters from the
config, used alike by ``serve``, ``worker``, ``setup`` and ``backfill``.

Every adapter gets the database-backed state store (so what one process
learns or writes, e.g. Jira option ids, the ServiceNow values we wrote, a
back-fill's resume point, every other process sees), the objectives and the
fields the rules read (so fetches ask for exactly those) and the service's
public URL (for ``setup``). Adapters are imported lazily, so serving one
platform never loads the other platform's client library.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from itsm_align.integration.base import PlatformAdapter
from itsm_align.scoring.types import Objective
from itsm_align.webhooks.app import StartupError
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.statestore import DatabaseStore

from .config import AppConfig

PLATFORMS = ("jira", "servicenow")


def configured_platforms(config: AppConfig) -> list[str]:
    """Platforms with a section in the config (``jira:``, ``servicenow:``)."""
    return [name for name in PLATFORMS if getattr(config, name, None) is not None]


def objectives_of(config: AppConfig) -> list[Objective]:
    """The config's objectives as domain objects."""
    return [spec.to_objective() for spec in config.objectives]


def build_adapter(platform: str, config: AppConfig, db: Engine | None = None, *,
                  rules: bool = True) -> PlatformAdapter:
    """The real adapter for ``platform``, its state in the service database
    (``db``, else the one ``service.database_url`` names).

    ``rules``: tell the adapter which fields the rules read (builds the rule
    engine; the ingest side, which only parses events, passes False)."""
    db = db if db is not None else create_db_engine(config.service.database_url)
    store = DatabaseStore(db, namespace=platform)
    adapter: PlatformAdapter
    if platform == "jira" and config.jira is not None:
        from itsm_align.integration.jira.adapter import JiraAdapter

        adapter = JiraAdapter(config.jira, store)
    elif platform == "servicenow" and config.servicenow is not None:
        from itsm_align.integration.servicenow.adapter import ServiceNowAdapter

        adapter = ServiceNowAdapter(config.servicenow, store)
    else:
        raise StartupError(f"no '{platform}:' section in the config: add one (see config/service.example.yaml)")
    fields_read = sorted(config.engine().fields_read or ()) if rules else None
    adapter.configure(objectives=objectives_of(config), fields_read=fields_read,
                      public_url=config.service.public_url)
    return adapter


def build_adapters(config: AppConfig, db: Engine | None = None, *, rules: bool = True
                   ) -> dict[str, PlatformAdapter]:
    """An adapter for every platform the config has a section for."""
    return {platform: build_adapter(platform, config, db, rules=rules) for platform in configured_platforms(config)}


def secrets_of(config: AppConfig) -> dict[str, str | None]:
    """platform -> webhook secret, for every configured platform (None: not set)."""
    out: dict[str, str | None] = {}
    for platform in configured_platforms(config):
        secret: Any = getattr(getattr(config, platform), "webhook_secret", None)
        value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
        out[platform] = str(value) if value else None
    return out


def build_app(config: AppConfig, db: Engine | None = None, *, warm: bool = True) -> Any:
    """The webhook service (Flask app) for this config: ``serve``'s app factory
    (``warm=False``: only to check the config; the dashboard reads no history)."""
    from itsm_align.webhooks.app import create_app

    db = db if db is not None else create_db_engine(config.service.database_url)
    adapters = ingest_adapters(config, db, warm=warm)
    checks, watches = readiness_checks(config, db, warm=warm)
    app = create_app(config.service, secrets=secrets_of(config), adapters=adapters,
                     db_engine=db, objectives=objectives_of(config), dashboard=config.dashboard,
                     links=platform_links(config), rule_objectives=rule_objectives_of(config), warm=warm,
                     readiness=checks)
    app.extensions["itsm_align.access_watches"] = watches  # stop() them to end their threads
    return app


def readiness_checks(config: AppConfig, db: Engine, *, warm: bool) -> tuple[dict[str, Any], list["AccessWatch"]]:
    """What /readyz checks besides the store: the rules compile, and (``warm``)
    each platform accepts our credentials, checked in the background every
    minute so a probe never waits on the platform."""
    try:
        config.engine()
        rules: tuple[bool, str] = (True, f"{len(config.rules)} rule(s), {len(config.objectives)} objective(s)")
    except Exception as error:  # a rule problem: the message names the file and line
        rules = (False, str(error))
    checks: dict[str, Any] = {"rules": lambda: rules}
    watches: list[AccessWatch] = []
    if warm:
        for platform, adapter in build_adapters(config, db, rules=False).items():
            watch = AccessWatch(adapter)
            watch.start()
            checks[platform] = watch.state
            watches.append(watch)
    return checks, watches


class AccessWatch:
    """``adapter.verify_access()`` now and every ``every`` seconds, in a daemon
    thread; ``state()`` is the last result (ok, detail) for /readyz."""

    def __init__(self, adapter: PlatformAdapter, every: float = 60.0) -> None:
        self.adapter, self.every = adapter, every
        self._state: tuple[bool, str] = (False, "not checked yet")
        self._stop = threading.Event()
        self.checked = threading.Event()  # set after each check (tests wait on it)

    def state(self) -> tuple[bool, str]:
        return self._state

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"itsm-align-{self.adapter.platform}-access",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.adapter.close()

    def _loop(self) -> None:
        from itsm_align.integration.base import PlatformError

        while not self._stop.is_set():
            try:
                self.adapter.verify_access()
                self._state = (True, "credentials accepted")
            except PlatformError as error:
                self._state = (False, str(error))
            self.checked.set()
            self._stop.wait(self.every)


def ingest_adapters(config: AppConfig, db: Engine, *, warm: bool) -> dict[str, PlatformAdapter]:
    """The adapters the webhook views use to name events: they never call the
    platform while a delivery waits for its answer; what they need to tell our
    own echoes they learn in the background at start-up (``warm``)."""
    adapters = build_adapters(config, db, rules=False)
    for platform, adapter in adapters.items():
        adapter.serve_offline()
        if warm:
            threading.Thread(target=_prepare_until_known, args=(adapter,), name=f"itsm-align-{platform}-prepare",
                             daemon=True).start()
    return adapters


def _prepare_until_known(adapter: PlatformAdapter, *, first_wait: float = 5.0, longest_wait: float = 300.0) -> None:
    """``adapter.prepare()`` until it succeeds, waiting longer each time (the
    platform may be down when the service starts)."""
    wait = first_wait
    while not adapter.prepare():
        time.sleep(wait)
        wait = min(longest_wait, wait * 2)


def rule_objectives_of(config: AppConfig) -> dict[str, str | None]:
    """Rule id -> the objective it is evidence for (None: inherit rules)."""
    return {rule.id: rule.objective for rule in config.rules if rule.enabled}


def platform_links(config: AppConfig) -> Any:
    """Where the dashboard links to: Jira's URL and field names, ServiceNow's
    instance, table and columns (-> webhooks.dashboard.PlatformLinks)."""
    from itsm_align.webhooks.dashboard.links import JiraLinks, PlatformLinks, ServiceNowLinks

    jira = servicenow = None
    if config.jira is not None:
        names = config.jira.fields
        jira = JiraLinks(config.jira.url, objective_field=names.objective, score_field=names.score,
                         nature_field=names.nature)
    if config.servicenow is not None:
        columns = config.servicenow.columns
        servicenow = ServiceNowLinks(config.servicenow.instance, table=config.servicenow.table,
                                     objective_column=columns.objective, score_column=columns.score,
                                     nature_column=columns.nature)
    return PlatformLinks(jira=jira, servicenow=servicenow)
