"""Hostile text for console pages, and a reading of a page that says where it landed.

Each field gets its own tag (`PWN-content`, `PWN-guild`…) in front of the same payloads: a
script, an image with an event handler, an attribute break-out into an htmx element that posts
as soon as it loads, and template syntax. A page is safe when every such text comes back as
text, whole, inside an element with `hx-disable`, and nothing in the page was built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

MARK = "PWN"
BAD_URL = f"/console/cases/{MARK}/decide"
PAYLOAD = (f'<script>alert(1)</script><img src={MARK} onerror=alert(1)>'
           f'"><i hx-post="{BAD_URL}" hx-trigger="load">{{{{7*7}}}}</i>')
SHORT = '"><i hx-post=x hx-trigger=load>{{7*7}}'
"""For ids, which must stay short (at most 64 characters)."""


def hostile(name: str, *, short: bool = False) -> str:
    return f"{MARK}-{name}{SHORT if short else PAYLOAD}"


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Reading:
    texts: list[tuple[str, bool]] = field(default_factory=list)
    """Each text node holding the mark, and whether an hx-disable element holds it."""
    injected: list[str] = field(default_factory=list)
    """Elements or attributes that came from hostile text."""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.out = Reading()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        values = [v or "" for _, v in attrs]
        if tag == "i" or "onerror" in names or (tag == "script" and "src" not in names) \
                or any(v.startswith(BAD_URL) or v == MARK for v in values) \
                or any(n.startswith(("hx-", "data-hx-")) and MARK in (v or "")
                       for n, v in attrs if n not in ("hx-post", "hx-headers")):
            self.out.injected.append(self.get_starttag_text() or tag)
        if any(n.startswith("hx-") and n != "hx-disable" for n in names) and self._disabled():
            # htmx would ignore it, but the console never puts its own controls there.
            self.out.injected.append(self.get_starttag_text() or tag)
        if tag not in VOID:
            self.stack.append((tag, "hx-disable" in names))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if MARK in data:
            self.out.texts.append((data, self._disabled()))

    def _disabled(self) -> bool:
        return any(d for _, d in self.stack)


def read(page: str) -> Reading:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader.out


def assert_safe(page: str, *names: str, short: tuple[str, ...] = ()) -> None:
    """Nothing in `page` was built from hostile text; each named field is shown, whole, as
    text inside an hx-disable element (the `short` ones with the short payload)."""
    reading = read(page)
    assert not reading.injected, reading.injected
    loose = [text for text, disabled in reading.texts if not disabled]
    assert not loose, f"hostile text outside any hx-disable element: {loose}"
    shown = "\n".join(text for text, _ in reading.texts)
    for name in (*names, *short):
        whole = hostile(name, short=name in short)
        assert whole in shown, f"{name}: not shown whole as text on the page"
