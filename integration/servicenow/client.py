"""The one HTTP client of the ServiceNow adapter: PySNC over a session we control.

Why a session of our own, handed to PySNC:

* the CA is pinned: ``trust_env=False`` stops ``requests`` from letting
  ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace ``verify`` (this machine
  sets it), so ``ca_bundle`` from the config is what is trusted, always;
* every answer passes one response hook that counts requests and turns a
  ServiceNow error into our hierarchy (integration.base) keeping
  ``error.message`` / ``error.detail`` and ``Retry-After``, before PySNC can
  flatten it into an exception without status or headers;
* PySNC's own urllib3 retry is off: it retries only GETs and would sleep
  inside a worker thread. The policy is ours (the worker re-schedules, the CLI
  uses integration.retry.call_with_retry).

Reads go through PySNC ``GlideRecord``; writes are single PATCH requests with
``X-no-response-body: true`` (PySNC's ``update()`` needs the echoed record) and
the Batch API for bulk writes (PySNC's batch gives no per-item errors and
gives up silently on unserviced items).
"""
from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlencode, urlsplit

import requests
from pysnc import ServiceNowClient
from requests.adapters import HTTPAdapter

from itsm_align.integration.base import (
    ConfigurationError, NotFound, PlatformError, RateLimited, TransientError,
)

from itsm_align.integration.reach import connection_error
from itsm_align.integration.ratelimit import GatedHTTPAdapter, PlatformGate
from itsm_align.integration.retry import parse_retry_after

from .settings import ServiceNowSettings

PLATFORM = "servicenow"
log = logging.getLogger(__name__)

#: A record as we keep it: column -> {"value": str, "display_value": str}
Record = dict[str, dict[str, str]]


# ---------------------------------------------------------------- errors
def error_message(body: Any, fallback: str) -> str:
    """ServiceNow's ``{"error": {"message", "detail"}}`` as one line."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):  # OAuth: error + error_description
        description = str(body.get("error_description") or "").strip()
        return f"{body['error']}: {description}" if description else body["error"]
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        err = body["error"]
        message = str(err.get("message") or "").strip()
        detail = str(err.get("detail") or "").strip()
        if message and detail and detail != message:
            return f"{message}: {detail}"
        if message or detail:
            return message or detail
    return fallback




def error_for(status: int, body: Any, headers: Mapping[str, str], *, method: str | None = None,
              url: str | None = None, reason: str = "") -> PlatformError:
    """Map one failed answer (Table API or a Batch API item) to our hierarchy."""
    message = error_message(body, reason or f"HTTP {status}")
    if isinstance(body, str) and body.strip() and message == (reason or f"HTTP {status}"):
        message = f"{message}: {body.strip()[:300]}"
    kwargs: dict[str, Any] = dict(status=status, method=method, url=url, body=body)
    if status == 429:
        return RateLimited(PLATFORM, message, retry_after=parse_retry_after(headers.get("Retry-After")),
                           reason=headers.get("X-RateLimit-Rule"), **kwargs)
    if status in (408, 425) or status >= 500:
        return TransientError(PLATFORM, message, **kwargs)
    if status == 404:
        return NotFound(PLATFORM, message, **kwargs)
    if status == 401:
        return ConfigurationError(
            PLATFORM, f"{message} (check servicenow.user/password or the OAuth client in the config)",
            **kwargs)
    if status == 403:
        return ConfigurationError(
            PLATFORM, f"{message} (the integration user lacks a role or an ACL blocks it; "
                      "set-up needs admin, writes need itil or a role on task)", **kwargs)
    return PlatformError(PLATFORM, message, **kwargs)


def _safe_url(url: str) -> str:
    """URL without query string (queries may be long; never holds secrets, but keeps logs short)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# ---------------------------------------------------------------- transport
