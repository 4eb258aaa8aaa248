"""The CyberTipline element model, as data: for each complex type of NCMEC's ESP submittal
schema, its children in `xs:sequence` order with their occurrence and their own type.

Two sources, one model. Every element of the 2015 XSD (`cybertipline/espsubmittal.xsd`, the
public one) is here with exactly its order, minOccurs and maxOccurs; a test reads that XSD and
holds the model to it. Elements the 2015 XSD does not know (`platform`, `reportAnnotations`,
`fileRelevance`, `accountPermanentlyDisabled`, ...) are marked `newer` and sit where the current
schema puts them, as read from the types Boostport/ncmec-go generates from NCMEC's live `/xsd`,
cross-checked with python ncmec-cybertip, @civitai/cybertipline-tools and roostorg/coop.

Types are keyed the way the XSD names them: a global element's anonymous type by the element's
name (`victim`), a named complex type by its name (`person`, `ipCaptureEvent`). Where the 2015
XSD and current clients disagree on how often an element may repeat (a person's phone and email,
a file's additionalInfo), the stricter 2015 bound is kept: a document within it passes both.
Pure data and lookups; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from veilleur.compliance.config import NCMEC_ANNOTATIONS as REPORT_ANNOTATIONS

TEXT = "#text"
"""Any other simple type (string, anyURI, a country...): text, no child elements."""
FLAG = "#flag"
"""A presence flag (`<sextortion/>`): neither text nor children."""
BOOLEAN, DATETIME, DATE, INT, LONG = "xs:boolean", "xs:dateTime", "xs:date", "xs:int", "xs:long"
INCIDENT, IP_EVENT, CLASSIFICATION = "incidentType", "ipCaptureType", "fileClassification"
RELEVANCE = "fileRelevance"
SIMPLE = (BOOLEAN, DATETIME, DATE, INT, LONG, INCIDENT, IP_EVENT, CLASSIFICATION, RELEVANCE)
"""The simple types whose values are checked, named as the XSD names them (fileRelevance is
newer than the 2015 XSD)."""


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    min: int
    max: int | None
    """None: unbounded."""
    type: str
    """A key of TYPES or CHOICES, one of SIMPLE, or TEXT, or FLAG."""
    newer: bool = False
    """Absent from the 2015 XSD; placed where the current schema has it."""

    @property
    def occurs(self) -> str:
        return {(1, 1): "1", (0, 1): "?", (0, None): "*", (1, None): "+"}[(self.min, self.max)]


def _c(spec: str, type_: str = TEXT, *, newer: bool = False) -> Child:
    """`name`, `name?`, `name*` or `name+`, as in a DTD."""
    bounds = {"?": (0, 1), "*": (0, None), "+": (1, None)}
    lo, hi = bounds.get(spec[-1], (1, 1))
    name = spec.rstrip("?*+")
    return Child(name, lo, hi, type_, newer)


def _n(spec: str, type_: str = TEXT) -> Child:
    return _c(spec, type_, newer=True)


FILE_ANNOTATIONS = ("animeDrawingVirtualHentai", "potentialMeme", "viral",
                    "possibleSelfProduction", "physicalHarm", "violenceGore", "bestiality",
                    "liveStreaming", "infant", "generativeAi")

_DISABLED = (_n("accountTemporarilyDisabled?", BOOLEAN),
             _n("accountPermanentlyDisabled?", BOOLEAN))

TYPES: dict[str, tuple[Child, ...]] = {
    "report": (
        _n("batchedReport?", FLAG), _c("incidentSummary", "incidentSummary"),
        _c("internetDetails*", "internetDetails"), _c("lawEnforcement?", "lawEnforcement"),
        _c("reporter", "reporter"), _c("personOrUserReported?", "personOrUserReported"),
        _n("intendedRecipient*", "intendedRecipient"), _c("victim*", "victim"),
        _c("additionalInfo?")),
    "incidentSummary": (
        _c("incidentType", INCIDENT), _n("platform?"), _c("escalateToHighPriority?"),
        _n("reportAnnotations?", "reportAnnotations"), _c("incidentDateTime", DATETIME),
        _c("incidentDateTimeDescription?")),
    "reportAnnotations": tuple(_n(f"{a}?", FLAG) for a in REPORT_ANNOTATIONS),
    "webPageIncident": (_c("url*"), _c("additionalInfo?")),
    "emailIncident": (_n("emailAddress*"), _c("content?"), _c("additionalInfo?")),
    "newsgroupIncident": (_c("name?"), _n("emailAddress*"), _c("content?"),
                          _c("additionalInfo?")),
    "chatImIncident": (_c("chatClient?"), _c("chatRoomName?"), _c("content?"),
                       _c("additionalInfo?")),
    "onlineGamingIncident": (_c("gameName?"), _c("console?"), _c("content?"),
                             _c("additionalInfo?")),
    "cellPhoneIncident": (_c("phoneNumber?"), _c("latitude?"), _c("longitude?"),
                          _c("additionalInfo?")),
    "nonInternetIncident": (_c("locationName?"), _c("incidentAddress*", "address"),
                            _c("additionalInfo?")),
    "peer2peerIncident": (_c("client?"), _c("ipCaptureEvent*", "ipCaptureEvent"),
                          _c("fileNames?"), _c("additionalInfo?")),
    "lawEnforcement": (
        _c("agencyName"), _c("caseNumber?"), _c("officerContact?", "person"),
        _c("reportedToLe?", BOOLEAN), _c("servedLegalProcessDomestic?", BOOLEAN),
        _c("servedLegalProcessInternational?")),
    "reporter": (_c("reportingPerson", "person"), _c("contactPerson?", "person"),
                 _c("companyTemplate?"), _c("termsOfService?"), _c("legalURL?")),
    "personOrUserReported": (
        _c("personOrUserReportedPerson?", "person"), _c("vehicleDescription?"),
        _c("espIdentifier?"), _n("espService?"), _n("compromisedAccount?", BOOLEAN),
        _c("screenName?"), _n("displayName*"), _c("profileUrl*"), _n("profileBio?"),
        _c("ipCaptureEvent*", "ipCaptureEvent"), _c("deviceId*", "deviceId"),
        _c("thirdPartyUserReported?", BOOLEAN), _c("priorCTReports*", LONG),
        _c("groupIdentifier?"), *_DISABLED, _n("estimatedLocation?", "estimatedLocation"),
        _n("allEmailsReported?", BOOLEAN), _n("associatedAccount*", "associatedAccount"),
        _c("additionalInfo?")),
    "intendedRecipient": (
        _n("intendedRecipientPerson?", "person"), _n("espIdentifier?"), _n("espService?"),
        _n("compromisedAccount?", BOOLEAN), _n("screenName?"), _n("displayName*"),
        _n("profileUrl*"), _n("profileBio?"), _n("ipCaptureEvent*", "ipCaptureEvent"),
        _n("deviceId*", "deviceId"), _n("priorCTReports*", LONG), _n("groupIdentifier?"),
        *_DISABLED, _n("estimatedLocation?", "estimatedLocation"),
        _n("allEmailsReported?", BOOLEAN), _n("additionalInfo?")),
    # The 2015 XSD requires victimPerson: a victim record always carries a person, even an
    # empty one when the platform knows no name, age or address.
    "victim": (
        _c("victimPerson", "person"), _c("espIdentifier?"), _n("espService?"),
        _n("compromisedAccount?", BOOLEAN), _c("screenName?"), _n("displayName*"),
        _c("profileUrl*"), _n("profileBio?"), _c("ipCaptureEvent*", "ipCaptureEvent"),
        _c("deviceId*", "deviceId"), _c("schoolName?"), _c("priorCTReports*", LONG), *_DISABLED,
        _n("estimatedLocation?", "estimatedLocation"), _n("allEmailsReported?", BOOLEAN),
        _n("associatedAccount*", "associatedAccount"), _c("additionalInfo?")),
    "ipCaptureEvent": (_c("ipAddress"), _c("eventName?", IP_EVENT), _c("dateTime?", DATETIME),
                       _c("possibleProxy?", BOOLEAN), _n("port?", INT)),
    "deviceId": (_c("idType"), _c("idValue"), _c("eventName?", IP_EVENT),
                 _c("dateTime?", DATETIME)),
    "address": (_c("address?"), _c("city?"), _c("zipCode?"), _c("state?"),
                _c("nonUsaState?"), _c("country?")),
    "person": (_c("firstName?"), _c("lastName?"), _c("phone?"), _c("email?"),
               _c("address*", "address"), _c("age?", INT), _c("dateOfBirth?", DATE)),
    "estimatedLocation": (_n("city?"), _n("region?"), _n("countryCode?")),
    "associatedAccount": (
        _n("platform?"), _n("firstName?"), _n("middleName?"), _n("lastName?"),
        _n("approximateAge?", INT), _n("dateOfBirth?", DATE), _n("phone*"), _n("email*"),
        _n("allEmailsReported?", BOOLEAN), _n("address*", "address"), _n("espService?"),
        _n("espIdentifier?"), _n("profileUrl*"), _n("screenName?"), _n("displayName*"),
        _n("profileBio?"), _n("groupIdentifier?"), _n("compromisedAccount?", BOOLEAN), *_DISABLED,
        _n("ipCaptureEvent*", "ipCaptureEvent"), _n("deviceId*", "deviceId"),
        _n("priorCTReport*", LONG), _n("additionalInfo?")),
    "fileDetails": (
        _c("reportId", LONG), _c("fileId"), _c("fileName?"), _c("originalFileName?"),
        _n("uploadedToEspTimestamp?", DATETIME), _c("locationOfFile?"),
        _c("fileViewedByEsp?", BOOLEAN), _n("exifViewedByEsp?", BOOLEAN),
        _c("publiclyAvailable?", BOOLEAN), _n("fileRelevance?", RELEVANCE),
        # potentialMeme, a 2015 element, is kept for old readers; new documents put it in
        # fileAnnotations.
        _c("potentialMeme?", BOOLEAN), _n("fileAnnotations?", "fileAnnotations"),
        _c("industryClassification?", CLASSIFICATION), _c("originalFileHash*"),
        _c("ipCaptureEvent?", "ipCaptureEvent"), _c("deviceId*", "deviceId"),
        _c("details*", "details"), _c("additionalInfo?")),
    "fileAnnotations": tuple(_n(f"{a}?", FLAG) for a in FILE_ANNOTATIONS),
    "details": (_c("nameValuePair+", "nameValue"),),
    "nameValue": (_c("name"), _c("value")),
}

CHOICES: dict[str, tuple[Child, ...]] = {
    "internetDetails": tuple(_c(name, name) for name in (
        "webPageIncident", "emailIncident", "newsgroupIncident", "chatImIncident",
        "onlineGamingIncident", "cellPhoneIncident", "nonInternetIncident",
        "peer2peerIncident")),
}
"""A choice type holds exactly one of its children."""

ROOTS = {"report": "report", "fileDetails": "fileDetails"}
"""The documents we send, and their types."""

NEWER_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "email": ("type", "verificationDate"),
    "phone": ("verified", "verificationDate", "countryCallingCode", "extension"),
}
"""Attributes of simple-content elements that the 2015 XSD does not declare, by element name."""

PERSON_OF = {"personOrUserReported": "personOrUserReportedPerson", "victim": "victimPerson",
             "intendedRecipient": "intendedRecipientPerson"}


def child(type_: str, name: str) -> Child | None:
    """The declaration of `name` inside a `type_` element, if it may appear there."""
    for c in (*TYPES.get(type_, ()), *CHOICES.get(type_, ())):
        if c.name == name:
            return c
    return None
