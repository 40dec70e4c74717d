"""The ``itsm-align`` command line.

Each command lives in a module of ``webhooks/commands/`` that adds itself to
one of the groups defined here; this module only assembles them. Importing
this module loads every command module, so ``from itsm_align.webhooks.cli
import cli`` gives the complete CLI (tests drive it with click's CliRunner).
"""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="itsm-align")
def cli() -> None:
    """itsm-align: tag every Jira and ServiceNow ticket with the business
    objective it serves, score it, and write the result back."""


@cli.group()
def setup() -> None:
    """Create fields, options/choices and event delivery on a platform."""


@cli.group()
def backfill() -> None:
    """Assess existing tickets and write the results in bulk."""


def _load_commands() -> None:
    """Import every module of webhooks/commands/: each adds its commands to
    the groups above when imported. Safe to call again (imports are cached)."""
    import importlib
    import pkgutil

    from itsm_align.webhooks import commands

    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{info.name}")


def main() -> None:
    """Console-script entry point (``itsm-align``)."""
    cli()


# Last, once the groups exist: command modules import them from this module.
_load_commands()
