"""Why a platform could not be reached, told apart, with the likely fix.

Both clients turn a ``requests`` failure to connect into a
:class:`~itsm_align.integration.base.PlatformError` through
:func:`connection_error`, so a person reads "refused", "does not resolve",
"TLS" or "no answer" with the URL and what to check, never a bare
``ConnectionError``. ``error.unreachable`` names the kind: ``refused`` and
``dns`` are almost always a wrong URL or a site that is down, so the CLI's
retry policy does not spend half a minute on them (the worker, which waits
out outages, still retries them).
"""
from __future__ import annotations

import socket
import ssl
from typing import Iterator
from urllib.parse import urlsplit

import requests

from .base import ConfigurationError, PlatformError, TransientError

#: Kinds a caller may give up on at once (a wrong URL or a site that is down).
FAIL_FAST = frozenset({"refused", "dns"})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, its causes and contexts, and exceptions nested in args (urllib3 wraps them)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       *[a for a in current.args if isinstance(a, BaseException)]):
            if isinstance(nested, BaseException):
                todo.append(nested)


def _kind(error: BaseException) -> str:
    chain = list(_chain(error))
    text = " ".join(str(e) for e in chain).lower()
    if isinstance(error, requests.exceptions.SSLError) or any(isinstance(e, ssl.SSLError) for e in chain):
        return "tls"
    if isinstance(error, requests.Timeout) or any(isinstance(e, (socket.timeout, TimeoutError)) for e in chain):
        return "timeout"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text \
            or "failed to resolve" in text or "nodename nor servname" in text or "name resolution" in text:
        return "dns"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "refused"
    return "network"


def connection_error(platform: str, url: str, error: BaseException, *, setting: str = "url",
                     timeout: float | None = None) -> PlatformError:
    """The error to raise for a request to ``url`` that never got an answer.
    ``setting``: the config key holding the URL (``jira.url``, ``servicenow.instance``)."""
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else url
    kind = _kind(error)
    made: PlatformError
    if kind == "tls":
        detail = next((str(e) for e in _chain(error) if isinstance(e, ssl.SSLError)), type(error).__name__)
        made = ConfigurationError(platform, f"TLS with {base} failed ({detail}): if the site uses a private CA, "
                                            f"give its certificate file in {platform}.ca_bundle; check that "
                                            f"{platform}.{setting} names the site's own host")
    elif kind == "timeout":
        waited = f" within {timeout:g}s" if timeout else ""
        made = TransientError(platform, f"no answer from {base}{waited}: the site is slow or a firewall drops "
                                        f"the traffic; check that it opens from this machine (curl -I {base}), "
                                        f"or raise {platform}.timeout")
    elif kind == "dns":
        made = TransientError(platform, f"{host} does not resolve: check {platform}.{setting} ({base}) for a typo, "
                                        "and this machine's DNS or proxy")
    elif kind == "refused":
        made = TransientError(platform, f"{base} refused the connection: nothing listens on {host}:{port}. "
                                        f"Check {platform}.{setting} (scheme and port) and that the site is up")
    else:
        made = TransientError(platform, f"cannot reach {base} ({type(error).__name__}): check the network "
                                        f"between this machine and {host}")
    made.unreachable = kind
    return made
