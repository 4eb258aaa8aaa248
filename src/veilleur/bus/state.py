"""The engine's memory on the bus: `KeyedState` over Quix's state store, and labels.

Events are keyed by the place they belong to (`topics.partition_key`), so what the engine
remembers splits in two:

- **Kept with the place** (`LOCAL`): a server's directory entries, its text profile and
  talk, its channels' and its own roll-up counts, a conversation's stages, the book entries
  of its messages, channels and the server itself. These live in the Quix state of the
  message's key (RocksDB, backed by a changelog topic): a worker that takes a partition over
  restores them from the changelog and goes on where the last commit left them, and a
  message read again after a failure finds the state as it was before it.
- **Shared across places** (`MERGES`): accounts (their names, ages said in one conversation
  and read in another, their roll-up and book entries, fed by every server they write in)
  and the platform graph (servers, accounts, media, invites, successors). Every worker keeps
  a replica in memory; what a worker changes goes out as a label on the `labels` topic (one
  per changed key, at most once a second), and every worker merges the labels of the others
  into its replica. Merges keep what both sides saw (unions, maxima, the earliest time), so
  the order labels arrive in, or reading one twice, does not matter. A worker reads the
  whole topic (compacted: the last label per key) before it takes events, then follows it.

Outside any event (a label from casework, a server removed, makes the network detector
signal its successors), places' namespaces are this process's scratch: what is found then
goes out as findings, but is not booked with the place's own signals.

Values are JSON through each namespace's codec (`statecodec`, and the graph's and the
conversations' own): never pickles, since the changelog and the labels are topics others
can write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from veilleur.statecodec import CodecError, codec

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]
LABEL_VERSION = 1
CASEWORK = "casework"
_MAX_SCRATCH = 100_000
_MAX_DECODED = 200_000
"""The namespace of casework's labels (a server removed, an account confirmed)."""


def codecs() -> dict[str, Codec]:
    """Every namespace the engine keeps, with its codec."""
    from veilleur.decide import policy, rollup
    from veilleur.detect import places
    from veilleur.detect.text import detector as text
    from veilleur.events import Channel, Guild, User
    from veilleur.store.memory import default_codecs

    out: dict[str, Codec] = dict(default_codecs())
    typed: dict[str, Any] = {**text.STATE, **rollup.STATE, **policy.STATE, **places.STATE,
                             "guild": Guild, "channel": Channel, "user": User}
    for namespace, tp in typed.items():
        out[namespace] = codec(tp)
    return out


def merges() -> dict[str, Callable[[Any, Any], Any]]:
    """The shared namespaces, each with how two replicas' values merge."""
    from veilleur.decide.policy import merge_entries
    from veilleur.decide.rollup import merge_places
    from veilleur.detect.conversation.ages import merge_records
    from veilleur.detect.network.graph import MERGES

    return {**MERGES, "user": lambda mine, theirs: theirs, "conv.age": merge_records,
            "rollup.account": merge_places, "book.user": merge_entries}


class LabelError(ValueError):
    """A label that cannot be taken (skipped and counted; the worker goes on)."""


