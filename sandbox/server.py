"""The HTTP(S) server both sandboxes run on: cheroot, in a background thread.

Real Jira and ServiceNow keep connections alive and clients (requests'
connection pool, PySNC) reuse them. werkzeug's development server cannot: it
answers every request with ``Connection: close`` and then waits 10 ms for
stray body bytes, so each request to the HTTPS ServiceNow sandbox paid a TLS
handshake plus that wait. cheroot (CherryPy's WSGI server) keeps connections
alive, serves TLS, and parks idle connections without holding a thread.
"""
from __future__ import annotations

import errno
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter


class _ReusingServer(wsgi.Server):
    """Binds with SO_REUSEADDR even on port 0, so the same port can be bound
    again at once after a stop (connections the old listener accepted linger
    in TIME_WAIT, and would otherwise block the port for a minute)."""

    @staticmethod
    def bind_socket(socket_, bind_addr):  # type: ignore[no-untyped-def]
        socket_.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return wsgi.Server.bind_socket(socket_, bind_addr)


class SandboxServer:
    """Serve a WSGI app on ``host:port`` (0 = a free port) until :meth:`stop`.

    ``tls`` is an optional ``(certificate_pem_bytes, private_key_pem_bytes)``
    pair; the server then speaks HTTPS only. ``reuse_address``: the port can
    be bound again right after :meth:`stop` (for a sandbox's simulated outage).
    """

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0, *,
                 tls: tuple[bytes, bytes] | None = None, threads: int = 16, name: str = "sandbox-http",
                 reuse_address: bool = False) -> None:
        server_class = _ReusingServer if reuse_address else wsgi.Server
        self._server = server_class((host, port), app, numthreads=threads, shutdown_timeout=1,
                                    server_name=name)
        self._name = name
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{name}-tls-")
            cert, key = Path(self._tmp.name) / "cert.pem", Path(self._tmp.name) / "key.pem"
            cert.write_bytes(tls[0])
            key.write_bytes(tls[1])
            self._server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    def start(self) -> "SandboxServer":
        try:
            self._server.prepare()  # binds; bind_addr then holds the real port
        except OSError as error:
            self._cleanup()
            port = self._server.bind_addr[1]
            raise OSError(errno.EADDRINUSE, f"port {port} on {self.host} is already in use ({error})") from error
        self._thread = threading.Thread(target=self._server.serve, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
