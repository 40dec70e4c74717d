"""``JiraSandbox``: a local, stateful Jira Cloud (or Data Center) simulator over
real HTTP, with a Python control API for tests and demos.

    with JiraSandbox() as jira:
        key = jira.create_issue("ITSM", "Printer on fire")
        email, token = jira.credentials
        # point a real client at jira.url ...

Starts on 127.0.0.1 with a free port; threaded, so concurrent requests work.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable


from . import values
from .bulk import BulkTasks
from .delivery import DEFAULT_BACKOFF, Delivery, Dispatcher, Webhook
from .errors import JiraError
from .limits import PER_ISSUE_DEFAULT, Fault, Faults, SlidingWindows
from ..server import SandboxServer
from .model import CF_PREFIX, Context, Field, Option, Site, User
from .service import JiraService
from .wsgi import RecordedRequest, SandboxApp

ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
PROJECT_EVENTS = ("project_created", "project_updated", "project_deleted")


class JiraSandbox:
    """A simulated Jira site. See the module docstring.

    Accounts created on start and on :meth:`reset`:

    * :attr:`admin_user` -- a person, Jira admin (``admin@example.com`` / ``admin-token``);
    * :attr:`api_user` -- the integration's own account, a normal ``atlassian`` user
      account with admin rights, authenticated by :attr:`credentials` (basic auth email +
      API token) or, in Data Center mode, by the bearer token :attr:`pat`.

    A project ``ITSM`` ("IT Service Management") exists from the start.
    """

    API_EMAIL = "itsm-align@example.com"
    API_TOKEN = "sandbox-api-token"
    API_PAT = "sandbox-personal-access-token"
    ADMIN_EMAIL = "admin@example.com"
    ADMIN_TOKEN = "admin-token"
    DEFAULT_PROJECT = "ITSM"

    def __init__(
        self,
        base_url_hint: str | None = None,
        *,
        deployment: str = "cloud",
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_backoff: Iterable[float] = DEFAULT_BACKOFF,
        webhook_timeout: float = 5.0,
        webhook_lanes: int = 4,
        per_issue_limits: tuple[tuple[int, float], ...] = PER_ISSUE_DEFAULT,
        burst_limits: dict[str, int] | None = None,
        max_bulk_tasks: int = 5,
    ) -> None:
        if deployment not in {"cloud", "datacenter"}:
            raise ValueError(f"deployment must be 'cloud' or 'datacenter', not {deployment!r}")
        self.base_url_hint = base_url_hint
        self.host, self.port = host, port
        self._backoff = tuple(webhook_backoff)
        self._timeout = webhook_timeout
        self._lanes = webhook_lanes
        self._per_issue = per_issue_limits
        self.dispatcher = Dispatcher(webhook_lanes, self._backoff, webhook_timeout)
        self.svc = JiraService(self.dispatcher, deployment)
        self.svc.issue_limiter = SlidingWindows(per_issue_limits)
        self.bulk = BulkTasks(self.svc, max_bulk_tasks)
        self.faults = Faults()
        self.app = SandboxApp(self.svc, self.bulk, self.faults, burst_limits)
        self._server: SandboxServer | None = None
        self._populate()

    # ---- life cycle ----------------------------------------------------------
    def start(self) -> "JiraSandbox":
        if self._server is not None:
            return self
        self._server = SandboxServer(self.app, self.host, self.port, name="jira-sandbox-http").start()
        self.svc.base_url = self.base_url_hint.rstrip("/") if self.base_url_hint else self.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.bulk.release()
        self.dispatcher.stop()

    def __enter__(self) -> "JiraSandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the site base URL a client is given)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return f"http://{self.host}:{self._server.port}"

    @property
    def deployment(self) -> str:
        return self.svc.deployment

    # ---- accounts --------------------------------------------------------------
    def _populate(self) -> None:
        self.admin_user = self.svc.add_user(User("5b10a2844c20165700ede21a", "Alice Admin", self.ADMIN_EMAIL,
                                                 api_token=self.ADMIN_TOKEN, admin=True))
        self.api_user = self.svc.add_user(User("5b10a2844c20165700ede2ff", "itsm-align", self.API_EMAIL,
                                               api_token=self.API_TOKEN, pat=self.API_PAT, admin=True))
        with self.svc.lock:
            self.svc.site.add_project(self.DEFAULT_PROJECT, "IT Service Management", self.admin_user.account_id)

    @property
    def credentials(self) -> tuple[str, str]:
        """(email, API token) of the integration account, for basic auth."""
        return self.API_EMAIL, self.API_TOKEN

    @property
    def pat(self) -> str:
        """Data Center personal access token of the integration account."""
        return self.API_PAT

    def add_user(self, display_name: str, email: str | None = None, *, api_token: str | None = None,
                 pat: str | None = None, account_type: str = "atlassian", admin: bool = False,
                 account_id: str | None = None) -> User:
        """Add an account; ``api_token`` lets it call the REST API."""
        with self.svc.lock:
            n = len(self.svc.site.users) + 1
            user = User(account_id or f"5b10a2844c20165700ed{n:04x}", display_name,
                        email or f"user{n}@example.com", api_token=api_token, pat=pat,
                        account_type=account_type, admin=admin)
            return self.svc.add_user(user)

    def _user(self, who: User | str | None) -> User:
        if who is None:
            return self.admin_user
        if isinstance(who, User):
            return who
        with self.svc.lock:
            user = self.svc.site.users.get(who) or self.svc.site.user_by_email(who)
        if user is None:
            raise KeyError(f"no sandbox user with account id or email {who!r}; add it with add_user()")
        return user

    # ---- projects ----------------------------------------------------------------
    def add_project(self, key: str, name: str | None = None, *, lead: User | str | None = None,
                    as_user: User | str | None = None, description: str = "") -> dict[str, Any]:
        """Create a project (sends ``project_created``); returns its JSON."""
        with self.svc.lock:
            if self.svc.site.project(key) is not None:
                raise ValueError(f"project {key} already exists")
            project = self.svc.site.add_project(key, name or key, self._user(lead).account_id, description)
            self.svc.emit_project("project_created", project, self._user(as_user))
            return project.json(self.svc.base_url, self.svc.site.users.get(project.lead))

    def update_project(self, key: str, *, name: str | None = None, description: str | None = None,
                       as_user: User | str | None = None) -> dict[str, Any]:
        """Change a project as a person (sends ``project_updated``)."""
        with self.svc.lock:
            project = self.svc.site.project(key)
            if project is None:
                raise KeyError(key)
            if name is not None:
                project.name = name
            if description is not None:
                project.description = description
            self.svc.emit_project("project_updated", project, self._user(as_user))
            return project.json(self.svc.base_url, self.svc.site.users.get(project.lead))

    def project_property(self, key: str, prop: str) -> Any:
        with self.svc.lock:
            project = self.svc.site.project(key)
            return None if project is None else project.properties.get(prop)

    # ---- fields (shortcuts; the REST API does the same) -----------------------------
    def add_field(self, name: str, kind: str, *, searcher: str | None = None, options: Iterable[str] = (),
                  on_screen: bool = True) -> str:
        """Create a custom field with a global context (and options); return its id."""
        if kind not in values.VALID_SEARCHERS:
            raise ValueError(f"unsupported field kind {kind!r}; use one of {sorted(values.VALID_SEARCHERS)}")
        with self.svc.lock:
            site = self.svc.site
            fid = f"customfield_{next(site.ids.field)}"
            field = Field(fid, name, kind, custom=True, searcher=searcher or sorted(values.VALID_SEARCHERS[kind])[0])
            ctx = Context(str(next(site.ids.context)), f"Default Configuration Scheme for {name}")
            ctx.options = [Option(str(next(site.ids.option)), value) for value in options]
            field.contexts.append(ctx)
            site.fields[fid] = field
            if on_screen:
                site.default_screen.add(fid)
            return fid

    def field_id(self, name: str) -> str:
        """Id of the (first) custom field called ``name``."""
        with self.svc.lock:
            found = [f.id for f in self.svc.site.field_by_name(name) if f.custom]
        if not found:
            raise KeyError(f"no custom field named {name!r}")
        return found[0]

    def options(self, field_id: str) -> list[dict[str, Any]]:
        with self.svc.lock:
            field = self.svc.site.fields[field_id]
            return [o.json() for c in field.contexts for o in c.options]

    def on_screen(self, field_id: str) -> bool:
        with self.svc.lock:
            return field_id in self.svc.site.default_screen

    # ---- issues --------------------------------------------------------------------
    def create_issue(self, project: str, summary: str, description: Any = "", issuetype: str = "Task",
                     fields: dict[str, Any] | None = None, as_user: User | str | None = None,
                     api_version: int = 2) -> str:
        """Create an issue as a person (sends ``jira:issue_created``); return its key.

        ``fields`` are custom field values in the REST form of ``api_version``.
        """
        issue = self.svc.create_issue(self._user(as_user), project, summary, description, issuetype,
                                      fields, api_version)
        return issue.key

    def edit_issue_as(self, user: User | str | None, key: str, fields: dict[str, Any],
                      api_version: int = 2) -> list[dict[str, Any]]:
        """Edit as ``user`` (as a person in the UI would; screens are not checked).

        Returns the changelog items; sends ``jira:issue_updated`` when something changed.
        Raises :class:`JiraError` (400) for invalid values.
        """
        with self.svc.lock:
            issue = self.svc.site.issue(key)
            if issue is None:
                raise KeyError(key)
            return self.svc.edit_issue(self._user(user), issue, fields, api_version, check_screen=False)

    def delete_issue(self, key: str, as_user: User | str | None = None) -> None:
        """Delete as a person (sends ``jira:issue_deleted``)."""
        with self.svc.lock:
            issue = self.svc.site.issue(key)
            if issue is None:
                raise KeyError(key)
            self.svc.delete_issue(self._user(as_user), issue)

    def issue(self, key: str, api_version: int = 2) -> dict[str, Any]:
        """The issue as ``GET /rest/api/{api_version}/issue/{key}?expand=changelog`` shows it."""
        with self.svc.lock:
            issue = self.svc.site.issue(key)
            if issue is None:
                raise KeyError(key)
            return self.svc.issue_json(issue, api_version, None, {"changelog"})

    def value(self, key: str, field_id: str) -> Any:
        """A field's shown value: option value for selects, plain text for text fields."""
        data = self.issue(key, 2)["fields"].get(field_id)
        if isinstance(data, dict) and "value" in data:
            return data["value"]
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return [d["value"] for d in data]
        return data

    def seed(self, projects: Iterable[str] = ("SEED",), issues: int = 100,
             summary: Callable[[int], str] | None = None,
             fields: Callable[[int], dict[str, Any]] | None = None) -> list[str]:
        """Create ``issues`` issues spread over ``projects`` without webhooks or history.

        Cheap enough for 20,000 issues. ``summary(n)`` and ``fields(n)`` (v2 REST values)
        customise issue ``n``. Returns the keys.
        """
        keys: list[str] = []
        with self.svc.lock:
            site = self.svc.site
            plist = []
            for key in projects:
                project = site.project(key) or site.add_project(key, f"Project {key}", self.admin_user.account_id)
                plist.append(project)
            kinds = ("Task", "Bug", "Story", "Incident")
            start = time.time() - issues
            for n in range(issues):
                project = plist[n % len(plist)]
                text = summary(n) if summary else f"Seeded issue {n}"
                issue = self.svc.site.new_issue(project, text, kinds[n % len(kinds)], self.admin_user.account_id,
                                                created=start + n)
                if fields:
                    issue.values.update({k: v for k, v in self.svc._parse_fields(fields(n), 2, False).items()
                                         if v is not None})
                keys.append(issue.key)
        return keys

    # ---- webhooks ------------------------------------------------------------------
    def add_webhook(self, url: str, events: Iterable[str] = ISSUE_EVENTS + PROJECT_EVENTS, *,
                    jql: str | None = None, secret: str | None = None, name: str = "sandbox webhook",
                    exclude_body: bool = False) -> int:
        """Register an admin webhook directly (the REST API does the same); return its id."""
        with self.svc.lock:
            hook = Webhook(next(self.svc.site.ids.webhook), name, url, list(events), jql, exclude_body, secret,
                           True, self.admin_user.account_id, time.time())
            self.svc.webhooks[hook.id] = hook
            return hook.id

    def webhooks(self) -> list[dict[str, Any]]:
        with self.svc.lock:
            return [h.json(self.svc.base_url) | {"secret": h.secret} for h in self.svc.webhooks.values()]

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery so far (with its attempts), in submission order."""
        with self.dispatcher.cond:
            return list(self.dispatcher.log)

    def wait_for_deliveries(self, n: int, timeout: float = 5.0,
                            predicate: Callable[[Delivery], bool] | None = None) -> list[Delivery]:
        """Block until ``n`` deliveries (matching ``predicate``) finished (delivered or
        given up); return all finished ones. ``TimeoutError`` otherwise."""
        return self.dispatcher.wait_for(n, timeout, predicate)

    def pause_deliveries(self) -> None:
        self.dispatcher.pause()

    def resume_deliveries(self) -> None:
        self.dispatcher.resume()

    # ---- faults, logs, bulk --------------------------------------------------------
    def inject(self, path_regex: str | None = None, method: str | None = None, status: int | None = 503,
               count: int = 1, retry_after: float | None = None, reason: str | None = None,
               latency: float = 0.0) -> Fault:
        """Answer the next ``count`` requests matching ``path_regex`` (searched in the path)
        and ``method`` with ``status`` (429 gets ``RateLimit-Reason: reason``, default
        ``jira-burst-based``); ``status=None`` only adds ``latency`` seconds."""
        if status is not None and status not in {429} and not 500 <= status <= 599:
            raise ValueError("inject() status must be 429, a 5xx, or None (latency only)")
        return self.faults.add(Fault(path_regex, method, status, count, retry_after, reason, latency))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request with its answer, in arrival order."""
        return self.app.snapshot()

    def clear_requests(self) -> None:
        self.app.clear_log()

    def hold_bulk(self) -> None:
        """Make bulk tasks stop at RUNNING until :meth:`release_bulk`."""
        self.bulk.hold()

    def release_bulk(self) -> None:
        self.bulk.release()

    def reset(self) -> None:
        """Back to the state right after construction (users, project ITSM, nothing else)."""
        self.bulk.clear()
        self.dispatcher.cancel_pending()
        self.dispatcher.idle(timeout=self._timeout + 1.0)
        with self.svc.lock:
            self.svc.site = Site()
            self.svc.webhooks.clear()
            self._populate()
        self.dispatcher.clear()
        self.faults.clear()
        self.svc.issue_limiter = SlidingWindows(self._per_issue)
        for limiter in self.app.burst.values():
            limiter.clear()
        self.app.clear_log()


__all__ = ["JiraSandbox", "JiraError", "CF_PREFIX"]
