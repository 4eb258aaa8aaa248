"""The DCE reader never crashes: any mutated, truncated or garbled document is bad input."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import attachment, author, dm_export, export, message
from veilleur.events import MessagePosted
from veilleur.ingest.dce import read_dce
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)

BASES = [
    export([message("hello", id="1"), message("again", id="2", attachments=[
        attachment("x.json_Files\\a.png", id="9")])]),
    dm_export([message("dm", id="3", user=author("5", "bob"))]),
]


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    doc = json.loads(json.dumps(doc))
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def run(data: bytes) -> tuple[list[Any], ProblemLog]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.json"
        path.write_bytes(data)
        problems = ProblemLog()
        events = list(read_dce(path, problems, MediaReader()))
    return events, problems


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_documents_never_crash(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(base)))
        base = mutate(base, path, data.draw(json_values), delete=bool(path) and data.draw(
            st.booleans()))
    events, problems = run(json.dumps(base).encode())
    # Either everything was read, or what was not is reported: never an exception.
    n_messages = sum(isinstance(e, MessagePosted) for e in events)
    if not problems:
        assert n_messages == len(base["messages"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(BASES), st.floats(0, 1), st.binary(max_size=8))
def test_truncated_or_garbled_bytes_never_crash(base: Any, fraction: float, junk: bytes
                                                ) -> None:
    text = json.dumps(base, indent=2).encode()
    cut = int(len(text) * fraction)
    _events, problems = run(text[:cut] + junk)
    if cut < len(text):
        assert problems, "a document cut short must be reported"
