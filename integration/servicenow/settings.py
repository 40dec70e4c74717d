"""The ``servicenow:`` section of the config file (owner: ServiceNow adapter)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class ServiceNowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance: str  # https URL
    user: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    ca_bundle: str | None = None
