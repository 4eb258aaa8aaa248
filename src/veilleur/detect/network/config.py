"""`policies/network.toml`, validated at load (errors name the file and the entry)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.detect.base import POLICY_DIR, PolicyDataError, load_policy_toml, matches_empty


class NetworkPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Sign:
    name: str
    sets: frozenset[str]
    regex: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    version: str
    successor: Mapping[str, float]
    returning: Mapping[str, float]
    catalogue: Mapping[str, float]
    signs: tuple[Sign, ...]


REQUIRED = {
    "successor": ("threshold", "members_some", "members_many", "weight_members_some",
                  "weight_members_many", "weight_pointed", "weight_name", "name_similarity",
                  "weight_owner_same", "weight_owner_member", "weight_media", "window_days",
                  "invite_to_fallen"),
    "returning": ("threshold", "weight_media", "weight_join_order", "join_order_min",
                  "join_order_max_members",
                  "weight_name", "name_similarity", "weight_created_after",
                  "created_window_days", "weight_successor", "weight_name_same",
                  "name_min_chars", "weight_created_soon", "created_soon_hours"),
    "catalogue": ("signs_for_signal", "weight_strong", "weight_two"),
}
"""Every number each table must hold: a policy written before a key existed is refused with
the key named, rather than run with a behaviour nobody chose."""


def load_network_policy(policy_dir: Path = POLICY_DIR) -> NetworkPolicy:
    path = policy_dir / "network.toml"
    return parse_network_policy(load_policy_toml(path, NetworkPolicyError), str(path))


def parse_network_policy(data: Mapping[str, Any], where: str = "network") -> NetworkPolicy:
    def fail(entry: str, msg: str) -> NetworkPolicyError:
        return NetworkPolicyError(f"{where}: {entry}: {msg}")

    def numbers(name: str) -> dict[str, float]:
        t = data.get(name)
        if not isinstance(t, dict):
            raise fail(f"[{name}]", "missing or not a table")
        out = {}
        for k, v in t.items():
            if name == "catalogue" and k == "signs":
                if not isinstance(v, dict):
                    raise fail("catalogue.signs", "must be a table of signs")
                continue
            if k not in REQUIRED[name]:
                raise fail(f"{name}.{k}", "unknown key (a typo leaves the policy's own "
                           "number unset)")
            if (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
                    or v < 0):
                raise fail(f"{name}.{k}", "must be a finite number >= 0")
            out[k] = float(v)
        return out

    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise fail("version", "missing")
    if unknown := set(data) - {"version", *REQUIRED}:
        raise fail("top level", f"unknown key(s) {sorted(unknown)}")
    successor = numbers("successor")
    returning = numbers("returning")
    catalogue = numbers("catalogue")
    for name, table in (("successor", successor), ("returning", returning),
                        ("catalogue", catalogue)):
        missing = [k for k in REQUIRED[name] if k not in table]
        if missing:
            raise fail(f"[{name}]", f"missing {', '.join(missing)}")
    signs = []
    for name, raw in data["catalogue"].get("signs", {}).items():
        if not isinstance(raw, dict):
            raise fail(f"catalogue.signs.{name}", "must be a table")
        if unknown := set(raw) - {"sets", "regex"}:
            raise fail(f"catalogue.signs.{name}", f"unknown key(s) {sorted(unknown)}")
        sets = raw.get("sets", [])
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise fail(f"catalogue.signs.{name}.sets", "must list term sets")
        try:
            regex = re.compile(raw["regex"]) if raw.get("regex") else None
        except (re.error, TypeError) as exc:
            raise fail(f"catalogue.signs.{name}.regex", str(exc)) from None
        if regex is not None and matches_empty(regex):
            raise fail(f"catalogue.signs.{name}.regex",
                       "matches an empty name (it would match every channel)")
        if not sets and regex is None:
            raise fail(f"catalogue.signs.{name}", "needs term sets or a regex")
        signs.append(Sign(name, frozenset(sets), regex))
    if not signs:
        raise fail("catalogue.signs", "at least one sign")
    return NetworkPolicy(version, successor, returning, catalogue, tuple(signs))
