"""Jira Cloud / Data Center adapter."""
