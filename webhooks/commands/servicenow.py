"""CLI commands: servicenow (owner fills in)."""
from itsm_align.webhooks.cli import backfill, cli, setup  # noqa: F401
