"""What moderators read about a case, and what their clicks may decide. Pure: the words
(French or English, from the server's policy), the case's severity and deadline from the
engine's view of it, which of its targets a server's moderators may decide, the escalation
they file by hand (Discord Trust & Safety with the DSA notice filled in, and the hotline of
the server's country), and the direct messages to a person acted against.

Everything that came from the platform is quoted inert (`modlog.quoted`); no picture and no
file URL is ever written, only ids, digests and message links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veilleur.bot.modlog import MAX_TEXT, fit, quoted
from veilleur.cases.models import parse_iso
from veilleur.taxonomy import Category

SEVERITY = {Category.CSAM: "critical", Category.SEXTORTION: "critical",
            Category.GROOMING: "high", Category.NCII: "high"}
"""A child's safety first: abuse material and extortion are acted on in hours."""

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "case": "Case", "severity": "severity", "deadline": "deadline", "none": "none",
        "critical": "critical", "high": "high", "medium": "medium",
        "thread": "details and evidence", "engine": "engine case",
        "status": "status", "open": "open", "in_review": "in review", "closed": "closed",
        "decided": "decided", "actions": "Actions", "notes": "Notes",
        "confirm": "Confirm", "clear": "Not a violation", "escalate": "Escalate",
        "undo": "Undo",
        "not_moderator": "Only the server's moderators (Manage Messages) may do this.",
        "no_case": "No case #{n} on this server.",
        "elsewhere": "Nothing in case #{n} is this server's to decide ({what}): it is "
                     "decided in Veilleur's console. Your view is recorded as a note.",
        "left": "Left for Veilleur's console (not this server's to decide): {what}.",
        "self": "You are named in case #{n}: another moderator decides it.",
        "not_manager": "Only members who manage the server (Manage Server) may do this.",
        "csam_clear": "A child sexual abuse case is cleared only by a specialist, in "
                      "Veilleur's console. Your view is recorded as a note.",
        "already": "Case #{n} is already decided ({decision}).",
        "confirmed": "Case #{n} confirmed by {who}: decision {decision}.",
        "cleared": "Case #{n}: not a violation, said {who} (decision {decision}). What the "
                   "bot did automatically is taken back where Discord allows it.",
        "undone": "Case #{n}: {who} undid {what}.",
        "nothing_undo": "Case #{n}: nothing the bot did can be undone (a deleted message "
                        "cannot be put back on Discord; its text is in the sealed evidence).",
        "banned": "banned {id} (messages kept: evidence first)",
        "ban_refused": "ban of {id} not done: {why}",
        "no_ban_right": "you lack Ban Members yourself",
        "removed": "removed message {id}", "kept": "message {id} kept in place: {why}",
        "escalated": "Case #{n}: escalation prepared by {who}, in the case's thread.",
        "warned": "{member} warned ({count} warning(s) on this server).",
        "warn_silent": "Not sent: {member} is named in case #{n} ({category}), which acts "
                       "silently: a warning would tell them to hide. Recorded as a note.",
        "warn_dm_failed": "Recorded, but Discord refused the direct message (their DMs are "
                          "closed).",
        "engine_refused": "The engine refused: {why}",
        "listed": "**Watch list** · {member} ({id}) joined; confirmed by another server "
                  "that shares the list: {category}, case #{n} there, {at}. Evidence: "
                  "{evidence}. Nothing is done automatically: look at their messages.",
        "no_wave": "No such wave on this server.",
        "wave_again": "Already done for this wave.",
        "wave_lifted": "Invites and DMs resumed by {who}.",
        "wave_paused": "Invites and DMs paused by {who} ({why}).",
        "wave_failed": "Not done: {why}",
        "pause": "Pause invites and DMs", "lift": "Resume invites and DMs",
        "ban_wave": "Ban the listed accounts",
        "listed_file": "**Watch list** · message {link} has a file another server "
                       "confirmed ({category}, case #{n} there), sha256 {sha}.",
    },
    "fr": {
        "case": "Dossier", "severity": "gravité", "deadline": "échéance", "none": "aucune",
        "critical": "critique", "high": "haute", "medium": "moyenne",
        "thread": "détails et preuves", "engine": "dossier moteur",
        "status": "état", "open": "ouvert", "in_review": "en examen", "closed": "clos",
        "decided": "décidé", "actions": "Actions", "notes": "Notes",
        "confirm": "Confirmer", "clear": "Pas une infraction", "escalate": "Signaler",
        "undo": "Annuler",
        "not_moderator": "Seuls les modérateurs du serveur (Gérer les messages) peuvent le "
                         "faire.",
        "no_case": "Pas de dossier n°{n} sur ce serveur.",
        "elsewhere": "Rien dans le dossier n°{n} n'est à décider par ce serveur ({what}) : "
                     "il se décide dans la console de Veilleur. Votre avis est noté.",
        "left": "Laissé à la console de Veilleur (pas à décider par ce serveur) : {what}.",
        "self": "Vous êtes visé par le dossier n°{n} : un autre modérateur le décide.",
        "not_manager": "Seuls les membres qui gèrent le serveur (Gérer le serveur) peuvent "
                       "le faire.",
        "csam_clear": "Un dossier d'abus sexuel sur mineur ne se classe que par un "
                      "spécialiste, dans la console de Veilleur. Votre avis est noté.",
        "already": "Le dossier n°{n} est déjà décidé ({decision}).",
        "confirmed": "Dossier n°{n} confirmé par {who} : décision {decision}.",
        "cleared": "Dossier n°{n} : pas une infraction, selon {who} (décision {decision}). "
                   "Ce que le bot a fait de lui-même est annulé là où Discord le permet.",
        "undone": "Dossier n°{n} : {who} a annulé {what}.",
        "nothing_undo": "Dossier n°{n} : rien de ce qu'a fait le bot ne peut être annulé (un "
                        "message supprimé ne peut pas être remis sur Discord ; son texte est "
                        "dans les preuves scellées).",
        "banned": "{id} banni (messages gardés : les preuves d'abord)",
        "ban_refused": "bannissement de {id} non fait : {why}",
        "no_ban_right": "vous n'avez pas vous-même la permission Bannir des membres",
        "removed": "message {id} retiré", "kept": "message {id} laissé en place : {why}",
        "escalated": "Dossier n°{n} : signalement préparé par {who}, dans le fil du dossier.",
        "warned": "{member} averti ({count} avertissement(s) sur ce serveur).",
        "warn_silent": "Non envoyé : {member} est visé par le dossier n°{n} ({category}), "
                       "qui agit en silence : un avertissement lui dirait de se cacher. "
                       "Noté au dossier.",
        "warn_dm_failed": "Noté, mais Discord a refusé le message privé (ses MP sont "
                          "fermés).",
        "engine_refused": "Le moteur a refusé : {why}",
        "listed": "**Liste partagée** · {member} ({id}) est arrivé ; confirmé par un autre "
                  "serveur qui partage la liste : {category}, dossier n°{n} là-bas, {at}. "
                  "Preuves : {evidence}. Rien n'est fait automatiquement : regardez ses "
                  "messages.",
        "no_wave": "Pas de vague de ce numéro sur ce serveur.",
        "wave_again": "Déjà fait pour cette vague.",
        "wave_lifted": "Invitations et MP rétablis par {who}.",
        "wave_paused": "Invitations et MP suspendus par {who} ({why}).",
        "wave_failed": "Pas fait : {why}",
        "pause": "Suspendre invitations et MP", "lift": "Rétablir invitations et MP",
        "ban_wave": "Bannir les comptes listés",
        "listed_file": "**Liste partagée** · le message {link} porte un fichier confirmé par "
                       "un autre serveur ({category}, dossier n°{n} là-bas), sha256 {sha}.",
    },
}

