"""Members' reports from inside Discord (`/veilleur report`, and "Report to moderators" on a
message): each becomes a user report in the engine's intake, the same as the HTTP API's
`POST /v1/reports` makes (source `user`, the reporter's Discord id as `reporter_id`), so it
opens or joins a case. The reporter gets a private acknowledgement with the report's
reference; nothing is posted publicly and the reported person is never told. The mod log
gets one text line (no picture, no mention).

What a member types is platform text: bounded, and quoted inert (`modlog.quoted`) in the mod
log. A message link from another server, or one that is not a message link, is refused; a
member filing more than `Cooldown.most` reports in `Cooldown.seconds` is asked to wait.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from veilleur.bot.modlog import quoted

log = logging.getLogger("veilleur.bot")

MAX_EXPLANATION = 500
"""A member's explanation, at most (Discord's option is bounded to it too)."""
CATEGORIES = ("csam", "grooming", "sextortion", "ncii", "other")
"""What a member may say the report is about; `other` claims no category."""
LABELS: dict[str, dict[str, str]] = {
    "en": {"csam": "Sexual images of a minor", "grooming": "An adult approaching a minor",
           "sextortion": "Blackmail with intimate images",
           "ncii": "Intimate images shared without consent", "other": "Something else"},
    "fr": {"csam": "Images sexuelles d'un mineur", "grooming": "Un adulte qui approche un mineur",
           "sextortion": "Chantage aux images intimes",
           "ncii": "Images intimes diffusées sans accord", "other": "Autre chose"},
}
WORDS: dict[str, dict[str, str]] = {
    "en": {"ack": "Thank you. Your report reached the moderators privately (reference "
                  "{ref}). The person reported is not told.",
           "bad_link": "That is not a link to a message of this server (right-click a "
                       "message, Copy Message Link).",
           "no_target": "Give a message link or a member.",
           "too_many": "You have sent {n} reports in the last {m} minutes; please wait a "
                       "few minutes before the next one.",
           "failed": "Your report could not be taken right now; please try again later or "
                     "tell a moderator.",
           "line": "**Report** {ref} · {category} · by member {reporter} · about {target}",
           "said": "Their words", "member": "member", "choose": "What is it about?"},
    "fr": {"ack": "Merci. Votre signalement est parvenu aux modérateurs en privé (référence "
                  "{ref}). La personne signalée n'est pas prévenue.",
           "bad_link": "Ce n'est pas le lien d'un message de ce serveur (clic droit sur un "
                       "message, Copier le lien du message).",
           "no_target": "Donnez le lien d'un message ou un membre.",
           "too_many": "Vous avez envoyé {n} signalements ces {m} dernières minutes ; "
                       "attendez quelques minutes avant le suivant.",
           "failed": "Votre signalement n'a pas pu être pris pour l'instant ; réessayez plus "
                     "tard ou prévenez un modérateur.",
           "line": "**Signalement** {ref} · {category} · par le membre {reporter} · sur "
                   "{target}",
           "said": "Ses mots", "member": "membre", "choose": "De quoi s'agit-il ?"},
}

_LINK = re.compile(r"^<?https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/"
                   r"(\d{15,20})/(\d{15,20})/(\d{15,20})/?>?$")


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale, WORDS["en"])


def parse_link(link: str, guild_id: int) -> tuple[int, int] | None:
    """(channel id, message id) of a message link into this server, else None."""
    m = _LINK.match(link.strip())
    if m is None or int(m.group(1)) != guild_id:
        return None
    return int(m.group(2)), int(m.group(3))


class Cooldown:
    """At most `most` reports per member per `seconds` (per server)."""

    def __init__(self, most: int = 5, seconds: float = 600.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.most = most
        self.seconds = seconds
        self.monotonic = monotonic
        self._times: dict[tuple[int, int], deque[float]] = {}

    def take(self, guild_id: int, member_id: int) -> bool:
        now = self.monotonic()
        times = self._times.setdefault((guild_id, member_id), deque())
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) >= self.most:
            return False
        times.append(now)
        if len(self._times) > 10_000:  # bounded: the oldest members' windows go
            self._times.pop(next(iter(self._times)))
        return True


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "message" or "user"
    id: int
    link: str
    """What the mod log shows: the message's link, or the member's id."""


def body(report_id: str, target: Target, category: str, explanation: str | None,
         reporter_id: int) -> dict[str, Any]:
    """The report as `POST /v1/reports` takes it (`service.api.ReportIn`)."""
    return {"id": report_id, "target": {"kind": target.kind, "id": str(target.id)},
            "category_claimed": None if category == "other" else category,
            "explanation": explanation or None, "reporter_id": str(reporter_id)}


class Reports:
    """Files a member's report: cooldown, the engine's intake, the mod-log line, and the
    words of the private answer (returned; the command sends it)."""

    def __init__(self, file: Callable[[dict[str, Any]], Awaitable[Any]],
                 post: Callable[[int, str], Awaitable[None]], *,
                 cooldown: Cooldown | None = None,
                 filed: Callable[[str, int, Target], None] = lambda *_: None) -> None:
        self.file = file
        """The engine's report intake (`Engine.report`)."""
        self.filed = filed
        """Told of each report the engine took (report id, server, target)."""
        self.post = post
        """Sends a text line to a channel (the mod log), without mentions or previews."""
        self.cooldown = cooldown or Cooldown()

    async def report(self, *, report_id: str, guild_id: int, reporter_id: int,
                     target: Target, category: str, explanation: str | None,
                     locale: str, mod_log: int | None) -> str:
        w = words(locale)
        if category not in CATEGORIES:
            category = "other"
        if not self.cooldown.take(guild_id, reporter_id):
            return w["too_many"].format(n=self.cooldown.most,
                                        m=round(self.cooldown.seconds / 60))
        explanation = (explanation or "").strip()[:MAX_EXPLANATION] or None
        try:
            await self.file(body(report_id, target, category, explanation, reporter_id))
        except Exception:
            log.exception("report %s could not be handed to the engine", report_id)
            return w["failed"]
        self.filed(report_id, guild_id, target)
        if mod_log is not None:
            shown = (target.link if target.kind == "message"
                     else f"{w['member']} {target.id}")
            line = w["line"].format(ref=report_id, category=LABELS.get(
                locale, LABELS["en"])[category], reporter=reporter_id, target=shown)
            if explanation:
                line += f"\n{w['said']}: {quoted(explanation)}"
            try:
                await self.post(mod_log, line[:2000])
            except Exception:
                log.warning("report %s: the mod log %s could not be written", report_id,
                            mod_log, exc_info=True)
        return w["ack"].format(ref=report_id)
