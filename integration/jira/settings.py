"""The ``jira:`` section of the config file (owner: Jira adapter).

Secrets are ``SecretStr`` so they never show in reprs, logs or error
messages; the config loader resolves ``${ENV}`` references before they get here.
Field *names* are configured (what admins see in Jira); the adapter resolves
them to ids (``customfield_10050``) once, on first use, and caches them.
"""
from __future__ import annotations

from typing import Literal

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class JiraFieldNames(BaseModel):
    """Display names of our four output fields in Jira."""

    model_config = ConfigDict(extra="forbid")
    objective: str = Field(default="Business Objective", description="the select field holding the objective")
    score: str = Field(default="Alignment Score", description="the number field holding the 0-100 score")
    rationale: str = Field(default="Alignment Rationale", description="the paragraph field holding the one-line reason")
    nature: str = Field(default="Work Nature", description="the select field holding Proactive / Reactive")


class JiraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="base URL of the site, e.g. https://example.atlassian.net or https://jira.example.com")
    deployment: Literal["cloud", "datacenter"] = Field(
        default="cloud", description="cloud (e-mail + API token, /rest/api/3) or datacenter (personal access token, /rest/api/2)")
    email: str | None = Field(default=None, description="Cloud: the integration account's e-mail")
    api_token: SecretStr | None = Field(
        default=None, description="Cloud: the account's API token; Data Center: a personal access token. Use ${ENV}")
    webhook_secret: SecretStr | None = Field(
        default=None, description="secret Jira signs deliveries with (X-Hub-Signature, HMAC-SHA256). Use ${ENV}")
    jql: str | None = Field(default=None, description="Which issues to assess (webhook filter and back-fill)")
    fields: JiraFieldNames = Field(default=JiraFieldNames(), description="names of the four fields written back")
    account_id: str | None = Field(
        default=None,
        description="accountId of the integration account (Data Center: its user name); "
                    "looked up once with GET /myself when not given")
    effort_field: str = Field(
        default="timeoriginalestimate",
        description="Where effort comes from: 'timeoriginalestimate' (seconds, converted to hours) "
                    "or the id/name of a story points field (points are taken as hours)")
    epic_link_field: str | None = Field(
        default=None, description="Field id of 'Epic Link' on company-managed projects (e.g. customfield_10014)")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per HTTP request")
    page_size: int = Field(default=100, ge=1, le=5000, description="Issues per search page in back-fill")
    bulk_poll_seconds: float = Field(
        default=300.0, gt=0, description="How long to wait for one bulk edit task to finish")
    write_concurrency: int = Field(
        default=4, ge=1, le=16, description="back-fill writes one PUT per issue where there is no bulk edit "
                                            "(Data Center, groups of one or two): this many at once")
    allow_insecure_http: bool = Field(
        default=False, description="accept an http:// url to a host other than this machine: the API token "
                                   "then travels in clear. Only for a test site on a trusted network")

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"jira.url must start with https:// (got {value!r}), e.g. https://acme.atlassian.net")
        return value

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> "JiraSettings":
        host = urlsplit(self.url).hostname or ""
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        if self.url.startswith("http://") and not loopback and not self.allow_insecure_http:
            raise ValueError(
                f"jira.url {self.url!r} is http://: the API token would travel in clear. Use the site's https:// "
                "URL, or, only for a test site on a trusted network, set jira.allow_insecure_http: true")
        return self

    @model_validator(mode="after")
    def _credentials(self) -> "JiraSettings":
        if self.deployment == "cloud" and self.api_token is not None and not self.email:
            raise ValueError("jira.email is required with an API token on Jira Cloud "
                             "(the account's e-mail address; Data Center uses deployment: datacenter)")
        return self
