"""Who may do what: API keys for integrations and trusted flaggers (scoped), reviewer
accounts with roles, console sessions with CSRF tokens.

API keys are long random secrets, so a SHA-256 of the secret is enough to store them;
passwords are people's, so they get a memory-hard KDF (Argon2id, argon2-cffi's defaults).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.orm import Session

from veilleur.store.db import as_utc
from veilleur.store.models import AccountRow, ApiKeyRow, SessionRow

SCOPES = {
    "events": "send platform events (batch ingest)",
    "verdict": "ask for a verdict before posting a message or an upload",
    "reports": "send in-app user reports",
    "notices": "send DSA Art. 16 notices on behalf of notifiers",
    "orders": "send authority removal orders and their updates",
    "appeals": "send Art. 20 complaints",
    "cases:read": "read cases and decisions",
    "cases:decide": "decide cases (as a named reviewer)",
    "banks": "look up and add hash bank entries",
    "banks:override": "with 'banks': add allow entries that silence deny-listed hashes or "
                      "categories (recorded as overrides and audited)",
    "metrics": "read the Prometheus metrics (/metrics)",
}
FLAGGER_SCOPES = ("flagger",)
ROLES = ("reviewer", "specialist", "admin")
LANGUAGES = ("fr", "en", "es")
SESSION_HOURS = 12
_hasher = PasswordHasher()


class AuthError(ValueError):
    pass


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    kind: str
    """`integration` (a platform) or `flagger` (an Art. 22 trusted flagger)."""
    scopes: tuple[str, ...]
    flagger: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def create_key(db: Engine, name: str, scopes: list[str], now: datetime, *,
               flagger: str | None = None) -> tuple[ApiKey, str]:
    """A new key; the secret is returned once and only its digest is kept."""
    if flagger is not None:
        scopes = list(FLAGGER_SCOPES)
    else:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise AuthError(f"unknown scopes {', '.join(unknown)}; choose among "
                            f"{', '.join(SCOPES)}" if unknown else "a key needs a scope")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(key_id, name, "flagger" if flagger else "integration", tuple(scopes), flagger)
    with Session(db) as s, s.begin():
        s.add(ApiKeyRow(id=key_id, name=name, kind=key.kind, flagger=flagger,
                        scopes=list(scopes), secret_hash=_digest(secret), created_at=now))
    return key, f"vk_{key_id}_{secret}"


def check_key(db: Engine, token: str) -> ApiKey | None:
    try:
        _, key_id, secret = token.split("_", 2)
    except ValueError:
        return None
    with Session(db) as s:
        row = s.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        return ApiKey(row.id, row.name, row.kind, tuple(row.scopes), row.flagger)


def list_keys(db: Engine) -> list[dict[str, Any]]:
    with Session(db) as s:
        return [{"id": r.id, "name": r.name, "kind": r.kind, "flagger": r.flagger,
                 "scopes": r.scopes, "created_at": r.created_at, "revoked_at": r.revoked_at}
                for r in s.execute(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
                .scalars()]


def revoke_key(db: Engine, key_id: str, now: datetime) -> bool:
    with Session(db) as s, s.begin():
        done = s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id,
                                                 ApiKeyRow.revoked_at.is_(None))
                         .values(revoked_at=now))
        return bool(done.rowcount)  # type: ignore[attr-defined]


# --- reviewer accounts ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: str
    language: str
    preferences: dict[str, Any] = field(default_factory=dict)

    @property
    def sees_csam(self) -> bool:
        """Only child-safety specialists see child sexual abuse cases (and their media)."""
        return self.role == "specialist"

    @property
    def reviews(self) -> bool:
        return self.role in ("reviewer", "specialist")


def _check_password(password: str) -> None:
    if len(password) < 12:
        raise AuthError("a password needs at least 12 characters")


def add_account(db: Engine, username: str, password: str, role: str, now: datetime, *,
                language: str = "fr") -> Account:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if language not in LANGUAGES:
        raise AuthError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")
    if not username or len(username) > 64 or not username.replace(".", "").replace(
            "-", "").replace("_", "").isalnum():
        raise AuthError("a username is 1-64 letters, digits, '.', '-' or '_'")
    _check_password(password)
    with Session(db) as s, s.begin():
        if s.get(AccountRow, username) is not None:
            raise AuthError(f"account {username!r} already exists")
        s.add(AccountRow(username=username, password_hash=_hasher.hash(password), role=role,
                         language=language, preferences={}, created_at=now))
    return Account(username, role, language)


def set_password(db: Engine, username: str, password: str) -> None:
    _check_password(password)
    with Session(db) as s, s.begin():
        row = s.get(AccountRow, username)
        if row is None:
            raise AuthError(f"no account {username!r}")
        row.password_hash = _hasher.hash(password)
        # A new password set by an administrator also lifts a lock.
        row.failed_logins, row.failed_since, row.locked_until, row.lockouts = 0, None, None, 0
        s.execute(delete(SessionRow).where(SessionRow.username == username))


def disable_account(db: Engine, username: str, now: datetime) -> None:
    with Session(db) as s, s.begin():
        row = s.get(AccountRow, username)
        if row is None:
            raise AuthError(f"no account {username!r}")
        row.disabled_at = now
        s.execute(delete(SessionRow).where(SessionRow.username == username))


def reviewer_account(db: Engine, username: str) -> Account:
    """The account of someone who reviews cases outside the console (the CLI), checked as
    the console checks a login's: it exists, is not disabled, and its role reviews. Which
    cases it may then see is `casepage.visible_to`, the console's own rule."""
    with Session(db) as s:
        row = s.get(AccountRow, username)
        if row is None:
            raise AuthError(f"no account {username!r}: a reviewer needs an account with the "
                            f"reviewer or specialist role (`veilleur accounts add {username} "
                            "--role reviewer`)")
        if row.disabled_at is not None:
            raise AuthError(f"account {username!r} is disabled")
        account = _account(row)
    if not account.reviews:
        raise AuthError(f"account {username!r} has the {account.role} role: only reviewers "
                        "and specialists review cases")
    return account


