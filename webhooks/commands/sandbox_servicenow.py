"""``itsm-align sandbox-servicenow``: run the ServiceNow sandbox in the foreground.

For trying the service and the adapter by hand against a local, throw-away
ServiceNow instance over HTTPS (127.0.0.1 only). Stop with Ctrl-C.
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from itsm_align.webhooks.cli import cli


@cli.command("sandbox-servicenow")
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
def sandbox_servicenow(port: int, ca_out: Path, seed_count: int, endpoint: str | None,
                       secret: str | None, admin_password: str, integration_user: str,
                       integration_password: str) -> None:
    """Run a local ServiceNow sandbox (Table API, Batch API, business rule events)."""
    from itsm_align.integration.sandbox.servicenow import ServiceNowSandbox

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
        click.echo(f"ServiceNow sandbox on {sandbox.url}")
        click.echo(f"  CA certificate: {sandbox.ca_pem_path}")
        click.echo(f"  admin user: {sandbox.admin_user} (password from --admin-password)")
        click.echo(f"  integration user: {sandbox.integration_user} (password from --integration-password)")
        click.echo(f"  event endpoint: {endpoint or '(not set: no events are posted)'}")
        click.echo("Ctrl-C to stop.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        sandbox.stop()