class _OAuthClientAuth(requests.auth.AuthBase):
    """OAuth 2.0 bearer token from ``/oauth_token.do`` (client credentials, or the
    password grant when a user is configured), fetched through OUR session so the
    pinned CA applies; refreshed a minute before expiry."""

    def __init__(self, session: requests.Session, instance: str, settings: ServiceNowSettings) -> None:
        self._session = session
        self._instance = instance
        self._settings = settings
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        s = self._settings
        data = {"client_id": s.client_id or "",
                "client_secret": s.client_secret.get_secret_value() if s.client_secret else ""}
        if s.user and s.password:
            data.update(grant_type="password", username=s.user, password=s.password.get_secret_value())
        else:
            data["grant_type"] = "client_credentials"
        r = self._session.post(f"{self._instance}/oauth_token.do", data=data, auth=_NoAuth())
        body = r.json()
        if "access_token" not in body:
            raise ConfigurationError(PLATFORM, "OAuth token answer has no access_token "
                                               "(check the OAuth application in ServiceNow)", status=r.status_code)
        self._token = body["access_token"]
        self._expires = time.monotonic() + float(body.get("expires_in", 1800)) - 60

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._fetch()
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._renew_on_401)
        return request

    def _renew_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """A token the instance no longer accepts (revoked, clock skew): fetch a
        new one and resend once. Runs before the session's error hook."""
        request = response.request
        if response.status_code != 401 or getattr(request, "_itsm_renewed", False):
            return response
        with self._lock:
            self._fetch()
            token = self._token
        response.content  # noqa: B018 - read, so the connection can be reused
        response.close()
        again = request.copy()
        again.headers["Authorization"] = f"Bearer {token}"
        again._itsm_renewed = True  # type: ignore[attr-defined]
        retried = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        return retried


