"""Servers' role lists, written by independent hands, and how the engine reads them.

Each file (`corpus/roles/<writer>.toml`) is one writer's servers: `writer = "r9"` and
`[[server]]` tables with `id`, `kind` (`none`, `csam` or `ncii`), `lang`, `about` (for humans)
and `roles` (names, highest first, as Discord shows them). A server is measured alone: a
neutral name, its owner, its roles, nothing else (no channel, no message). A role's signal is
evidence that joins the server's others, never a finding alone, so what is measured is
which servers the roles give evidence against, of which category (`signalled`), and that no
server is found from its roles alone. Which writers were studied and which are held out is
`split.py`'s.

    python -m veilleur.corpus.role_lists [FILE ...]   # check, then measure, per writer
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from veilleur.evaluate import Score, fraction
from veilleur.events import MAX_ROLE_CHARS, MAX_ROLES, Guild, GuildCreated
from veilleur.taxonomy import Category, TargetKind

ROLES_DIR = Path(__file__).resolve().parent / "roles"
KINDS = ("none", "csam", "ncii")
_LANGS = ("fr", "en", "es", "mixed")
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


class RoleListError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RoleList:
    writer: str
    id: str
    kind: str
    lang: str
    about: str
    roles: tuple[str, ...]

    @property
    def category(self) -> Category | None:
        return None if self.kind == "none" else Category(self.kind)


def load_role_lists(paths: Iterable[Path] | None = None) -> list[RoleList]:
    """Every server of the given files (default: the corpus's), checked."""
    out: list[RoleList] = []
    seen: set[tuple[str, str]] = set()
    for path in sorted(paths if paths is not None else ROLES_DIR.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RoleListError(f"{path}: cannot read: {exc}") from None
        writer = data.get("writer")
        if not isinstance(writer, str) or not writer:
            raise RoleListError(f"{path}: missing 'writer'")
        servers = data.get("server")
        if not isinstance(servers, list) or not servers:
            raise RoleListError(f"{path}: no [[server]] tables")
        for i, raw in enumerate(servers):
            where = f"{path}: server #{i + 1}"
            if not isinstance(raw, dict):
                raise RoleListError(f"{where} must be a table")
            sid, kind, lang = raw.get("id"), raw.get("kind"), raw.get("lang")
            if not isinstance(sid, str) or not sid or (writer, sid) in seen:
                raise RoleListError(f"{where}: 'id' must be a new, non-empty string")
            seen.add((writer, sid))
            if kind not in KINDS:
                raise RoleListError(f"{where} ({sid}): 'kind' must be one of {KINDS}")
            if lang not in _LANGS:
                raise RoleListError(f"{where} ({sid}): 'lang' must be one of {_LANGS}")
            roles = raw.get("roles")
            if not isinstance(roles, list) or not roles or len(roles) > MAX_ROLES or not all(
                    isinstance(r, str) and r.strip() and len(r) <= MAX_ROLE_CHARS
                    for r in roles):
                raise RoleListError(f"{where} ({sid}): 'roles' must list 1-{MAX_ROLES} "
                                    f"non-empty names of at most {MAX_ROLE_CHARS} characters")
            out.append(RoleList(writer, sid, kind, lang, str(raw.get("about", "")),
                                tuple(roles)))
    return out


@dataclass
class RoleMeasure:
    scores: dict[Category, Score]
    """Servers signalled of their category by their roles (tp), innocent ones signalled
    (fp, in every category they were signalled of), abusive ones not signalled of their
    category (fn)."""
    found: int
    """Servers found (a finding) from their roles alone: none, by design."""
    false_servers: list[tuple[RoleList, str]]
    missed: list[RoleList]
    _servers: Sequence[RoleList]

    @property
    def innocent(self) -> int:
        return sum(1 for s in self._servers if s.category is None)

    def lines(self) -> list[str]:
        innocent = self.innocent
        out = [f"  servers found from their roles alone: {self.found}/{len(self._servers)}"]
        if innocent:
            out.append(f"  innocent servers signalled: {len(self.false_servers)}/{innocent}")
        for cat, s in sorted(self.scores.items(), key=lambda kv: kv[0].value):
            if not s.tp + s.fn:
                continue
            out.append(f"  {cat.value} signalled: precision "
                       f"{fraction(s.tp, s.tp + s.fp, s.precision_ci)}, recall "
                       f"{fraction(s.tp, s.tp + s.fn, s.recall_ci)}")
        return out


def measure_role_lists(servers: Sequence[RoleList]) -> RoleMeasure:
    """Each server through the engine alone (a fresh one per writer is not needed: servers
    share nothing but the engine's read-only policies)."""
    from veilleur.detect.base import DetectorSettings
    from veilleur.detect.text.detector import TextDetector
    from veilleur.engine import Engine

    settings = DetectorSettings(semantic=False)
    engine = Engine.build(settings)
    text = TextDetector.from_settings(settings)  # its own memory: reads each list afresh
    scores = {c: Score() for c in (Category.CSAM, Category.NCII)}
    false_servers: list[tuple[RoleList, str]] = []
    missed: list[RoleList] = []
    made = 0
    for i, srv in enumerate(servers):
        gid = f"roles-{i}"
        event = GuildCreated(ts=_T0, source="role lists",
                             guild=Guild(gid, "Server", owner_id=f"owner-{i}", roles=srv.roles))
        made += any(f.target.kind is TargetKind.GUILD for f in engine.process(event))
        found = {s.category for s in text.detect(event, engine.directory)
                 if s.target.kind is TargetKind.GUILD and s.key == "roles"}
        cat = srv.category
        for other in found - {cat}:
            scores.setdefault(other, Score()).fp += 1
        if found - {cat}:
            false_servers.append((srv, ",".join(sorted(c.value for c in found - {cat}))))
        if cat is not None:  # an abusive server found only of another category is missed
            if cat in found:
                scores[cat].tp += 1
            else:
                scores[cat].fn += 1
                missed.append(srv)
    return RoleMeasure(scores, made, false_servers, missed, servers)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or None
    try:
        servers = load_role_lists(paths)
    except RoleListError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for writer in sorted({s.writer for s in servers}):
        mine = [s for s in servers if s.writer == writer]
        r = measure_role_lists(mine)
        print(f"{writer}: {len(mine)} servers")
        print("\n".join(r.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
