"""The dashboard at ``/dashboard``: the report's KPIs live, with filters by objective,
project, team, type and period, a drill-down from every number to the items behind it,
links to each item and to the native Jira / ServiceNow filter that reproduces the list.

Read access (the business side) and admin access (also rule quality and survey rounds)
are separate; see :mod:`.access`. Everything it serves ships in the package: templates
in ``webhooks/templates/dashboard``, CSS and JS in ``webhooks/static``, plotly.js from
the installed ``plotly`` package.
"""
from .access import Access, Role
from .data import HistoryCache, SurveyCache
from .links import JiraLinks, PlatformLinks, ServiceNowLinks
from .views import DashboardContext, bp

__all__ = ["Access", "DashboardContext", "HistoryCache", "JiraLinks", "PlatformLinks", "Role",
           "ServiceNowLinks", "SurveyCache", "bp"]
