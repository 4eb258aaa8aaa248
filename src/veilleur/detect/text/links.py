"""Links, read after de-obfuscation: `mega. nz`, `mega[.]nz`, `mega (dot) nz`, `mega point nz`,
`hxxps://`, spaces around slashes, fullwidth characters (already folded in the plain view).

Only domains on the lists in `policies/links.toml` are reported (file hosts, Discord invites,
Telegram, shorteners): a link is evidence for the rules, never a finding by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from veilleur.detect.base import PolicyDataError, load_policy_toml
from veilleur.detect.text.fold import Folded

_DOT = r"(?:\s*(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\[point\]|\(point\))\s*" \
       r"|\s+(?:dot|point|punto)\s+)"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SLASH = r"(?:\s*/\s*|\s+(?:slash|barre|barra|slach)\s+)"
_SEGMENT = r"[^\s/<>\"'`]+"
# The path's slashes may be spaced or spelled too ("mega . nz / folder / x", "discord dot gg
# slash x"): every slash-like separator between segments belongs to the path.
_CANDIDATE = re.compile(
    rf"(?<![a-z0-9@.-])(?P<host>{_LABEL}(?:{_DOT}{_LABEL})+)"
    rf"(?:{_SLASH}(?P<path>(?:{_SEGMENT}(?:{_SLASH}{_SEGMENT})*)?))?"
)
_PLAIN_DOT = re.compile(_DOT)
_PLAIN_SLASH = re.compile(_SLASH, re.IGNORECASE)
_HINT = re.compile(r"hxxps?|h\s+t\s*t\s*p|ht\s+tp|htt\s+p")
_TRAILING = ".,;:!?)]}>"
KINDS = ("filehost", "invite", "telegram", "shortener")


class LinkListError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Link:
    kind: str
    domain: str
    url: str
    code: str | None
    obfuscated: bool
    span: tuple[int, int]
    """Span in the plain view of the text."""


class LinkExtractor:
    def __init__(self, domains: dict[str, list[str]], version: str = "") -> None:
        self.version = version
        self._hosts: dict[str, list[tuple[str, str]]] = {}
        for kind, entries in domains.items():
            if kind not in KINDS:
                raise LinkListError(f"unknown link kind {kind!r} (known: {', '.join(KINDS)})")
            for entry in entries:
                host, _, path = entry.lower().partition("/")
                self._hosts.setdefault(host, []).append((kind, path))
        # A listed link needs a dot-like separator before one of the listed top-level domains:
        # one cheap search rules out almost every message.
        tlds = sorted({h.rsplit(".", 1)[-1] for h in self._hosts}, key=len, reverse=True)
        self._prefilter = re.compile(rf"(?:[.\])}}]|dot|point|punto)\s*(?:{'|'.join(tlds)})"
                                     r"(?![a-z0-9-])")

    @classmethod
    def load(cls, path: Path) -> LinkExtractor:
        data = load_policy_toml(path, LinkListError)
        domains = data.get("domains")
        if not isinstance(domains, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in domains.values()
        ):
            raise LinkListError(f"{path}: [domains] must map kinds to lists of domains")
        try:
            return cls(domains, str(data.get("version", "")))
        except LinkListError as exc:
            raise LinkListError(f"{path}: {exc}") from None

    def extract(self, folded: Folded) -> list[Link]:
        """Listed links in a text, read on its plain view; paths keep their original case
        (invite codes are case-sensitive)."""
        plain = folded.plain
        if not self._prefilter.search(plain):
            return []
        links = []
        for m in _CANDIDATE.finditer(plain):
            raw_host = m.group("host")
            host = _PLAIN_DOT.sub(".", raw_host)
            path = _PLAIN_SLASH.sub("/", m.group("path") or "").rstrip(_TRAILING).strip("/")
            found = self._classify(host, path.lower())
            if found is None:
                continue
            kind, domain = found
            before = plain[max(0, m.start() - 12):m.start()]
            o_start, o_end = folded.span(*m.span("host"))
            obfuscated = (raw_host != host or " " in m.group(0) or bool(_HINT.search(before))
                          or not folded.original[o_start:o_end].isascii())
            if path:
                start = m.start("path")
                o_start, o_end = folded.span(start, start + len(m.group("path")))
                original = _PLAIN_SLASH.sub("/", folded.original[o_start:o_end]) \
                    .rstrip(_TRAILING).strip("/")
                path = original if original.lower() == path.lower() else path
            url = f"https://{host}/{path}" if path else f"https://{host}"
            links.append(Link(kind, domain, url, _code(kind, domain, path), obfuscated,
                              m.span()))
        return links

    def _classify(self, host: str, path: str) -> tuple[str, str] | None:
        labels = host.split(".")
        for i in range(len(labels) - 1):
            domain = ".".join(labels[i:])
            for kind, prefix in self._hosts.get(domain, ()):
                if not prefix or path == prefix or path.startswith(prefix + "/"):
                    return kind, domain + (f"/{prefix}" if prefix else "")
        return None


def _code(kind: str, domain: str, path: str) -> str | None:
    """The invite code or channel name a link points to, for network analysis later."""
    if kind not in ("invite", "telegram") or not path:
        return None
    parts = [p for p in path.split("/") if p]
    if "/" in domain:  # discord.com/invite/CODE
        parts = parts[1:]
    return parts[0] if parts else None
