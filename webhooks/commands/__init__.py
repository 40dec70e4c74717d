"""CLI command modules; each adds its commands to the groups in webhooks/cli.py."""