CATEGORY_WORDS = {
    "en": {"csam": "child sexual abuse material", "grooming": "an adult approaching a minor",
           "sextortion": "blackmail with intimate images",
           "ncii": "intimate images shared without consent"},
    "fr": {"csam": "contenu d'abus sexuel sur mineur",
           "grooming": "un adulte qui approche un mineur",
           "sextortion": "chantage aux images intimes",
           "ncii": "images intimes diffusées sans consentement"},
}


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale, WORDS["en"])


def category_words(category: str | None, locale: str) -> str:
    table = CATEGORY_WORDS.get(locale, CATEGORY_WORDS["en"])
    return table.get(category or "", category or "?")


def severity(category: str | None) -> str:
    try:
        return SEVERITY.get(Category(category), "medium") if category else "medium"
    except ValueError:
        return "medium"


def deadline(view: Mapping[str, Any]) -> datetime | None:
    """The earliest running clock's due time in the engine's view of the case."""
    dues = [parse_iso(c.get("due")) for c in view.get("clocks") or ()
            if not c.get("stopped_at") and c.get("due")]
    found = [d for d in dues if d is not None]
    return min(found) if found else None


def stamp(at: datetime | None, locale: str) -> str:
    """A time every reader sees in their own zone (Discord's timestamp markup)."""
    if at is None:
        return words(locale)["none"]
    return f"<t:{int(at.timestamp())}:f> (<t:{int(at.timestamp())}:R>)"


