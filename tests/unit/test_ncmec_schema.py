"""The CyberTipline element model against NCMEC's own schema: the 2015 ESP submittal XSD is read
in place (never copied here), each complex type's sequence is extracted, and the model must agree
with it for every element both know; a full generated report must pass the XSD itself."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.shared_data import shared_testdata
from tests.unit.test_ncmec import T, tip
from veilleur.compliance import ncmec
from veilleur.compliance import ncmec_schema as schema

XS = "{http://www.w3.org/2001/XMLSchema}"
Decl = tuple[str, int, int | None, str]
"""name, minOccurs, maxOccurs (None: unbounded), the child's type: a complex type's key, one of
the simple types whose values are checked (xs:boolean, incidentType...), or TEXT."""


def xsd_path() -> Path:
    return shared_testdata("formats-real", "cybertipline") / "espsubmittal.xsd"


def _occurs(el: ET.Element) -> tuple[int, int | None]:
    hi = el.get("maxOccurs", "1")
    return int(el.get("minOccurs", "1")), None if hi == "unbounded" else int(hi)


def xsd_model(path: Path) -> tuple[dict[str, list[Decl]], dict[str, list[str]]]:
    """Each complex type's sequence (keyed like the model: a global element's anonymous type by
    the element's name, a named type by its name) and each choice's alternatives."""
    root = ET.parse(path).getroot()
    globals_ = {e.get("name"): e for e in root.findall(f"{XS}element")}
    named = {t.get("name"): t for t in root.findall(f"{XS}complexType")}
    sequences: dict[str, list[Decl]] = {}
    choices: dict[str, list[str]] = {}

    def structured(complex_type: ET.Element | None) -> bool:
        return complex_type is not None and (
            complex_type.find(f"{XS}sequence") is not None
            or complex_type.find(f"{XS}choice") is not None)

    def type_of(el: ET.Element) -> str:
        if el.get("ref"):
            target = globals_[el.get("ref")]
            return str(target.get("name")) if structured(
                target.find(f"{XS}complexType")) else schema.TEXT
        if el.get("type") in named and structured(named[str(el.get("type"))]):
            return str(el.get("type"))
        if el.get("type") in schema.SIMPLE:
            return str(el.get("type"))
        if structured(el.find(f"{XS}complexType")):
            return str(el.get("name"))
        return schema.TEXT

    def read(key: str, complex_type: ET.Element) -> None:
        seq, choice = complex_type.find(f"{XS}sequence"), complex_type.find(f"{XS}choice")
        if choice is not None:
            choices[key] = [str(e.get("ref") or e.get("name"))
                            for e in choice.findall(f"{XS}element")]
        if seq is None:
            return
        decls = []
        for e in seq.findall(f"{XS}element"):
            name = str(e.get("ref") or e.get("name"))
            decls.append((name, *_occurs(e), type_of(e)))
            inline = e.find(f"{XS}complexType")
            if inline is not None and structured(inline):
                read(name, inline)
        sequences[key] = decls

    for name, el in globals_.items():
        ct = el.find(f"{XS}complexType")
        if ct is not None:
            read(str(name), ct)
    for name, ct in named.items():
        read(str(name), ct)
    return sequences, choices


RESPONSES = {"reportResponse", "reportDoneResponse", "files"}
"""Documents NCMEC sends back: read by the client, not built or validated here."""


def test_the_model_agrees_with_the_2015_xsd_for_every_element_both_know() -> None:
    sequences, choices = xsd_model(xsd_path())
    assert set(sequences) - RESPONSES <= set(schema.TYPES), "an XSD type the model lacks"
    for key, decls in sequences.items():
        if key in RESPONSES:
            continue
        ours = [(c.name, c.min, c.max, c.type) for c in schema.TYPES[key] if not c.newer]
        assert ours == decls, key  # order, minOccurs, maxOccurs and type, element for element
        known = {d[0] for d in decls}
        newer = [c.name for c in schema.TYPES[key] if c.newer]
        assert not known & set(newer), f"{key}: marked newer but in the 2015 XSD"
    for key, alternatives in choices.items():
        assert [c.name for c in schema.CHOICES[key]] == alternatives
    # The types the 2015 XSD does not have at all are newer from top to bottom.
    for key in set(schema.TYPES) - set(sequences):
        assert all(c.newer for c in schema.TYPES[key]), key


def test_victim_person_is_required_by_the_xsd_and_by_the_model() -> None:
    sequences, _ = xsd_model(xsd_path())
    assert sequences["victim"][0] == ("victimPerson", 1, 1, "person")
    assert schema.child("victim", "victimPerson") == schema.Child("victimPerson", 1, 1,
                                                                  "person")


def test_values_are_checked_against_their_declared_simple_type() -> None:
    """By type, not by tag: fileAnnotations' potentialMeme is a flag, fileDetails' one a
    boolean; a person's age a whole number, a reportId a long."""
    f = ncmec.ReportedFile("a1", "p.jpg", T, "0" * 32, None, None, True, False)
    details = ncmec.file_details_xml("100000", "f1", f)
    ok = details.replace("<fileRelevance>Reported</fileRelevance>",
                         "<fileRelevance>Reported</fileRelevance><potentialMeme>1</potentialMeme>"
                         "<fileAnnotations><potentialMeme /></fileAnnotations>")
    assert ncmec.validate_xml(ok) == []
    bad = ok.replace("<potentialMeme>1<", "<potentialMeme>yes<").replace(
        "<reportId>100000<", "<reportId>R-1<")
    errors = ncmec.validate_xml(bad)
    assert "fileDetails/potentialMeme: true or false" in errors
    assert any(e.startswith("fileDetails/reportId: must be a whole number") for e in errors)
    report = ncmec.report_xml(full_tip())
    aged = report.replace("<victimPerson />", "<victimPerson><age>twelve</age>"
                                              "<dateOfBirth>2014</dateOfBirth></victimPerson>",
                          1)
    errors = ncmec.validate_xml(aged)
    assert "report/victim/victimPerson/age: must be a whole number of at most 32 bits" in errors
    assert "report/victim/victimPerson/dateOfBirth: must be a date, YYYY-MM-DD" in errors


