"""What the mod log says about a plan once carried out: text only, with the case, the
categories and scores, the message's link, the attachments' ids, the sealed evidence's
digests, the reasons, and what was done or could not be. Never a picture, never a file's
URL (Discord's attachment URL *is* the picture): suspected abuse media is not reposted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from veilleur.bot.plan import Action, Plan

MAX_REASON = 300
MAX_TEXT = 2000  # Discord's limit for a message


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    done: bool
    detail: str
    """What happened ("held", "missing permission Manage Messages in #x", ...)."""


def text(plan: Plan, outcomes: list[Outcome]) -> str:
    a, ref = plan.answer, plan.ref
    scores = ", ".join(f"{c.value} {max(f.score for f in a.findings if f.category is c):.2f}"
                       for c in a.categories) or a.verdict
    head = f"**Veilleur** · {scores}" + (f" · case {a.case_id}" if a.case_id else "")
    if plan.silent:
        head += " · silent (the author is not told)"
    lines = [head, f"Message: {ref.link} by <@{ref.author_id}> ({ref.author_id})"]
    if ref.attachment_ids:
        digests = dict(ref.attachment_sha256)
        lines.append("Attachments (not shown, never reposted): " + ", ".join(
            f"{i} sha256 {digests[i]}" if i in digests else f"{i} (not fetched)"
            for i in ref.attachment_ids))
    if a.evidence:
        lines.append("Evidence sealed: " + "; ".join(f"{e.record_id} sha256 {e.sha256}"
                                                     for e in a.evidence))
    else:
        lines.append("Evidence sealed: none yet (nothing was removed)")
    for reason in a.reasons[:3]:
        lines.append(f"Why: {defang(_one_line(reason))[:MAX_REASON]}")
    done = [o.detail for o in outcomes if o.done]
    failed = [o.detail for o in outcomes if not o.done]
    lines.append("Done: " + ("; ".join(done) if done else "nothing automatic; a moderator "
                                                           "decides"))
    if failed:
        lines.append("Not done: " + "; ".join(failed))
    out = "\n".join(lines)
    return out if len(out) <= MAX_TEXT else out[:MAX_TEXT - 1] + "…"


def _one_line(s: str) -> str:
    return " ".join(s.split())


_SCHEME = re.compile(r"(?i)\bhttp(s?)://")
_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z]{2,}\b)")


def defang(s: str) -> str:
    """A reason quotes the message, and a lure's link must not become a link (nor unfold a
    preview) in the mod log: `https://mega.nz/x` is written `hxxps://mega[.]nz/x`."""
    return _DOT.sub("[.]", _SCHEME.sub(r"hxxp\1://", s))
