"""The ``service:`` section of the config file (owner: the webhook service).

One typed object, validated once at start-up. Every knob the ingest path,
the inbox and the worker read lives here, with the reason for its default.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
    max_attempts: int = Field(default=6, ge=1, description="Tries before an item is parked as failed")
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
    redis_wake_key: str = "itsm-align:wake"
    redis_idle_seconds: float = Field(
        default=2.0, gt=0, description="With Redis: longest idle wait between wake-ups (a safety poll)")
