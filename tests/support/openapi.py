"""Check a recorded HTTP exchange against Atlassian's Jira Cloud OpenAPI spec.

The spec (``tests/fixtures/jira/openapi-v3.json``) is parsed once per process.
Use it for every request the Jira adapter sends and every answer the sandbox gives:

    from tests.support.openapi import validate_jira_exchange
    validate_jira_exchange("PUT", "/rest/api/3/issue/ITSM-1?notifyUsers=false", 204,
                           request_body=b'{"fields": {...}}', response_body=b"")

or, for the sandbox's request log, ``validate_recorded(entry)``. A mismatch raises
:class:`ExchangeMismatch` (an ``AssertionError``) listing every problem found.

Notes:
* ``/rest/api/2/...`` is checked against the matching v3 operation (``map_v2``); the
  shapes match except rich text, which both specs leave free-form in issue fields.
* Paths not in the spec (e.g. ``/rest/webhooks/1.0/webhook``) raise unless
  ``allow_unknown_path=True`` -- skip those deliberately.
* Security is not checked (the sandbox log redacts credentials).
* Known places where the published spec disagrees with what Jira really sends are
  relaxed, each for a stated reason (see ``_patch_spec`` and ``_jira_datetime``):
  ``ChangeDetails.from/fromString/to/toString`` may be null (real webhook captures in
  tests/fixtures/jira/webhooks/ carry ``"from": null``), timestamps may use Jira's
  ``+0000`` offset form, a 204 may have an empty body, and ``ScreenTypes`` (marked
  write-only) may be read: the spec's own ``GET /screenscheme`` example returns it.
"""
from __future__ import annotations

from tests.support.fixtures import fixture_path
import functools
import json
import re
from datetime import datetime
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

SPEC_PATH = fixture_path("jira", "openapi-v3.json")
SPEC_HOST = "https://your-domain.atlassian.net"


class ExchangeMismatch(AssertionError):
    """A request or answer that does not fit the Jira OpenAPI spec."""


@functools.cache
def jira_openapi() -> OpenAPI:
    """The parsed spec, built once (spec self-validation skipped: it is Atlassian's)."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec = json.load(fh)
    spec = _patch_spec(_strip_security(spec))
    config = Config(spec_validator_cls=None, extra_format_validators={"date-time": _jira_datetime})
    return OpenAPI.from_dict(spec, config=config)


_JIRA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def _jira_datetime(value: Any) -> bool:
    """RFC 3339 date-time, or Jira's own form with a ``+0000`` offset."""
    if not isinstance(value, str) or not _JIRA_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _patch_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Relax schema details the real Jira contradicts (documented in the module docstring)."""
    props = spec["components"]["schemas"]["ChangeDetails"]["properties"]
    for name in ("from", "fromString", "to", "toString"):
        props[name]["nullable"] = True
    # ScreenTypes is marked writeOnly, yet GET /screenscheme answers with it: the spec's
    # own example for that operation lists "screens": {"default", "edit", "create", "view"}
    spec["components"]["schemas"]["ScreenTypes"].pop("writeOnly", None)
    return spec


def _strip_security(spec: dict[str, Any]) -> dict[str, Any]:
    """Drop security requirements: credentials are not part of what we check."""
    spec.pop("security", None)
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
    return spec


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _errors(result_errors: Iterable[Exception]) -> list[str]:
    out = []
    for err in result_errors:
        detail = [str(err)]
        cause = err.__cause__
        while cause is not None:
            detail.append(str(cause))
            schema_errors = getattr(cause, "schema_errors", None)
            if schema_errors:
                detail.extend(f"  - {getattr(e, 'message', e)} at {list(getattr(e, 'path', []))}" for e in schema_errors)
            cause = cause.__cause__
        out.append("\n".join(detail))
    return out


def validate_jira_exchange(
    method: str,
    url: str,
    status: int,
    request_body: Any = b"",
    response_body: Any = b"",
    *,
    request_headers: Mapping[str, str] | None = None,
    response_headers: Mapping[str, str] | None = None,
    request_content_type: str = "application/json",
    response_content_type: str = "application/json",
    map_v2: bool = True,
    allow_unknown_path: bool = False,
) -> None:
    """Raise :class:`ExchangeMismatch` unless request and answer fit the spec.

    ``url`` is a full URL or a path with query; bodies are bytes, str or JSON values.
    Error answers (4xx/5xx) are checked only when the spec describes their body.
    """
    parts = urlsplit(url)
    path = parts.path
    if map_v2 and path.startswith("/rest/api/2/"):
        path = "/rest/api/3/" + path[len("/rest/api/2/"):]
    args = ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True))
    req_body = _as_bytes(request_body)
    request = MockRequest(SPEC_HOST, method.lower(), path, args=args, headers=dict(request_headers or {}),
                          data=req_body or None, content_type=request_content_type if req_body else None)
    resp_body = _as_bytes(response_body)
    response = MockResponse(resp_body, status_code=status, headers=dict(response_headers or {}),
                            content_type=response_content_type if resp_body else None)
    api = jira_openapi()
    problems: list[str] = []
    req_errors = list(api.iter_request_errors(request))
    if req_errors and allow_unknown_path and any("PathNotFound" in type(e).__name__ or "Path not found" in str(e)
                                                 for e in req_errors):
        return
    problems += [f"request: {e}" for e in _errors(req_errors)]
    resp_errors = list(api.iter_response_errors(request, response))
    if status == 204 and not resp_body:
        resp_errors = [e for e in resp_errors if "Missing response data" not in str(e)
                       and "MissingResponseContent" not in type(e).__name__]
    if status >= 400:
        # Most error answers have no schema in the spec; only a described body is checked.
        resp_errors = [e for e in resp_errors if "ResponseNotFound" not in type(e).__name__
                       and "MediaTypeNotFound" not in type(e).__name__]
    problems += [f"response {status}: {e}" for e in _errors(resp_errors)]
    if problems:
        raise ExchangeMismatch(f"{method} {url} -> {status} does not fit the Jira OpenAPI spec:\n"
                               + "\n".join(problems))


def validate_recorded(entry: Any, **kwargs: Any) -> None:
    """Validate one entry of ``JiraSandbox.requests`` (or anything with ``method``, ``url``,
    ``status``, ``body``, ``response_body``, ``headers``, ``response_headers``)."""
    validate_jira_exchange(
        entry.method, entry.url, entry.status, entry.body, entry.response_body,
        request_headers={k: v for k, v in entry.headers.items() if k.lower() != "content-type"},
        response_headers={k: v for k, v in entry.response_headers.items() if k.lower() != "content-type"},
        **kwargs,
    )
