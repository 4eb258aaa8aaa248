"""The harm taxonomy and target addressing of contracts §1–2."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    CSAM = "csam"
    GROOMING = "grooming"
    SEXTORTION = "sextortion"
    NCII = "ncii"


class TargetKind(StrEnum):
    MESSAGE = "message"
    ATTACHMENT = "attachment"
    CHANNEL = "channel"
    GUILD = "guild"
    USER = "user"
    INVITE = "invite"


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """What a signal, finding or action is about. Ids are the platform's, always strings."""

    kind: TargetKind
    id: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "id": self.id}

    @classmethod
    def of(cls, kind: str, id: str) -> Target:
        return cls(TargetKind(kind), id)
