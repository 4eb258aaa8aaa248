"""`media.hash_exact`: an attachment whose file bytes are listed in a bank (MD5 or SHA-256)."""

from __future__ import annotations

from collections.abc import Iterable

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.media.banks import BankEntry, HashBank
from veilleur.events import Event, MessagePosted
from veilleur.taxonomy import Target, TargetKind


class ExactHashDetector:
    id = "media.hash_exact"
    version = "1"

    def __init__(self, banks: Iterable[HashBank]) -> None:
        self._index: dict[tuple[str, str], list[tuple[str, BankEntry]]] = {}
        for bank in banks:
            for entry in bank.entries:
                if entry.signal_type in ("md5", "sha256"):
                    key = (entry.signal_type, entry.signal)
                    self._index.setdefault(key, []).append((bank.name, entry))

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> ExactHashDetector:
        return cls(settings.banks)

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if not self._index or not isinstance(event, MessagePosted):
            return ()
        m = event.message
        signals = []
        for att in m.attachments:
            for kind, digest in (("sha256", att.sha256), ("md5", att.md5)):
                if digest is None:
                    continue
                for bank_name, entry in self._index.get((kind, digest), ()):
                    signals.append(Signal(
                        detector=self.id,
                        version=self.version,
                        target=Target(TargetKind.ATTACHMENT, att.id),
                        category=entry.category,
                        strength=1.0,
                        evidence=f"file {att.filename or att.id} has {kind} {digest}, listed in "
                                 f"bank '{bank_name}' as {entry.category.value}",
                        key=f"{bank_name}:{kind}:{digest}",
                        context={"guild_id": m.guild_id, "channel_id": m.channel_id,
                                 "author_id": m.author_id, "message_id": m.id},
                    ))
        return signals
