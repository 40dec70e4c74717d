"""The ``itsm-align`` command line: the top floor, which assembles the rest.

Every command is added here, explicitly; command modules never import this
one. ``from itsm_align.cli.main import cli`` gives the complete CLI (tests
drive it with click's CliRunner).
"""
from __future__ import annotations

import click

from . import backfill, rules, sandbox, service, setup, status
from . import preview, report
from . import survey
from . import demo


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="itsm-align")
def cli() -> None:
    """itsm-align: tag every Jira and ServiceNow ticket with the business
    objective it serves, score it, and write the result back."""


for command in (
    rules.check, rules.explain, rules.score, rules.schema,  # the config and ticket files alone
    setup.setup, backfill.backfill,  # a platform, from the CLI
    service.serve, service.worker, service.inbox, status.status,  # the running service
    sandbox.sandbox_jira, sandbox.sandbox_servicenow,  # local platform simulators
    report.report, preview.preview,  # alignment report, rule-change preview
    survey.survey,  # stakeholder survey rounds, links and imports
    demo.demo,  # the whole loop, live, on the sandboxes (make demo)
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point (``itsm-align``)."""
    cli()
