"""The ``service:`` section of the config file (owner: the webhook service)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_url: str | None = None
    database_url: str = "sqlite:///var/itsm-align.sqlite3"
    max_body_bytes: int = 1_048_576
    require_signature: bool = True
