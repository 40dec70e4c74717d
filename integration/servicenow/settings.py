"""The ``servicenow:`` section of the config file (owner: ServiceNow adapter).

Secrets are ``SecretStr`` so they never show in reprs, logs or error messages;
the config loader resolves ``${ENV}`` references before they get here.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: Columns the business rule sends by default (property ``itsm_align.fields``).
DEFAULT_EVENT_FIELDS: tuple[str, ...] = (
    "short_description", "description", "priority", "state", "impact", "urgency", "category",
    "subcategory", "assignment_group", "business_service", "cmdb_ci", "parent", "caller_id",
    "opened_by", "assigned_to", "u_business_objective", "u_alignment_score",
    "u_alignment_rationale", "u_work_nature", "time_worked", "opened_at", "sys_created_on",
)


class ServiceNowColumns(BaseModel):
    """Our output columns on ``task`` (global scope: ``u_`` prefix)."""

    model_config = ConfigDict(extra="forbid")
    objective: str = Field(default="u_business_objective", description="choice column holding the objective id")
    score: str = Field(default="u_alignment_score", description="integer column holding the 0-100 score")
    rationale: str = Field(default="u_alignment_rationale", description="string column holding the one-line reason")
    nature: str = Field(default="u_work_nature", description="choice column holding proactive / reactive")

    @field_validator("objective", "score", "rationale", "nature")
    @classmethod
    def _global_scope(cls, value: str) -> str:
        if not value.startswith("u_"):
            raise ValueError(f"column {value!r} must start with 'u_' (global-scope custom column on task)")
        return value


class ServiceNowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance: str = Field(description="https URL of the instance, e.g. https://example.service-now.com")
    user: str | None = Field(default=None, description="integration user (basic auth, or OAuth password grant)")
    password: SecretStr | None = Field(default=None, description="its password. Use ${ENV}")
    client_id: str | None = Field(default=None, description="OAuth application client id (Application Registry)")
    client_secret: SecretStr | None = Field(default=None, description="OAuth client secret. Use ${ENV}")
    webhook_secret: SecretStr | None = Field(
        default=None, description="secret the business rule signs events with (HMAC-SHA256). Use ${ENV}")
    ca_bundle: str | None = Field(default=None, description="PEM file of CAs to trust (a private CA, the sandbox)")
    integration_user: str | None = Field(
        default=None, description="user name our writes appear under (sys_updated_by); default: user")
    columns: ServiceNowColumns = Field(default=ServiceNowColumns(), description="names of the four columns written back")
    event_fields: tuple[str, ...] = Field(
        default=DEFAULT_EVENT_FIELDS, description="columns the business rule puts in each event (rules read these)")
    rationale_length: int = Field(default=255, ge=40, le=4000,
                                  description="max_length of u_alignment_rationale")
    table: str = Field(default="task", description="table set-up and back-fill work on")
    query: str | None = Field(default=None, description="encoded query selecting what to back-fill")
    page_size: int = Field(default=1000, ge=1, le=10000, description="records per Table API page in back-fill")
    batch_size: int = Field(default=200, ge=1, le=1000, description="PATCHes per Batch API request")
    timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")

    @field_validator("instance")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith("https://"):
            raise ValueError(f"instance must be an https:// URL (PySNC refuses http), got {value!r}")
        return value

    @model_validator(mode="after")
    def _knows_its_own_user(self) -> "ServiceNowSettings":
        # Loop safety needs the name our writes carry in sys_updated_by: the business
        # rule skips it, and events and sys_audit entries by it are our own, not a person's.
        if self.client_id and not self.user and not self.integration_user:
            raise ValueError(
                "integration_user is required with OAuth client credentials (client_id without user): "
                "set it to the user the OAuth application runs as (what ServiceNow shows in sys_updated_by "
                "for our writes); without it our own writes would look like a person's")
        return self

    @property
    def own_user(self) -> str | None:
        """The user name our writes are recorded under."""
        return self.integration_user or self.user
