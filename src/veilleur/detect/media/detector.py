"""`media.hash`: an attachment whose bytes or picture are listed in a hash bank.

Every attachment was hashed once at ingest (`Attachment.media`); this looks those hashes up
in the banks the deployment handed over (`DetectorSettings.matcher`). A match is a signal on
the attachment with the bank, the entry, how it matched and how close.
"""

from __future__ import annotations

from collections.abc import Iterable

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.media.matcher import BankMatcher, Match
from veilleur.events import Attachment, Event, Message, MessagePosted
from veilleur.taxonomy import Target, TargetKind

_FULL_STRENGTH_DISTANCE = 16
"""PDQ matches this close are as good as identical (the reference's own tolerance is ~10)."""


def strength(match: Match) -> float:
    """1.0 for identical bytes or near-identical pictures, down to 0.8 at the bank's radius."""
    if match.signal_type == "features":
        return 0.9  # a geometric match of a cropped copy: strong, still for a human to see
    if match.signal_type != "pdq" or match.distance <= _FULL_STRENGTH_DISTANCE:
        return 1.0
    span = max(1, match.entry.bank.pdq_threshold - _FULL_STRENGTH_DISTANCE)
    return round(1.0 - 0.2 * min(1.0, (match.distance - _FULL_STRENGTH_DISTANCE) / span), 3)


def describe(att: Attachment, match: Match) -> str:
    e = match.entry
    what = att.filename or att.id
    source = f" (source id {e.source_id})" if e.source_id else ""
    ref = f"#{e.id}" if e.id > 0 else f"{-e.id} of the bank file"  # file banks: no row id
    if match.signal_type == "features":
        how = (f"{match.inliers} of its keypoints match enrolled picture {ref}{source} "
               "under one geometric transform (a cropped or reframed copy)")
    elif match.signal_type == "pdq":
        how = (f"its picture ({match.variant}) is {match.distance} bits from PDQ entry "
               f"{ref}{source}, within the bank's radius of {e.bank.pdq_threshold}")
    else:
        how = f"its {match.signal_type} is entry {ref}{source}"
    note = f"; note: {e.note}" if e.note else ""
    return f"file {what}: {how} in bank '{e.bank.name}' ({e.category.value}){note}"


def match_signals(att: Attachment, message: Message | None, matches: Iterable[Match],
                  detector: str, version: str) -> list[Signal]:
    context = ({"guild_id": message.guild_id, "channel_id": message.channel_id,
                "author_id": message.author_id, "message_id": message.id}
               if message is not None else {})
    return [Signal(
        detector=detector, version=version, target=Target(TargetKind.ATTACHMENT, att.id),
        category=m.entry.category, strength=strength(m), evidence=describe(att, m),
        key=f"bank:{m.entry.bank.name}:{m.entry.id}",
        context={**context, "bank": m.entry.bank.name, "entry_id": str(m.entry.id),
                 "match": m.signal_type, "distance": str(m.distance), "variant": m.variant},
    ) for m in matches]


class HashMatchDetector:
    id = "media.hash"
    version = "2"

    def __init__(self, matcher: BankMatcher | None) -> None:
        self.matcher = matcher

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> HashMatchDetector:
        return cls(settings.matcher)

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if self.matcher is None or not isinstance(event, MessagePosted):
            return ()
        m = event.message
        signals: list[Signal] = []
        for att in m.attachments:
            if att.media is None:
                continue
            result = self.matcher.match(att.media)
            signals.extend(match_signals(att, m, result.matches, self.id, self.version))
        return signals