class _NoAuth(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def build_session(settings: ServiceNowSettings, gate: PlatformGate | None = None) -> requests.Session:
    """A session that trusts exactly ``settings.ca_bundle`` (or the system CAs)
    whatever the environment says, with a timeout, no hidden retries, and every
    request through the platform's gate (Retry-After, circuit breaker)."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE, proxies and .netrc from the env are ignored
    session.verify = settings.ca_bundle or True
    adapter = GatedHTTPAdapter(gate or PlatformGate(PLATFORM), timeout=settings.timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if settings.client_id:
        session.auth = _OAuthClientAuth(session, settings.instance, settings)
    elif settings.user and settings.password is not None:
        session.auth = requests.auth.HTTPBasicAuth(settings.user, settings.password.get_secret_value())
    else:
        raise ConfigurationError(PLATFORM, "servicenow: set user + password (basic auth) or "
                                           "client_id + client_secret (OAuth) in the config")
    return session


# ---------------------------------------------------------------- batch items
@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request inside a Batch API call."""

    id: str
    method: str
    path: str  # /api/now/v2/table/incident/<sys_id>
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    id: str
    status: int | None
    error: PlatformError | None = None


# ---------------------------------------------------------------- client
class SnClient:
    """PySNC client plus the few raw calls PySNC does not do the way we need."""

    def __init__(self, settings: ServiceNowSettings, *, batch_rounds: int = 5,
                 gate: PlatformGate | None = None) -> None:
        self.settings = settings
        self.instance = settings.instance
        self.gate = gate or PlatformGate(PLATFORM)
        self.session = build_session(settings, self.gate)
        self.session.hooks["response"].append(self._on_response)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "itsm-align"})
        self.pysnc = ServiceNowClient(self.instance, auth=self.session,
                                      verify=settings.ca_bundle or True, auto_retry=False)
        self.batch_rounds = batch_rounds
        self._count_lock = threading.Lock()
        self.requests = 0  # every HTTP request sent (batch = 1)
        self.writes = 0  # PATCH/POST/PUT/DELETE requests (batch = 1)

    # -- hooks
    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        method = response.request.method or "GET"
        with self._count_lock:
            self.requests += 1
            if method != "GET":
                self.writes += 1
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise error_for(response.status_code, body, response.headers, method=method,
                            url=_safe_url(response.url), reason=response.reason or "")
        return response

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Connection-level failures -> TransientError / ConfigurationError."""
        try:
            yield
        except PlatformError:
            raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise connection_error(PLATFORM, self.instance, exc, setting="instance",
                                   timeout=self.settings.timeout) from exc

    # -- reads (PySNC)
    def get_record(self, table: str, sys_id: str, fields: Sequence[str]) -> Record:
        """One GET: the record's fields with value and display value."""
        gr = self.pysnc.GlideRecord(table)
        gr.fields = list(fields)
        with self._guard(f"GET {table}/{sys_id}"):
            found = gr.get(sys_id)
        if not found:
            raise NotFound(PLATFORM, f"{table} record {sys_id} not found", status=404)
        return _record_of(gr, fields)

    def query(self, table: str, encoded_query: str, fields: Sequence[str], *, limit: int,
              order_by: str | None = None) -> list[Record]:
        """One GET of up to ``limit`` records, ordered by sys_id unless ``order_by``
        names a column (``-column``: descending)."""
        gr = self.pysnc.GlideRecord(table, batch_size=limit)
        gr.fields = list(fields)
        gr.limit = limit
        if order_by and order_by.startswith("-"):
            gr.order_by_desc(order_by[1:])
        elif order_by:
            gr.order_by(order_by)
        if encoded_query:
            gr.add_encoded_query(encoded_query)
        rows: list[Record] = []
        with self._guard(f"GET {table}"):
            gr.query()
            while gr.next():
                rows.append(_record_of(gr, fields))
        return rows

    def count(self, table: str, encoded_query: str) -> int:
        """How many records match (one GET of one sys_id; X-Total-Count)."""
        gr = self.pysnc.GlideRecord(table, batch_size=1)
        gr.fields = ["sys_id"]
        gr.limit = 1
        if encoded_query:
            gr.add_encoded_query(encoded_query)
        with self._guard(f"GET {table}"):
            gr.query()
        return gr.get_row_count()

    # -- writes (raw: PySNC's update() needs the echoed body; we suppress it)
    def table_path(self, table: str, sys_id: str | None = None) -> str:
        path = f"/api/now/v2/table/{table}"
        return f"{path}/{sys_id}" if sys_id else path

    def patch(self, table: str, sys_id: str, values: Mapping[str, Any]) -> None:
        """One PATCH of only ``values``; ServiceNow sends no body back."""
        url = self.instance + self.table_path(table, sys_id)
        with self._guard(f"PATCH {table}/{sys_id}"):
            self.session.patch(url, json=dict(values), headers={"X-no-response-body": "true"})

    def post(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Insert one record; returns the created record (values only)."""
        url = self.instance + self.table_path(table) + "?" + urlencode({"sysparm_exclude_reference_link": "true"})
        with self._guard(f"POST {table}"):
            r = self.session.post(url, json=dict(values))
        return dict(r.json().get("result") or {})

    def batch(self, items: Sequence[BatchItem]) -> list[BatchOutcome]:
        """Send ``items`` through the Batch API, resending unserviced ones.

        Returns one outcome per item (same order). Items still unserviced after
        ``batch_rounds`` rounds, or when a round services nothing, come back
        with a TransientError so the caller can retry them later.
        """
        pending = {item.id: item for item in items}
        outcomes: dict[str, BatchOutcome] = {}
        url = f"{self.instance}/api/now/v1/batch"
        for round_no in range(1, self.batch_rounds + 1):
            if not pending:
                break
            body = {"batch_request_id": f"itsm-align-{round_no}", "rest_requests": [
                _batch_request(item) for item in pending.values()]}
            with self._guard("POST batch"):
                r = self.session.post(url, json=body)
            data = r.json()
            serviced = data.get("serviced_requests") or []
            for answer in serviced:
                item_id = str(answer.get("id"))
                item = pending.pop(item_id, None)
                if item is None:
                    continue
                status = int(answer.get("status_code") or 0)
                if status >= 400 or status == 0:
                    raw = _b64json(answer.get("body"))
                    headers = {h.get("name", ""): h.get("value", "") for h in answer.get("headers") or []}
                    error = error_for(status, raw, headers, method=item.method, url=item.path,
                                      reason=str(answer.get("status_text") or ""))
                    if status == 429:  # a limit met inside the batch binds every later request too
                        self.gate.observe(status, headers)
                    outcomes[item_id] = BatchOutcome(item_id, status, error)
                else:
                    outcomes[item_id] = BatchOutcome(item_id, status)
            if not serviced:
                break
            log.debug("batch round %d: %d serviced, %d unserviced", round_no, len(serviced), len(pending))
        for item_id in pending:
            outcomes[item_id] = BatchOutcome(item_id, None, TransientError(
                PLATFORM, f"batch request item {item_id} stayed unserviced after resending "
                          "(instance busy or batch time limit); it will be retried", method="PATCH"))
        return [outcomes[item.id] for item in items]


def _batch_request(item: BatchItem) -> dict[str, Any]:
    request: dict[str, Any] = {
        "id": item.id, "method": item.method, "url": item.path,
        "headers": [{"name": "Content-Type", "value": "application/json"},
                    {"name": "Accept", "value": "application/json"},
                    {"name": "X-no-response-body", "value": "true"}],
    }
    if item.body is not None:
        request["body"] = base64.b64encode(json.dumps(item.body).encode()).decode()
    return request


def _b64json(value: Any) -> Any:
    if not value:
        return None
    try:
        raw = base64.b64decode(value)
    except (ValueError, TypeError):
        return value
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _record_of(gr: Any, fields: Sequence[str]) -> Record:
    out: Record = {}
    for name in ["sys_id", *fields]:
        try:
            element = gr.get_element(name)
        except Exception:  # noqa: BLE001 - PySNC raises for a column the answer lacks
            continue
        if element is None:
            continue
        value = element.get_value()
        display = element.get_display_value()
        out[name] = {"value": "" if value is None else str(value),
                     "display_value": "" if display is None else str(display)}
    return out