def list_accounts(db: Engine) -> list[dict[str, Any]]:
    with Session(db) as s:
        return [{"username": r.username, "role": r.role, "language": r.language,
                 "created_at": r.created_at, "disabled_at": r.disabled_at}
                for r in s.execute(select(AccountRow).order_by(AccountRow.username)).scalars()]


def _account(row: AccountRow) -> Account:
    return Account(row.username, row.role, row.language, dict(row.preferences or {}))


@dataclass(frozen=True, slots=True)
class Lockout:
    """How many failed logins lock an account, and for how long. Counted per account in the
    database: a restart or another worker does not start the count again, and guessing from
    many addresses is counted as much as from one."""

    failures: int = 5
    window: timedelta = timedelta(minutes=15)
    """Failures further apart than this do not add up."""
    first: timedelta = timedelta(minutes=5)
    longest: timedelta = timedelta(hours=24)

    def delay(self, lockouts: int) -> timedelta:
        """The length of the `lockouts`-th lock since the last success: doubling."""
        return min(self.longest, self.first * (1 << min(max(lockouts - 1, 0), 20)))


@dataclass(frozen=True, slots=True)
class Attempt:
    account: Account | None
    """The person, when the password was right and the account not locked."""
    locked_until: datetime | None = None
    """For the audit log only: the person logging in is told nothing more than 'wrong'."""


def attempt_login(db: Engine, username: str, password: str, now: datetime,
                  policy: Lockout | None = None) -> Attempt:
    """Check a console login. A locked account is refused even with the right password, and
    looks exactly like a wrong password (same answer, same time: a hash is computed either
    way), so the lock tells nobody that the account exists."""
    policy = policy or Lockout()
    with Session(db) as s:
        row = s.get(AccountRow, username)
        if row is not None:
            s.expunge(row)
    if row is None or row.disabled_at is not None:
        _hasher.hash(password)  # the same time whether or not the account exists
        return Attempt(None)
    locked = as_utc(row.locked_until)
    if locked is not None and locked > now:
        _hasher.hash(password)
        return Attempt(None, locked)
    try:
        _hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Attempt(None, _failed(db, username, now, policy))
    # The slow hash is checked outside any transaction; the writes below are short, and each
    # starts with its UPDATE, so two workers never act on a stale read of the counter.
    with db.begin() as conn:
        done = conn.execute(update(AccountRow).where(
            AccountRow.username == username,
            (AccountRow.locked_until.is_(None)) | (AccountRow.locked_until <= now))
            .values(failed_logins=0, failed_since=None, locked_until=None, lockouts=0))
        if not done.rowcount:  # locked by another worker meanwhile
            return Attempt(None, now)
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(update(AccountRow).where(AccountRow.username == username)
                         .values(password_hash=_hasher.hash(password)))
    return Attempt(_account(row))


def _failed(db: Engine, username: str, now: datetime, policy: Lockout) -> datetime | None:
    """Count one failure; lock the account when the window holds enough. The increment is
    one UPDATE, so concurrent failures (several workers, several hosts) all count."""
    fresh = AccountRow.failed_since.is_(None) | (AccountRow.failed_since <= now - policy.window)
    with db.begin() as conn:
        conn.execute(update(AccountRow).where(AccountRow.username == username).values(
            failed_logins=case((fresh, 1), else_=AccountRow.failed_logins + 1),
            failed_since=case((fresh, now), else_=AccountRow.failed_since)))
        failures, lockouts = conn.execute(
            select(AccountRow.failed_logins, AccountRow.lockouts)
            .where(AccountRow.username == username)).one()
        if failures < policy.failures:
            return None
        until = now + policy.delay(lockouts + 1)
        conn.execute(update(AccountRow).where(AccountRow.username == username).values(
            failed_logins=0, failed_since=None, locked_until=until, lockouts=lockouts + 1))
        return until


def set_preferences(db: Engine, username: str, **prefs: Any) -> Account:
    with Session(db) as s, s.begin():
        row = s.get(AccountRow, username)
        if row is None:
            raise AuthError(f"no account {username!r}")
        merged = dict(row.preferences or {})
        for k, v in prefs.items():
            if k == "language":
                if v not in LANGUAGES:
                    raise AuthError(f"language must be one of {', '.join(LANGUAGES)}")
                row.language = v
            else:
                merged[k] = v
        row.preferences = merged
        return _account(row)


# --- sessions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    account: Account
    csrf: str


def open_session(db: Engine, account: Account, now: datetime) -> tuple[str, str]:
    """A new session: the cookie's secret (kept only as a digest) and its CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with Session(db) as s, s.begin():
        s.execute(delete(SessionRow).where(SessionRow.expires_at < now))
        s.add(SessionRow(id_hash=_digest(token), username=account.username, csrf=csrf,
                         created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return token, csrf


def session_login(db: Engine, token: str | None, now: datetime) -> Login | None:
    if not token:
        return None
    with Session(db) as s:
        row = s.get(SessionRow, _digest(token))
        if row is None or (as_utc(row.expires_at) or now) <= now:
            return None
        account = s.get(AccountRow, row.username)
        if account is None or account.disabled_at is not None:
            return None
        return Login(_account(account), row.csrf)


def close_session(db: Engine, token: str | None) -> None:
    if token:
        with Session(db) as s, s.begin():
            s.execute(delete(SessionRow).where(SessionRow.id_hash == _digest(token)))


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
