"""From the engine's answer on a message to Discord actions, under the server's policy. Pure:
the executor (`execute.py`) carries the plan out.

The answer is `Runtime.verdict`'s (`allow`, `review`: a case holds it, `block`: refused),
with the findings' categories and scores, the case, and the evidence the engine sealed for
the message when its case opened. Only what the policy makes automatic is planned, and that
is reversible containment only (`policy.AUTOMATIC`); everything else is the moderators',
through the mod log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from veilleur.bot.policy import BLOCKED, SILENT, ServerPolicy
from veilleur.taxonomy import Category


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message is on Discord."""

    guild_id: int | None
    channel_id: int
    message_id: int
    author_id: int
    attachment_ids: tuple[int, ...] = ()
    attachment_sha256: tuple[tuple[int, str], ...] = ()
    """(id, SHA-256) of the attachments the bot fetched and the engine hashed."""

    @property
    def link(self) -> str:
        return (f"https://discord.com/channels/{self.guild_id or '@me'}/{self.channel_id}/"
                f"{self.message_id}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sealed evidence record the engine keeps (its id and the digest of what it
    sealed)."""

    record_id: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Finding:
    category: Category | None
    score: float
    evidence: str


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: str
    reasons: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    case_id: str | None = None
    evidence: tuple[Evidence, ...] = ()
    duplicate: bool = False
    """The engine had already answered this event (a gateway replay, an embed's unfurl
    re-sending the message): it was acted on then, nothing is done again."""
    queued: bool = False
    """Not judged yet: the service was unreachable and the message waits in the bot's queue
    on disk (`remote.ServiceEngine`); the service judges it later, the bot does nothing now
    (acting needs the evidence the service seals)."""

    @classmethod
    def of(cls, verdict: Mapping[str, Any], evidence: tuple[Evidence, ...] = ()) -> Answer:
        """From `Runtime.verdict`'s answer (a JSON object)."""
        return cls(verdict=str(verdict.get("verdict", "allow")),
                   reasons=tuple(str(r) for r in verdict.get("reasons") or ()),
                   findings=tuple(Finding(Category(f["category"]) if f.get("category")
                                          else None, float(f.get("score") or 0.0),
                                          str(f.get("evidence") or ""))
                                  for f in verdict.get("findings") or ()),
                   case_id=verdict.get("case_id"), evidence=evidence,
                   duplicate=verdict.get("duplicate") is True)

    @property
    def categories(self) -> tuple[Category, ...]:
        """Distinct, strongest first."""
        best: dict[Category, float] = {}
        for f in self.findings:
            if f.category is not None:
                best[f.category] = max(best.get(f.category, 0.0), f.score)
        return tuple(sorted(best, key=lambda c: -best[c]))


class Kind(Enum):
    HOLD = "hold_message"
    DELETE = "delete_message"
    TIMEOUT = "timeout"
    QUARANTINE = "quarantine"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    ref: MessageRef
    reason: str
    minutes: int | None = None
    role_id: int | None = None

    @property
    def removes(self) -> bool:
        """Takes the message off Discord: its evidence must be kept first."""
        return self.kind in (Kind.HOLD, Kind.DELETE)


@dataclass(frozen=True, slots=True)
class Plan:
    ref: MessageRef
    answer: Answer
    actions: tuple[Action, ...]
    silent: bool
    """Grooming or sextortion: nothing is said where the offender can read it."""
    mod_log: int | None
    """The channel the plan and its outcome are logged in (None: the bot's log only)."""
    locale: str = "en"
    """The server's language, for the mod log and the notice."""

    @property
    def empty(self) -> bool:
        return not self.actions and self.mod_log is None


NOTICE_TEXT = {"fr": "Un message a été retiré par la modération.",
               "en": "A message was removed by the moderators."}


def plan(answer: Answer, ref: MessageRef, policy: ServerPolicy) -> Plan:
    """The containment `policy` makes automatic for this answer, in the order it is done:
    the message first (evidence checked by the executor before), then the author, then a
    notice if the policy wants one and the case is not one that acts silently."""
    if (answer.verdict == "allow" or ref.guild_id is None or answer.duplicate
            or answer.queued):
        # A repeat was planned and carried out the first time: a second mod-log post, a
        # second time-out (which could shorten a moderator's longer one) would be wrong.
        # A direct message has no server, no mod log and no one to time out in it. A queued
        # message has no answer yet.
        return Plan(ref, answer, (), False, None, policy.locale)
    cats = answer.categories
    keys = [c.value for c in cats] + ([BLOCKED] if answer.verdict == "block" else [])
    wanted = {a for k in keys for a in policy.actions_for(k)}
    silent = any(c in SILENT for c in cats)
    why = _reason(answer)
    actions: list[Action] = []
    if "hold_message" in wanted or "delete_message" in wanted:
        kind = Kind.HOLD if "hold_message" in wanted else Kind.DELETE
        actions.append(Action(kind, ref, why))
    if silent:
        # Another category in the same answer may want a time-out or the role: the author
        # would see it (the policy refuses them for these categories themselves).
        wanted -= {"timeout", "quarantine"}
    if "timeout" in wanted:
        actions.append(Action(Kind.TIMEOUT, ref, why, minutes=policy.timeout_minutes))
    if "quarantine" in wanted and policy.quarantine_role is not None:
        actions.append(Action(Kind.QUARANTINE, ref, why, role_id=policy.quarantine_role))
    removed = any(a.removes for a in actions)
    if removed and not silent and any(k in policy.notice_in_channel for k in keys):
        actions.append(Action(Kind.NOTICE, ref, NOTICE_TEXT[policy.locale]))
    return Plan(ref, answer, tuple(actions), silent, policy.mod_log_channel, policy.locale)


def _reason(answer: Answer) -> str:
    """The audit-log reason Discord keeps with the action (at most 512 characters)."""
    cats = ", ".join(c.value for c in answer.categories) or answer.verdict
    case = f" case {answer.case_id}" if answer.case_id else ""
    return f"Veilleur{case}: {cats}"[:512]
