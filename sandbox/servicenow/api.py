"""The sandbox's HTTP face: Table API (v1, v2 and the unversioned latest = v2)
and the Batch API, as a WSGI app over an ``Instance``.

Order of checks per request: injected fault, basic auth (401), chaos,
rate-limit rule (429), then the handler. Batch items run the same handler as
the batch's user. Every request is first checked against the Retry-After
windows its user was given (``limits.RetryAfterLedger``).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from . import schema
from .instance import ADMIN_TABLES, Instance, LoggedRequest
from .limits import Denial, status_text
from .render import RenderOptions, render
from .pages import ServiceNowPages
from .store import WriteRejected

_TABLE = re.compile(r"^/api/now/(?:(v1|v2)/)?table/([^/]+)(?:/([^/]+))?/?$")
_BATCH = re.compile(r"^/api/now/(?:v1/)?batch/?$")
_JSON = "application/json;charset=UTF-8"


@dataclass(slots=True)
class Answer:
    status: int
    body: dict | None
    headers: dict[str, str]

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def error(status: int, message: str, detail: str | None, headers: Mapping[str, str] | None = None) -> Answer:
    return Answer(status, {"error": {"message": message, "detail": detail}, "status": "failure"},
                  dict(headers or {}))


class SandboxApi:
    """WSGI callable."""

    def __init__(self, instance: Instance) -> None:
        self.inst = instance
        self.base_url = ""  # set by the server once the port is known
        self.pages = ServiceNowPages(instance)  # a person's web pages under /sandbox/ (pages.py)

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if self.pages.handles(environ):
            return self.pages(environ, start_response)
        arrived = time.time()
        request = Request(environ)
        ledger = self.inst.limits.ledger
        account = self._user(request.authorization)  # for Retry-After accounting, whatever answers
        ledger.arrived(account, request.method, request.path, arrived)
        body = request.get_data()
        args = {k: v for k, v in request.args.items()}
        user, answer = self._outer(request.method, request.path, args, request.headers, body,
                                   request.authorization)
        self.inst.log_request(LoggedRequest(request.method, request.path, args, user, answer.status,
                                            body.decode("utf-8", "replace")))
        response = Response(answer.payload(), status=answer.status,
                            headers=Headers(list(answer.headers.items())))
        if answer.body is not None:
            response.headers["Content-Type"] = _JSON
        wait = _retry_after(answer)
        if wait is not None and account is not None:  # the window starts once the answer is sent
            response.call_on_close(lambda: ledger.told_to_wait(account, wait, time.time()))
        return response(environ, start_response)

    # ------------------------------------------------------------ gates
    def _outer(self, method: str, path: str, args: dict[str, str], headers: Mapping[str, str],
               body: bytes, auth) -> tuple[str | None, Answer]:  # type: ignore[no-untyped-def]
        fault = self.inst.limits.check_fault(method, path)
        if fault is not None:
            return None, _denied(fault)
        if path == "/oauth_token.do" and method == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if auth is not None and auth.type == "basic" and "client_id" not in form:
                # RFC 6749 2.3.1: client credentials may come as HTTP basic auth instead
                form.update(client_id=auth.username or "", client_secret=auth.password or "")
            token = self.inst.oauth.token(form)
            return None, Answer(token.status, token.body, {})
        user = self._user(auth)
        if user is None:
            return None, error(401, "User Not Authenticated", "Required to provide Auth information",
                               {"WWW-Authenticate": 'Basic realm="Service-now"'})
        chaos = self.inst.limits.check_chaos(user, method, path)
        if chaos is not None:
            return user, _denied(chaos)
        denial, rl_headers = self.inst.limits.check_rate(user)
        if denial is not None:
            return user, _denied(denial)
        answer = self.handle(method, path, args, headers, body, user)
        answer.headers.update(rl_headers)
        return user, answer

    def _user(self, auth) -> str | None:  # type: ignore[no-untyped-def]
        """The user of a request: basic auth, or a Bearer token from /oauth_token.do."""
        if auth is None:
            return None
        if auth.type == "basic":
            ok = self.inst.authenticate(auth.username or "", auth.password or "")
            return auth.username if ok else None
        if auth.type == "bearer" and auth.token:
            return self.inst.oauth.user_for(auth.token)
        return None

    # ------------------------------------------------------------ routing
    def handle(self, method: str, path: str, args: dict[str, str], headers: Mapping[str, str],
               body: bytes, user: str) -> Answer:
        m = _TABLE.match(path)
        if m:
            version, table, sys_id = m.group(1) or "v2", m.group(2), m.group(3)
            if table not in schema.TABLES:
                return error(400, f"Invalid table {table}", None)
            try:
                return self._table(method, version, table, sys_id, args, headers, body, user, path)
            except WriteRejected as exc:
                return error(exc.status, exc.message, exc.detail)
        if _BATCH.match(path):
            if method != "POST":
                return error(405, "Method not Supported", f"{method} is not supported on the Batch API")
            return self._batch(body, user)
        return error(400, "Requested URI does not represent any resource", path)

    def _table(self, method: str, version: str, table: str, sys_id: str | None, args: dict[str, str],
               headers: Mapping[str, str], body: bytes, user: str, path: str) -> Answer:
        opts = RenderOptions.from_args(self.base_url, args)
        store = self.inst.store
        if method == "GET" and sys_id is None:
            return self._list(version, table, args, opts, path)
        if method == "GET":
            rec = store.get(table, sys_id)  # type: ignore[arg-type]
            if rec is None:
                return _no_record()
            return Answer(200, {"result": render(store, table, rec, opts)}, {})
        if method in ("POST", "PUT", "PATCH", "DELETE") and table in ADMIN_TABLES and \
                not self.inst.users[user].admin:
            return error(403, "Operation Failed",
                         f"ACL Exception {'Insert' if method == 'POST' else 'Update'} Failed due to "
                         f"security constraints (writing {table} needs the admin role)")
        quiet = headers.get("X-no-response-body", "").lower() == "true"
        if method == "POST" and sys_id is None:
            values = _json_object(body)
            if isinstance(values, Answer):
                return values
            result = self.inst.insert(table, values, user)
            return Answer(201, None if quiet else {"result": render(store, table, result.record, opts)},
                          {"Location": f"{self.base_url}/api/now/table/{table}/{result.record['sys_id']}"})
        if method in ("PUT", "PATCH") and sys_id is not None:
            values = _json_object(body)
            if isinstance(values, Answer):
                return values
            result = self.inst.update(table, sys_id, values, user)
            return Answer(200, None if quiet else {"result": render(store, table, result.record, opts)}, {})
        if method == "DELETE" and sys_id is not None:
            store.delete(table, sys_id)
            return Answer(204, None, {})
        return error(405, "Method not Supported", f"{method} is not supported on this resource")

    def _list(self, version: str, table: str, args: dict[str, str], opts: RenderOptions,
              path: str) -> Answer:
        limit = _int_arg(args.get("sysparm_limit"), 10000, minimum=1)
        offset = _int_arg(args.get("sysparm_offset"), 0, minimum=0)
        records = self.inst.store.query(table, args.get("sysparm_query", ""))
        total = len(records)
        page = records[offset:offset + limit]
        if not page and version == "v1":
            return error(404, "No Record found",
                         "Records matching query not found. Check query parameter or offset parameter")
        headers: dict[str, str] = {}
        if (args.get("sysparm_no_count") or "").lower() != "true":
            headers["X-Total-Count"] = str(total)
        if (args.get("sysparm_suppress_pagination_header") or "").lower() != "true":
            headers["Link"] = self._links(f"{self.base_url}{path.rstrip('/')}", args, offset, limit, total)
        result = [render(self.inst.store, table, r, opts) for r in page]
        return Answer(200, {"result": result}, headers)

    @staticmethod
    def _links(prefix: str, args: dict[str, str], offset: int, limit: int, total: int) -> str:
        """RFC 5988 ``Link`` header with first, prev, next and last pages."""
        def url(off: int) -> str:
            q = {k: v for k, v in args.items() if k not in ("sysparm_offset", "sysparm_limit")}
            q.update(sysparm_limit=str(limit), sysparm_offset=str(off))
            return f"{prefix}?{urlencode(q)}"

        last = max(0, ((total - 1) // limit) * limit) if total else 0
        parts = [f'<{url(0)}>;rel="first"']
        if offset > 0:
            parts.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
        if offset + limit < total:
            parts.append(f'<{url(offset + limit)}>;rel="next"')
        parts.append(f'<{url(last)}>;rel="last"')
        return ",".join(parts)

    # ------------------------------------------------------------ batch
    def _batch(self, body: bytes, user: str) -> Answer:
        data = _json_object(body)
        if isinstance(data, Answer):
            return data
        items = data.get("rest_requests")
        if not isinstance(items, list):
            return error(400, "Invalid batch request", "'rest_requests' must be a list of requests")
        started = time.monotonic()
        serviced: list[dict] = []
        unserviced: list[str] = []
        for n, item in enumerate(items):
            rid = str(item.get("id", "")) if isinstance(item, dict) else ""
            over_budget = time.monotonic() - started >= self.inst.batch_time_budget
            over_count = self.inst.batch_max_items is not None and n >= self.inst.batch_max_items
            if over_budget or over_count:
                unserviced.append(rid)
                continue
            serviced.append(self._batch_item(item, rid, user))
        return Answer(200, {"batch_request_id": str(data.get("batch_request_id", "")),
                            "serviced_requests": serviced, "unserviced_requests": unserviced}, {})

    def _batch_item(self, item: object, rid: str, user: str) -> dict:
        t0 = time.monotonic()
        if not isinstance(item, dict) or not item.get("url") or not item.get("method"):
            answer = error(400, "Invalid batch request item", "each item needs 'id', 'method' and 'url'")
            path, method, args, raw = "", "", {}, b""
        else:
            method = str(item["method"]).upper()
            parts = urlsplit(str(item["url"]))
            path, args = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
            hdrs = {str(h.get("name", "")): str(h.get("value", ""))
                    for h in item.get("headers") or [] if isinstance(h, dict)}
            try:
                raw = base64.b64decode(item.get("body") or "", validate=True)
            except (binascii.Error, ValueError):
                raw = b""
                answer = error(400, "Invalid batch request item", f"item {rid}: body is not base64")
            else:
                fault = self.inst.limits.check_fault(method, path)
                answer = _denied(fault) if fault else self.handle(method, path, args, _CI(hdrs), raw, user)
        self.inst.log_request(LoggedRequest(method, path, args, user, answer.status,
                                            raw.decode("utf-8", "replace"), via_batch=True))
        out_headers = [{"name": k, "value": v} for k, v in answer.headers.items()]
        if answer.body is not None:
            out_headers.append({"name": "Content-Type", "value": _JSON})
        return {"id": rid, "body": base64.b64encode(answer.payload()).decode("ascii"),
                "status_code": answer.status, "status_text": status_text(answer.status),
                "headers": out_headers, "execution_time": int((time.monotonic() - t0) * 1000)}


class _CI(dict):
    """Case-insensitive header lookup for batch items."""

    def __init__(self, src: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in src.items()})

    def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(key.lower(), default)


def _retry_after(answer: Answer) -> float | None:
    """Seconds a 429's ``Retry-After`` asks for (None: not a 429 or no number)."""
    if answer.status != 429:
        return None
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _denied(d: Denial) -> Answer:
    return Answer(d.status, d.body, dict(d.headers))


def _no_record() -> Answer:
    return error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def _json_object(body: bytes) -> dict | Answer:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error(400, "Exception while reading request", f"The payload is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return error(400, "Exception while reading request", "The payload must be a JSON object")
    return data


def _int_arg(value: str | None, default: int, *, minimum: int) -> int:
    try:
        return max(minimum, int(value)) if value not in (None, "") else default
    except ValueError:
        return default
