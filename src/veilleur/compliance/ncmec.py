"""NCMEC CyberTipline reports: the `<report>` and `<fileDetails>` documents in the exact element
order of the XSD (spec §4.3; the API answers 4100 to anything out of order), and a validator
that walks the element model of `ncmec_schema` (per parent type: order, required and repeated
children, each value's simple type), so a document is checked before it leaves. Every string
from the platform goes through one cleaner on its way into the XML. Pure.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from veilleur.compliance import ncmec_schema as schema
from veilleur.compliance.config import NCMEC_ANNOTATIONS, NCMEC_INCIDENTS

_ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
IP_EVENTS = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")
FILE_RELEVANCE = ("Reported", "Supplemental Reported")
INDUSTRY = ("A1", "A2", "B1", "B2")


def validate_xml(document: str) -> list[str]:
    """Element order, required and repeated elements per parent type, and the enumerated
    values, checked against the element model of `ncmec_schema` (the XSD's sequences). Each
    error names the element's path."""
    try:
        root = ET.fromstring(document)
    except (ET.ParseError, UnicodeError) as exc:  # a lone surrogate cannot even be encoded
        return [f"malformed XML: {exc}"]
    if root.tag not in schema.ROOTS:
        return [f"root element must be <report> or <fileDetails>, not <{root.tag}>"]
    errors: list[str] = []
    _check(root, schema.ROOTS[root.tag], root.tag, errors)
    return errors


def _check(el: ET.Element, type_: str, path: str, errors: list[str]) -> None:
    children = list(el)
    if type_ in schema.CHOICES:
        names = [c.tag for c in children]
        allowed = [c.name for c in schema.CHOICES[type_]]
        if len(children) != 1 or names[0] not in allowed:
            errors.append(f"{path}: must hold exactly one of {', '.join(allowed)}, "
                          f"holds {names or 'nothing'}")
    elif type_ in schema.TYPES:
        _sequence(schema.TYPES[type_], children, path, errors)
    elif type_ == schema.FLAG:
        if (el.text or "").strip() or children:
            errors.append(f"{path}: a flag is an empty element")
        return
    elif children:
        errors.append(f"{path}: holds text only, not <{children[0].tag}>")
        return
    _leaf(el, type_, path, errors)
    for c in children:
        decl = schema.child(type_, c.tag)
        if decl is not None:
            _check(c, decl.type, f"{path}/{c.tag}", errors)


def _sequence(spec: tuple[schema.Child, ...], children: list[ET.Element], path: str,
              errors: list[str]) -> None:
    position = {c.name: i for i, c in enumerate(spec)}
    counts: dict[str, int] = {}
    last = -1
    for c in children:
        i = position.get(c.tag)
        if i is None:
            errors.append(f"{path}: <{c.tag}> is not allowed here")
            continue
        if i < last:
            errors.append(f"{path}: <{c.tag}> is out of order (it must come before "
                          f"<{spec[last].name}>)")
        last = max(last, i)
        counts[c.tag] = counts.get(c.tag, 0) + 1
    for decl in spec:
        n = counts.get(decl.name, 0)
        if n < decl.min:
            what = "once" if decl.max == 1 else "at least once"
            errors.append(f"{path}: <{decl.name}> is required {what} (found {n})")
        elif decl.max is not None and n > decl.max:
            errors.append(f"{path}: <{decl.name}> may appear at most once (found {n})")


_ENUMS = {schema.INCIDENT: NCMEC_INCIDENTS, schema.IP_EVENT: IP_EVENTS,
          schema.CLASSIFICATION: INDUSTRY, schema.RELEVANCE: FILE_RELEVANCE}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?$")
_INTEGER = re.compile(r"^[+-]?\d{1,19}$")
_BITS = {schema.INT: 31, schema.LONG: 63}


def _leaf(el: ET.Element, type_: str, path: str, errors: list[str]) -> None:
    """The value against its declared simple type (the XSD's, not a guess from the tag)."""
    text = (el.text or "").strip()
    if type_ == schema.INCIDENT and text not in NCMEC_INCIDENTS:
        errors.append(f"{path}: {text!r} is not a CyberTipline incident type")
    elif type_ in _ENUMS and text not in _ENUMS[type_]:
        errors.append(f"{path}: one of {', '.join(_ENUMS[type_])}")
    elif type_ == schema.DATETIME and not _ISO_TS.match(text):
        errors.append(f"{path}: must be ISO 8601 with a time zone")
    elif type_ == schema.DATE and not _DATE.match(text):
        errors.append(f"{path}: must be a date, YYYY-MM-DD")
    elif type_ in _BITS and not (_INTEGER.match(text)
                                 and -2 ** _BITS[type_] <= int(text) < 2 ** _BITS[type_]):
        errors.append(f"{path}: must be a whole number of at most {_BITS[type_] + 1} bits")
    elif type_ == schema.BOOLEAN and text not in ("true", "false", "1", "0"):
        errors.append(f"{path}: true or false")
    if el.tag == "escalateToHighPriority" and len(text) > 3000:
        errors.append(f"{path}: at most 3000 characters")
    if el.tag == "originalFileHash" and not el.get("hashType"):
        errors.append(f"{path}: needs a hashType attribute")


# --- building -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IpEvent:
    ip: str
    event: str
    at: datetime | None = None
    port: int | None = None
    possible_proxy: bool | None = None


@dataclass(frozen=True, slots=True)
class Account:
    esp_id: str
    screen_name: str | None = None
    display_name: str | None = None
    ip_events: tuple[IpEvent, ...] = ()
    disabled_at: datetime | None = None
    """When we suspended it (accountPermanentlyDisabled)."""
    notified_at: datetime | None = None
    """When the user was told of the suspension, if we know they were: NCMEC reads
    userNotified as a fact, and a suspension is often left unexplained while police act."""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReportedFile:
    attachment_id: str
    filename: str | None
    uploaded_at: datetime | None
    md5: str | None
    sha256: str | None
    pdq: str | None
    viewed_by_human: bool
    publicly_available: bool
    data: bytes | None = None
    """The file itself, when the evidence holds it."""


@dataclass(frozen=True, slots=True)
class ChatLine:
    at: datetime
    author_id: str
    channel: str
    content: str


@dataclass(frozen=True, slots=True)
class CyberTip:
    incident_type: str
    annotations: tuple[str, ...]
    incident_at: datetime
    platform: str
    reporter: dict[str, str]
    suspect: Account
    chat_client: str
    chat_room: str | None
    chat_excerpt: str | None
    victims: tuple[Account, ...] = ()
    escalation: str | None = None
    files: tuple[ReportedFile, ...] = ()
    chat_context: tuple[ChatLine, ...] = ()
    additional_info: str | None = None
    case_id: str | None = None
    decision_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


# XML 1.0 has no way to carry these (control characters, lone surrogates, U+FFFE/U+FFFF);
# ElementTree writes them anyway and NCMEC would refuse the whole report as malformed (4110).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """A platform's string as XML can carry it: what it cannot is shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _account(parent: ET.Element, tag: str, a: Account) -> None:
    el = _sub(parent, tag)
    person = schema.child(tag, schema.PERSON_OF[tag])
    if person is not None and person.min:
        # Required even when the platform knows no name, age or address (a victim's
        # victimPerson): all a person's children are optional, so an empty one is valid.
        _sub(el, person.name)
    _sub(el, "espIdentifier", a.esp_id)
    if a.screen_name:
        _sub(el, "screenName", a.screen_name)
    if a.display_name:
        _sub(el, "displayName", a.display_name)
    for ev in a.ip_events:
        ip = _sub(el, "ipCaptureEvent")
        _sub(ip, "ipAddress", ev.ip)
        _sub(ip, "eventName", ev.event if ev.event in IP_EVENTS else "Other")
        if ev.at is not None:
            _sub(ip, "dateTime", _iso(ev.at))
        if ev.possible_proxy is not None:
            _sub(ip, "possibleProxy", "true" if ev.possible_proxy else "false")
        if ev.port is not None:
            _sub(ip, "port", str(ev.port))
    if a.disabled_at is not None:
        notified = ({"userNotified": "true", "userNotifiedDate": _iso(a.notified_at)}
                    if a.notified_at is not None else {})
        _sub(el, "accountPermanentlyDisabled", "true", disabledDate=_iso(a.disabled_at),
             **notified)
    if a.note:
        _sub(el, "additionalInfo", a.note)


def report_xml(tip: CyberTip) -> str:
    """The `<report>` document, elements in XSD order."""
    root = ET.Element("report")
    s = _sub(root, "incidentSummary")
    _sub(s, "incidentType", tip.incident_type)
    _sub(s, "platform", tip.platform)
    if tip.escalation:
        _sub(s, "escalateToHighPriority", tip.escalation[:3000])
    if tip.annotations:
        notes = _sub(s, "reportAnnotations")
        for name in NCMEC_ANNOTATIONS:  # XSD order, whatever order they were given in
            if name in tip.annotations:
                _sub(notes, name)
    _sub(s, "incidentDateTime", _iso(tip.incident_at))
    details = _sub(root, "internetDetails")
    chat = _sub(details, "chatImIncident")
    _sub(chat, "chatClient", tip.chat_client)
    if tip.chat_room:
        _sub(chat, "chatRoomName", tip.chat_room)
    if tip.chat_excerpt:
        _sub(chat, "content", tip.chat_excerpt[:3000])
    reporter = _sub(root, "reporter")
    person = _sub(reporter, "reportingPerson")
    _sub(person, "firstName", tip.reporter["reporter_first_name"])
    _sub(person, "lastName", tip.reporter["reporter_last_name"])
    _sub(person, "email", tip.reporter["reporter_email"], type="Business")
    _account(root, "personOrUserReported", tip.suspect)
    for v in tip.victims:
        _account(root, "victim", v)
    if tip.additional_info:
        _sub(root, "additionalInfo", tip.additional_info)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def file_details_xml(report_id: str, file_id: str, f: ReportedFile, *,
                     supplemental: bool = False, note: str | None = None) -> str:
    root = ET.Element("fileDetails")
    _sub(root, "reportId", report_id)
    _sub(root, "fileId", file_id)
    if f.filename:
        _sub(root, "originalFileName", f.filename)
    if f.uploaded_at is not None:
        _sub(root, "uploadedToEspTimestamp", _iso(f.uploaded_at))
    _sub(root, "fileViewedByEsp", "true" if f.viewed_by_human else "false")
    _sub(root, "publiclyAvailable", "true" if f.publicly_available else "false")
    _sub(root, "fileRelevance", "Supplemental Reported" if supplemental else "Reported")
    for kind, value in (("MD5", f.md5), ("SHA256", f.sha256), ("PDQ", f.pdq)):
        if value:
            _sub(root, "originalFileHash", value, hashType=kind)
    for text in filter(None, (note,)):
        _sub(root, "additionalInfo", text)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def chat_csv(lines: Sequence[ChatLine]) -> bytes:
    """The conversation around the reported content, as a supplemental file (RFC 4180)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["timestamp_utc", "author_id", "channel", "content"])
    for line in lines:
        w.writerow([_iso(line.at), line.author_id, line.channel, line.content])
    # A lone surrogate from a platform's string has no UTF-8 form: it becomes "?", the rest
    # of the conversation stays.
    return out.getvalue().encode("utf-8", errors="replace")
