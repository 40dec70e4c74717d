"""A throw-away PostgreSQL 15 for benchmarks: ``initdb`` in a temporary
directory, ``pg_ctl start`` on a free 127.0.0.1 port, removed on exit (as
root, the binaries run as user ``postgres``). Same settings as the test
fixture (tests/fixtures/servers.py): fsync off, so figures compare the
product's own work rather than this VM's disk."""
from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

PG_BIN = Path(os.environ.get("ITSM_ALIGN_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "itsm"
_names = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def temporary_postgres() -> Iterator[int]:
    """Run PostgreSQL until the block ends; yields its port."""
    if not (PG_BIN / "initdb").exists():
        raise SystemExit(f"PostgreSQL binaries not found in {PG_BIN} (set ITSM_ALIGN_PG_BIN)")
    prefix, owner = [], None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        prefix, owner = ["runuser", "-u", "postgres", "--"], "postgres"
    root = Path(tempfile.mkdtemp(prefix="itsm-align-bench-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if owner:
        shutil.chown(root, owner)
        shutil.chown(sockets, owner)
    port = _free_port()
    subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True)
    options = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=300")
    subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True)
    try:
        yield port
    finally:
        subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(port: int) -> str:
    """SQLAlchemy URL of a new empty database on the server at ``port``."""
    import psycopg

    name = f"bench_{os.getpid()}_{next(_names)}"
    with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{name}"


def server_pids(port: int) -> list[int]:
    """The PostgreSQL processes (postmaster and backends) of the server at ``port``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(cmd):
            pids.append(int(entry))
    if pids:  # backends are children of the postmaster (their command line is rewritten)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) in pids[:1] and int(entry) not in pids:
                    pids.append(int(entry))
    return pids
