"""The DSA Transparency Database v2 vocabulary (spec dsa_ncmec.md §2.2–2.3), as data.

Values are the enum *keys* the API takes. The category → keyword grouping is the Commission's
taxonomy; the server checks keywords globally, so the engine enforces the grouping itself.
"""

from __future__ import annotations

import re

CATEGORIES: dict[str, tuple[str, ...]] = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE": ("ANIMAL_HARM", "UNLAWFUL_SALE_ANIMALS"),
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION": (
        "HIDDEN_ADVERTISEMENT", "INSUFFICIENT_INFORMATION_ON_TRADERS",
        "MISLEADING_INFO_GOODS_SERVICES", "MISLEADING_INFO_CONSUMER_RIGHTS",
        "NONCOMPLIANCE_PRICING"),
    "STATEMENT_CATEGORY_CYBER_VIOLENCE": (
        "CYBER_BULLYING_INTIMIDATION", "CYBER_HARASSMENT", "CYBER_INCITEMENT", "CYBER_STALKING",
        "NON_CONSENSUAL_IMAGE_SHARING", "NON_CONSENSUAL_MATERIAL_DEEPFAKE",
        # The database still accepts KEYWORD_STALKING (its v1 category, non-consensual
        # behaviour, is gone in v2); grouped with its nearest v2 kin, CYBER_STALKING.
        "STALKING"),
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN": (
        "BULLYING_AGAINST_GIRLS", "CYBER_HARASSMENT_AGAINST_WOMEN",
        "CYBER_STALKING_AGAINST_WOMEN", "FEMALE_GENDERED_DISINFORMATION",
        "INCITEMENT_AGAINST_WOMEN", "NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
        "NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN"),
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS": (
        "BIOMETRIC_DATA_BREACH", "DATA_FALSIFICATION", "MISSING_PROCESSING_GROUND",
        "RIGHT_TO_BE_FORGOTTEN"),
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH": ("DEFAMATION", "DISCRIMINATION",
                                                     "HATE_SPEECH"),
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS": (
        "COPYRIGHT_INFRINGEMENT", "DESIGN_INFRINGEMENT", "GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
        "PATENT_INFRINGEMENT", "TRADE_SECRET_INFRINGEMENT", "TRADEMARK_INFRINGEMENT"),
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS": (
        "MISINFORMATION_DISINFORMATION", "VIOLATION_EU_LAW", "VIOLATION_NATIONAL_LAW"),
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": (
        "AGE_SPECIFIC_RESTRICTIONS_MINORS", "CHILD_SEXUAL_ABUSE_MATERIAL",
        "CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE", "GROOMING_SEXUAL_ENTICEMENT_MINORS",
        "UNSAFE_CHALLENGES"),
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY": (
        "ILLEGAL_ORGANIZATIONS", "RISK_ENVIRONMENTAL_DAMAGE", "RISK_PUBLIC_HEALTH",
        "TERRORIST_CONTENT"),
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD": (
        "IMPERSONATION_ACCOUNT_HIJACKING", "INAUTHENTIC_ACCOUNTS", "INAUTHENTIC_LISTINGS",
        "INAUTHENTIC_USER_REVIEWS", "PHISHING", "PYRAMID_SCHEMES"),
    "STATEMENT_CATEGORY_SELF_HARM": ("CONTENT_PROMOTING_EATING_DISORDERS", "SELF_MUTILATION",
                                     "SUICIDE"),
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS": ("PROHIBITED_PRODUCTS",
                                                          "UNSAFE_PRODUCTS"),
    "STATEMENT_CATEGORY_VIOLENCE": (
        "COORDINATED_HARM", "INCITEMENT_VIOLENCE_HATRED", "HUMAN_EXPLOITATION",
        "HUMAN_TRAFFICKING", "TRAFFICKING_WOMEN_GIRLS"),
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC": (
        "ADULT_SEXUAL_MATERIAL", "AGE_SPECIFIC_RESTRICTIONS", "GEOGRAPHICAL_REQUIREMENTS",
        "GOODS_SERVICES_NOT_PERMITTED", "LANGUAGE_REQUIREMENTS", "NUDITY"),
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE": (),
}
"""Category → its keywords (without the `KEYWORD_` prefix). Every category but
NOT_SPECIFIED_NOTICE may also use KEYWORD_OTHER."""

KEYWORD_OTHER = "KEYWORD_OTHER"
REPORT_ONLY_CATEGORIES = ("STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER",)
REMOVED_IN_V2 = (
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
    "KEYWORD_IMAGE_BASED_SEXUAL_ABUSE", "KEYWORD_GENDER_BASED_VIOLENCE",
    "KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE", "KEYWORD_ONLINE_BULLYING_INTIMIDATION",
)


def keywords_of(category: str) -> frozenset[str]:
    kws = CATEGORIES.get(category, ())
    extra = (KEYWORD_OTHER,) if kws else ()
    return frozenset(f"KEYWORD_{k}" for k in kws) | frozenset(extra)


ALL_KEYWORDS = frozenset().union(*(keywords_of(c) for c in CATEGORIES))

DECISION_VISIBILITY = ("DECISION_VISIBILITY_CONTENT_REMOVED",
                       "DECISION_VISIBILITY_CONTENT_DISABLED",
                       "DECISION_VISIBILITY_CONTENT_DEMOTED",
                       "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
                       "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
                       "DECISION_VISIBILITY_CONTENT_LABELLED", "DECISION_VISIBILITY_OTHER")
DECISION_MONETARY = ("DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION",
                     "DECISION_MONETARY_OTHER")
DECISION_PROVISION = ("DECISION_PROVISION_PARTIAL_SUSPENSION",
                      "DECISION_PROVISION_TOTAL_SUSPENSION",
                      "DECISION_PROVISION_PARTIAL_TERMINATION",
                      "DECISION_PROVISION_TOTAL_TERMINATION")
DECISION_ACCOUNT = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPE = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
DECISION_GROUND = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")
CONTENT_TYPE = ("CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE",
                "CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT",
                "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER")
SOURCE_TYPE = ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
               "SOURCE_VOLUNTARY")
AUTOMATED_DECISION = ("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY",
                      "AUTOMATED_DECISION_NOT_AUTOMATED")
YES_NO = ("Yes", "No")

TERRITORIAL_SCOPE = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
                     "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO",
                     "SE", "SI", "SK", "IS", "LI", "NO")
"""The EU27 plus IS, LI, NO; Greece is GR, not EL."""

ISO_639_1 = frozenset((
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu").upper().split())

PUID = re.compile(r"^[a-zA-Z0-9\-_]+$")

END_DATES = ("end_date_visibility_restriction", "end_date_monetary_restriction",
             "end_date_service_restriction", "end_date_account_restriction")
FREE_TEXT = ("decision_visibility_other", "decision_monetary_other",
             "illegal_content_legal_ground", "illegal_content_explanation",
             "incompatible_content_ground", "incompatible_content_explanation",
             "content_type_other", "category_specification_other", "decision_facts",
             "source_identity")
FIELDS = frozenset((
    "decision_visibility", "decision_visibility_other", "decision_monetary",
    "decision_monetary_other", "decision_provision", "decision_account", "account_type",
    "decision_ground", "decision_ground_reference_url", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "incompatible_content_illegal", "content_type",
    "content_type_other", "category", "category_addition", "category_specification",
    "category_specification_other", "territorial_scope", "content_language", "content_date",
    "application_date", *END_DATES, "decision_facts", "source_type", "source_identity",
    "automated_detection", "automated_decision", "puid", "content_id"))
