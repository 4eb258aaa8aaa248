"""What the mod log says about a plan once carried out: text only, with the case, the
categories and scores, the message's link, the attachments' ids, the sealed evidence's
digests, the reasons, and what was done or could not be. Never a picture, never a file's
URL (Discord's attachment URL *is* the picture): suspected abuse media is not reposted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from veilleur.bot.plan import Action, Kind, Plan

MAX_REASON = 300
MAX_TEXT = 2000  # Discord's limit for a message


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    done: bool
    detail: str
    """What happened ("held", "missing permission Manage Messages in #x", ...), in English
    for the bot's log."""
    why: str | None = None
    """A failure's kind (`FAILURES`), for the mod log in the server's language."""
    params: tuple[tuple[str, str], ...] = ()

    def said(self, locale: str) -> str:
        """A failure in the server's language (the log keeps `detail`)."""
        table = FAILURES.get(locale)
        if self.why is None or table is None or self.why not in table:
            return self.detail
        kind = KIND_WORDS.get(locale, {}).get(self.action.kind, self.action.kind.value)
        return table[self.why].format(kind=kind, **dict(self.params))


FAILURES = {
    "fr": {
        "not_tried": "{kind} : pas tenté : permission manquante {perm}, d'après Discord il y "
                     "a moins de {minutes} minutes",
        "no_evidence": "{kind} : laissé en place : le moteur n'en a encore aucune preuve (les "
                       "preuves d'abord, avant tout retrait)",
        "unsealed": "{kind} : laissé en place : pièce(s) jointe(s) {ids} non téléchargée(s) "
                    "ni hachée(s), donc absentes des preuves (les preuves d'abord)",
        "outranks": "{kind} : refusé par Discord pour le membre {member} (son rôle le plus "
                    "haut est au-dessus de celui du bot, ou il possède le serveur)",
        "missing": "{kind} : permission manquante {perm} {where}",
        "gone": "{kind} : le message n'existait déjà plus (retiré par quelqu'un d'autre)",
        "rate_limit": "{kind} : limite de débit de Discord : pas réessayé (les modérateurs "
                      "décident)",
        "refused": "{kind} : refusé par Discord ({status}, code {code})",
    },
}
"""The executor's failures in the servers' languages other than English (its `detail`)."""

KIND_WORDS = {"fr": {Kind.HOLD: "retenue du message", Kind.DELETE: "suppression du message",
                     Kind.TIMEOUT: "exclusion temporaire",
                     Kind.QUARANTINE: "rôle de quarantaine", Kind.NOTICE: "avis"}}


WORDS: dict[str, dict[str, str]] = {
    "en": {"case": "case", "silent": "silent (the author is not told)", "message": "Message",
           "by": "by", "attachments": "Attachments (not shown, never reposted)",
           "not_fetched": "not fetched", "evidence": "Evidence sealed",
           "no_evidence": "none yet (nothing was removed)", "why": "Why", "done": "Done",
           "not_done": "Not done", "nothing": "nothing automatic; a moderator decides"},
    "fr": {"case": "dossier", "silent": "silencieux (l'auteur n'est pas prévenu)",
           "message": "Message", "by": "de",
           "attachments": "Pièces jointes (non montrées, jamais republiées)",
           "not_fetched": "non téléchargée", "evidence": "Preuves scellées",
           "no_evidence": "aucune encore (rien n'a été retiré)", "why": "Pourquoi",
           "done": "Fait", "not_done": "Pas fait",
           "nothing": "rien d'automatique ; un modérateur décide"},
}
"""The mod log's words in the server's language (`locale` in its policy); what failed too
(`FAILURES`), with Discord's permission names in that language."""

DONE_WORDS = {
    "fr": {Kind.HOLD: "message retenu (retiré du salon ; son texte est dans les preuves "
                      "scellées pour l'examen)",
           Kind.DELETE: "message supprimé", Kind.TIMEOUT: "auteur exclu temporairement "
                                                          "{m} min",
           Kind.QUARANTINE: "rôle de quarantaine donné à l'auteur",
           Kind.NOTICE: "avis laissé dans le salon"},
}


