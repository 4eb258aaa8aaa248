"""Letters to people: notifiers, affected users, coordinators, authorities, in their language.

Templates live in `compliance/templates/<lang>/<kind>.txt` (first line: the subject). This
module holds the words that vary by language (measures, outcomes, dates) and renders; it
decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "remove_content": "removed", "block_upload": "upload blocked",
        "suspend_account": "account suspended", "delete_guild": "server closed",
        "block_join": "barred from joining servers",
        "terminated": "account closed", "indefinite": "indefinitely",
        "days": "{n} days", "scope_all": "the whole EU and EEA",
        "scope_some": "these countries: {codes}",
        "message": "your message of {when} in {where}", "attachment": "the file {name} you "
        "posted on {when}", "user": "your account", "guild": "your server {name}",
        "channel": "the channel {name} of your server", "invite": "your invitation link",
        "dm": "a private conversation",
        "csam": "child sexual abuse material", "grooming": "the sexual solicitation of a "
        "minor (grooming)", "sextortion": "sexual extortion", "ncii": "the non-consensual "
        "sharing of intimate images",
        "why_csam": "Any sexual depiction of a minor is prohibited, whoever made it.",
        "why_grooming": "Sexual propositions to a minor, or pushing a minor to sexual acts "
        "online, are offences.",
        "why_sextortion": "Demanding images, money or acts under threat of exposure is "
        "blackmail.",
        "why_ncii": "Sharing intimate images of a person without their consent is an "
        "offence.",
        "auto_fully": "the measure was taken automatically, because the file matched "
        "material already confirmed as illegal (hash matching); a person reviews it.",
        "auto_partially": "our systems detected the content automatically; a trained "
        "reviewer examined it and decided.",
        "auto_not": "a trained reviewer examined the content and decided; no automated "
        "means were used to detect it.",
        "src_notice": "after a notice from a user or a third party",
        "src_trusted_flagger": "after a notice from a trusted flagger",
        "src_authority": "after a request from a competent authority",
        "src_own_initiative": "on our own initiative",
        "facts": "This content ({kinds}) was found to contain {harm}, {source}.",
        "facts_account": "This account was used for {harm}, {source}.",
        "automated_match": "the item had already been decided by a person, and your notice "
        "was matched to that decision automatically",
        "k_text": "text", "k_image": "image", "k_video": "video", "k_file": "file",
        "k_account": "account", "k_server": "server", "k_channel": "channel",
        "k_invite": "invitation link", "and": "and",
        "upheld": "we found a violation and acted: {measures}",
        "rejected": "after examination, we found no violation of the law or of our terms; "
        "the content stays online",
        "already_actioned": "it had already been dealt with ({detail})",
        "already_reviewed": "it had been examined recently and found not violating; your "
        "notice brought nothing new",
        "owner_deleted": "it had been deleted by its author before our decision; we kept "
        "a sealed copy as evidence",
        "reporter_suspended": "not examined: the processing of your notices is suspended "
        "under Article 23 DSA",
        "pending": "still being examined",
        "unknown_item": "the item {kind} {id}",
        "automated_notice": "automated detection and prioritisation; the decision was "
        "taken by a person",
        "c_upheld": "We maintain our decision: it was well founded.",
        "c_reversed": "We reverse our decision: it was not well founded.",
        "c_partially_reversed": "We partly reverse our decision.",
        "c_newly_imposed": "Your complaint was well founded: we have now acted on the "
        "content you reported.",
        "c_rejected_late": "Your complaint arrived after the {months}-month period for "
        "contesting this decision.",
        "c_not_party": "Only the person affected by a decision, or whoever notified it, "
        "can contest it.",
        "c_suspended": "Your complaints are not processed until {until} (Article 23 DSA).",
        "restored_content": "the content is visible again",
        "restored_account": "the account is reinstated",
        "restored_guild": "the server is reopened",
        "review_no_violation": "a person reviewed the automatic measure and found no "
        "violation",
        "complaint_reversed": "your complaint was upheld",
        "urgent_sextortion": "a minor is being blackmailed now (sexual extortion confirmed "
        "by review); the threats may be carried out at any moment",
    },
    "fr": {
        "remove_content": "retiré", "block_upload": "envoi bloqué",
        "suspend_account": "compte suspendu", "delete_guild": "serveur fermé",
        "block_join": "interdit de rejoindre des serveurs",
        "terminated": "compte fermé", "indefinite": "sans limite de durée",
        "days": "{n} jours", "scope_all": "l'ensemble de l'UE et de l'EEE",
        "scope_some": "ces pays : {codes}",
        "message": "votre message du {when} dans {where}", "attachment": "le fichier {name} "
        "que vous avez publié le {when}", "user": "votre compte",
        "guild": "votre serveur {name}", "channel": "le salon {name} de votre serveur",
        "invite": "votre lien d'invitation", "dm": "une conversation privée",
        "csam": "des contenus d'abus sexuels sur mineurs", "grooming": "la sollicitation "
        "sexuelle d'un mineur (pédopiégeage)", "sextortion": "de l'extorsion sexuelle",
        "ncii": "la diffusion non consentie d'images intimes",
        "why_csam": "Toute représentation sexuelle d'un mineur est interdite, quel qu'en "
        "soit l'auteur.",
        "why_grooming": "Les propositions sexuelles à un mineur, ou le fait de l'inciter en "
        "ligne à des actes sexuels, sont des délits.",
        "why_sextortion": "Exiger des images, de l'argent ou des actes sous la menace d'une "
        "divulgation est un chantage.",
        "why_ncii": "Diffuser des images intimes d'une personne sans son consentement est "
        "un délit.",
        "auto_fully": "la mesure a été prise automatiquement, car le fichier correspond à un "
        "contenu déjà reconnu illicite (comparaison d'empreintes) ; une personne la vérifie.",
        "auto_partially": "nos systèmes ont détecté le contenu automatiquement ; une "
        "personne formée l'a examiné et a décidé.",
        "auto_not": "une personne formée a examiné le contenu et a décidé ; aucun moyen "
        "automatisé n'a servi à le détecter.",
        "src_notice": "à la suite d'un signalement d'un utilisateur ou d'un tiers",
        "src_trusted_flagger": "à la suite d'un signalement d'un signaleur de confiance",
        "src_authority": "à la suite d'une demande d'une autorité compétente",
        "src_own_initiative": "de notre propre initiative",
        "facts": "Ce contenu ({kinds}) contenait {harm} ; constaté {source}.",
        "facts_account": "Ce compte a été utilisé pour {harm} ; constaté {source}.",
        "automated_match": "l'élément avait déjà été décidé par une personne, et votre "
        "signalement a été rapproché automatiquement de cette décision",
        "k_text": "texte", "k_image": "image", "k_video": "vidéo", "k_file": "fichier",
        "k_account": "compte", "k_server": "serveur", "k_channel": "salon",
        "k_invite": "lien d'invitation", "and": "et",
        "upheld": "nous avons constaté une infraction et agi : {measures}",
        "rejected": "après examen, nous n'avons constaté aucune violation de la loi ni de nos "
        "conditions ; le contenu reste en ligne",
        "already_actioned": "il avait déjà été traité ({detail})",
        "already_reviewed": "il avait été examiné récemment et jugé conforme ; votre "
        "signalement n'apportait rien de nouveau",
        "owner_deleted": "son auteur l'avait supprimé avant notre décision ; nous en avons "
        "conservé une copie scellée comme preuve",
        "reporter_suspended": "non examiné : le traitement de vos signalements est suspendu "
        "(article 23 du DSA)",
        "pending": "en cours d'examen",
        "unknown_item": "l'élément {kind} {id}",
        "automated_notice": "détection et priorisation automatisées ; la décision a été "
        "prise par une personne",
        "c_upheld": "Nous maintenons notre décision : elle était fondée.",
        "c_reversed": "Nous annulons notre décision : elle n'était pas fondée.",
        "c_partially_reversed": "Nous annulons en partie notre décision.",
        "c_newly_imposed": "Votre réclamation était fondée : nous avons agi sur le contenu "
        "que vous aviez signalé.",
        "c_rejected_late": "Votre réclamation est arrivée après le délai de {months} mois "
        "pour contester cette décision.",
        "c_not_party": "Seule la personne visée par une décision, ou l'auteur du "
        "signalement, peut la contester.",
        "c_suspended": "Vos réclamations ne sont pas traitées jusqu'au {until} (article 23 "
        "du DSA).",
        "restored_content": "le contenu est de nouveau visible",
        "restored_account": "le compte est rétabli",
        "restored_guild": "le serveur est rouvert",
        "review_no_violation": "une personne a vérifié la mesure automatique et n'a constaté "
        "aucune violation",
        "complaint_reversed": "votre réclamation a été accueillie",
        "urgent_sextortion": "un mineur subit actuellement un chantage (extorsion sexuelle "
        "confirmée après examen) ; les menaces peuvent être mises à exécution à tout moment",
    },
}


def when(ts: datetime, lang: str) -> str:
    t = ts.astimezone(UTC)
    if lang == "fr":
        return f"le {t.day} {_MONTHS_FR[t.month - 1]} {t.year} à {t:%H:%M} UTC"
    return f"{t.day} {_MONTHS_EN[t.month - 1]} {t.year} at {t:%H:%M} UTC"


def day(ts: datetime, lang: str) -> str:
    if lang == "fr":
        return f"{ts.day} {_MONTHS_FR[ts.month - 1]} {ts.year}"
    return f"{ts.day} {_MONTHS_EN[ts.month - 1]} {ts.year}"


def word(lang: str, key: str, **kw: Any) -> str:
    return WORDS[lang][key].format(**kw)


def kinds(lang: str, names: Sequence[str]) -> str:
    """"text and image", "texte et image"."""
    words = [WORDS[lang][f"k_{n}"] for n in names]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {WORDS[lang]['and']} {words[-1]}"


@cache
def _env(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES / lang), undefined=StrictUndefined,
                      autoescape=False, keep_trailing_newline=True, trim_blocks=False)
    env.filters["when"] = lambda ts: when(ts, lang)
    env.filters["day"] = lambda ts: day(ts, lang)
    env.filters["cap"] = lambda text: text[:1].upper() + text[1:]
    return env


def render(template: str, lang: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of a letter; the template's first line is the subject."""
    text = _env(lang).get_template(f"{template}.txt").render(**context)
    first, _, body = text.partition("\n")
    subject = first.split(":", 1)[1].strip() if ":" in first else first
    return subject, body.strip() + "\n"
