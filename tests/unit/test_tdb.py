"""Transparency Database statements: mapping, local validation of every v2 rule, the
personal-data lint, and the puid."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from veilleur.compliance import tdb, tdb_schema
from veilleur.compliance.config import load_compliance_policy
from veilleur.compliance.facts import Automation, Restriction, Source
from veilleur.taxonomy import Category, Target

POLICY = load_compliance_policy()
T = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
SCOPE = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
         "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS",
         "LI", "NO")


def restriction(**kw: Any) -> Restriction:
    base: dict[str, Any] = dict(
        decision_id="decision-7", case_id="case-3", target=Target.of("message", "m1"),
        affected_user="u1", category=Category.CSAM, ground="illegal",
        ground_text="Code pénal art. 227-23 (child sexual abuse material)",
        measures=("remove_content",), duration_days=None, territorial_scope=SCOPE,
        applied_at=T, content_date=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
        content_kinds=("text", "image"), source=Source.NOTICE, automated_detection=True,
        automation=Automation.PARTIALLY)
    base.update(kw)
    return Restriction(**base)


def valid() -> dict[str, Any]:
    return tdb.statement(restriction(), POLICY)


def test_a_csam_removal_maps_to_protection_of_minors_and_passes_every_rule() -> None:
    s = valid()
    assert s["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert s["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert s["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_TEXT"]
    assert s["source_type"] == "SOURCE_ARTICLE_16"
    assert (s["automated_detection"], s["automated_decision"]) == (
        "Yes", "AUTOMATED_DECISION_PARTIALLY")
    assert (s["content_date"], s["application_date"]) == ("2026-03-02", "2026-03-02")
    assert tdb.validate(s) == [] and tdb.lint_personal_data(s, ["alice"]) == []


def test_the_mappings_follow_spec_2_4() -> None:
    minor = tdb.statement(restriction(category=Category.SEXTORTION, minor_victim=True), POLICY)
    adult = tdb.statement(restriction(category=Category.SEXTORTION, minor_victim=False), POLICY)
    ncii = tdb.statement(restriction(category=Category.NCII), POLICY)
    grooming = tdb.statement(restriction(category=Category.GROOMING), POLICY)
    assert minor["category_specification"] == ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"]
    assert adult["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert adult["category_specification"] == ["KEYWORD_OTHER"]
    assert adult["category_specification_other"] == "sextortion"
    assert ncii["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    assert grooming["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    for s in (minor, adult, ncii, grooming):
        assert tdb.validate(s) == []


def test_accounts_servers_automation_and_sources() -> None:
    account = tdb.statement(restriction(target=Target.of("user", "u1"),
                                        measures=("suspend_account",), duration_days=30,
                                        content_kinds=("account",)), POLICY)
    assert account["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert account["end_date_account_restriction"] == "2026-04-01"
    assert account["content_type"] == ["CONTENT_TYPE_OTHER"]
    assert account["content_type_other"] == "user account"
    closed = tdb.statement(restriction(target=Target.of("user", "u1"),
                                       measures=("suspend_account",),
                                       content_kinds=("account",)), POLICY)
    assert closed["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    server = tdb.statement(restriction(target=Target.of("guild", "g1"),
                                       measures=("delete_guild",), content_kinds=("server",)),
                           POLICY)
    assert server["decision_provision"] == "DECISION_PROVISION_PARTIAL_TERMINATION"
    auto = tdb.statement(restriction(automation=Automation.FULLY,
                                     source=Source.OWN_INITIATIVE), POLICY)
    assert auto["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert auto["source_type"] == "SOURCE_VOLUNTARY" and "source_identity" not in auto
    tf = tdb.statement(restriction(source=Source.TRUSTED_FLAGGER,
                                   flagger_name="Point de Contact"), POLICY)
    assert tf["source_type"] == "SOURCE_TRUSTED_FLAGGER"
    assert tf["source_identity"] == "Point de Contact"
    terms = tdb.statement(restriction(ground="terms", ground_text="Terms §4"), POLICY)
    assert terms["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert "illegal_content_legal_ground" not in terms
    for s in (account, closed, server, auto, tf, terms):
        assert tdb.validate(s) == [], s


def test_the_puid_is_derived_from_the_decision_deterministically() -> None:
    a = tdb.puid_for("decision-7", "message", "m1")
    assert a == tdb.puid_for("decision-7", "message", "m1")
    assert a != tdb.puid_for("decision-7", "message", "m2")
    assert a != tdb.puid_for("decision-8", "message", "m1")
    assert tdb.puid_for("a b/c", "user", "x").startswith("veilleur-a-b-c-")


def broken(change: Any) -> list[str]:
    s = copy.deepcopy(valid())
    change(s)
    return tdb.validate(s)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: s.pop("decision_visibility"), "decision_*: at least one"),
    (lambda s: s.update(decision_visibility=["DECISION_VISIBILITY_OTHER"]),
     "decision_visibility_other: required"),
    (lambda s: s.update(decision_visibility_other="x"), "decision_visibility_other: only"),
    (lambda s: s.update(decision_visibility=["REMOVED"]), "decision_visibility: 'REMOVED'"),
    (lambda s: s.update(decision_account="DECISION_ACCOUNT_BANNED"), "decision_account"),
    (lambda s: s.pop("decision_ground"), "decision_ground: required"),
    (lambda s: s.pop("illegal_content_legal_ground"), "illegal_content_legal_ground: required"),
    (lambda s: s.update(incompatible_content_ground="x"), "only for INCOMPATIBLE"),
    (lambda s: s.update(decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT"),
     "incompatible_content_ground: required"),
    (lambda s: s.update(illegal_content_explanation="x" * 2001), "at most 2000"),
    (lambda s: s.update(decision_facts="x" * 5001), "decision_facts: must be text of at most"),
    (lambda s: s.pop("decision_facts"), "decision_facts: required"),
    (lambda s: s.update(content_type=[]), "content_type: required"),
    (lambda s: s.update(content_type=["CONTENT_TYPE_OTHER"]), "content_type_other: required"),
    (lambda s: s.update(category="STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER"),
     "for the transparency report"),
    (lambda s: s.update(category="STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"),
     "removed in schema v2"),
    (lambda s: s.update(category_specification=["KEYWORD_HATE_SPEECH"]),
     "does not belong to STATEMENT_CATEGORY_PROTECTION_OF_MINORS"),
    (lambda s: s.update(category_specification=["KEYWORD_IMAGE_BASED_SEXUAL_ABUSE"]),
     "removed in schema v2"),
    (lambda s: s.update(category_specification_other="x"), "only with KEYWORD_OTHER"),
    (lambda s: s.update(territorial_scope=["EL"]), "(Greece is GR)"),
    (lambda s: s.update(territorial_scope=["FR", "FR"]), "codes repeat"),
    (lambda s: s.update(territorial_scope=[]), "territorial_scope: send at least one"),
    (lambda s: s.update(content_language="fr"), "content_language"),
    (lambda s: s.update(content_date="1999-12-31"), "content_date: must be between"),
    (lambda s: s.update(content_date="02/03/2026"), "content_date: required, YYYY-MM-DD"),
    (lambda s: s.update(application_date="2019-12-31"), "application_date: must be between"),
    (lambda s: s.update(end_date_account_restriction="2026-03-01"), "on or after"),
    (lambda s: s.update(source_type="SOURCE_USER"), "source_type"),
    (lambda s: s.update(automated_detection=True), "automated_detection"),
    (lambda s: s.update(automated_decision="FULLY"), "automated_decision"),
    (lambda s: s.update(puid="has space"), "puid"),
    (lambda s: s.update(puid="x" * 501), "puid: must be text of at most 500"),
    (lambda s: s.update(content_id={"EAN-13": "123"}), "content_id"),
    (lambda s: s.update(decision_ground_reference_url="not a url"), "must be a URL"),
    (lambda s: s.update(platform_uid="x"), "platform_uid: not a field"),
])
def test_the_validator_names_each_broken_rule(change: Any, expected: str) -> None:
    errors = broken(change)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(("text", "what"), [
    ("contact camille.durand@redaction.example", "an e-mail address"),
    ("see https://example.org/x", "a URL"), ("join discord.gg/abcd", "a URL"),
    ("posted by @ex_leaks", "a handle"), ("user <@123456789012345678>", "a handle"),
    ("account 123456789012345678", "a platform id"), ("call +33 6 12 34 56 78", "a phone"),
    ("the server Club Minéraux shared it", "the name 'Club Minéraux'"),
])
def test_personal_data_in_free_text_is_caught(text: str, what: str) -> None:
    s = valid()
    s["decision_facts"] = text
    found = tdb.lint_personal_data(s, names=["Club Minéraux", "ex"])
    assert any(what in f for f in found), found


# What the database accepts, field by field, as its API documentation enumerates it
# (digital-services-act/transparency-database, resources/markdown/api-documentation.md, schema v2:
# "Category (category)" and "Category Specification (category_specification)").
def _listed(text: str) -> list[str]:
    return text.split()


TDB_CATEGORIES = {f"STATEMENT_CATEGORY_{c}" for c in _listed(
    "ANIMAL_WELFARE CONSUMER_INFORMATION CYBER_VIOLENCE CYBER_VIOLENCE_AGAINST_WOMEN "
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS ILLEGAL_OR_HARMFUL_SPEECH "
    "INTELLECTUAL_PROPERTY_INFRINGEMENTS NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS "
    "NOT_SPECIFIED_NOTICE OTHER_VIOLATION_TC PROTECTION_OF_MINORS RISK_FOR_PUBLIC_SECURITY "
    "SCAMS_AND_FRAUD SELF_HARM UNSAFE_AND_PROHIBITED_PRODUCTS VIOLENCE")}
TDB_KEYWORDS = {f"KEYWORD_{k}" for k in _listed(
    "ANIMAL_HARM ADULT_SEXUAL_MATERIAL AGE_SPECIFIC_RESTRICTIONS AGE_SPECIFIC_RESTRICTIONS_MINORS "
    "BIOMETRIC_DATA_BREACH BULLYING_AGAINST_GIRLS CHILD_SEXUAL_ABUSE_MATERIAL "
    "CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE CONTENT_PROMOTING_EATING_DISORDERS COORDINATED_HARM "
    "COPYRIGHT_INFRINGEMENT CYBER_BULLYING_INTIMIDATION CYBER_HARASSMENT "
    "CYBER_HARASSMENT_AGAINST_WOMEN CYBER_INCITEMENT CYBER_STALKING CYBER_STALKING_AGAINST_WOMEN "
    "DATA_FALSIFICATION DEFAMATION DESIGN_INFRINGEMENT DISCRIMINATION "
    "MISINFORMATION_DISINFORMATION FEMALE_GENDERED_DISINFORMATION "
    "GEOGRAPHIC_INDICATIONS_INFRINGEMENT GEOGRAPHICAL_REQUIREMENTS GOODS_SERVICES_NOT_PERMITTED "
    "GROOMING_SEXUAL_ENTICEMENT_MINORS HATE_SPEECH HIDDEN_ADVERTISEMENT HUMAN_EXPLOITATION "
    "HUMAN_TRAFFICKING ILLEGAL_ORGANIZATIONS IMPERSONATION_ACCOUNT_HIJACKING INAUTHENTIC_ACCOUNTS "
    "INAUTHENTIC_LISTINGS INAUTHENTIC_USER_REVIEWS INCITEMENT_AGAINST_WOMEN "
    "INCITEMENT_VIOLENCE_HATRED INSUFFICIENT_INFORMATION_ON_TRADERS LANGUAGE_REQUIREMENTS "
    "MISLEADING_INFO_CONSUMER_RIGHTS MISLEADING_INFO_GOODS_SERVICES MISSING_PROCESSING_GROUND "
    "NON_CONSENSUAL_IMAGE_SHARING NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN "
    "NON_CONSENSUAL_MATERIAL_DEEPFAKE NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN "
    "NONCOMPLIANCE_PRICING NUDITY PATENT_INFRINGEMENT PHISHING PROHIBITED_PRODUCTS "
    "PYRAMID_SCHEMES RIGHT_TO_BE_FORGOTTEN OTHER RISK_ENVIRONMENTAL_DAMAGE RISK_PUBLIC_HEALTH "
    "SELF_MUTILATION STALKING SUICIDE TERRORIST_CONTENT TRADE_SECRET_INFRINGEMENT "
    "TRADEMARK_INFRINGEMENT TRAFFICKING_WOMEN_GIRLS UNLAWFUL_SALE_ANIMALS UNSAFE_CHALLENGES "
    "UNSAFE_PRODUCTS VIOLATION_EU_LAW VIOLATION_NATIONAL_LAW")}


def test_the_schema_knows_exactly_the_categories_and_keywords_the_database_accepts() -> None:
    assert set(tdb_schema.CATEGORIES) == TDB_CATEGORIES
    assert tdb_schema.ALL_KEYWORDS == TDB_KEYWORDS
    assert not TDB_KEYWORDS & set(tdb_schema.REMOVED_IN_V2)


def test_a_stalking_decision_can_say_so() -> None:
    p = valid() | {"category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
                   "category_specification": ["KEYWORD_STALKING"]}
    assert tdb.validate(p) == []
    p["category"] = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert tdb.validate(p) == ["category_specification: KEYWORD_STALKING does not belong to "
                               "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"]
