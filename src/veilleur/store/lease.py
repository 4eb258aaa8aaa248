"""The service's lease on its database: while `veilleur serve` runs, it alone writes casework.

The service holds cases, clocks, actions and evidence in memory and writes them back at its
checkpoints, so a second process changing them in the database (a command deciding a case, a
second service) would be overwritten, or would overwrite. The audit log is not at stake (every
process appends through `store.auditlog`); the casework is. So the service takes the lease
when it starts, renews it while its engine runs and gives it back when it stops; a process
that would write casework refuses while another holds it. A holder that stopped renewing
(killed) loses it after `TTL`; one on this host whose process is gone loses it at once, so a
restart after `kill -9` never waits.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, delete, insert, select, update

from veilleur.store.db import StoreError, as_utc, locked_transaction
from veilleur.store.models import LeaseRow

TTL = timedelta(seconds=60)
RENEW_EVERY = timedelta(seconds=10)
SERVE = "serve"
ROLES = {
    "serve": "veilleur serve",
    "serve --bus": "veilleur serve --bus",
    "sink": "veilleur worker --stage sink",
}
"""What may hold the lease, as refusals name it."""


@dataclass(frozen=True, slots=True)
class Holder:
    token: str
    pid: int
    host: str
    since: datetime
    renewed_at: datetime
    role: str = SERVE

    def __str__(self) -> str:
        return f"{ROLES.get(self.role, 'veilleur ' + self.role)} (pid {self.pid} on {self.host})"


class DatabaseHeld(StoreError):  # noqa: N818 - an answer, like StoreError
    def __init__(self, holder: Holder, wanted: str | None = None) -> None:
        super().__init__(_refusal(holder, wanted))
        self.holder = holder


def _refusal(holder: Holder, wanted: str | None) -> str:
    """Why `wanted` (a role, or None for a command) may not write casework now. On a bus the
    service and the sink stage are the same writer in two forms: never both on one database."""
    if wanted == "sink" and holder.role.startswith(SERVE):
        return (f"{holder} holds this database and writes its casework (with --bus it takes "
                "the findings itself): run `veilleur worker --stage sink` only where no "
                "service runs, or stop the service first")
    if wanted is not None and wanted.startswith(SERVE) and holder.role == "sink":
        return (f"{holder} holds this database and writes its casework: stop the sink "
                "before starting the service (`serve --bus` takes the findings itself)")
    if holder.role == "sink":
        return (f"{holder} holds this database and writes its casework: stop the sink "
                "first")
    return f"{holder} holds this database: use the console or the API, or stop the service " \
           "first"


def this_host() -> str:
    return socket.gethostname()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False


_COLUMNS = (LeaseRow.token, LeaseRow.pid, LeaseRow.host, LeaseRow.since, LeaseRow.renewed_at,
            LeaseRow.role)


def _live(row: Row[str, int, str, datetime, datetime, str], now: datetime) -> Holder | None:
    renewed = as_utc(row.renewed_at)
    since = as_utc(row.since)
    assert renewed is not None and since is not None
    if renewed + TTL <= now or (row.host == this_host() and _gone(row.pid)):
        return None
    return Holder(row.token, row.pid, row.host, since, renewed, row.role or SERVE)


def holder(db: Engine, now: datetime) -> Holder | None:
    """The live holder of the database, if any."""
    with db.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(LeaseRow.name == SERVE)).first()
    return _live(row, now) if row is not None else None


def refuse_if_held(db: Engine, now: datetime, *, mine: str | None = None) -> None:
    """Raise `DatabaseHeld` if a live holder other than `mine` holds the database."""
    held = holder(db, now)
    if held is not None and held.token != mine:
        raise DatabaseHeld(held)


def take(db: Engine, token: str, now: datetime, *, role: str = SERVE) -> None:
    """Hold the database (again) as `role` (a key of `ROLES`); `DatabaseHeld` if another
    live holder has it. Read and written under the write lock: two services starting
    together cannot both take it."""
    with locked_transaction(db) as conn:
        row = conn.execute(select(*_COLUMNS).where(LeaseRow.name == SERVE)).first()
        if row is not None:
            held = _live(row, now)
            if held is not None and held.token != token:
                raise DatabaseHeld(held, role)
            conn.execute(delete(LeaseRow).where(LeaseRow.name == SERVE))
        conn.execute(insert(LeaseRow).values(name=SERVE, token=token, pid=os.getpid(),
                                             host=this_host(), since=now, renewed_at=now,
                                             role=role))


def renew(db: Engine, token: str, now: datetime) -> bool:
    """False if the lease is no longer ours (this process stalled longer than `TTL` and
    another took it): the caller must stop writing."""
    with db.begin() as conn:
        n = conn.execute(update(LeaseRow).where(LeaseRow.name == SERVE,
                                                LeaseRow.token == token)
                         .values(renewed_at=now)).rowcount
    return bool(n)


def release(db: Engine, token: str) -> None:
    with db.begin() as conn:
        conn.execute(delete(LeaseRow).where(LeaseRow.name == SERVE, LeaseRow.token == token))
