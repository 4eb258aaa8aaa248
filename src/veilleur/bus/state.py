"""The engine's memory on the bus: `KeyedState` over Quix's state store, and labels.

Events are keyed by the place they belong to (`topics.partition_key`), so what the engine
remembers splits in two:

- **Kept with the place**: its channels' directory entries, a server's text profile and
  talk, its channels' and its own roll-up counts, a conversation's stages, the book entries
  of its messages, channels and the server itself. These live in the Quix state of the
  message's key (RocksDB, backed by a changelog topic): a worker that takes a partition over
  restores them from the changelog and goes on where the last commit left them, and a
  message read again after a failure finds the state as it was before it.
- **Shared across places** (`merges()`): accounts (their names, ages said in one
  conversation and read in another, their roll-up and book entries, fed by every server they
  write in), servers' directory entries (a server's owner is read where it is found, also
  from another place: a successor found from a casework label) and the platform graph
  (servers, accounts, media, invites, successors). Every worker keeps
  a replica in memory; what a worker changes goes out as a label on the `labels` topic (one
  per changed key, before each commit of the events' offsets), and every worker merges the
  labels of the others into its replica. Merges keep what both sides saw (unions, maxima,
  the earliest time, a deterministic choice on ties), so the order labels arrive in, or
  reading one twice, does not matter; names are the exception (the first known stays: a
  rename reaches the others only through a new node). A worker reads the whole topic
  (compacted: the last label per key) before it takes events, then follows it.

The labels topic is as trusted as the events topic: anyone who can write it can make a
worker believe things (as anyone who can write `events` can make it find things). Give
write access to both to the workers and the casework writer only (Kafka ACLs); what is read
is still checked (types, finite numbers, strengths between 0 and 1, an entry's signals on
the key's own account and category, text that is valid UTF-8) and what fails is counted and
skipped, never a crash.

Outside any event (a label from casework, a server removed, makes the network detector
signal its successors), places' namespaces are this process's scratch: what is found then
goes out as findings, but is not booked with the place's own signals.

Values are JSON through each namespace's codec (`statecodec`, and the graph's and the
conversations' own): never pickles, since the changelog and the labels are topics others
can write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from veilleur.statecodec import CodecError, codec

log = logging.getLogger("veilleur.bus.state")

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]
LABEL_VERSION = 1
CASEWORK = "casework"
"""The namespace of casework's labels (a server removed, an account confirmed)."""
_MAX_SCRATCH = 100_000
_MAX_DECODED = 200_000


def codecs() -> dict[str, Codec]:
    """Every namespace the engine keeps, with its codec."""
    from veilleur.decide import policy, rollup
    from veilleur.detect import places
    from veilleur.detect.network import detector as network
    from veilleur.detect.text import detector as text
    from veilleur.events import Channel, Guild, User
    from veilleur.store.memory import default_codecs

    out: dict[str, Codec] = dict(default_codecs())
    typed: dict[str, Any] = {**text.STATE, **rollup.STATE, **policy.STATE, **places.STATE,
                             **network.STATE,
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

    return {**MERGES, "user": merge_fields, "guild": merge_fields, "conv.age": merge_records,
            "rollup.account": merge_places, "book.user": merge_entries}


def merge_fields(a: Any, b: Any) -> Any:
    """A directory entry (an account, a server: its name, owner, description) as two
    processes know it: each field either knows; where both know different things, the same
    pick whatever the order (entries keep no time of change)."""
    import dataclasses

    from veilleur.events import MAX_ROLES

    def pick(name: str, x: Any, y: Any) -> Any:
        if x is None or x == "":
            return y
        if y is None or y == "" or x == y:
            return x
        if name == "roles":  # a server's roles as both saw them, in one order
            return tuple(sorted(set(x) | set(y)))[:MAX_ROLES]
        return max(x, y, key=repr)

    return dataclasses.replace(a, **{
        f.name: pick(f.name, getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(a)})


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
        self.unwritable = 0
        """Values that could not be encoded (not kept; logged)."""
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
                try:
                    body = orjson.dumps(self._codecs[namespace][0](value))
                except (TypeError, orjson.JSONEncodeError) as exc:
                    # Not kept rather than a worker stopped on every start (the event is
                    # read again after a crash): said, counted.
                    self.unwritable += 1
                    log.error("%s %r not kept: %s", namespace, key, exc)
                    continue
                self._quix.set_bytes(_state_key(namespace, key), body)
                if len(self._decoded) >= _MAX_DECODED:
                    self._decoded.clear()
                self._decoded[namespace, key] = (body, value)
        finally:
            self._quix = None
            self._local.clear()
            self._written.clear()

    def forget(self) -> None:
        """Drop the decoded values kept beside their bytes (they are checked against the
        store's bytes anyway; this only frees them when partitions change hands)."""
        self._decoded.clear()

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

    def unsent(self, labels: list[dict[str, Any]]) -> None:
        """Labels that did not reach the topic: changed again, to go with the next ones."""
        for lab in labels:
            k = (str(lab["ns"]), str(lab["key"]))
            if k in self.replica:
                self._dirty[k] = None

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
            orjson.dumps(raw.get("value"))  # text this worker could not write again
            theirs = self._decode(namespace, raw.get("value"))
        except (CodecError, TypeError, orjson.JSONEncodeError) as exc:
            raise LabelError(str(exc)) from None
        if namespace == "book.user":
            _check_entry(key, theirs)
        k = (namespace, key)
        mine = self.replica.get(k)
        self.replica[k] = theirs if mine is None else merge(mine, theirs)
        return k


def _check_entry(key: str, entry: Any) -> None:
    """An account's book entry from a label: its signals are on the key's own account and
    category, each of a strength a detector can give (0 to 1)."""
    from veilleur.decide.policy import book_key

    for signal in entry.signals.values():
        if book_key(signal.target, signal.category) != key:
            raise LabelError(f"book.user {key!r}: a signal on another target or category")
        if not 0.0 <= signal.strength <= 1.0:
            raise LabelError(f"book.user {key!r}: a strength of {signal.strength}")


def label(namespace: str, key: str, value: Any, worker: str) -> dict[str, Any]:
    return {"v": LABEL_VERSION, "ns": namespace, "key": key, "value": value,
            "worker": worker}


def label_key(raw: Mapping[str, Any]) -> str:
    """The label's key on the compacted topic: one per namespace and key."""
    return _state_key(str(raw["ns"]), str(raw["key"]))


def _state_key(namespace: str, key: str) -> str:
    return f"{namespace}\x1f{key}"
