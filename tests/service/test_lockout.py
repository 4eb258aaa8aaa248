"""Per-account login lockout, counted in the database (issue 15, item 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from veilleur.service.auth import Lockout, add_account, attempt_login, set_password
from veilleur.store.db import connect, database_url

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RIGHT, WRONG = "the right password", "a wrong password"
POLICY = Lockout(failures=3, window=timedelta(minutes=15), first=timedelta(minutes=5))


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = connect(database_url(str(tmp_path / "a.db")))
    add_account(engine, "rita", RIGHT, "reviewer", T0)
    return engine


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ok(db: Engine, when: datetime) -> bool:
    return attempt_login(db, "rita", RIGHT, when, POLICY).account is not None


def fail(db: Engine, when: datetime) -> datetime | None:
    attempt = attempt_login(db, "rita", WRONG, when, POLICY)
    assert attempt.account is None
    return attempt.locked_until


def test_failures_lock_the_account_even_for_the_right_password(db: Engine) -> None:
    assert fail(db, at(0)) is None and fail(db, at(1)) is None
    assert fail(db, at(2)) == at(7)  # the third within the window: five minutes
    locked = attempt_login(db, "rita", RIGHT, at(3), POLICY)
    assert locked.account is None and locked.locked_until == at(7)
    assert ok(db, at(7))  # the lock has run out


def test_failures_outside_the_window_do_not_add_up(db: Engine) -> None:
    fail(db, at(0))
    fail(db, at(1))
    assert fail(db, at(20)) is None  # the window restarted: one failure
    assert fail(db, at(21)) is None
    assert fail(db, at(22)) == at(27)


def test_a_success_resets_the_count(db: Engine) -> None:
    fail(db, at(0))
    fail(db, at(1))
    assert ok(db, at(2))
    assert fail(db, at(3)) is None and fail(db, at(4)) is None
    assert ok(db, at(5))


def test_each_lock_without_a_success_between_lasts_twice_as_long(db: Engine) -> None:
    for i in range(3):
        fail(db, at(i))
    assert fail(db, at(10)) is None  # lock 1 (5 min) is over
    fail(db, at(11))
    assert fail(db, at(12)) == at(22)  # lock 2: ten minutes
    assert not ok(db, at(21))
    assert ok(db, at(22))
    for i in range(3):  # a success in between: back to five minutes
        until = fail(db, at(30 + i))
    assert until == at(37)
    assert Lockout().delay(40) == Lockout().longest


def test_the_count_survives_a_restart_and_is_shared(db: Engine, tmp_path: Path) -> None:
    fail(db, at(0))
    fail(db, at(1))
    db.dispose()
    other = connect(database_url(str(tmp_path / "a.db")))  # a restart, another worker
    assert fail(other, at(2)) == at(7)
    assert not ok(db, at(3))


def test_a_new_password_lifts_the_lock(db: Engine) -> None:
    for i in range(3):
        fail(db, at(i))
    set_password(db, "rita", "another long password")
    assert attempt_login(db, "rita", "another long password", at(3), POLICY).account


def test_unknown_and_disabled_accounts_are_never_counted(db: Engine) -> None:
    for i in range(5):
        attempt = attempt_login(db, "nobody", WRONG, at(i), POLICY)
        assert attempt.account is None and attempt.locked_until is None