def head(number: int, view: Mapping[str, Any], locale: str, thread: int | None) -> str:
    """The line in the mod log that carries the case's buttons."""
    w = words(locale)
    category = view.get("category")
    parts = [f"**Veilleur · {w['case']} #{number}**",
             category_words(category, locale) if category else "?",
             f"{w['severity']} {w[severity(category)]}",
             f"{w['deadline']} {stamp(deadline(view), locale)}",
             f"{w['engine']} `{quoted(str(view.get('id', '?')))}`"]
    if thread is not None:
        parts.append(f"{w['thread']}: <#{thread}>")
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which of the engine case's targets this server's moderators decide."""

    here: tuple[tuple[str, str], ...]
    left: tuple[tuple[str, str], ...]
    """Not theirs (the server itself, its owner, a member they never flagged, another
    server's messages): the case stays open for them, in the console."""
    decided: tuple[tuple[str, str], ...] = ()
    categories: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    """Per target here, its own category (what was found or reported about it, or about
    the messages of an account), not the whole case's."""
    named: tuple[str, ...] = ()
    """The accounts the case names (a moderator among them does not decide it)."""


RANK = {"csam": 4, "sextortion": 3, "grooming": 2, "ncii": 1}


def scope(view: Mapping[str, Any], guild_id: int, known: Iterable[tuple[str, str]], *,
          clearing: bool = False) -> Scope:
    """A server's moderators decide what their server flagged or had reported (`known`:
    the messages the bot saw flagged here, their authors, the members reported here) and
    the engine places in their server. Not the server itself, nor anyone or anything the
    case holds only as context (a bystander who posted a picture nearby, the owner a
    roll-up named), nor anything elsewhere. Clearing (*not a violation*) decides messages
    and files only: an account's clearance would answer reports filed in other servers and
    keep new ones from review for weeks, which is the platform's call. The decision is
    partial: the rest stays open for the console."""
    mine = set(known)
    items = list(view.get("targets_in_context") or ())
    decided = {(str(t.get("kind")), str(t.get("id"))) for t in view.get("decided_targets")
               or ()}
    here: list[tuple[str, str]] = []
    left: list[tuple[str, str]] = []
    done: list[tuple[str, str]] = []
    for item in items:
        t = item.get("target") or {}
        key = (str(t.get("kind")), str(t.get("id")))
        guild = (item.get("guild") or {}).get("id")
        if key in decided:
            done.append(key)
        elif key not in mine or key[0] == "guild":
            left.append(key)
        elif key[0] == "user":
            (left if clearing else here).append(key)
        elif str(guild) == str(guild_id):
            here.append(key)
        else:
            left.append(key)
    return Scope(tuple(here), tuple(left), tuple(done), _categories(view, here),
                 tuple(str((i.get("target") or {}).get("id")) for i in items
                       if (i.get("target") or {}).get("kind") == "user"))


def _categories(view: Mapping[str, Any], keys: Iterable[tuple[str, str]]
                ) -> dict[tuple[str, str], str | None]:
    """Each target's own category: the gravest found or reported about it, for an account
    also about its messages in the case; else the case's."""
    found: dict[tuple[str, str], list[str]] = {}
    for item in view.get("items") or ():
        t, cat = item.get("target") or {}, item.get("category")
        if cat:
            found.setdefault((str(t.get("kind")), str(t.get("id"))), []).append(str(cat))
    for item in view.get("targets_in_context") or ():
        t, msg = item.get("target") or {}, item.get("message")
        if msg and msg.get("author_id") is not None:
            own = found.get(("message", str(t.get("id"))), [])
            found.setdefault(("user", str(msg["author_id"])), []).extend(own)
    default = view.get("category")
    return {k: max(found[k], key=lambda c: RANK.get(c, 0)) if found.get(k) else default
            for k in keys}


def summary(number: int, view: Mapping[str, Any] | None, locale: str,
            actions: Iterable[Any], notes: Iterable[Any], thread: int | None) -> str:
    """`/veilleur case`: the case as moderators see it, within one message."""
    w = words(locale)
    if view is None:
        return w["no_case"].format(n=number)
    lines = [head(number, view, locale, thread),
             f"{w['status']}: {w.get(str(view.get('status')), quoted(str(view.get('status'))))}"
             + (f" · {w['decided']} `{quoted(str(view['decision_id']))}`"
                if view.get("decision_id") else "")]
    acts = [f"- {a.at[:16]} {a.kind}" + (f" <@{a.member_id}>" if a.member_id else "")
            + (f" msg {a.message_id}" if a.message_id else "")
            + (f" ({quoted(a.by)})" if a.by else "") + (" — undone" if a.undone_at else "")
            for a in actions]
    if acts:
        lines += [f"{w['actions']}:", *acts[-10:]]
    said = [f"- {n.at[:16]} <@{n.author_id}> {n.kind}: {quoted(n.text)[:300]}"
            for n in notes]
    if said:
        lines += [f"{w['notes']}:", *said[-10:]]
    return fit("\n".join(lines))


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """A long text as Discord messages, cut at line ends."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > size:
            if current:
                out.append(current)
                current = ""
            out.append(line[:size])
            line = line[size:]
        if len(current) + len(line) + 1 > size:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


# --- escalation ----------------------------------------------------------------------------

HOTLINES: dict[str, list[tuple[str, str, frozenset[str]]]] = {
    "FR": [("PHAROS (plateforme du ministère de l'Intérieur)",
            "https://www.internet-signalement.gouv.fr",
            frozenset({"csam", "grooming", "sextortion", "ncii"})),
           ("Point de Contact (INHOPE)", "https://www.pointdecontact.net",
            frozenset({"csam", "ncii"})),
           ("3018 (e-Enfance : un mineur victime, appel ou appli gratuits)",
            "https://www.3018.fr", frozenset({"grooming", "sextortion", "ncii"}))],
    "GB": [("Internet Watch Foundation", "https://report.iwf.org.uk", frozenset({"csam"})),
           ("CEOP (National Crime Agency)", "https://www.ceop.police.uk/Safety-Centre/",
            frozenset({"grooming", "sextortion"}))],
}
NCMEC = ("NCMEC CyberTipline", "https://report.cybertip.org",
         frozenset({"csam", "grooming", "sextortion", "ncii"}))
INHOPE = ("INHOPE (the hotline of your country)", "https://www.inhope.org",
          frozenset({"csam"}))
DISCORD_FORM = "https://dis.gd/request"


def hotlines(country: str | None, category: str | None) -> list[tuple[str, str]]:
    """Where a server's moderators report the case outside Discord: their country's
    hotlines for the category, else the NCMEC CyberTipline (which takes reports from
    anywhere) and, for abuse material, INHOPE's list of national hotlines."""
    cat = category or ""
    found = [(n, u) for n, u, cats in HOTLINES.get((country or "").upper(), ()) if cat in cats]
    if not found:
        found = [(n, u) for n, u, cats in (NCMEC, INHOPE) if cat in cats] or \
            [(NCMEC[0], NCMEC[1])]
    return found


ESCALATION = {
    "en": {
        "title": "**Escalation prepared · case #{n}** (engine case `{case}`): file these "
                 "yourself; the bot sends nothing outside this server.",
        "discord": "**1. Discord Trust & Safety** ({form}: *Trust & Safety*, report "
                   "abuse). Give the message links, never screenshots or files.",
        "category": "Category: {category}",
        "links": "Messages: {links}",
        "accounts": "Accounts (ids): {ids}",
        "evidence": "Evidence kept sealed by Veilleur (for the authorities): {records}",
        "notice": "**DSA notice (Art. 16), filled in:**",
        "explanation": "- Why this is illegal: {why}",
        "location": "- Exact location: the message links above.",
        "notifier": "- Notifier: your name and e-mail (not required for child sexual abuse "
                    "material).",
        "good_faith": "- \"I confirm in good faith that the information and allegations in "
                      "this notice are accurate and complete.\"",
        "hotline": "**2. Hotline ({country})**: {lines}. Give the links and the evidence "
                   "reference; do not download, forward or screenshot the content.",
        "ncmec": "The engine drafts the NCMEC report itself when a specialist confirms the "
                 "case in the console.",
        "why": {"csam": "sexual images of a minor (child sexual abuse material)",
                "grooming": "an adult soliciting a minor for sexual purposes",
                "sextortion": "extortion of a person (here a minor is likely) with the "
                              "threat of spreading intimate images",
                "ncii": "intimate images shared without the consent of the person shown"},
    },
    "fr": {
        "title": "**Signalement préparé · dossier n°{n}** (dossier moteur `{case}`) : à "
                 "envoyer vous-même ; le bot n'envoie rien hors de ce serveur.",
        "discord": "**1. Trust & Safety de Discord** ({form} : *Trust & Safety*, signaler "
                   "un abus). Donnez les liens des messages, jamais de captures ni de "
                   "fichiers.",
        "category": "Catégorie : {category}",
        "links": "Messages : {links}",
        "accounts": "Comptes (identifiants) : {ids}",
        "evidence": "Preuves gardées scellées par Veilleur (pour les autorités) : {records}",
        "notice": "**Notification DSA (art. 16), remplie :**",
        "explanation": "- Pourquoi c'est illicite : {why}",
        "location": "- Emplacement exact : les liens des messages ci-dessus.",
        "notifier": "- Auteur de la notification : votre nom et votre e-mail (non requis "
                    "pour un contenu d'abus sexuel sur mineur).",
        "good_faith": "- « Je confirme de bonne foi que les informations et allégations de "
                      "cette notification sont exactes et complètes. »",
        "hotline": "**2. Signalement ({country})** : {lines}. Donnez les liens et la "
                   "référence des preuves ; ne téléchargez, ne transférez et ne capturez "
                   "pas le contenu.",
        "ncmec": "Le moteur rédige lui-même le rapport au NCMEC quand un spécialiste confirme "
                 "le dossier dans la console.",
        "why": {"csam": "images sexuelles d'un mineur (art. 227-23 du code pénal)",
                "grooming": "propositions sexuelles d'un majeur à un mineur (art. 227-22-1 "
                            "du code pénal)",
                "sextortion": "chantage à la diffusion d'images intimes (art. 312-10 du "
                              "code pénal), visant probablement un mineur",
                "ncii": "diffusion d'images intimes sans le consentement de la personne "
                        "(art. 226-2-1 du code pénal)"},
    },
}


def escalation(number: int, view: Mapping[str, Any], links: Iterable[str],
               accounts: Iterable[str], records: Iterable[tuple[str, str]],
               country: str | None, locale: str) -> list[str]:
    """The reports a moderator files by hand, as Discord messages (text only)."""
    e: dict[str, Any] = ESCALATION.get(locale, ESCALATION["en"])
    category = view.get("category")
    why = e["why"].get(category or "", category_words(category, locale))
    link_list = list(dict.fromkeys(links))
    lines = [e["title"].format(n=number, case=quoted(str(view.get("id")))),
             e["discord"].format(form=DISCORD_FORM),
             e["category"].format(category=category_words(category, locale)),
             e["links"].format(links=" ".join(f"<{u}>" for u in link_list) or "—"),
             e["accounts"].format(ids=", ".join(dict.fromkeys(accounts)) or "—"),
             e["evidence"].format(records="; ".join(f"{quoted(i)} sha256 {s}"
                                                  for i, s in records) or "—"),
             e["notice"], e["explanation"].format(why=why), e["location"], e["notifier"],
             e["good_faith"],
             e["hotline"].format(country=(country or "—").upper(), lines="; ".join(
                 f"{name} <{url}>" for name, url in hotlines(country, category)))]
    if category == "csam":
        lines.append(e["ncmec"])
    return chunks("\n".join(lines))


# --- the person acted against ---------------------------------------------------------------

DM = {
    "en": {
        "ban": "You were banned from **{server}** (case #{n}): {category}. The decision was "
               "taken by a person after review. If you think it is wrong you may appeal "
               "once, with the button below, within 6 months.",
        "warn": "A moderator of **{server}** warned you: {reason}",
        "appeal_button": "Appeal",
        "appeal_title": "Appeal case #{n}",
        "appeal_label": "Why the decision is wrong",
        "appealed": "Your appeal on case #{n} is recorded (reference {ref}). A person who "
                    "did not take the decision reviews it.",
        "appeal_again": "You have already appealed case #{n}.",
        "appeal_cooldown": "Too many appeals: try again tomorrow.",
        "appeal_unknown": "This case can no longer be appealed here.",
    },
    "fr": {
        "ban": "Vous avez été banni de **{server}** (dossier n°{n}) : {category}. La "
               "décision a été prise par une personne après examen. Si vous pensez qu'elle "
               "est erronée, vous pouvez la contester une fois, avec le bouton ci-dessous, "
               "dans les 6 mois.",
        "warn": "Un modérateur de **{server}** vous avertit : {reason}",
        "appeal_button": "Contester",
        "appeal_title": "Contester le dossier n°{n}",
        "appeal_label": "Pourquoi la décision est erronée",
        "appealed": "Votre contestation du dossier n°{n} est enregistrée (référence {ref}). "
                    "Une personne qui n'a pas pris la décision l'examine.",
        "appeal_again": "Vous avez déjà contesté le dossier n°{n}.",
        "appeal_cooldown": "Trop de contestations : réessayez demain.",
        "appeal_unknown": "Ce dossier ne peut plus être contesté ici.",
    },
}


def dm(locale: str) -> dict[str, str]:
    return DM.get(locale, DM["en"])