def _strip_newer(el: ET.Element, type_: str) -> None:
    """What the 2015 XSD can judge: the elements and attributes it predates are taken out
    (their place is checked against current clients by the model instead)."""
    for c in list(el):
        decl = schema.child(type_, c.tag)
        if decl is None:
            continue  # left in, so the XSD reports it
        if decl.newer:
            el.remove(c)
            continue
        for attr in schema.NEWER_ATTRIBUTES.get(c.tag, ()):
            c.attrib.pop(attr, None)
        _strip_newer(c, decl.type)


def as_2015(document: str) -> str:
    root = ET.fromstring(document)
    _strip_newer(root, schema.ROOTS[root.tag])
    return ET.tostring(root, encoding="unicode")


def full_tip() -> ncmec.CyberTip:
    return tip(victims=(ncmec.Account("u1", "lea", "Léa", disabled_at=T, notified_at=T,
                                      ip_events=(ncmec.IpEvent("198.51.100.4", "Login", T),),
                                      note="Age band known to the platform: 13_15."),
                        ncmec.Account("u2", None, note="A second child.")))


def test_a_full_generated_report_is_valid_against_the_2015_xsd() -> None:
    import xmlschema  # a pinned dev dependency: CI has it
    xsd = xmlschema.XMLSchema(str(xsd_path()))
    report = ncmec.report_xml(full_tip())
    assert ncmec.validate_xml(report) == []
    assert report.count("<victimPerson />") == 2
    assert [str(e.reason) for e in xsd.iter_errors(as_2015(report))] == []
    f = ncmec.ReportedFile("a1", "p.jpg", T, "0" * 32, "1" * 64, "f" * 64, True, True)
    details = ncmec.file_details_xml("100000", "f1", f, note="context")
    assert ncmec.validate_xml(details) == []
    assert [str(e.reason) for e in xsd.iter_errors(as_2015(details))] == []


