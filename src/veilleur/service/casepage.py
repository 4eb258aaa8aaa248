"""What the console shows about a case, read from live casework: each target in context
(the conversation around a message, the server's channels), the network, the signals in plain
words, the reports and their sources, the accounts' history, the media. Call under the
runtime's lock; the result is plain data for the templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from veilleur.cases.casework import Casework
from veilleur.cases.models import Case, Intake, IntakeKind, iso
from veilleur.enforce.actions import RESTRICTING
from veilleur.service.auth import Account
from veilleur.taxonomy import Category, Target, TargetKind

DETECTORS = {
    "text.lexicon": {
        "en": "The words or links match the abuse vocabulary, after undoing look-alike "
              "letters, spacing and disguised links.",
        "fr": "Les mots ou les liens correspondent au vocabulaire de l'abus, une fois défaits "
              "les lettres trompeuses, les espaces et les liens maquillés."},
    "media.hash": {
        "en": "The file matches a known picture in a hash bank (perceptual or exact hash).",
        "fr": "Le fichier correspond à une image connue d'une banque d'empreintes."},
    "enforce.confirmed_media": {
        "en": "This file was already confirmed here and is being posted again.",
        "fr": "Ce fichier a déjà été confirmé ici et il est de nouveau publié."},
    "conversation.risk": {
        "en": "Over time, the conversation went through the stages of grooming or extortion "
              "(age questions, secrecy, requests for pictures, threats).",
        "fr": "Au fil du temps, la conversation a suivi les étapes du grooming ou de "
              "l'extorsion (âge demandé, secret, demandes de photos, menaces)."},
    "network.links": {
        "en": "The account or server is linked to one that was already removed or suspended "
              "(same members, invites, files or layout).",
        "fr": "Le compte ou le serveur est lié à un autre déjà supprimé ou suspendu (mêmes "
              "membres, invitations, fichiers ou structure)."},
}
SOURCES = {
    "en": {"user": "in-app report", "dsa_notice": "DSA notice (Art. 16)",
           "trusted_flagger": "trusted flagger (Art. 22)", "authority": "authority order",
           "engine": "found by the engine", "affected": "complaint by the person affected",
           "notifier": "complaint by the notifier"},
    "fr": {"user": "signalement dans l'application", "dsa_notice": "notification DSA (art. 16)",
           "trusted_flagger": "signaleur de confiance (art. 22)",
           "authority": "injonction d'une autorité", "engine": "trouvé par le moteur",
           "affected": "recours de la personne visée", "notifier": "recours du notifiant"},
}
CATEGORIES = [c.value for c in Category]


def visible_to(account: Account, cw: Casework, case: Case) -> bool:
    """Whether this account may see the case: the one rule for the console and the CLI."""
    return account.sees_csam or not reserved(cw, case)


def reserved(cw: Casework, case: Case) -> bool:
    """Whether only child-safety specialists may see the case (child sexual abuse)."""
    if case.category is Category.CSAM:
        return True
    return any(cw.intakes[i].category is Category.CSAM for i in case.intakes
               if i in cw.intakes)


def _user(cw: Casework, user_id: str | None) -> dict[str, Any]:
    if user_id is None:
        return {"id": None, "name": "?"}
    u = cw.content.directory.user(user_id)
    return {"id": user_id, "name": (u.display_name or u.name) if u else user_id,
            "age_band": u.age_band.value if u and u.age_band else None}


def _message(cw: Casework, m: Any, *, focus: bool = False) -> dict[str, Any]:
    return {"id": m.id, "ts": iso(m.ts), "author": _user(cw, m.author_id),
            "content": m.content, "attachments": list(m.attachments), "focus": focus,
            "deleted_by": m.deleted_by}


def _in_context(cw: Casework, t: Target) -> dict[str, Any]:
    content, d = cw.content, cw.content.directory
    item: dict[str, Any] = {"target": t.to_json(), "labels": sorted(cw.labels.get(t, ()))}
    msg = content.message_of(t)
    if msg is not None:
        ch = d.channel(msg.channel_id)
        item["channel"] = {"id": msg.channel_id, "name": ch.name if ch else msg.channel_id,
                           "kind": ch.kind.value if ch else None}
        around = content.recent_in_channel(msg.channel_id, cw.policy.context_messages,
                                           before=msg.id)
        item["conversation"] = [_message(cw, m) for m in around] + [
            _message(cw, msg, focus=True)]
    if t.kind is TargetKind.USER:
        item["user"] = _user(cw, t.id)
        item["recent"] = [_message(cw, m) for m in content.recent_by_user(t.id, 10)]
    if t.kind is TargetKind.CHANNEL:
        ch = d.channel(t.id)
        item["channel"] = {"id": t.id, "name": ch.name if ch else t.id,
                           "kind": ch.kind.value if ch else None}
        item["conversation"] = [_message(cw, m) for m in content.recent_in_channel(t.id, 10)]
    guild = content.guild_of(t)
    if guild is not None:
        g = d.guild(guild)
        names = []
        for cid in content.channels_of(guild)[:60]:
            ch = d.channel(cid)
            names.append(ch.name if ch else cid)
        item["guild"] = {"id": guild, "name": g.name if g and g.name else guild,
                         "members": content.member_count(guild), "channels": names,
                         "owner": _user(cw, g.owner_id) if g and g.owner_id else None}
    gone = content.gone(t)
    if gone is not None:
        item["gone"] = {"at": iso(gone[0]), "by": gone[1]}
    return item


def _intake(cw: Casework, i: Intake, lang: str) -> dict[str, Any]:
    notifier = i.notifier or {}
    return {"id": i.id, "kind": i.kind.value,
            "source": SOURCES[lang].get((i.flagger and "trusted_flagger") or i.source, i.source),
            "flagger": i.flagger, "category": i.category.value if i.category else None,
            "received_at": iso(i.received_at), "explanation": i.explanation,
            "evidence": i.evidence, "score": round(i.score, 2),
            "detectors": [DETECTORS.get(x, {}).get(lang, x) for x in i.detectors],
            "notifier": notifier.get("name") or notifier.get("email") or None,
            "resolution": i.resolution.value if i.resolution else None,
            "notice_id": i.notice_id, "target": i.target.to_json()}


def _history(cw: Casework, case: Case) -> list[dict[str, Any]]:
    """Earlier measures, labels and cases of the accounts in this case."""
    users: dict[str, None] = {}
    for t in case.targets:
        if t.kind is TargetKind.USER:
            users[t.id] = None
        elif (author := cw.content.author_of(t)) is not None:
            users[author] = None
    out = []
    for uid in list(users)[:12]:
        target = Target(TargetKind.USER, uid)
        actions = [{"action": a.action, "at": iso(a.ts), "active": a.active,
                    "reason": a.reason} for a in cw.enforcement.on_target(target)
                   if a.action in RESTRICTING]
        others = [c.id for c in cw.cases.values() if c.id != case.id and target in c.targets
                  and c.merged_into is None][:10]
        out.append({"user": _user(cw, uid), "labels": sorted(cw.labels.get(target, ())),
                    "actions": actions, "cases": others})
    return out


def case_page(cw: Casework, case: Case, now: datetime, lang: str) -> dict[str, Any]:
    share = cw.policy.at_risk_share
    intakes = [cw.intakes[i] for i in case.intakes if i in cw.intakes]
    reports = [_intake(cw, i, lang) for i in intakes if i.kind is not IntakeKind.FINDING]
    findings = [_intake(cw, i, lang) for i in intakes if i.kind is IntakeKind.FINDING]
    network = sorted(k for k in case.keys if k.startswith("network:"))
    files = []
    for aid in cw.files_of(case):
        att = cw.content.attachment(aid)
        files.append({"id": aid, "filename": att.filename if att else None,
                      "viewed": aid in cw.viewed_media,
                      "kind": _kind(att.filename if att else None)})
    return {"case": case.to_json(now, share), "kind": case.kind,
            "locked_by": case.locked_by,
            "targets": [_in_context(cw, t) for t in case.targets[:40]],
            "reports": reports, "findings": findings, "network": network,
            "factors": [{"why": f.why, "value": round(f.value, 2)} for f in case.factors
                        if f.value],
            "history": _history(cw, case), "media": files,
            "due": iso(case.next_due()), "categories": CATEGORIES}


def _kind(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith((".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")):
        return "video"
    return "image"
