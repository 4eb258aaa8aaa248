"""The compliance policy (`policies/compliance.toml`), validated at load.

Every error names the file and the entry, like the other policy files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.compliance.tdb_schema import CATEGORIES, TERRITORIAL_SCOPE, keywords_of
from veilleur.detect.base import POLICY_DIR, PolicyDataError, load_policy_toml
from veilleur.taxonomy import Category

LANGUAGES = ("fr", "en")
"""Languages the documents are written in (templates exist for these)."""
NCMEC_INCIDENTS = (
    "Child Pornography (possession, manufacture, and distribution)", "Child Sex Trafficking",
    "Child Sex Tourism", "Child Sexual Molestation", "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child")
NCMEC_ANNOTATIONS = ("sextortion", "csamSolicitation", "minorToMinorInteraction", "spam",
                     "sadisticOnlineExploitation")


class CompliancePolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Harm:
    category: str
    keywords: tuple[str, ...]
    reference_url: str | None
    ncmec_incident: str | None
    ncmec_annotations: tuple[str, ...]
    anonymous_notices: bool
    adult_category: str | None = None
    adult_keywords: tuple[str, ...] = ()
    adult_keyword_other: str | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class MisusePolicy:
    window_days: float
    illegal_posts: int
    illegal_share: float
    unfounded_notices: int
    unfounded_notice_share: float
    unfounded_complaints: int
    unfounded_complaint_share: float
    suspension_days: int
    still_reviewed: frozenset[Category]


@dataclass(frozen=True, slots=True)
class CompliancePolicy:
    version: str
    provider_name: str
    service: str
    member_state: str
    small_enterprise: bool
    contact: str
    terms_url: str
    complaints_url: str
    default_language: str
    languages: tuple[str, ...]
    harms: Mapping[Category, Harm]
    complaint_window_months: int
    misuse: MisusePolicy
    tf_window_days: float
    tf_min_notices: int
    tf_min_precision: float
    authorities: Mapping[str, Authority]
    ncmec: Mapping[str, str]

    def authority_for(self, member_state: str | None) -> tuple[str, Authority]:
        """Art 18(1): the Member State concerned; 18(2): else where we are established,
        else Europol."""
        for ms in (member_state, self.member_state):
            if ms and ms in self.authorities:
                return ms, self.authorities[ms]
        return "EU", self.authorities["EU"]


def load_compliance_policy(policy_dir: Path = POLICY_DIR) -> CompliancePolicy:
    path = policy_dir / "compliance.toml"
    return parse_compliance_policy(load_policy_toml(path, CompliancePolicyError), str(path))


def _fail(where: str, entry: str, message: str) -> CompliancePolicyError:
    return CompliancePolicyError(f"{where}: {entry}: {message}")


def _table(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise _fail(where, f"[{name}]", "missing or not a table")
    return value


def _str(t: Mapping[str, Any], key: str, entry: str, where: str, empty: bool = False) -> str:
    value = t.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise _fail(where, f"{entry}.{key}", "must be a non-empty string")
    return value


def _num(t: Mapping[str, Any], key: str, entry: str, where: str, lo: float, hi: float
         ) -> float:
    value = t.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _fail(where, f"{entry}.{key}", f"must be a number in [{lo}, {hi}]")
    return float(value)


def _keywords(category: str, keywords: Any, entry: str, where: str) -> tuple[str, ...]:
    if category not in CATEGORIES:
        raise _fail(where, entry, f"unknown TDB category {category!r}")
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise _fail(where, entry, "keywords must be a list of KEYWORD_* keys")
    wrong = [k for k in keywords if k not in keywords_of(category)]
    if wrong:
        raise _fail(where, entry, f"keywords {wrong} do not belong to {category}")
    return tuple(keywords)


def _harm(raw: Any, entry: str, where: str) -> Harm:
    if not isinstance(raw, dict):
        raise _fail(where, entry, "missing")
    category = _str(raw, "category", entry, where)
    keywords = _keywords(category, raw.get("keywords"), entry, where)
    incident = raw.get("ncmec_incident", "")
    if incident and incident not in NCMEC_INCIDENTS:
        raise _fail(where, f"{entry}.ncmec_incident", f"not a CyberTipline incident type; "
                    f"known: {'; '.join(NCMEC_INCIDENTS)}")
    notes = raw.get("ncmec_annotations", [])
    if not isinstance(notes, list) or any(n not in NCMEC_ANNOTATIONS for n in notes):
        raise _fail(where, f"{entry}.ncmec_annotations",
                    f"must list among {', '.join(NCMEC_ANNOTATIONS)}")
    adult = raw.get("adult_category")
    adult_kw: tuple[str, ...] = ()
    if adult is not None:
        adult_kw = _keywords(str(adult), raw.get("adult_keywords", []), f"{entry}.adult", where)
    anonymous = raw.get("anonymous_notices")
    if not isinstance(anonymous, bool):
        raise _fail(where, f"{entry}.anonymous_notices", "must be true or false")
    return Harm(category, keywords, raw.get("reference_url") or None, incident or None,
                tuple(notes), anonymous, adult, adult_kw, raw.get("adult_keyword_other"))


def parse_compliance_policy(data: Mapping[str, Any], where: str = "compliance"
                            ) -> CompliancePolicy:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise _fail(where, "version", "missing")
    p = _table(data, "provider", where)
    member_state = _str(p, "member_state", "provider", where).upper()
    if member_state not in TERRITORIAL_SCOPE:
        raise _fail(where, "provider.member_state", "must be an EU/EEA ISO code (GR, not EL)")
    languages = p.get("languages")
    if not isinstance(languages, list) or not languages or \
            any(lang not in LANGUAGES for lang in languages):
        raise _fail(where, "provider.languages", f"must list among {', '.join(LANGUAGES)}")
    default = _str(p, "default_language", "provider", where)
    if default not in languages:
        raise _fail(where, "provider.default_language", "must be one of provider.languages")
    small = p.get("small_enterprise")
    if not isinstance(small, bool):
        raise _fail(where, "provider.small_enterprise", "must be true or false")
    harms_t = _table(data, "harms", where)
    harms = {c: _harm(harms_t.get(c.value), f"harms.{c.value}", where) for c in Category}
    c = _table(data, "complaints", where)
    window = int(_num(c, "window_months", "complaints", where, 6, 120))
    m = _table(data, "misuse", where)
    try:
        still = frozenset(Category(x) for x in m.get("still_reviewed", []))
    except ValueError as exc:
        raise _fail(where, "misuse.still_reviewed", str(exc)) from None
    misuse = MisusePolicy(
        window_days=_num(m, "window_days", "misuse", where, 1, 3650),
        illegal_posts=int(_num(m, "illegal_posts", "misuse", where, 1, 1e6)),
        illegal_share=_num(m, "illegal_share", "misuse", where, 0, 1),
        unfounded_notices=int(_num(m, "unfounded_notices", "misuse", where, 1, 1e6)),
        unfounded_notice_share=_num(m, "unfounded_notice_share", "misuse", where, 0, 1),
        unfounded_complaints=int(_num(m, "unfounded_complaints", "misuse", where, 1, 1e6)),
        unfounded_complaint_share=_num(m, "unfounded_complaint_share", "misuse", where, 0, 1),
        suspension_days=int(_num(m, "suspension_days", "misuse", where, 1, 3650)),
        still_reviewed=still)
    tf = _table(data, "trusted_flaggers", where)
    r = _table(data, "referral", where)
    auth_t = r.get("authorities")
    if not isinstance(auth_t, dict) or "EU" not in auth_t:
        raise _fail(where, "referral.authorities", "needs at least the EU entry (Art 18(2))")
    authorities = {k.upper(): Authority(_str(v, "name", f"referral.authorities.{k}", where),
                                        _str(v, "channel", f"referral.authorities.{k}", where))
                   for k, v in auth_t.items()}
    n = _table(data, "ncmec", where)
    ncmec = {k: _str(n, k, "ncmec", where) for k in ("reporter_first_name",
                                                      "reporter_last_name", "reporter_email",
                                                      "chat_client")}
    return CompliancePolicy(
        version=version, provider_name=_str(p, "name", "provider", where),
        service=_str(p, "service", "provider", where), member_state=member_state,
        small_enterprise=small, contact=_str(p, "contact", "provider", where),
        terms_url=_str(p, "terms_url", "provider", where),
        complaints_url=_str(p, "complaints_url", "provider", where),
        default_language=default, languages=tuple(languages), harms=harms,
        complaint_window_months=window, misuse=misuse,
        tf_window_days=_num(tf, "window_days", "trusted_flaggers", where, 1, 3650),
        tf_min_notices=int(_num(tf, "min_notices", "trusted_flaggers", where, 1, 1e6)),
        tf_min_precision=_num(tf, "min_precision", "trusted_flaggers", where, 0, 1),
        authorities=authorities, ncmec=ncmec)