def test_the_xsd_check_sees_what_the_old_writer_got_wrong() -> None:
    """The check above can fail: a victim without victimPerson (what we wrote before) and a
    newer element out of its place are both refused."""
    import xmlschema  # a pinned dev dependency: CI has it
    xsd = xmlschema.XMLSchema(str(xsd_path()))
    report = ncmec.report_xml(full_tip())
    old = report.replace("<victimPerson />", "")
    assert any("victimPerson" in str(e.reason) for e in xsd.iter_errors(as_2015(old)))
    moved = re.sub(r"(\s*<schoolName>x</schoolName>)?(\s*<espIdentifier>u1)",
                   r"<schoolName>x</schoolName>\2", report, count=1)
    assert list(xsd.iter_errors(as_2015(moved)))
    assert any("out of order" in e for e in ncmec.validate_xml(moved))


# Where current clients put the elements the 2015 XSD does not know, read from the types
# Boostport/ncmec-go generates from NCMEC's live /xsd (cybertipline/types.go) and agreeing with
# python ncmec-cybertip (report.py, files.py) and @civitai/cybertipline-tools.
CURRENT_ORDER = {
    "incidentSummary": ["incidentType", "platform", "escalateToHighPriority",
                        "reportAnnotations", "incidentDateTime", "incidentDateTimeDescription"],
    "report": ["batchedReport", "incidentSummary", "internetDetails", "lawEnforcement",
               "reporter", "personOrUserReported", "intendedRecipient", "victim",
               "additionalInfo"],
    "fileDetails": ["reportId", "fileId", "fileName", "originalFileName",
                    "uploadedToEspTimestamp", "locationOfFile", "fileViewedByEsp",
                    "exifViewedByEsp", "publiclyAvailable", "fileRelevance", "potentialMeme",
                    "fileAnnotations", "industryClassification", "originalFileHash",
                    "ipCaptureEvent", "deviceId", "details", "additionalInfo"],
    "victim": ["victimPerson", "espIdentifier", "espService", "compromisedAccount",
               "screenName", "displayName", "profileUrl", "profileBio", "ipCaptureEvent",
               "deviceId", "schoolName", "priorCTReports", "accountTemporarilyDisabled",
               "accountPermanentlyDisabled", "estimatedLocation", "allEmailsReported",
               "associatedAccount", "additionalInfo"],
    "intendedRecipient": ["intendedRecipientPerson", "espIdentifier", "espService",
                          "compromisedAccount", "screenName", "displayName", "profileUrl",
                          "profileBio", "ipCaptureEvent", "deviceId", "priorCTReports",
                          "groupIdentifier", "accountTemporarilyDisabled",
                          "accountPermanentlyDisabled", "estimatedLocation",
                          "allEmailsReported", "additionalInfo"],
    "personOrUserReported": [
        "personOrUserReportedPerson", "vehicleDescription", "espIdentifier", "espService",
        "compromisedAccount", "screenName", "displayName", "profileUrl", "profileBio",
        "ipCaptureEvent", "deviceId", "thirdPartyUserReported", "priorCTReports",
        "groupIdentifier", "accountTemporarilyDisabled", "accountPermanentlyDisabled",
        "estimatedLocation", "allEmailsReported", "associatedAccount", "additionalInfo"],
    "ipCaptureEvent": ["ipAddress", "eventName", "dateTime", "possibleProxy", "port"],
}


@pytest.mark.parametrize("key", sorted(CURRENT_ORDER))
def test_newer_elements_keep_the_order_current_clients_use(key: str) -> None:
    assert [c.name for c in schema.TYPES[key]] == CURRENT_ORDER[key]


def test_every_type_the_model_names_is_defined() -> None:
    for key, children in (*schema.TYPES.items(), *schema.CHOICES.items()):
        for c in children:
            assert c.type in (schema.TEXT, schema.FLAG, *schema.SIMPLE) \
                or c.type in schema.TYPES or c.type in schema.CHOICES, (key, c.name, c.type)
