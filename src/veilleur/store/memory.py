"""`StoredMemory`: the detectors' memory (conversations, the platform graph) in the database.

A `KeyedState` with a write-behind cache: reads go to the cache, then to the table (a miss is
remembered too); writes stay in the cache and go to the table in one transaction every
`batch` changes and when the engine closes. Namespaces are kept as JSON through the codecs
their detectors declare (never pickles: the database is not trusted to run code); a
namespace without a codec stays in this process's memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from veilleur.store.models import MemoryRow

_MISSING = object()


def default_codecs() -> dict[str, tuple[Any, Any]]:
    from veilleur.detect.conversation.ages import record_in, record_out
    from veilleur.detect.conversation.risk import conversation_in, conversation_out
    from veilleur.detect.network.graph import CODECS

    return {**CODECS, "conv.age": (record_out, record_in),
            "conv.dm": (conversation_out, conversation_in)}


class StoredMemory:
    def __init__(self, db: Engine, codecs: Mapping[str, tuple[Any, Any]] | None = None, *,
                 batch: int = 20_000, max_cache: int = 500_000) -> None:
        self.db = db
        self.codecs = dict(codecs if codecs is not None else default_codecs())
        self.batch = batch
        self.max_cache = max_cache
        """Past this many cached keys, the cache is emptied after a flush (long runs)."""
        self._cache: dict[tuple[str, str], Any] = {}
        self._process: dict[tuple[str, str], Any] = {}
        """Namespaces without a codec: this process's only, never trimmed."""
        self._dirty: set[tuple[str, str]] = set()

    def get(self, namespace: str, key: str) -> Any | None:
        if namespace not in self.codecs:
            return self._process.get((namespace, key))
        found = self._cache.get((namespace, key), _MISSING)
        if found is not _MISSING:
            return found
        value = None
        codec = self.codecs.get(namespace)
        if codec is not None:
            with self.db.connect() as conn:
                row = conn.execute(select(MemoryRow.value).where(
                    MemoryRow.namespace == namespace, MemoryRow.key == key)).first()
            if row is not None:
                value = codec[1](row[0])
        self._cache[namespace, key] = value
        return value

    def put(self, namespace: str, key: str, value: Any) -> None:
        if namespace not in self.codecs:
            self._process[namespace, key] = value
            return
        self._cache[namespace, key] = value
        self._dirty.add((namespace, key))
        if len(self._dirty) >= self.batch:
            self.flush()

    def flush(self) -> None:
        self.detach()()

    def detach(self) -> Callable[[], None]:
        """Encode what changed now (the objects keep changing) and return the write of it.
        Call it when no earlier write is pending: the cache is trimmed to what is unwritten."""
        if len(self._cache) > self.max_cache:
            # Long runs: everything clean is in the table already; reads refill the cache.
            self._cache = {k: self._cache[k] for k in self._dirty}
        if not self._dirty:
            return lambda: None
        now = datetime.now(UTC)
        rows = [{"namespace": ns, "key": key,
                 "value": self.codecs[ns][0](self._cache[ns, key]), "updated_at": now}
                for ns, key in sorted(self._dirty)]
        self._dirty.clear()

        def write() -> None:
            insert = postgresql.insert if self.db.dialect.name == "postgresql" \
                else sqlite.insert
            stmt = insert(MemoryRow.__table__)  # type: ignore[arg-type]
            stmt = stmt.on_conflict_do_update(
                index_elements=["namespace", "key"],
                set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
            with self.db.begin() as conn:
                for i in range(0, len(rows), 1000):
                    conn.execute(stmt, rows[i:i + 1000])

        return write
