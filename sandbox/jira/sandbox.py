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
from ..web import mount
from .model import CF_PREFIX, EDITABLE_SYSTEM, ISSUE_TYPES, Context, Field, Option, Site, User
from .pages import JiraPages
from .screens import settable
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
        if deployment == "datacenter" and webhook_backoff is DEFAULT_BACKOFF:
            self._backoff = ()  # assumption: Data Center does not retry a failed delivery
        self.dispatcher = Dispatcher(webhook_lanes, self._backoff, webhook_timeout,
                                     datacenter=deployment == "datacenter")
        self.svc = JiraService(self.dispatcher, deployment)
        self.svc.issue_limiter = SlidingWindows(per_issue_limits)
        self.bulk = BulkTasks(self.svc, max_bulk_tasks)
        self.faults = Faults()
        self.app = SandboxApp(self.svc, self.bulk, self.faults, burst_limits)
        self.pages = JiraPages(self)  # a person's web pages under /sandbox/, on the API's port
        self._server: SandboxServer | None = None
        self._populate()

    # ---- life cycle ----------------------------------------------------------
    def start(self) -> "JiraSandbox":
        if self._server is not None:
            return self
        self._server = SandboxServer(mount(self.pages, self.app), self.host, self.port, name="jira-sandbox-http").start()
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

    def user_ref(self, user: User | str | None = None) -> str:
        """How this site's payloads identify ``user`` (default: the integration
        account): accountId on Cloud, user name on Data Center."""
        return self._user(user if user is not None else self.api_user).ref(self.svc.datacenter)

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
                    as_user: User | str | None = None, description: str = "", screens: str = "default",
                    team_managed: bool = False, scheme_of: str | None = None) -> dict[str, Any]:
        """Create a project (sends ``project_created``); returns its JSON.

        ``screens="default"``: the project uses the Default Issue Type Screen Scheme.
        ``screens="own"``: a company-managed project as Jira's Scrum template leaves it:
        its own issue type screen scheme "<KEY>: Scrum Issue Type Screen Scheme" mapping
        every type to "<KEY>: Scrum Default Screen Scheme" (screen "<KEY>: Scrum Default
        Screen") and Bug to "<KEY>: Scrum Bug Screen Scheme" (screen "<KEY>: Scrum Bug
        Screen"), each screen with the system fields only. ``scheme_of="PAY"``: use the
        issue type screen scheme of project PAY. ``team_managed=True``: a team-managed
        (next-gen) project: no screens, only fields created in the project itself.
        """
        with self.svc.lock:
            site = self.svc.site
            if site.project(key) is not None:
                raise ValueError(f"project {key} already exists")
            project = site.add_project(key, name or key, self._user(lead).account_id, description,
                                       simplified=team_managed)
            if team_managed:
                project.fields = set(EDITABLE_SYSTEM)
            elif scheme_of is not None:
                other = site.project(scheme_of)
                if other is None:
                    raise KeyError(f"no project {scheme_of!r} to share a screen scheme with")
                site.screens.project_itss[project.id] = site.screens.itss_of(other.id).id
            elif screens == "own":
                self._own_screens(project.id, key)
            elif screens != "default":
                raise ValueError(f"screens must be 'default' or 'own', not {screens!r}")
            self.svc.emit_project("project_created", project, self._user(as_user))
            return project.json(self.svc.base_url, self.svc.site.users.get(project.lead))

    def give_own_screens(self, key: str) -> None:
        """Move an existing company-managed project onto its own Scrum-template
        screens (as ``add_project(..., screens="own")`` creates them)."""
        with self.svc.lock:
            project = self.svc.site.project(key)
            if project is None or project.simplified:
                raise KeyError(f"no company-managed project {key!r}")
            self._own_screens(project.id, project.key)

    def _own_screens(self, project_id: str, key: str) -> None:
        config = self.svc.site.screens
        default = config.add_screen(f"{key}: Scrum Default Screen", sorted(EDITABLE_SYSTEM))
        bug = config.add_screen(f"{key}: Scrum Bug Screen", sorted(EDITABLE_SYSTEM))
        default_scheme = config.add_scheme(f"{key}: Scrum Default Screen Scheme", {"default": default.id})
        bug_scheme = config.add_scheme(f"{key}: Scrum Bug Screen Scheme", {"default": bug.id})
        itss = config.add_itss(f"{key}: Scrum Issue Type Screen Scheme",
                               {"default": default_scheme.id, ISSUE_TYPES["Bug"]: bug_scheme.id})
        config.project_itss[project_id] = itss.id

    def screens_of(self, project: str) -> list[dict[str, Any]]:
        """The screens a company-managed project's issues use (every operation, every
        issue type): ``[{"id", "name", "fields"}]``, in id order."""
        with self.svc.lock:
            site = self.svc.site
            found = site.project(project)
            if found is None:
                raise KeyError(project)
            config = site.screens
            itss = config.itss_of(found.id)
            ids = {sid for scheme in itss.mappings.values() for sid in config.schemes[scheme].screens.values()}
            return [{"id": s.id, "name": s.name, "fields": [f for t in s.tabs for f in t.fields]}
                    for s in sorted((config.screens[i] for i in ids), key=lambda s: s.id)]

    def screen_id(self, name: str) -> int:
        with self.svc.lock:
            for screen in self.svc.site.screens.screens.values():
                if screen.name == name:
                    return screen.id
        raise KeyError(f"no screen named {name!r}")

    def remove_from_screen(self, screen: int | str, field_id: str) -> None:
        """An admin takes a field off a screen (every tab of it)."""
        with self.svc.lock:
            config = self.svc.site.screens
            found = config.screens[screen if isinstance(screen, int) else self.screen_id(screen)]
            for tab in found.tabs:
                if field_id in tab.fields:
                    tab.fields.remove(field_id)

    def share_screen_schemes(self, projects: Iterable[str], schemes: int, *, team_managed: Iterable[str] = ()) -> None:
        """Create ``projects`` (company-managed) spread over ``schemes`` issue type screen
        schemes of their own (each with a default and a Bug screen), as on a big site."""
        keys = list(projects)
        for n, key in enumerate(keys):
            if n < schemes:
                self.add_project(key, f"Project {key}", screens="own")
            else:
                self.add_project(key, f"Project {key}", scheme_of=keys[n % schemes])
        for key in team_managed:
            self.add_project(key, f"Team project {key}", team_managed=True)

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
                site.screens.default_screen.tabs[0].fields.append(fid)
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

    def on_screen(self, field_id: str, project: str | None = None, issuetype: str = "Task") -> bool:
        """Whether REST may write ``field_id``: on the Default Screen, or (with
        ``project``) on the edit screen of that project's ``issuetype``."""
        with self.svc.lock:
            site = self.svc.site
            if project is None:
                return site.screens.default_screen.has(field_id)
            return settable(site, site.project(project).key, issuetype, field_id)

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
                    issue.values.update({k: v for k, v in self.svc._parse_fields(fields(n), 2, None).items()
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
