"""Jira Cloud / Data Center adapter (``JiraAdapter``, settings in ``JiraSettings``)."""
from .adapter import JiraAdapter
from .settings import JiraSettings

__all__ = ["JiraAdapter", "JiraSettings"]
