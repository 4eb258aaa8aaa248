"""Transparency Database (DSA Art. 24(5)) statements: built from a restriction, validated
locally against every rule of the v2 API (spec §2.2–2.3), linted for personal data. Pure.

The free-text fields use standard wording only: the reviewer's own words, names, handles,
addresses and ids stay in the user's letter and never reach the public database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from veilleur.compliance import letters
from veilleur.compliance import tdb_schema as schema
from veilleur.compliance.config import CompliancePolicy
from veilleur.compliance.facts import Automation, Restriction, Source

MAX_TEXT = {"decision_visibility_other": 500, "decision_monetary_other": 500,
            "illegal_content_legal_ground": 500, "illegal_content_explanation": 2000,
            "incompatible_content_ground": 500, "incompatible_content_explanation": 2000,
            "content_type_other": 500, "category_specification_other": 500,
            "decision_facts": 5000, "source_identity": 500, "puid": 500,
            "decision_ground_reference_url": 500}

_KIND_TYPES = {"text": "CONTENT_TYPE_TEXT", "image": "CONTENT_TYPE_IMAGE",
               "video": "CONTENT_TYPE_VIDEO", "audio": "CONTENT_TYPE_AUDIO"}
_KIND_WORDS = {"file": "file", "channel": "chat channel", "server": "community server",
               "account": "user account", "invite": "invitation link"}
_SOURCE_TYPES = {Source.NOTICE: "SOURCE_ARTICLE_16",
                 Source.TRUSTED_FLAGGER: "SOURCE_TRUSTED_FLAGGER",
                 Source.AUTHORITY: "SOURCE_TYPE_OTHER_NOTIFICATION",
                 Source.OWN_INITIATIVE: "SOURCE_VOLUNTARY"}
_AUTOMATION = {Automation.FULLY: "AUTOMATED_DECISION_FULLY",
               Automation.PARTIALLY: "AUTOMATED_DECISION_PARTIALLY",
               Automation.NOT: "AUTOMATED_DECISION_NOT_AUTOMATED"}
_SOURCE_WORDS = {Source.NOTICE: "after a notice under Article 16 DSA",
                 Source.TRUSTED_FLAGGER: "after a notice from a trusted flagger (Article 22 DSA)",
                 Source.AUTHORITY: "after a removal request from a competent authority",
                 Source.OWN_INITIATIVE: "on the provider's own initiative"}
_MEASURE_WORDS = {"remove_content": "the content was removed",
                  "block_upload": "the upload was blocked",
                  "delete_guild": "the community server was closed",
                  "suspend_account": "the account was suspended",
                  "block_join": "the account was barred from joining servers"}


def puid_for(decision_id: str, target_kind: str, target_id: str) -> str:
    """Unique per platform, never reused, the same every time it is derived (spec §2.1)."""
    digest = hashlib.sha256(f"{decision_id}\x00{target_kind}\x00{target_id}".encode())
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", decision_id)[:100]
    return f"veilleur-{safe}-{digest.hexdigest()[:24]}"


def _decision_fields(r: Restriction) -> dict[str, Any]:
    out: dict[str, Any] = {}
    visibility = [m for m in r.measures if m in ("remove_content", "block_upload",
                                                 "delete_guild")]
    if visibility:
        out["decision_visibility"] = ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    if "delete_guild" in r.measures:
        out["decision_provision"] = "DECISION_PROVISION_PARTIAL_TERMINATION"
    if "block_join" in r.measures:
        out["decision_provision"] = "DECISION_PROVISION_PARTIAL_SUSPENSION"
    if "suspend_account" in r.measures:
        out["decision_account"] = ("DECISION_ACCOUNT_TERMINATED" if r.duration_days is None
                                   else "DECISION_ACCOUNT_SUSPENDED")
    return out


def _category(r: Restriction, policy: CompliancePolicy) -> tuple[str, list[str], str | None]:
    harm = policy.harms[r.category]
    if harm.adult_category and not r.minor_victim:
        return harm.adult_category, list(harm.adult_keywords), harm.adult_keyword_other
    return harm.category, list(harm.keywords), None


def _facts(r: Restriction) -> str:
    what = ", ".join(_MEASURE_WORDS[m] for m in r.measures if m in _MEASURE_WORDS)
    kinds = ", ".join(r.content_kinds) or "content"
    detection = ("identified by automated means (hash matching or text analysis)"
                 if r.automated_detection else "identified without automated detection")
    decided = {Automation.FULLY: "the decision was taken automatically under the provider's "
                                 "published policy and is reviewed by a person",
               Automation.PARTIALLY: "a trained reviewer confirmed the violation",
               Automation.NOT: "a trained reviewer assessed the content"}[r.automation]
    return (f"The {kinds} was found to contain {letters.word('en', r.category.value)}. It was "
            f"{detection}, {_SOURCE_WORDS[r.source]}; {decided}. Measure: {what}.")


def statement(r: Restriction, policy: CompliancePolicy) -> dict[str, Any]:
    """The TDB v2 payload of one restriction (spec §2.2)."""
    category, keywords, keyword_other = _category(r, policy)
    types = sorted({_KIND_TYPES[k] for k in r.content_kinds if k in _KIND_TYPES})
    others = [_KIND_WORDS[k] for k in r.content_kinds if k in _KIND_WORDS]
    if others:
        types.append("CONTENT_TYPE_OTHER")
    applied = r.applied_at.date()
    content_day = (r.content_date.date() if r.content_date is not None else applied)
    p: dict[str, Any] = {**_decision_fields(r)}
    harm = letters.word("en", r.category.value)
    if r.ground == "illegal":
        p["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        p["illegal_content_legal_ground"] = r.ground_text
        p["illegal_content_explanation"] = (
            f"The content constitutes {harm}, an offence under the cited provision.")
    else:
        p["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        p["incompatible_content_ground"] = r.ground_text
        p["incompatible_content_explanation"] = (
            f"The content constitutes {harm}, which the terms of service prohibit.")
        p["incompatible_content_illegal"] = "Yes"
    harm_cfg = policy.harms[r.category]
    if harm_cfg.reference_url and r.ground == "illegal":
        p["decision_ground_reference_url"] = harm_cfg.reference_url
    elif r.ground == "terms":
        p["decision_ground_reference_url"] = policy.terms_url
    p["content_type"] = types
    if others:
        p["content_type_other"] = ", ".join(others)
    p["category"] = category
    if keywords:
        p["category_specification"] = keywords
    if keyword_other:
        p["category_specification_other"] = keyword_other
    p["territorial_scope"] = list(r.territorial_scope)
    if r.content_language:
        p["content_language"] = r.content_language.upper()
    p["content_date"] = max(content_day, date(2000, 1, 1)).isoformat()
    p["application_date"] = applied.isoformat()
    if r.duration_days is not None:
        end = (applied + timedelta(days=r.duration_days)).isoformat()
        if "suspend_account" in r.measures:
            p["end_date_account_restriction"] = end
        if "decision_visibility" in p:
            p["end_date_visibility_restriction"] = end
    p["decision_facts"] = _facts(r)
    p["source_type"] = _SOURCE_TYPES[r.source]
    if r.source is Source.TRUSTED_FLAGGER and r.flagger_name:
        p["source_identity"] = r.flagger_name  # an organisation, not a person
    p["automated_detection"] = "Yes" if r.automated_detection else "No"
    p["automated_decision"] = _AUTOMATION[r.automation]
    p["puid"] = puid_for(r.decision_id, r.target.kind.value, r.target.id)
    return p


# --- validation -------------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def validate(p: Mapping[str, Any]) -> list[str]:
    """Every rule of the TDB v2 API we can check locally; each error names its field."""
    errors: list[str] = []
    err = errors.append
    for key in sorted(set(p) - schema.FIELDS):
        err(f"{key}: not a field of the v2 schema")
    decisions = [k for k in ("decision_visibility", "decision_monetary", "decision_provision",
                             "decision_account") if p.get(k)]
    if not decisions:
        err("decision_*: at least one of decision_visibility, decision_monetary, "
            "decision_provision, decision_account is required")
    vis = p.get("decision_visibility")
    if vis is not None:
        if not isinstance(vis, list) or not vis:
            err("decision_visibility: must be a non-empty array")
        else:
            for v in vis:
                if v not in schema.DECISION_VISIBILITY:
                    err(f"decision_visibility: {v!r} is not allowed")
            if len(set(vis)) != len(vis):
                err("decision_visibility: values repeat")
    _other(p, "decision_visibility", "DECISION_VISIBILITY_OTHER", err, array=True)
    _enum(p, "decision_monetary", schema.DECISION_MONETARY, err)
    _other(p, "decision_monetary", "DECISION_MONETARY_OTHER", err, array=False)
    _enum(p, "decision_provision", schema.DECISION_PROVISION, err)
    _enum(p, "decision_account", schema.DECISION_ACCOUNT, err)
    _enum(p, "account_type", schema.ACCOUNT_TYPE, err)
    ground = p.get("decision_ground")
    if ground not in schema.DECISION_GROUND:
        err(f"decision_ground: required, one of {', '.join(schema.DECISION_GROUND)}")
    illegal = ("illegal_content_legal_ground", "illegal_content_explanation")
    incompatible = ("incompatible_content_ground", "incompatible_content_explanation")
    if ground == "DECISION_GROUND_ILLEGAL_CONTENT":
        for k in illegal:
            if not p.get(k):
                err(f"{k}: required when decision_ground is ILLEGAL_CONTENT")
        for k in (*incompatible, "incompatible_content_illegal"):
            if k in p:
                err(f"{k}: only for INCOMPATIBLE_CONTENT decisions")
    elif ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        for k in incompatible:
            if not p.get(k):
                err(f"{k}: required when decision_ground is INCOMPATIBLE_CONTENT")
        for k in illegal:
            if k in p:
                err(f"{k}: only for ILLEGAL_CONTENT decisions")
        _enum(p, "incompatible_content_illegal", schema.YES_NO, err)
    url = p.get("decision_ground_reference_url")
    if url is not None and (not isinstance(url, str)
                            or not re.match(r"^https?://[^\s/$.?#].[^\s]*$", url)):
        err("decision_ground_reference_url: must be a URL")
    types = p.get("content_type")
    if not isinstance(types, list) or not types:
        err("content_type: required, a non-empty array")
    else:
        for t in types:
            if t not in schema.CONTENT_TYPE:
                err(f"content_type: {t!r} is not allowed")
        if len(set(types)) != len(types):
            err("content_type: values repeat")
    _other(p, "content_type", "CONTENT_TYPE_OTHER", err, array=True)
    category = p.get("category")
    if category in schema.REPORT_ONLY_CATEGORIES:
        err(f"category: {category} is for the transparency report, not the database")
    elif category in schema.REMOVED_IN_V2:
        err(f"category: {category} was removed in schema v2")
    elif category not in schema.CATEGORIES:
        err("category: required, one of the 16 STATEMENT_CATEGORY_* keys")
    additions = p.get("category_addition", [])
    if not isinstance(additions, list) or any(a not in schema.CATEGORIES for a in additions):
        err("category_addition: must be an array of STATEMENT_CATEGORY_* keys")
        additions = []
    keywords = p.get("category_specification", [])
    if not isinstance(keywords, list):
        err("category_specification: must be an array")
        keywords = []
    allowed = schema.keywords_of(str(category))
    for a in additions:
        allowed |= schema.keywords_of(a)
    for k in keywords:
        if k in schema.REMOVED_IN_V2:
            err(f"category_specification: {k} was removed in schema v2")
        elif k not in schema.ALL_KEYWORDS:
            err(f"category_specification: {k!r} is not a keyword")
        elif k not in allowed:
            err(f"category_specification: {k} does not belong to {category}")
    if "category_specification_other" in p and schema.KEYWORD_OTHER not in keywords:
        err("category_specification_other: only with KEYWORD_OTHER")
    scope = p.get("territorial_scope")
    if not isinstance(scope, list) or not scope:
        err("territorial_scope: send at least one country code")
    else:
        for c in scope:
            if c not in schema.TERRITORIAL_SCOPE:
                hint = " (Greece is GR)" if c == "EL" else ""
                err(f"territorial_scope: {c!r} is not an EU/EEA code{hint}")
        if len(set(scope)) != len(scope):
            err("territorial_scope: codes repeat")
    lang = p.get("content_language")
    if lang is not None and lang not in schema.ISO_639_1:
        err("content_language: must be an upper-case ISO 639-1 code")
    content_date = _day(p.get("content_date"))
    if content_date is None:
        err("content_date: required, YYYY-MM-DD")
    elif not date(2000, 1, 1) <= content_date <= date(2038, 1, 1):
        err("content_date: must be between 2000-01-01 and 2038-01-01")
    applied = _day(p.get("application_date"))
    if applied is None:
        err("application_date: required, YYYY-MM-DD")
    elif not date(2020, 1, 1) <= applied <= date(2038, 1, 1):
        err("application_date: must be between 2020-01-01 and 2038-01-01")
    for key in schema.END_DATES:
        if p.get(key) is None:
            continue
        end = _day(p[key])
        if end is None:
            err(f"{key}: must be YYYY-MM-DD or null")
        elif applied is not None and end < applied:
            err(f"{key}: must be on or after application_date")
    if not p.get("decision_facts"):
        err("decision_facts: required")
    if p.get("source_type") not in schema.SOURCE_TYPE:
        err(f"source_type: required, one of {', '.join(schema.SOURCE_TYPE)}")
    if p.get("automated_detection") not in schema.YES_NO:
        err("automated_detection: required, 'Yes' or 'No'")
    if p.get("automated_decision") not in schema.AUTOMATED_DECISION:
        err(f"automated_decision: required, one of {', '.join(schema.AUTOMATED_DECISION)}")
    puid = p.get("puid")
    if not isinstance(puid, str) or not schema.PUID.match(puid):
        err("puid: required, letters, digits, '-' and '_' only")
    for key, limit in MAX_TEXT.items():
        value = p.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            err(f"{key}: must be text of at most {limit} characters")
    cid = p.get("content_id")
    if cid is not None and (not isinstance(cid, dict) or set(cid) != {"EAN-13"}
                            or not re.fullmatch(r"\d{13}", str(cid["EAN-13"]))):
        err("content_id: only {'EAN-13': 13 digits}")
    return errors


def _enum(p: Mapping[str, Any], key: str, allowed: Iterable[str], err: Any) -> None:
    if key in p and p[key] is not None and p[key] not in tuple(allowed):
        err(f"{key}: {p[key]!r} is not allowed")


def _other(p: Mapping[str, Any], key: str, other: str, err: Any, *, array: bool) -> None:
    value = p.get(key)
    chosen = (isinstance(value, list) and other in value) if array else value == other
    if chosen and not p.get(f"{key}_other"):
        err(f"{key}_other: required when {key} includes {other}")
    if not chosen and f"{key}_other" in p:
        err(f"{key}_other: only when {key} includes {other}")


# --- personal data ------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:gg|com|net|org|io|fr|me)/\S*")
_HANDLE = re.compile(r"(?<![\w.])@[\w.]{2,}|<@!?\d+>|\b\w{2,32}#\d{4}\b")
_ID = re.compile(r"\b\d{15,20}\b")
_PHONE = re.compile(r"(?<!\d)(?:\+\d{1,3}[ .]?)?(?:\d[ .-]?){9,12}\d(?!\d)")


def lint_personal_data(p: Mapping[str, Any], names: Iterable[str] = ()) -> list[str]:
    """Free-text fields must carry no personal data (Art 24(5)): no e-mail, URL, handle,
    platform id, phone number, nor any name known in the case."""
    found: list[str] = []
    known = [n for n in {n.strip() for n in names} if len(n) >= 3]
    for key in schema.FREE_TEXT:
        text = p.get(key)
        if not isinstance(text, str):
            continue
        for label, rx in (("an e-mail address", _EMAIL), ("a URL", _URL),
                          ("a handle", _HANDLE), ("a platform id", _ID),
                          ("a phone number", _PHONE)):
            if rx.search(text):
                found.append(f"{key}: contains {label}")
        lowered = text.lower()
        for name in known:
            if re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered):
                found.append(f"{key}: contains the name {name!r}")
    return found