class BusState:
    """`KeyedState` for a detect worker. `bind` before each message with that message's
    Quix state, `release` after it (what the message changed is written then, once per
    key)."""

    def __init__(self, worker: str, *, codecs_: Mapping[str, Codec] | None = None,
                 merges_: Mapping[str, Callable[[Any, Any], Any]] | None = None) -> None:
        self.worker = worker
        self._codecs = dict(codecs_ if codecs_ is not None else codecs())
        self._merges = dict(merges_ if merges_ is not None else merges())
        missing = self._merges.keys() - self._codecs.keys()
        if missing:
            raise ValueError(f"shared namespaces without a codec: {sorted(missing)}")
        self._quix: Any = None
        self._local: dict[tuple[str, str], Any] = {}
        self._written: dict[tuple[str, str], None] = {}
        self.replica: dict[tuple[str, str], Any] = {}
        self._dirty: dict[tuple[str, str], None] = {}
        self._decoded: dict[tuple[str, str], tuple[bytes, Any]] = {}
        """The last bytes written of each place's key, with their value (not decoded again
        while the store holds the same bytes)."""
        self._scratch: dict[tuple[str, str], Any] = {}
        """Places' namespaces read or written outside any of their events (a label from
        casework that makes a detector signal a server): this process's only."""

    # --- KeyedState ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Any | None:
        if namespace in self._merges:
            return self.replica.get((namespace, key))
        k = (namespace, key)
        if k in self._local:
            return self._local[k]
        quix = self._bound(namespace)
        if quix is None:
            return self._scratch.get(k)
        raw = quix.get_bytes(_state_key(namespace, key))
        if raw is None:
            value = None
        else:
            known = self._decoded.get(k)
            # The bytes decide: another worker may have changed the key since this process
            # last held its partition; the same bytes are the same value, decoded already.
            value = known[1] if known is not None and known[0] == raw \
                else self._decode(namespace, orjson.loads(raw))
        self._local[k] = value
        return value

    def put(self, namespace: str, key: str, value: Any) -> None:
        k = (namespace, key)
        if namespace in self._merges:
            self.replica[k] = value
            self._dirty[k] = None
            return
        if self._bound(namespace) is None:
            if len(self._scratch) >= _MAX_SCRATCH:
                self._scratch.clear()
            self._scratch[k] = value
            return
        self._local[k] = value
        self._written[k] = None

    # --- one message -----------------------------------------------------------------------

    def bind(self, quix_state: Any) -> None:
        self._quix = quix_state
        self._local.clear()
        self._written.clear()

    def release(self) -> None:
        """Write what the message changed into its key's Quix state (committed with the
        message's offset) and forget the message's reads."""
        try:
            for namespace, key in self._written:
                value = self._local[namespace, key]
                body = orjson.dumps(self._codecs[namespace][0](value))
                self._quix.set_bytes(_state_key(namespace, key), body)
                if len(self._decoded) >= _MAX_DECODED:
                    self._decoded.clear()
                self._decoded[namespace, key] = (body, value)
        finally:
            self._quix = None
            self._local.clear()
            self._written.clear()

    def _bound(self, namespace: str) -> Any:
        if namespace not in self._codecs:
            raise KeyError(f"namespace {namespace!r} has no codec: it cannot be kept in "
                           "a state store")
        return self._quix

    def _decode(self, namespace: str, raw: Any) -> Any:
        try:
            return self._codecs[namespace][1](raw)
        except (CodecError, KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"{namespace}: {exc}") from None

    # --- labels ----------------------------------------------------------------------------

    def pending(self) -> int:
        return len(self._dirty)

    def labels(self) -> list[dict[str, Any]]:
        """What this worker changed in shared namespaces since the last call, as labels."""
        out = []
        for namespace, key in self._dirty:
            out.append(label(namespace, key, self._codecs[namespace][0](
                self.replica[namespace, key]), self.worker))
        self._dirty.clear()
        return out

    def take(self, raw: Any) -> tuple[str, str] | None:
        """Merge another worker's label into the replica; (namespace, key) when it changed
        something this worker knows, None for its own labels. Raises `LabelError`."""
        if not isinstance(raw, dict) or raw.get("v") != LABEL_VERSION:
            raise LabelError("not a label of this version")
        namespace, key, worker = raw.get("ns"), raw.get("key"), raw.get("worker")
        if not isinstance(namespace, str) or not isinstance(key, str) \
                or not isinstance(worker, str):
            raise LabelError("a label needs 'ns', 'key' and 'worker' as strings")
        if worker == self.worker:
            return None
        merge = self._merges.get(namespace)
        if merge is None:
            raise LabelError(f"{namespace!r} is not a shared namespace")
        try:
            theirs = self._decode(namespace, raw.get("value"))
        except CodecError as exc:
            raise LabelError(str(exc)) from None
        k = (namespace, key)
        mine = self.replica.get(k)
        self.replica[k] = theirs if mine is None else merge(mine, theirs)
        return k


def label(namespace: str, key: str, value: Any, worker: str) -> dict[str, Any]:
    return {"v": LABEL_VERSION, "ns": namespace, "key": key, "value": value,
            "worker": worker}


def label_key(raw: Mapping[str, Any]) -> str:
    """The label's key on the compacted topic: one per namespace and key."""
    return _state_key(str(raw["ns"]), str(raw["key"]))


def _state_key(namespace: str, key: str) -> str:
    return f"{namespace}\x1f{key}"
