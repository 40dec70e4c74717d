"""Who may see the dashboard: read access (the business side) and admin access.

A request gets its role from, in this order:

1. the trusted reverse proxy's user header (``dashboard.user_header``), when configured:
   users in ``admin_users`` are admins; others read, unless ``read_users`` is set and
   does not name them;
2. a token: ``Authorization: Bearer <token>``, or the ``itsm_align_dashboard`` cookie
   that ``/dashboard/login`` sets (HttpOnly, SameSite=Strict), compared in constant time
   with ``admin_tokens`` then ``read_tokens``.

No role: 401 with a page that says how to get access; a reader on an admin page: 403.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

from flask import Request

from ..settings import DashboardSettings

__all__ = ["COOKIE", "Access", "Denied", "Role", "Verdict"]

COOKIE = "itsm_align_dashboard"


class Role(IntEnum):
    READ = 1
    ADMIN = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    role: Role | None
    who: str  # "user alice", "a read token", "" (nobody)
    problem: str = ""  # why no role, for the 401/403 page


class Denied(Exception):
    """Raised by a view: answer 401 (no credentials) or 403 (not enough)."""

    def __init__(self, status: int, verdict: Verdict, needed: Role) -> None:
        super().__init__(verdict.problem)
        self.status = status
        self.verdict = verdict
        self.needed = needed


class Access:
    """The configured credentials, checked per request."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self._admin = [t.get_secret_value().encode() for t in settings.admin_tokens]
        self._read = [t.get_secret_value().encode() for t in settings.read_tokens]
        self._admin_users = {u.strip().lower() for u in settings.admin_users}
        self._read_users = {u.strip().lower() for u in settings.read_users}

    @property
    def uses_tokens(self) -> bool:
        return bool(self._admin or self._read)

    def token_role(self, token: str) -> Role | None:
        """The role a token gives (None: not a configured token)."""
        given = token.strip().encode()
        if not given:
            return None
        # compare with every token, so the time taken says nothing about which matched
        admin = any([hmac.compare_digest(given, t) for t in self._admin])
        read = any([hmac.compare_digest(given, t) for t in self._read])
        return Role.ADMIN if admin else Role.READ if read else None

    def verdict(self, request: Request) -> Verdict:
        header = self.settings.user_header
        if header:
            user = (request.headers.get(header) or "").strip()
            if user:
                name = user.lower()
                if name in self._admin_users:
                    return Verdict(Role.ADMIN, f"user {user}")
                if not self._read_users or name in self._read_users:
                    return Verdict(Role.READ, f"user {user}")
                return Verdict(None, f"user {user}", f"user {user} is not on the dashboard's reader list")
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            role = self.token_role(credentials)
            if role is None:
                return Verdict(None, "", "the bearer token is not one of the dashboard's tokens")
            return Verdict(role, f"an {role.name.lower()} token" if role is Role.ADMIN else "a read token")
        cookie = request.cookies.get(COOKIE, "")
        if cookie:
            role = self.token_role(cookie)
            if role is None:
                return Verdict(None, "", "the saved access token is no longer valid (it was changed or removed)")
            return Verdict(role, "an admin token" if role is Role.ADMIN else "a read token")
        return Verdict(None, "", "no access token was given")

    def require(self, request: Request, needed: Role) -> Verdict:
        """The verdict, or raise Denied (401 without a role, 403 with too small a one)."""
        verdict = self.verdict(request)
        if verdict.role is None:
            raise Denied(401 if not verdict.who else 403, verdict, needed)
        if verdict.role < needed:
            raise Denied(403, verdict, needed)
        return verdict
