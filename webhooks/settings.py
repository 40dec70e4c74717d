"""The ``service:`` and ``dashboard:`` sections of the config file (owner: the webhook service).

One typed object, validated once at start-up. Every knob the ingest path,
the inbox and the worker read lives here, with the reason for its default.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: Shortest dashboard token accepted (a guessable token is no access control).
MIN_TOKEN_LENGTH = 16


class ServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_url: str | None = Field(
        default=None, description="Base URL the platforms post to; webhooks go to <public_url>/webhooks/<platform>")
    database_url: str = Field(
        default="sqlite:///var/itsm-align.sqlite3",
        description="Inbox + history store: sqlite:///path or postgresql+psycopg://user@host/db")
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Larger webhook bodies get 413")
    require_signature: bool = Field(
        default=True, description="Refuse to start without a webhook secret unless explicitly false")
    lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a worker owns a claimed item; a dead worker's item is retaken after it")
    coalesce_seconds: float = Field(
        default=0.2, ge=0,
        description="Events for one item arriving within this window are processed once")
    max_attempts: int = Field(
        default=6, ge=1, description="Tries before an item is parked after an unexpected error (a bug); "
                                     "platform failures (429, 5xx, timeouts) are retried for as long as they last")
    poll_seconds: float = Field(default=0.05, gt=0, description="Idle worker polling interval without Redis")
    claim_batch: int = Field(default=16, ge=1, description="Items a worker claims per round")
    signature_max_age_seconds: int = Field(
        default=300, gt=0, description="ServiceNow: timestamps further than this from now are stale (401)")
    inbox_keep_body: bool = Field(
        default=False,
        description="Keep each delivery's raw body in the inbox (for audit or debugging). Off, the inbox "
                    "keeps the normalised event (platform, key, type, actor, changed fields, version, the "
                    "body's size): the worker always reads the item's current state from the "
                    "platform, and not writing 10-25 KB per event makes ingest about 1.3x faster")
    rollup_delay_seconds: float = Field(
        default=30.0, ge=0,
        description="A ticket's change refreshes its project's rollup this long after it (one refresh per "
                    "project per window, however many of its tickets change)")
    inbox_retention_hours: float = Field(
        default=72.0, gt=0,
        description="Done inbox rows are kept this long (a platform retry within it is answered 'duplicate'), "
                    "then deleted by the workers. Jira retries for up to about 30 minutes.")
    redis_url: str | None = Field(
        default=None, description="Optional: wakes idle workers at once (LPUSH after commit / BLPOP)")
    redis_wake_key: str = Field(default="itsm-align:wake", description="Redis list workers are woken through")
    redis_idle_seconds: float = Field(
        default=2.0, gt=0, description="With Redis: longest idle wait between wake-ups (a safety poll)")


class DashboardSettings(BaseModel):
    """The ``dashboard:`` section: who may open ``/dashboard`` and how fresh it is.

    Two roles: **read** (the KPIs, drill-down and survey results: the business
    side) and **admin** (also rule quality and survey rounds). A person gets a
    role from a token (``Authorization: Bearer <token>``, or the cookie that
    ``/dashboard/login`` sets) or, behind a reverse proxy that authenticates
    people, from the user name the proxy puts in ``user_header``. Nobody gets
    in without one of them.
    """

    model_config = ConfigDict(extra="forbid")
    read_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Tokens giving read access (the business side); e.g. ${ITSM_ALIGN_DASHBOARD_TOKEN}")
    admin_tokens: list[SecretStr] = Field(
        default_factory=list, description="Tokens giving admin access (read access plus rule quality and surveys)")
    user_header: str | None = Field(
        default=None,
        description="Header a trusted reverse proxy sets to the signed-in user (e.g. X-Forwarded-User). Only "
                    "set it when the proxy removes that header from what clients send")
    read_users: list[str] = Field(
        default_factory=list,
        description="Users (from user_header) with read access; empty: everyone the proxy lets through")
    admin_users: list[str] = Field(default_factory=list, description="Users (from user_header) with admin access")
    refresh_seconds: float = Field(
        default=30.0, ge=0,
        description="New assessments show after at most this long: the history is re-read when it has new "
                    "rows and the data in memory is older than this (0: on every request)")
    trend: Literal["week", "month"] = Field(default="month", description="Trend buckets")

    @field_validator("read_tokens", "admin_tokens")
    @classmethod
    def _long_enough(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        for token in tokens:
            if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"a dashboard token must be at least {MIN_TOKEN_LENGTH} characters long (is its environment "
                    "variable empty?); make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return tokens

    @model_validator(mode="after")
    def _someone_gets_in(self) -> "DashboardSettings":
        if not (self.read_tokens or self.admin_tokens or self.user_header):
            raise ValueError("the dashboard needs read_tokens, admin_tokens or user_header: with none of them "
                             "nobody could open it")
        if (self.read_users or self.admin_users) and not self.user_header:
            raise ValueError("read_users/admin_users name users from user_header: set user_header too")
        return self
