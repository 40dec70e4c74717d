"""``itsm-align setup jira`` and ``setup servicenow``: create the four output
fields, their options / choices, screen placement and event delivery on a
platform. Idempotent; ``--dry-run`` prints the plan and changes nothing.

Both talk through the adapter the composition root builds (cli/compose.py),
with its state in the service database, the same store the worker reads.
``setup servicenow --update-set FILE.xml`` instead writes the update set an
admin imports (columns, choices, business rule, properties; no instance contact).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click
from rich.table import Table
from rich.text import Text

from itsm_align.integration.base import PlatformError, SetupStep
from itsm_align.integration.retry import call_with_retry

from .common import EXIT_PLATFORM, config_option, fail, load_or_exit, out_console
from .compose import build_adapter, objectives_of
from .config import AppConfig

SECTION_HINTS = {
    "jira": "Add jira: {url, email, api_token, webhook_secret} (token and secret as ${ENV} references; "
            "see config/service.example.yaml).",
    "servicenow": "Add servicenow: {instance: https://..., user: ..., password: ${SN_PASSWORD}} "
                  "(see config/service.example.yaml).",
}
TITLES = {"jira": "Jira", "servicenow": "ServiceNow"}


@click.group()
def setup() -> None:
    """Create fields, options/choices and event delivery on a platform."""


def platform_config(path: Path | None, platform: str, *, build: bool = True) -> AppConfig:
    """The config, which must have a section for ``platform`` (else exit 2 with the fix)."""
    return load_or_exit(path, build=build, section=platform, section_hint=SECTION_HINTS[platform])


def _run(config: AppConfig, platform: str, dry_run: bool) -> None:
    adapter = build_adapter(platform, config)
    try:
        steps = call_with_retry(lambda: adapter.setup(objectives_of(config), dry_run=dry_run))
    except PlatformError as error:
        fail(f"{TITLES[platform]} refused the set-up", [str(error)], code=EXIT_PLATFORM)
    finally:
        adapter.close()
    _print(steps, f"{TITLES[platform]} set-up" + (" plan (dry run: nothing changed)" if dry_run else ""))
    if not dry_run:
        _requeue_parked(config, platform)


def _requeue_parked(config: AppConfig, platform: str) -> None:
    """Set-up succeeded: items the worker parked for a set-up problem (a field not
    on a screen, a project we could not write) are due again now."""
    from itsm_align.webhooks.parked import requeue_setup_problems
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.inbox import Inbox

    db = create_db_engine(config.service.database_url)
    try:
        rows = requeue_setup_problems(Inbox(db), platform)
    finally:
        db.dispose()
    if rows:
        out_console().print(f"Re-queued {rows} inbox item(s) parked because set-up was incomplete; "
                            "a running worker picks them up now.")


def _print(steps: Sequence[SetupStep], title: str) -> None:
    console = out_console()
    table = Table(title=title, title_justify="left")
    for column in ("action", "target", "state", "detail"):
        table.add_column(column)
    for step in steps:
        state = "in place" if not step.needed else ("done" if step.done else "to do")
        table.add_row(step.action, step.target, state, step.detail)
    console.print(table)
    done = sum(1 for s in steps if s.done)
    todo = sum(1 for s in steps if s.needed and not s.done)
    console.print(f"{done} change(s) made, {todo} to do, {sum(1 for s in steps if not s.needed)} already in place")


@setup.command("jira")
@config_option
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing in Jira.")
def setup_jira(config_path: Path | None, dry_run: bool) -> None:
    """Create the four fields, their options, screen placement and the admin
    webhook (<service.public_url>/webhooks/jira). Safe to run again: only
    differences are changed.

    Example: itsm-align setup jira --config itsm-align.yaml --dry-run"""
    _run(platform_config(config_path, "jira"), "jira", dry_run)


@setup.command("servicenow")
@config_option
@click.option("--update-set", "update_set", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write an importable update set to this XML file instead of "
                                 "changing the instance over REST.")
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
def setup_servicenow(config_path: Path | None, update_set: Path | None, dry_run: bool) -> None:
    """Create the alignment columns and choices on task (idempotent), or write
    the update set holding them with the business rule and its properties.

    Example: itsm-align setup servicenow --config itsm-align.yaml --update-set itsm-align.xml"""
    if update_set is None:
        _run(platform_config(config_path, "servicenow"), "servicenow", dry_run)
        return
    from itsm_align.integration.servicenow import updateset

    config = platform_config(config_path, "servicenow", build=False)
    assert config.servicenow is not None
    console = out_console()
    public = (config.service.public_url or "").rstrip("/")
    if not public:
        fail("service.public_url is not set",
             ["The business rule posts to <service.public_url>/webhooks/servicenow; set "
              "service.public_url in the config to the URL ServiceNow can reach."])
    if dry_run:
        console.print(f"Would write the update set to {update_set} (endpoint {public}/webhooks/servicenow)")
        return
    rows = updateset.write(str(update_set), config.servicenow, objectives_of(config),
                           f"{public}/webhooks/servicenow")
    console.print(Text.assemble(("Wrote ", "bold green"), f"{update_set}: {rows} configuration records. ",
                                "Import it under System Update Sets > Retrieved Update Sets > Import "
                                "Update Set from XML, Preview, Commit, then set the system property "
                                "itsm_align.secret to servicenow.webhook_secret."))


__all__ = ["setup"]
