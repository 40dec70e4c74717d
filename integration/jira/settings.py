"""The ``jira:`` section of the config file (owner: Jira adapter)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class JiraFieldNames(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objective: str = "Business Objective"
    score: str = "Alignment Score"
    rationale: str = "Alignment Rationale"
    nature: str = "Work Nature"


class JiraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    deployment: Literal["cloud", "datacenter"] = "cloud"
    email: str | None = None
    api_token: SecretStr | None = None  # Cloud API token, or Data Center personal access token
    webhook_secret: SecretStr | None = None
    jql: str | None = Field(default=None, description="Which issues to assess (webhook filter and back-fill)")
    fields: JiraFieldNames = JiraFieldNames()
