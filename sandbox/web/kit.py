"""Sign-in sessions, CSRF, templates, static files and routing shared by the
Jira and ServiceNow sandbox pages (see the package docstring).

A subclass of :class:`Pages` lists its routes, checks a person's sign-in and
maps the platform's own page URLs (``/browse/KEY``, ``/incident.do?sys_id=``)
to its pages; this module does the rest. Sessions live in memory: a sandbox
restart signs everybody out, as its data is gone too.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

HERE = Path(__file__).resolve().parent
PREFIX = "/sandbox"
SESSION_SECONDS = 12 * 3600
#: No inline script or style anywhere, nothing from another origin.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Person:
    """Who is signed in: ``ref`` is how the sandbox's control calls name the
    account (Jira account id, ServiceNow user name)."""

    login: str
    name: str
    ref: str


@dataclass
class Session:
    token: str
    person: Person
    csrf: str
    expires: float
    flashes: list[tuple[str, str]] = field(default_factory=list)


class Sessions:
    """Signed-in people by an opaque random cookie value."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Session] = {}

    def open(self, person: Person) -> Session:
        session = Session(secrets.token_urlsafe(32), person, secrets.token_urlsafe(24),
                          time.time() + SESSION_SECONDS)
        with self._lock:
            now = time.time()
            self._open = {t: s for t, s in self._open.items() if s.expires > now}
            self._open[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._open.get(token)
        return session if session is not None and session.expires > time.time() else None

    def close(self, token: str | None) -> None:
        with self._lock:
            self._open.pop(token or "", None)


class Page:
    """One request to the pages: the werkzeug request, the session and helpers."""

    def __init__(self, pages: "Pages", request: Request, session: Session | None) -> None:
        self.pages = pages
        self.request = request
        self.session = session

    @property
    def person(self) -> Person:
        assert self.session is not None, "a signed-in page"
        return self.session.person

    @property
    def form(self) -> Mapping[str, str]:
        return self.request.form

    @property
    def args(self) -> Mapping[str, str]:
        return self.request.args

    def flash(self, kind: str, text: str) -> None:
        """A message for the next page shown (``kind``: good, warn, info)."""
        if self.session is not None:
            self.session.flashes.append((kind, text))

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        flashes = list(self.session.flashes) if self.session else []
        if self.session:
            self.session.flashes.clear()
        body = self.pages.env.get_template(template).render(
            page=self, pages=self.pages, person=self.session.person if self.session else None,
            csrf=self.session.csrf if self.session else "", flashes=flashes, path=self.request.path,
            **context)
        return _secure(Response(body, status=status, mimetype="text/html"))

    @staticmethod
    def redirect(url: str) -> Response:
        return _secure(Response("", status=303, headers={"Location": url}))


class Pages:
    """WSGI app of one sandbox's pages. Subclasses set the class attributes and
    implement :meth:`routes`, :meth:`sign_in` and (optionally) :meth:`native`."""

    product = "Sandbox"  # shown in the top bar
    theme = "jira"  # CSS class on <body>: colours of the top bar
    cookie = "sandbox"  # session cookie name (the port is appended)
    home = f"{PREFIX}/"
    template_dir: Path = HERE / "templates"
    login_label = "User name"
    password_label = "Password"
    accounts_hint = ""  # shown on the sign-in page

    def __init__(self) -> None:
        self.sessions = Sessions()
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(self.template_dir)),
                                        jinja2.FileSystemLoader(str(HERE / "templates"))]),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(when=when, prefix=PREFIX, urlencode=urlencode)
        rules = [(f"{PREFIX}/login", ["GET", "POST"], self._login, True),
                 (f"{PREFIX}/logout", ["POST"], self._logout, False),
                 (f"{PREFIX}/static/<path:name>", ["GET"], self._static, True),
                 *[(path, methods, handler, False) for path, methods, handler in self.routes()]]
        self._handlers: dict[str, tuple[Callable[..., Response], bool]] = {}
        mapped = []
        for n, (path, methods, handler, public) in enumerate(rules):
            self._handlers[f"p{n}"] = (handler, public)
            mapped.append(Rule(path, methods=methods, endpoint=f"p{n}"))
        self.map = Map(mapped, strict_slashes=False, merge_slashes=False)

    # ---- what a subclass gives -------------------------------------------------
    def routes(self) -> Iterable[tuple[str, list[str], Callable[..., Response]]]:
        """(path, methods, handler(page, **path_args) -> Response) of the signed-in pages."""
        return ()

    def sign_in(self, login: str, password: str) -> Person | str:
        """The person these credentials name, or why not (shown on the form)."""
        return "signing in is not possible here"

    def native(self, path: str, args: Mapping[str, str]) -> str | None:
        """The page for one of the platform's own page URLs (GET), or None."""
        return None

    def nav(self, page: Page) -> list[tuple[str, str, bool]]:
        """(label, url, active) links of the top bar."""
        return []

    # ---- WSGI ----------------------------------------------------------------------
    def handles(self, environ: Mapping[str, Any]) -> bool:
        path = environ.get("PATH_INFO", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return True
        if environ.get("REQUEST_METHOD") != "GET":
            return False
        return self.native(path, dict(parse_qsl(environ.get("QUERY_STRING", "")))) is not None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path == PREFIX:
            return Page.redirect(self.home)
        if not request.path.startswith(PREFIX + "/"):
            target = self.native(request.path, request.args)
            return Page.redirect(target or self.home)
        session = self.sessions.get(request.cookies.get(self.cookie_name(request)))
        page = Page(self, request, session)
        try:
            endpoint, path_args = self.map.bind_to_environ(request.environ).match()
        except NotFound:
            return self.problem(page, 404, "Nothing here", "This page does not exist in the sandbox.")
        except MethodNotAllowed:
            return self.problem(page, 405, "Not allowed", f"{request.method} is not allowed on this page.")
        handler, public = self._handlers[endpoint]
        if not public and session is None:
            if request.method != "GET":
                return self.problem(page, 401, "Signed out", "Your session ended: sign in and try again.")
            return Page.redirect(f"{PREFIX}/login?{urlencode({'next': request.full_path.rstrip('?')})}")
        if request.method == "POST":
            if not _same_origin(request):
                return self.problem(page, 403, "Refused", "This form was sent from another site.")
            if session is not None and not secrets.compare_digest(request.form.get("csrf", ""), session.csrf):
                return self.problem(page, 403, "Refused", "The form is out of date: reload the page and try again.")
        return handler(page, **path_args)

    def cookie_name(self, request: Request) -> str:
        """Per port: cookies do not tell ports apart, and both sandboxes run on 127.0.0.1."""
        port = urlsplit(f"//{request.host}").port or (443 if request.scheme == "https" else 80)
        return f"{self.cookie}-{port}"

    def problem(self, page: Page, status: int, title: str, text: str) -> Response:
        return page.render("problem.html", status=status, title=title, text=text)

    # ---- sign-in, sign-out, static files -----------------------------------------------
    def _login(self, page: Page) -> Response:
        target = page.args.get("next") or page.form.get("next") or self.home
        if not target.startswith(PREFIX + "/") or target.startswith("//"):
            target = self.home
        if page.request.method == "GET":
            if page.session is not None:
                return page.redirect(target)
            return page.render("login.html", target=target, login="", problem="")
        if not _same_origin(page.request):
            return self.problem(page, 403, "Refused", "This form was sent from another site.")
        login = page.form.get("login", "").strip()
        found = self.sign_in(login, page.form.get("password", ""))
        if isinstance(found, str):
            return page.render("login.html", status=401, target=target, login=login, problem=found)
        session = self.sessions.open(found)
        response = page.redirect(target)
        response.set_cookie(self.cookie_name(page.request), session.token, max_age=SESSION_SECONDS,
                            path="/", httponly=True, samesite="Lax",
                            secure=page.request.scheme == "https")
        return response

    def _logout(self, page: Page) -> Response:
        self.sessions.close(page.request.cookies.get(self.cookie_name(page.request)))
        response = page.redirect(f"{PREFIX}/login")
        response.delete_cookie(self.cookie_name(page.request), path="/")
        return response

    def _static(self, page: Page, name: str) -> Response:
        path = safe_join(str(HERE / "static"), name)
        if path is None or not Path(path).is_file():
            return Response("not found", status=404, mimetype="text/plain")
        kind = STATIC_TYPES.get(Path(path).suffix, "application/octet-stream")
        response = Response(Path(path).read_bytes(), content_type=kind)
        response.headers["Cache-Control"] = "max-age=300"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount(pages: Pages, api: Callable[..., Any]) -> Callable[..., Any]:
    """One WSGI app: the pages under ``/sandbox/`` (and the platform's own page
    URLs, redirected there), every other request to ``api`` unchanged."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if pages.handles(environ):
            return pages(environ, start_response)
        return api(environ, start_response)

    app.pages = pages  # type: ignore[attr-defined]
    return app


def when(epoch: float | None) -> str:
    """``07 Dec 2026 14:03 UTC`` (empty for None)."""
    if not epoch:
        return ""
    return time.strftime("%d %b %Y %H:%M UTC", time.gmtime(epoch))


def _same_origin(request: Request) -> bool:
    """A POST whose ``Origin`` (or ``Referer``) names another site is refused."""
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if not origin or origin == "null":
        return not request.headers.get("Origin")  # a browser sends "null" from opaque origins
    return urlsplit(origin).netloc == request.host


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
