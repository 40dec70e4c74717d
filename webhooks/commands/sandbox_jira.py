"""CLI command: ``itsm-align sandbox-jira`` runs the Jira simulator in the foreground."""
from __future__ import annotations

import signal
import threading

import click

from itsm_align.integration.sandbox.jira import JiraSandbox
from itsm_align.webhooks.cli import cli


@cli.command("sandbox-jira")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 = any free port).")
@click.option("--seed", "seed_issues", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Create this many issues in project SEED at start.")
@click.option("--deployment", type=click.Choice(["cloud", "datacenter"]), default="cloud", show_default=True,
              help="Simulate Jira Cloud (basic auth, search/jql) or Data Center (PAT, /rest/api/2/search).")
def sandbox_jira(host: str, port: int, seed_issues: int, deployment: str) -> None:
    """Run a local Jira simulator (for demos and trying rules safely) until Ctrl-C."""
    sandbox = JiraSandbox(host=host, port=port, deployment=deployment)
    try:
        sandbox.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc
    if seed_issues:
        sandbox.seed(issues=seed_issues)
    email, token = sandbox.credentials
    click.echo(f"Jira sandbox ({deployment}) listening on {sandbox.url}")
    click.echo(f"  integration account: {email}  API token: {token}")
    if deployment == "datacenter":
        click.echo(f"  personal access token: {sandbox.pat}")
    click.echo(f"  person account: {sandbox.ADMIN_EMAIL}  API token: {sandbox.ADMIN_TOKEN}")
    click.echo(f"  project: {sandbox.DEFAULT_PROJECT}" + (f", SEED ({seed_issues} issues)" if seed_issues else ""))
    click.echo("Press Ctrl-C (or send SIGTERM) to stop.")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sandbox.stop()
        click.echo("stopped")
