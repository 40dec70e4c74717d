"""``itsm-align sandbox-jira`` and ``sandbox-servicenow``: run a local platform
simulator in the foreground, for demos and trying rules safely (127.0.0.1 by
default; stop with Ctrl-C). The simulators live in ``sandbox/``."""
from __future__ import annotations

import signal
import threading
from pathlib import Path

import click


def _require_sandbox_extra() -> None:
    """The simulators' server packages come with the ``sandbox`` extra."""
    try:
        import cheroot  # noqa: F401
        import trustme  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"the sandboxes need the 'sandbox' extra ({exc.name} is not installed): "
            "pip install 'itsm-align[sandbox]'") from exc

def _company():  # type: ignore[no-untyped-def]
    """Northwind Outfitters, the company ``make demo`` runs (sandbox/demo_company.yaml)."""
    from itsm_align.sandbox.demo_company import DemoCompany

    return DemoCompany.load()


@click.command("sandbox-jira")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 = any free port).")
@click.option("--seed", "seed_issues", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Create this many issues in project SEED at start.")
@click.option("--deployment", type=click.Choice(["cloud", "datacenter"]), default="cloud", show_default=True,
              help="Simulate Jira Cloud (basic auth, search/jql) or Data Center (PAT, /rest/api/2/search).")
@click.option("--company", is_flag=True,
              help="Seed Northwind Outfitters, the demo company: people, fields (Story Points, Business Area, "
                   "...) and about 200 issues in projects SHOP, PAY, APP, SEC, CX, IT, GRC and more.")
def sandbox_jira(host: str, port: int, seed_issues: int, deployment: str, company: bool) -> None:
    """Run a local Jira simulator (for demos and trying rules safely) until Ctrl-C.

    Example: itsm-align sandbox-jira --port 8081 --seed 200"""
    _require_sandbox_extra()
    from itsm_align.sandbox.jira import JiraSandbox

    sandbox = JiraSandbox(host=host, port=port, deployment=deployment)
    try:
        sandbox.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc
    if seed_issues:
        sandbox.seed(issues=seed_issues)
    seeded = _company().seed_jira(sandbox) if company else []
    email, token = sandbox.credentials
    click.echo(f"Jira sandbox ({deployment}) listening on {sandbox.url}")
    click.echo(f"  integration account: {email}  API token: {token}")
    if deployment == "datacenter":
        click.echo(f"  personal access token: {sandbox.pat}")
    click.echo(f"  person account: {sandbox.ADMIN_EMAIL}  API token: {sandbox.ADMIN_TOKEN}")
    click.echo(f"  project: {sandbox.DEFAULT_PROJECT}" + (f", SEED ({seed_issues} issues)" if seed_issues else ""))
    if seeded:
        projects = ", ".join(sorted({key.rsplit("-", 1)[0] for key in seeded}))
        click.echo(f"  demo company: {len(seeded)} issues in {projects}")
    click.echo(f"  web page: {sandbox.url}/sandbox/ (sign in as {sandbox.ADMIN_EMAIL}, API token as password)")
    click.echo("Press Ctrl-C (or send SIGTERM) to stop.")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sandbox.stop()
        click.echo("stopped")



@click.command("sandbox-servicenow")
@click.option("--port", type=int, default=8443, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--ca-out", type=click.Path(dir_okay=False, path_type=Path), default=Path("ca.pem"),
              show_default=True, help="Where to write the throw-away CA certificate clients must trust.")
@click.option("--seed", "seed_count", type=int, default=0, show_default=True,
              help="Insert this many sample incidents at start.")
@click.option("--endpoint", default=None,
              help="Set property itsm_align.endpoint (e.g. http://127.0.0.1:8000/webhooks/servicenow).")
@click.option("--secret", envvar="ITSM_ALIGN_SN_SANDBOX_SECRET", default=None,
              help="Set property itsm_align.secret (or env ITSM_ALIGN_SN_SANDBOX_SECRET).")
@click.option("--admin-password", envvar="ITSM_ALIGN_SN_SANDBOX_ADMIN_PASSWORD", default="admin",
              show_default=True, help="Password of user admin.")
@click.option("--integration-user", default="svc.itsm_align", show_default=True,
              help="User name of the integration account (also itsm_align.integration_user).")
@click.option("--integration-password", envvar="ITSM_ALIGN_SN_SANDBOX_INTEGRATION_PASSWORD",
              default="integration-password", show_default=True,
              help="Password of the integration account.")
@click.option("--company", is_flag=True,
              help="Seed Northwind Outfitters, the demo company: services, groups, CIs, people and about "
                   "100 projects, stories, incidents, problems, changes and requests.")
def sandbox_servicenow(port: int, ca_out: Path, seed_count: int, endpoint: str | None,
                       secret: str | None, admin_password: str, integration_user: str,
                       integration_password: str, company: bool) -> None:
    """Run a local ServiceNow sandbox (Table API, Batch API, business rule events).

    Example: itsm-align sandbox-servicenow --port 8443 --endpoint http://127.0.0.1:8080/webhooks/servicenow --secret s3cret"""
    _require_sandbox_extra()
    from itsm_align.sandbox.servicenow import ServiceNowSandbox

    if not 0 <= port <= 65535:
        raise click.BadParameter(f"{port} is not a TCP port (0-65535)", param_hint="--port")
    ca_out = ca_out.resolve()
    if not ca_out.parent.is_dir():
        raise click.BadParameter(f"directory {ca_out.parent} does not exist; create it or choose "
                                 f"another path", param_hint="--ca-out")
    sandbox = ServiceNowSandbox(port=port, ca_out=ca_out, admin_password=admin_password,
                                integration_user=integration_user,
                                integration_password=integration_password)
    try:
        sandbox.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                                   f"pick another --port (0 = any free port)") from exc
    try:
        if endpoint:
            sandbox.set_property("itsm_align.endpoint", endpoint)
        if secret:
            sandbox.set_property("itsm_align.secret", secret)
        if seed_count:
            sandbox.seed("incident", seed_count)
        seeded = _company().seed_servicenow(sandbox) if company else []
        click.echo(f"ServiceNow sandbox on {sandbox.url}")
        click.echo(f"  CA certificate: {sandbox.ca_pem_path}")
        click.echo(f"  admin user: {sandbox.admin_user} (password from --admin-password)")
        click.echo(f"  integration user: {sandbox.integration_user} (password from --integration-password)")
        click.echo(f"  event endpoint: {endpoint or '(not set: no events are posted)'}")
        if seeded:
            click.echo(f"  demo company: {len(seeded)} records")
        click.echo(f"  web page: {sandbox.url}/sandbox/ (sign in as {sandbox.admin_user}; "
                   f"trust {sandbox.ca_pem_path} or accept the browser's warning)")
        click.echo("Ctrl-C to stop.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        sandbox.stop()
