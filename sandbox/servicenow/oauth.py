"""OAuth 2.0 at ``POST /oauth_token.do`` (password, client_credentials and
refresh_token grants) and Bearer tokens on API calls.

Register a client with ``ServiceNowSandbox.add_oauth_client``. Tokens live
``access_ttl`` seconds of the sandbox clock (1799, as an instance answers);
``expire_tokens()`` ends them all at once to exercise refresh.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Callable, Mapping


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    client_secret: str
    user: str | None  # runs client_credentials calls as this user


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    status: int
    body: dict


class OAuth:
    def __init__(self, clock: Callable[[], float], authenticate: Callable[[str, str], object | None],
                 access_ttl: int = 1799) -> None:
        self.clock = clock
        self._authenticate = authenticate
        self.access_ttl = access_ttl
        self._lock = threading.Lock()
        self.clients: dict[str, OAuthClient] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self._refresh: dict[str, tuple[str, str]] = {}  # token -> (user, client_id)

    def add_client(self, client_id: str, client_secret: str, user: str | None = None) -> None:
        with self._lock:
            self.clients[client_id] = OAuthClient(client_id, client_secret, user)

    def token(self, form: Mapping[str, str]) -> TokenAnswer:
        """Answer a token request (form fields as posted)."""
        client = self.clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(client.client_secret, form.get("client_secret", "")):
            return _denied("invalid_client")
        grant = form.get("grant_type", "")
        if grant == "password":
            user = form.get("username", "")
            if self._authenticate(user, form.get("password", "")) is None:
                return _denied("access_denied")
        elif grant == "client_credentials":
            if not client.user:
                return _denied("unauthorized_client")
            user = client.user
        elif grant == "refresh_token":
            with self._lock:
                found = self._refresh.get(form.get("refresh_token", ""))
            if found is None or found[1] != client.client_id:
                return _denied("invalid_grant")
            user = found[0]
        else:
            return TokenAnswer(400, {"error": "unsupported_grant_type",
                                     "error_description": f"grant_type {grant!r} is not supported"})
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = (user, self.clock() + self.access_ttl)
            self._refresh[refresh] = (user, client.client_id)
        return TokenAnswer(200, {"access_token": access, "refresh_token": refresh, "scope": "useraccount",
                                 "token_type": "Bearer", "expires_in": self.access_ttl})

    def user_for(self, access_token: str) -> str | None:
        with self._lock:
            found = self._access.get(access_token)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]

    def expire_tokens(self) -> None:
        with self._lock:
            self._access.clear()

    def clear(self) -> None:
        with self._lock:
            self.clients.clear()
            self._access.clear()
            self._refresh.clear()


def _denied(error: str) -> TokenAnswer:
    return TokenAnswer(401, {"error": error, "error_description": "access_denied"})
