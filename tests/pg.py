"""A throwaway PostgreSQL server for tests: its own data folder, a Unix socket, no TCP."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> str | None:
    """None if a server can be started here, else why not."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to drop privileges for initdb"
    return None


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yield a SQLAlchemy URL for an empty database; stop and delete it after."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    assert initdb is not None and pg_ctl is not None
    root = Path(tempfile.mkdtemp(prefix="veilleur-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True,  # noqa: E731
                                      timeout=120)
    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"), "-o",
            f"-c listen_addresses='' -k {sock} -p 55432 -F", "start")
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port=55432"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
