"""The one exception the sandbox raises to answer a request with a Jira error.

Jira answers almost every failure with ``{"errorMessages": [...], "errors": {...}}``
(OpenAPI ``ErrorCollection``); the bulk API uses ``{"errors": [{"message": ...}]}``.
Handlers raise :class:`JiraError`; the WSGI layer turns it into the response.
"""
from __future__ import annotations

from typing import Any, Mapping


class JiraError(Exception):
    """An HTTP error answer shaped like Jira's."""

    def __init__(
        self,
        status: int,
        messages: list[str] | str | None = None,
        errors: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        if isinstance(messages, str):
            messages = [messages]
        self.status = status
        self.messages = list(messages or [])
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        self._body = body
        super().__init__(f"{status}: {self.messages or self.errors}")

    @property
    def body(self) -> Any:
        """The JSON answer body."""
        if self._body is not None:
            return self._body
        return {"errorMessages": self.messages, "errors": self.errors}


def bad_request(message: str) -> JiraError:
    return JiraError(400, [message])


def not_found(message: str) -> JiraError:
    return JiraError(404, [message])


def field_errors(errors: Mapping[str, str]) -> JiraError:
    """400 listing per-field problems, as ``PUT /issue`` does."""
    return JiraError(400, [], errors)


def bulk_error(status: int, message: str) -> JiraError:
    """Errors of the bulk API (``BulkOperationErrorResponse``)."""
    return JiraError(status, body={"errors": [{"message": message}]})
