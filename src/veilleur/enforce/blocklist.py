"""Media a reviewer confirmed: its re-uploads are stopped before anyone sees them.

The internal bank of the design: exact digests and the reference PDQ of every confirmed
attachment. Uploads are matched with all their lookup hashes (orientations, trimmed borders,
video frames), like the hash banks.
"""

from __future__ import annotations

from dataclasses import dataclass

from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.index import PdqIndex
from veilleur.taxonomy import Category

PDQ_RADIUS = 31


@dataclass(frozen=True, slots=True)
class Confirmed:
    category: Category
    decision_id: str
    attachment_id: str


@dataclass(frozen=True, slots=True)
class BlockMatch:
    entry: Confirmed
    how: str
    distance: int


class ConfirmedMedia:
    def __init__(self, pdq_radius: int = PDQ_RADIUS) -> None:
        self._exact: dict[tuple[str, str], Confirmed] = {}
        self._entries: list[Confirmed] = []
        self._index = PdqIndex()
        self._pdq_seen: set[str] = set()
        self._ids: set[str] = set()
        self.radius = pdq_radius

    def __len__(self) -> int:
        """Confirmed files held (by digest, by PDQ, or both)."""
        return len(self._ids)

    def add(self, entry: Confirmed, *, md5: str | None, sha256: str | None,
            pdq: str | None) -> bool:
        """Remember one confirmed file; False if every hash of it was already known."""
        new = False
        for kind, digest in (("md5", md5), ("sha256", sha256)):
            if digest and (kind, digest) not in self._exact:
                self._exact[kind, digest] = entry
                new = True
        if pdq and pdq not in self._pdq_seen:
            self._pdq_seen.add(pdq)
            self._entries.append(entry)
            self._index.add([bytes.fromhex(pdq)], refs=[len(self._entries) - 1])
            new = True
        if new:
            self._ids.add(entry.attachment_id)
        return new

    def remove(self, attachment_id: str) -> int:
        """Forget a file a complaint showed was wrongly confirmed; how many hashes went."""
        gone = [k for k, e in self._exact.items() if e.attachment_id == attachment_id]
        for k in gone:
            del self._exact[k]
        slots = [i for i in range(len(self._index))
                 if self._entries[self._index.ref(i)].attachment_id == attachment_id]
        self._index.set_enabled(slots, False)
        self._ids.discard(attachment_id)
        return len(gone) + len(slots)

    def match(self, media: MediaHashes | None, md5: str | None = None,
              sha256: str | None = None) -> BlockMatch | None:
        md5 = md5 or (media.md5 if media else None)
        sha256 = sha256 or (media.sha256 if media else None)
        for kind, digest in (("sha256", sha256), ("md5", md5)):
            if digest and (hit := self._exact.get((kind, digest))) is not None:
                return BlockMatch(hit, kind, 0)
        if (media is None or not len(self._index) or not media.lookups
                or not media.matchable):
            return None
        hits = self._index.search(list(media.lookups), self.radius)
        if not hits:
            return None
        best = min(hits)
        return BlockMatch(self._entries[self._index.ref(best.slot)], "pdq", best.distance)
