"""The WSGI application: routing, authentication, injected faults, rate limits,
JSON answers and the request log."""
from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import api_admin, api_fields, api_issues, screens
from .bulk import BulkTasks
from .call import Call, Reply
from .errors import JiraError
from .limits import Fault, Faults, SlidingWindows, rate_limited
from .model import User
from .service import JiraService

V = "/rest/api/<int(min=2,max=3):v>"
V3 = "/rest/api/<int(min=3,max=3):v>"


def _rules(bulk: BulkTasks) -> list[tuple[str, list[str], Callable[[Call], Reply]]]:
    return [
        (f"{V}/myself", ["GET"], api_fields.myself),
        (f"{V}/field", ["GET"], api_fields.list_fields),
        (f"{V}/field", ["POST"], api_fields.create_field),
        (f"{V}/field/<field_id>/context", ["GET"], api_fields.list_contexts),
        (f"{V}/field/<field_id>/context", ["POST"], api_fields.create_context),
        (f"{V}/field/<field_id>/context/<int:context_id>/option", ["GET"], api_fields.list_options),
        (f"{V}/field/<field_id>/context/<int:context_id>/option", ["POST"], api_fields.create_options),
        (f"{V}/field/<field_id>/context/<int:context_id>/option", ["PUT"], api_fields.update_options),
        (f"{V}/screens", ["GET"], screens.list_screens),
        (f"{V}/screens/addToDefault/<field_id>", ["POST"], screens.add_to_default_screen),
        (f"{V}/screens/<int:screen_id>/tabs", ["GET"], screens.screen_tabs),
        (f"{V}/screens/<int:screen_id>/tabs/<int:tab_id>/fields", ["GET"], screens.screen_tab_fields),
        (f"{V}/screens/<int:screen_id>/tabs/<int:tab_id>/fields", ["POST"], screens.add_screen_tab_field),
        (f"{V}/screens/<int:screen_id>/tabs/<int:tab_id>/fields/<field_id>", ["DELETE"],
         screens.remove_screen_tab_field),
        (f"{V}/screenscheme", ["GET"], screens.screen_schemes),
        (f"{V}/issuetypescreenscheme/project", ["GET"], screens.itss_projects),
        (f"{V}/issuetypescreenscheme/mapping", ["GET"], screens.itss_mappings),
        (f"{V}/issue", ["POST"], api_issues.create_issue),
        (f"{V}/issue/<key>", ["GET"], api_issues.get_issue),
        (f"{V}/issue/<key>", ["DELETE"], api_issues.delete_issue),
        (f"{V}/issue/<key>", ["PUT"], api_issues.edit_issue),
        (f"{V}/issue/<key>/changelog", ["GET"], api_issues.issue_changelog),
        (f"{V}/issue/<key>/editmeta", ["GET"], api_issues.edit_meta),
        (f"{V3}/changelog/bulkfetch", ["POST"], api_issues.bulk_changelogs),
        (f"{V3}/search/jql", ["GET", "POST"], api_issues.search_jql),
        (f"{V}/search", ["GET", "POST"], api_issues.search_old),
        (f"{V3}/bulk/issues/fields", ["POST"], bulk.submit),
        (f"{V3}/bulk/queue/<task_id>", ["GET"], bulk.progress),
        (f"{V}/project", ["GET"], api_admin.all_projects),
        (f"{V3}/project/search", ["GET"], api_admin.search_projects),
        (f"{V}/project/<project>", ["GET"], api_admin.get_project),
        (f"{V}/project/<project>", ["PUT"], api_admin.update_project),
        (f"{V}/project/<project>/properties", ["GET"], api_admin.list_properties),
        (f"{V}/project/<project>/properties/<prop>", ["GET"], api_admin.get_property),
        (f"{V}/project/<project>/properties/<prop>", ["PUT"], api_admin.put_property),
        (f"{V}/project/<project>/properties/<prop>", ["DELETE"], api_admin.delete_property),
        ("/rest/webhooks/1.0/webhook", ["GET"], api_admin.list_webhooks),
        ("/rest/webhooks/1.0/webhook", ["POST"], api_admin.create_webhook),
        ("/rest/webhooks/1.0/webhook/<int:hook_id>", ["GET"], api_admin.get_webhook),
        ("/rest/webhooks/1.0/webhook/<int:hook_id>", ["PUT"], api_admin.update_webhook),
        ("/rest/webhooks/1.0/webhook/<int:hook_id>", ["DELETE"], api_admin.delete_webhook),
    ]


