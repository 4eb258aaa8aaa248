"""Typed access to untrusted JSON: every wrong shape is a `FieldError` naming the key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class FieldError(ValueError):
    pass


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(f"{what} must be an object, got {_kind(value)}")
    return value


def opt_obj(d: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = d.get(key)
    return None if value is None else obj(value, f"'{key}'")


def snowflake(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if isinstance(value, str) and value:
        return value
    # Hand-made exports sometimes write ids as numbers; the id is still unambiguous.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if key not in d:
        raise FieldError(f"missing '{key}'")
    raise FieldError(f"'{key}' must be a non-empty string id, got {_kind(value)}")


def opt_snowflake(d: dict[str, Any], key: str) -> str | None:
    if d.get(key) in (None, ""):
        return None
    return snowflake(d, key)


def text(d: dict[str, Any], key: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if isinstance(value, str):
        return value
    if value is None and default is not None:
        return default
    if key not in d:
        raise FieldError(f"missing '{key}'")
    raise FieldError(f"'{key}' must be a string, got {_kind(value)}")


def opt_text(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    raise FieldError(f"'{key}' must be a string or null, got {_kind(value)}")


def opt_int(d: dict[str, Any], key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise FieldError(f"'{key}' must be an integer, got {_kind(value)}")
    return int(value)


def flag(d: dict[str, Any], key: str) -> bool:
    value = d.get(key, False)
    if isinstance(value, bool):
        return value
    raise FieldError(f"'{key}' must be true or false, got {_kind(value)}")


def array(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError(f"'{key}' must be an array, got {_kind(value)}")
    return value


def timestamp(d: dict[str, Any], key: str) -> datetime:
    value = d.get(key)
    if value is None:
        raise FieldError(f"missing '{key}'")
    return parse_ts(value, key)


def opt_timestamp(d: dict[str, Any], key: str) -> datetime | None:
    value = d.get(key)
    return None if value is None else parse_ts(value, key)


def parse_ts(value: Any, key: str) -> datetime:
    """ISO 8601 with any offset (DCE writes the exporter's local time) → aware UTC."""
    if not isinstance(value, str):
        raise FieldError(f"'{key}' must be an ISO 8601 timestamp string, got {_kind(value)}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"'{key}' is not an ISO 8601 timestamp: {value[:40]!r}") from None
    # A timestamp without offset is taken as UTC, as the event log contract states.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
