"""Shared fixtures live in tests/fixtures/, one module per concern."""
pytest_plugins = [
    "tests.fixtures.jira_sandbox",
    "tests.fixtures.servicenow_sandbox",
    "tests.fixtures.servers",
]