@dataclass
class RecordedRequest:
    """One request and its answer. ``Authorization`` is stored redacted."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    user: str | None
    at: float = field(default_factory=time.time)  # when the answer was ready
    received: float = 0.0  # when the request arrived (a client honouring Retry-After sends none too early)

    @property
    def url(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    @property
    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body.strip() else None


class SandboxApp:
    """WSGI callable for one :class:`JiraService`."""

    def __init__(self, svc: JiraService, bulk: BulkTasks, faults: Faults,
                 burst_limits: dict[str, int] | None = None) -> None:
        self.svc = svc
        self.bulk = bulk
        self.faults = faults
        self.burst = {m: SlidingWindows(((n, 1.0),)) for m, n in (burst_limits or {}).items()}
        self.requests: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self._handlers: dict[str, Callable[[Call], Reply]] = {}
        rules = []
        for n, (path, methods, handler) in enumerate(_rules(bulk)):
            name = f"r{n}"
            self._handlers[name] = handler
            rules.append(Rule(path, methods=methods, endpoint=name))
        self.map = Map(rules, strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        received = time.time()
        request = Request(environ)
        raw = request.get_data(cache=True)
        user: User | None = None
        try:
            adapter = self.map.bind_to_environ(environ)
            try:
                endpoint, path_args = adapter.match()
            except NotFound:
                raise JiraError(404, [f"null for uri: {request.url}"]) from None
            except MethodNotAllowed:
                raise JiraError(405, [f"Method {request.method} is not allowed for {request.path}."]) from None
            given = path_args.pop("v", None)
            version = int(given or 3)
            if self.svc.deployment == "datacenter" and given == 3:  # Data Center has /rest/api/2 only
                raise JiraError(404, [f"null for uri: {request.url}"])
            fault = self.faults.take(request.method, request.path)
            if fault is not None:
                if fault.latency:
                    time.sleep(fault.latency)
                err = fault.error(self.svc.datacenter) if type(fault).error is Fault.error else fault.error()
                if err is not None:
                    raise err
            user = self._authenticate(request)
            limiter = self.burst.get(request.method)
            if limiter is not None:
                over = limiter.hit(f"{request.method} {endpoint}")
                if over is not None:
                    raise rate_limited("jira-burst-based", over[0], over[1], datacenter=self.svc.datacenter)
            call = Call(self.svc, user, version, request.method, request.args, raw, path_args)
            reply = self._handlers[endpoint](call)
        except JiraError as exc:
            reply = Reply(exc.status, exc.body, exc.headers)
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {"X-AREQUESTID": str(len(self.requests) + 1), **reply.headers}
        if reply.body is not None:
            headers["Content-Type"] = "application/json;charset=UTF-8"
        if reply.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="protected-area"'
        response = Response(body, status=reply.status, headers=headers)
        self._record(request, raw, reply.status, dict(response.headers), body, user, received)
        return response(environ, start_response)

    def _authenticate(self, request: Request) -> User:
        header = request.headers.get("Authorization", "")
        site = self.svc.site
        scheme, _, value = header.partition(" ")
        with self.svc.lock:
            if scheme.lower() == "basic":
                try:
                    email, _, secret = base64.b64decode(value).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    email, secret = "", ""
                user = site.user_by_email(email)
                if user and user.active and user.api_token and hmac.compare_digest(user.api_token, secret):
                    return user
                if (user and user.active and self.svc.deployment == "datacenter" and user.pat
                        and hmac.compare_digest(user.pat, secret)):
                    return user
            elif scheme.lower() == "bearer" and self.svc.deployment == "datacenter":
                for user in site.users.values():
                    if user.active and user.pat and hmac.compare_digest(user.pat, value.strip()):
                        return user
        raise JiraError(401, ["Client must be authenticated to access this resource."])

    def _record(self, request: Request, raw: bytes, status: int, headers: dict[str, str], body: bytes,
                user: User | None, received: float = 0.0) -> None:
        req_headers = {k: v for k, v in request.headers.items()}
        if "Authorization" in req_headers:
            req_headers["Authorization"] = req_headers["Authorization"].split(" ", 1)[0] + " <redacted>"
        entry = RecordedRequest(request.method, request.path, request.query_string.decode(), req_headers, raw,
                                status, headers, body, user.account_id if user else None, received=received)
        with self._log_lock:
            self.requests.append(entry)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of the request log."""
        with self._log_lock:
            return list(self.requests)

    def clear_log(self) -> None:
        with self._log_lock:
            self.requests.clear()


def query_string(params: dict[str, Any]) -> str:
    return urlencode(params, doseq=True)
