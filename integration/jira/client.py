"""HTTP to Jira through atlassian-python-api, with Jira's errors kept.

One small layer: builds the ``atlassian.Jira`` client (Cloud: e-mail + API
token; Data Center: personal access token), switches its own retries off (we
own the retry policy: the worker reschedules, the CLI uses
``integration.retry.call_with_retry``), counts the HTTP requests it sends, and
turns every failure into the ``integration.base`` hierarchy with Jira's own
``errorMessages`` / ``errors`` text, ``Retry-After`` and ``RateLimit-Reason``.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable, Mapping, TypeVar

import requests
from atlassian import Jira

from itsm_align.integration.base import (ConfigurationError, NotFound, PlatformError, RateLimited,
                                         TransientError)

from itsm_align.integration.reach import connection_error
from itsm_align.integration.ratelimit import GatedHTTPAdapter, PlatformGate, jira_issue_of
from itsm_align.integration.retry import parse_retry_after

from .settings import JiraSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

PLATFORM = "jira"
SETUP_HINT = "run `itsm-align setup jira --config <file>` to create the fields and put them on the projects' screens"


def jira_error_text(body: Any, fallback: str = "") -> str:
    """Jira's error body ``{"errorMessages": [...], "errors": {field: msg}}`` as one line."""
    if isinstance(body, Mapping):
        parts = [str(m) for m in body.get("errorMessages") or [] if m]
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            parts += [f"{field}: {msg}" for field, msg in errors.items()]
        elif isinstance(errors, list):
            parts += [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors]
        if not parts and body.get("message"):
            parts.append(str(body["message"]))
        if parts:
            return "; ".join(parts)
    return fallback




def error_from_response(response: requests.Response) -> PlatformError:
    """Map one failed Jira answer to the error hierarchy, keeping Jira's message."""
    status = response.status_code
    method = response.request.method if response.request is not None else None
    url = (response.url or "").split("?", 1)[0] or None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000] if response.text else None
    fallback = (response.text or "").strip()[:500] or (response.reason or f"HTTP {status}")
    message = jira_error_text(body, fallback)
    common: dict[str, Any] = dict(status=status, method=method, url=url, body=body)
    if status == 429:
        reason = response.headers.get("RateLimit-Reason")
        error = RateLimited(PLATFORM, message, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                            reason=reason, **common)
        error.per_item = reason == "jira-per-issue-on-write"
        return error
    if status in (408, 425) or status >= 500:
        return TransientError(PLATFORM, message, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                              **common)
    if status == 404:
        return NotFound(PLATFORM, message, **common)
    if status == 401:
        return ConfigurationError(PLATFORM, f"{message} (check jira.email and jira.api_token)", **common)
    if status == 403:
        return ConfigurationError(PLATFORM, f"{message} (the integration account lacks a Jira permission)",
                                  **common)
    if status == 400 and "appropriate screen" in message:
        return ConfigurationError(PLATFORM, f"{message} ({SETUP_HINT})", **common)
    return PlatformError(PLATFORM, message, **common)


class JiraClient:
    """The one door to Jira's REST API for the adapter.

    ``requests_sent`` counts every HTTP request that left (for back-fill
    reports and tests). ``api`` is the underlying ``atlassian.Jira``.
    """

    def __init__(self, settings: JiraSettings, session: requests.Session | None = None, *,
                 gate: PlatformGate | None = None) -> None:
        self.settings = settings
        #: Retry-After and the circuit breaker, for every request this client sends
        self.gate = gate or PlatformGate(PLATFORM)
        self.cloud = settings.deployment == "cloud"
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self._mine = threading.local()
        token = settings.api_token.get_secret_value() if settings.api_token is not None else None
        common: dict[str, Any] = dict(timeout=int(max(1, settings.timeout)), session=session,
                                      backoff_and_retry=False, retry_with_header=False)
        if self.cloud:
            self.api = Jira(settings.url, username=settings.email, password=token, cloud=True, **common)
        else:
            self.api = Jira(settings.url, token=token, cloud=False, **common)
        self.api.session.hooks.setdefault("response", []).append(self._count)
        transport = GatedHTTPAdapter(self.gate, item_of=jira_issue_of)
        self.api.session.mount("https://", transport)
        self.api.session.mount("http://", transport)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._count_lock:  # several threads share one client (worker threads, back-fill PUTs)
            self.requests_sent += 1
        self._mine.count = getattr(self._mine, "count", 0) + 1

    def sent_by_this_thread(self) -> int:
        """Requests this thread has sent through the client (for per-call counts
        while other threads use it too)."""
        return getattr(self._mine, "count", 0)

    def path(self, resource: str, version: int = 3) -> str:
        """``rest/api/<v>/<resource>``; Data Center has only v2."""
        return f"rest/api/{version if self.cloud else 2}/{resource.lstrip('/')}"

    def run(self, fn: Callable[[], T]) -> T:
        """Run one library call, translating its failures."""
        try:
            return fn()
        except requests.HTTPError as error:
            if error.response is None:
                raise TransientError(PLATFORM, str(error)) from None
            raise error_from_response(error.response) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            raise connection_error(PLATFORM, self.settings.url, error, timeout=self.settings.timeout) from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.run(lambda: self.api.get(path, params=dict(params) if params else None))

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.run(lambda: self.api.post(path, data=body, params=dict(params) if params else None))

    def put(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.run(lambda: self.api.put(path, data=body, params=dict(params) if params else None))

    def quiet(self, method: str, path: str, body: Any = None) -> Any:
        """A request whose body must never reach a log (it carries a secret).

        atlassian-python-api logs every request body at DEBUG as a curl line,
        so this goes through the session directly.
        """
        url = f"{self.settings.url}/{path.lstrip('/')}"
        try:
            response = self.api.session.request(
                method, url, data=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=self.settings.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise connection_error(PLATFORM, self.settings.url, error, timeout=self.settings.timeout) from None
        if response.status_code >= 400:
            raise error_from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def close(self) -> None:
        self.api.close()