def done_words(o: Outcome, locale: str) -> str:
    words = DONE_WORDS.get(locale)
    return words[o.action.kind].format(m=o.action.minutes) if words else o.detail


def text(plan: Plan, outcomes: list[Outcome], *, number: int | None = None) -> str:
    """`number`: the server's number for the case (`casebook.py`)."""
    a, ref = plan.answer, plan.ref
    w = WORDS.get(plan.locale, WORDS["en"])
    scores = ", ".join(f"{c.value} {max(f.score for f in a.findings if f.category is c):.2f}"
                       for c in a.categories) or a.verdict
    case = f" #{number} ({a.case_id})" if number is not None else f" {a.case_id}"
    head = f"**Veilleur** · {scores}" + (f" · {w['case']}{case}" if a.case_id else "")
    if plan.silent:
        head += f" · {w['silent']}"
    lines = [head, f"{w['message']}: {ref.link} {w['by']} <@{ref.author_id}> "
                   f"({ref.author_id})"]
    cuttable: list[tuple[int, str]] = []
    """Cut first when the text is over Discord's limit: what was done must stay."""
    if ref.attachment_ids:
        digests = dict(ref.attachment_sha256)
        cuttable.append((0, f"{w['attachments']}: " + ", ".join(
            f"{i} sha256 {digests[i]}" if i in digests else f"{i} ({w['not_fetched']})"
            for i in ref.attachment_ids)))
    sealed = "; ".join(f"{e.record_id} sha256 {e.sha256}" for e in a.evidence)
    lines.append(f"{w['evidence']}: {sealed or w['no_evidence']}")
    for reason in a.reasons[:3]:
        cuttable.append((1, f"{w['why']}: {quoted(reason)[:MAX_REASON]}"))
    done = [done_words(o, plan.locale) for o in outcomes if o.done]
    failed = [o.said(plan.locale) for o in outcomes if not o.done]
    tail = [f"{w['done']}: " + ("; ".join(done) if done else w["nothing"])]
    if failed:
        tail.append(f"{w['not_done']}: " + "; ".join(failed))
    room = MAX_TEXT - len("\n".join(lines + tail)) - 1
    kept: list[list[str]] = [[], []]  # before the evidence line, after it
    for slot, line in cuttable:
        if room <= 1:
            break
        line = line if len(line) < room else line[:room - 2] + "…"
        kept[slot].append(line)
        room -= len(line) + 1
    return fit("\n".join(lines[:2] + kept[0] + lines[2:] + kept[1] + tail))


def fit(text: str) -> str:
    """Within one Discord message (cut with an ellipsis)."""
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _one_line(s: str) -> str:
    return " ".join(s.split())


_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://")
_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9])")
_MARKDOWN = re.compile(r"([\\`*_~|<>#\[\]()])")


def quoted(s: str) -> str:
    """A string that came from the platform (a reason quoting the message, Discord's
    words), on one line, inert in the mod log: its links defanged and Discord's markdown
    and `<...>` mention and command syntax escaped (`||x||` is no spoiler, `<@1>` no
    mention)."""
    return defang(_MARKDOWN.sub(r"\\\1", _one_line(s)))


def defang(s: str) -> str:
    """A reason quotes the message, and a lure's link must not become a link (nor unfold a
    preview) in the mod log, whatever its scheme or host (a name or an address):
    `https://mega.nz/x` is written `hxxps://mega[.]nz/x`, `ftp://1.2.3.4`
    `ftp[:]//1[.]2[.]3[.]4`: every dot between letters or digits is bracketed."""
    def scheme(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.lower() in ("http", "https"):
            return "hxxp" + name[4:] + "://"
        return f"{name}[:]//"

    return _DOT.sub("[.]", _SCHEME.sub(scheme, s))
