"""CyberTipline documents: built in the XSD's element order, checked by the order validator."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from veilleur.compliance import ncmec

T = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
REPORTER = {"reporter_first_name": "Trust", "reporter_last_name": "Safety",
            "reporter_email": "ncmec@platform.example", "chat_client": "Chat"}


def tip(**kw: object) -> ncmec.CyberTip:
    base: dict[str, object] = dict(
        incident_type="Online Enticement of Children for Sexual Acts",
        annotations=("sextortion",), incident_at=T, platform="Chat", reporter=REPORTER,
        suspect=ncmec.Account("u9", "maxime", "Max", ip_events=(
            ncmec.IpEvent("203.0.113.7", "Login", T, 443, False),), disabled_at=T),
        chat_client="Chat", chat_room="direct message", chat_excerpt="envoie une photo",
        victims=(ncmec.Account("u1", "lea", note="Age band known to the platform: 13_15."),),
        escalation="A child may be at imminent risk: threats to send images to her parents.",
        additional_info="Case case-7.")
    base.update(kw)
    return ncmec.CyberTip(**base)  # type: ignore[arg-type]


def test_a_full_report_is_in_xsd_order_and_valid() -> None:
    xml = ncmec.report_xml(tip())
    assert ncmec.validate_xml(xml) == []
    order = [m for m in re.findall(r"<(\w+)[ >/]", xml) if m in (
        "incidentSummary", "internetDetails", "reporter", "personOrUserReported", "victim",
        "additionalInfo")]
    assert order[:5] == ["incidentSummary", "internetDetails", "reporter",
                         "personOrUserReported", "victim"]
    assert "<sextortion />" in xml and "<escalateToHighPriority>" in xml
    assert "<ipAddress>203.0.113.7</ipAddress>" in xml
    assert 'accountPermanentlyDisabled disabledDate="2026-03-02T14:00:00Z">' in xml
    assert "<victim>\n    <victimPerson />\n    <espIdentifier>u1<" in xml


def test_a_suspension_says_the_user_was_notified_only_when_we_know_it() -> None:
    unknown = ncmec.report_xml(tip())
    assert "userNotified" not in unknown
    told = ncmec.report_xml(tip(suspect=ncmec.Account("u9", disabled_at=T, notified_at=T)))
    assert 'userNotified="true" userNotifiedDate="2026-03-02T14:00:00Z"' in told
    assert ncmec.validate_xml(told) == []


def test_annotations_follow_the_xsd_order_whatever_order_they_come_in() -> None:
    xml = ncmec.report_xml(tip(annotations=("minorToMinorInteraction", "sextortion")))
    assert xml.index("<sextortion />") < xml.index("<minorToMinorInteraction />")
    assert ncmec.validate_xml(xml) == []


def swap(xml: str, a: str, b: str) -> str:
    ia, ib = (re.search(rf"\n  <{t}[ >].*?</{t}>", xml, re.S) for t in (a, b))
    assert ia and ib
    first, second = sorted((ia, ib), key=lambda m: m.start())
    return (xml[:first.start()] + second.group(0) + xml[first.end():second.start()]
            + first.group(0) + xml[second.end():])


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda x: swap(x, "incidentSummary", "reporter"), "out of order"),
    (lambda x: swap(x, "personOrUserReported", "victim"), "out of order"),
    (lambda x: x.replace("<incidentType>Online Enticement of Children for Sexual Acts"
                         "</incidentType>", "<incidentType>Grooming</incidentType>"),
     "not a CyberTipline incident type"),
    (lambda x: re.sub(r"\s*<incidentDateTime>.*?</incidentDateTime>", "", x),
     "<incidentDateTime> is required"),
    (lambda x: x.replace("<platform>Chat</platform>",
                         "<platform>Chat</platform><platform>Chat</platform>"),
     "at most once"),
    (lambda x: x.replace("2026-03-02T14:00:00Z</incidentDateTime>",
                         "2026-03-02 14:00</incidentDateTime>"), "time zone"),
    (lambda x: x.replace("<chatImIncident>", "<webPageIncident /><chatImIncident>"),
     "exactly one of"),
    (lambda x: x.replace("<eventName>Login</eventName>", "<eventName>Logon</eventName>"),
     "eventName"),
    (lambda x: x.replace("<sextortion />", "<sextortion>yes</sextortion>"), "empty element"),
    (lambda x: x.replace("<screenName>", "<nickname>x</nickname><screenName>"),
     "<nickname> is not allowed"),
    (lambda x: x.replace("<report>", "<report><"), "malformed XML"),
    # Each parent type has its own children: the 2015 XSD's victim has no vehicleDescription
    # but a schoolName, a person one phone, a victim always a victimPerson.
    (lambda x: x.replace("<victimPerson />", ""), "<victimPerson> is required once"),
    (lambda x: x.replace("<victimPerson />", "<victimPerson /><victimPerson />"),
     "at most once"),
    (lambda x: x.replace("<espIdentifier>u1", "<vehicleDescription>x</vehicleDescription>"
                         "<espIdentifier>u1"), "<vehicleDescription> is not allowed"),
    (lambda x: x.replace("<screenName>maxime", "<schoolName>x</schoolName><screenName>maxime"),
     "<schoolName> is not allowed"),
    (lambda x: x.replace("<email ", "<phone>1</phone><phone>2</phone><email "),
     "<phone> may appear at most once"),
    (lambda x: x.replace("13_15.</additionalInfo>", "13_15.</additionalInfo>"
                         "<accountPermanentlyDisabled>true</accountPermanentlyDisabled>"),
     "<accountPermanentlyDisabled> is out of order"),
    (lambda x: x.replace("<termsOfService>", "").replace(
        "</reportingPerson>", "</reportingPerson><accountPermanentlyDisabled>true"
                              "</accountPermanentlyDisabled>"),
     "<accountPermanentlyDisabled> is not allowed"),
    (lambda x: x.replace("<victimPerson />",
                         "<victimPerson><age><n>1</n></age></victimPerson>"),
     "holds text only"),
])
def test_the_order_validator_rejects_what_the_api_would(mutate: object, expected: str
                                                        ) -> None:
    errors = ncmec.validate_xml(mutate(ncmec.report_xml(tip())))  # type: ignore[operator]
    assert any(expected in e for e in errors), errors


def test_file_details_say_truthfully_whether_a_person_viewed_the_file() -> None:
    seen = ncmec.ReportedFile("a1", "p.jpg", T, "0" * 32, "1" * 64, "f" * 64, True, True)
    unseen = ncmec.ReportedFile("a2", None, None, "0" * 32, None, None, False, False)
    x1 = ncmec.file_details_xml("100001", "F1", seen)
    x2 = ncmec.file_details_xml("100001", "F2", unseen, supplemental=True, note="context")
    assert ncmec.validate_xml(x1) == [] and ncmec.validate_xml(x2) == []
    assert "<fileViewedByEsp>true</fileViewedByEsp>" in x1
    assert "<fileViewedByEsp>false</fileViewedByEsp>" in x2
    assert '<originalFileHash hashType="PDQ">' in x1
    assert "<fileRelevance>Supplemental Reported</fileRelevance>" in x2


def test_intended_recipients_are_checked_against_their_own_type() -> None:
    xml = ncmec.report_xml(tip()).replace(
        "<victim>", "<intendedRecipient><espIdentifier>u3</espIdentifier>"
                    "<accountPermanentlyDisabled>true</accountPermanentlyDisabled>"
                    "</intendedRecipient><victim>")
    assert ncmec.validate_xml(xml) == []
    bad = xml.replace("<espIdentifier>u3</espIdentifier>",
                      "<vehicleDescription>x</vehicleDescription>")
    assert any("intendedRecipient: <vehicleDescription> is not allowed" in e
               for e in ncmec.validate_xml(bad))


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda x: x.replace("<fileRelevance>", "<potentialMeme>true</potentialMeme>"
                                            "<fileRelevance>"), "out of order"),
    (lambda x: x.replace("</additionalInfo>", "</additionalInfo><additionalInfo>y"
                                              "</additionalInfo>"), "at most once"),
])
def test_file_details_follow_their_own_type(mutate: object, expected: str) -> None:
    f = ncmec.ReportedFile("a1", "p.jpg", T, "0" * 32, None, None, True, False)
    xml = ncmec.file_details_xml("100001", "F1", f, note="context")
    meme = xml.replace("<fileRelevance>Reported</fileRelevance>",
                       "<fileRelevance>Reported</fileRelevance><potentialMeme>false"
                       "</potentialMeme>")
    assert ncmec.validate_xml(meme) == []  # a 2015 element, still accepted
    errors = ncmec.validate_xml(mutate(xml))  # type: ignore[operator]
    assert any(expected in e for e in errors), errors


def test_characters_xml_cannot_carry_do_not_break_the_report() -> None:
    hostile = "envoie\x00 une\x1b photo\ud800\uffff \U0001f600"
    xml = ncmec.report_xml(tip(chat_excerpt=hostile, suspect=ncmec.Account(
        "u9", "max\x07", "\x0cMax", disabled_at=T)))
    assert ncmec.validate_xml(xml) == []
    assert "<content>envoie\ufffd une\ufffd photo\ufffd\ufffd \U0001f600</content>" in xml
    xml.encode("utf-8")  # what the client sends
    details = ncmec.file_details_xml("100001", "F1", ncmec.ReportedFile(
        "a1", "p\x00.jpg", None, "0" * 32, None, None, False, False), note="n\x1f")
    assert ncmec.validate_xml(details) == []


def test_the_chat_context_survives_a_lone_surrogate() -> None:
    data = ncmec.chat_csv([ncmec.ChatLine(T, "u9", "dm", "a\ud800b")])
    assert data.decode("utf-8").endswith(",dm,a?b\r\n")


def test_a_document_that_cannot_be_encoded_is_refused_not_a_crash() -> None:
    assert ncmec.validate_xml("<report>\ud800</report>")[0].startswith("malformed XML")


def test_the_chat_context_is_rfc_4180_csv() -> None:
    data = ncmec.chat_csv([ncmec.ChatLine(T, "u9", "dm", 'dis "oui", stp\nvite')])
    assert data.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [["timestamp_utc", "author_id", "channel", "content"],
                    ["2026-03-02T14:00:00Z", "u9", "dm", 'dis "oui", stp\nvite']]
