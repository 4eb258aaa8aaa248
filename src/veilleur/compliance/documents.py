"""Every document a decision owes, made when the decision is made (spec dsa_ncmec.md §7).

`Compliance` is told by casework what happens — a notice arrives, an item is resolved, a
decision is taken, an automatic measure applies or is lifted, a complaint is decided — and
writes, from the same records:

- to notifiers: the acknowledgement (DSA 16(4)) and the decision notice (16(5));
- to affected users: the statement of reasons (17), in their language; a notice when a
  measure is lifted;
- to the public: the Transparency Database statement (24(5)), validated and linted;
- to NCMEC: the CyberTipline report (18 USC 2258A), validated against the XSD order;
- to the police: the Art. 18 referral when a child's life or safety is threatened;
- on misuse (23): warnings and suspensions; on a degrading trusted flagger (22(6)): the letter
  to its coordinator.

Documents are data (`Document`); sending them is a front door's job (the TDB and NCMEC
submitters, a mailer). Nothing here reads a clock: times are passed in.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from veilleur.cases.content import MessageRecord
from veilleur.cases.models import (
    Action,
    Case,
    Decision,
    Intake,
    IntakeKind,
    Resolution,
    TargetDecision,
    iso,
    parse_iso,
)
from veilleur.compliance import letters, ncmec, tdb
from veilleur.compliance.config import CompliancePolicy, load_compliance_policy
from veilleur.compliance.facts import Automation, Restriction, Source
from veilleur.compliance.language import content_language, language_of
from veilleur.compliance.misuse import Misuse, MisuseLedger, Step
from veilleur.events import AgeBand, Report, User
from veilleur.taxonomy import Category, Target, TargetKind

if TYPE_CHECKING:
    from veilleur.cases.casework import Casework

MEASURES = ("remove_content", "block_upload", "suspend_account", "delete_guild")
"""Measures that restrict someone (DSA 17(1)) and so owe a statement of reasons."""
NOTICE_SOURCES = ("dsa_notice", "trusted_flagger")
MINOR_BANDS = (AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17)
_IMAGE = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic"}
_VIDEO = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"}


@dataclass
class Document:
    id: str
    kind: str
    """notice_ack, decision_notice, statement_of_reasons, restored, tdb_statement,
    ncmec_report, referral, complaint_outcome, misuse_warning, misuse_suspension,
    flagger_quality."""
    created_at: datetime
    recipient: dict[str, str | None]
    """role (notifier, user, public, ncmec, authority, coordinator), id, address, channel."""
    language: str | None = None
    subject: str | None = None
    body: str | None = None
    payload: Any = None
    refs: dict[str, Any] = field(default_factory=dict)
    status: str = "ready"
    """ready, invalid (failed validation: never sent), no_recipient (kept, nobody to send it
    to), sent, submitted, failed."""
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "created_at": iso(self.created_at),
                "recipient": self.recipient, "language": self.language,
                "subject": self.subject, "body": self.body, "payload": self.payload,
                "refs": self.refs, "status": self.status, "errors": list(self.errors)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Document:
        created = parse_iso(d["created_at"])
        assert created is not None
        return cls(d["id"], d["kind"], created, dict(d["recipient"]), d.get("language"),
                   d.get("subject"), d.get("body"), d.get("payload"), dict(d.get("refs", {})),
                   d.get("status", "ready"), list(d.get("errors", ())))


@dataclass
class Notice:
    """An Art. 16 notice: one or several items, one notifier."""

    id: str
    received_at: datetime
    source: str
    notifier: dict[str, str]
    reporter_id: str | None
    items: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ack_id: str | None = None
    notified_at: datetime | None = None


def add_months(ts: datetime, months: int) -> datetime:
    month = ts.month - 1 + months
    year, month = ts.year + month // 12, month % 12 + 1
    return ts.replace(year=year, month=month,
                      day=min(ts.day, calendar.monthrange(year, month)[1]))


def missing_elements(report: Report, harm_allows_anonymous: bool) -> list[str]:
    """The Art. 16(2) elements a notice lacks. Name and e-mail are never required for the
    offences of Directive 2011/93/EU arts 3-7 (CSAM, grooming)."""
    missing = []
    if not report.explanation or len(report.explanation.strip()) < 10:
        missing.append("(a) a substantiated explanation")
    notifier = report.notifier or {}
    if not harm_allows_anonymous and not (notifier.get("name") and notifier.get("email")):
        missing.append("(c) the notifier's name and e-mail")
    if report.bona_fide is not True:
        missing.append("(d) the bona fide statement")
    return missing


class Compliance:
    def __init__(self, policy: CompliancePolicy | None = None, *,
                 sink: Callable[[Document], None] | None = None) -> None:
        self.policy = policy or load_compliance_policy()
        self.sink = sink or (lambda _d: None)
        self.documents: dict[str, Document] = {}
        self.notices: dict[str, Notice] = {}
        self.misuse = MisuseLedger(self.policy.misuse)
        self.informed: dict[tuple[str, str], datetime] = {}
        """(decision id, person) → when they were told (the Art. 20 window runs from it)."""
        self.flaggers_reported: dict[str, datetime] = {}
        self._last_illegal: dict[str, Category] = {}
        self._posts: dict[str, int] = {}
        self._cw: Casework | None = None
        self._n = 0

    def bind(self, casework: Casework) -> None:
        self._cw = casework

    @property
    def cw(self) -> Casework:
        assert self._cw is not None, "Compliance.bind(casework) first"
        return self._cw

    # --- records ---------------------------------------------------------------------------

    def _doc(self, kind: str, at: datetime, recipient: dict[str, str | None], *,
             language: str | None = None, letter: tuple[str, str] | None = None,
             payload: Any = None, refs: dict[str, Any] | None = None,
             errors: list[str] | None = None, doc_id: str | None = None) -> Document:
        if doc_id is None:
            self._n += 1
            doc_id = f"{self.cw._prefix}doc-{self._n}"
        doc = Document(doc_id, kind, at, recipient, language,
                       letter[0] if letter else None, letter[1] if letter else None,
                       payload, refs or {}, "invalid" if errors else "ready", errors or [])
        self.documents[doc.id] = doc
        self.cw.audit.append(at, "document", "engine", doc.id,
                             {"kind": kind, "refs": doc.refs, "status": doc.status,
                              "errors": doc.errors})
        self.sink(doc)
        return doc

    def restore(self, documents: Iterable[Document]) -> None:
        for d in documents:
            self.documents[d.id] = d
            n = d.id.rsplit("-", 1)[-1]
            if n.isdigit():
                self._n = max(self._n, int(n))
            for key in d.refs.get("informed", ()):
                self.informed[key[0], key[1]] = d.created_at
            if d.kind in ("misuse_warning", "misuse_suspension"):
                r = d.refs
                self.misuse.restore(Step(Misuse(r["misuse"]), r["account"],
                                         "warning" if d.kind == "misuse_warning"
                                         else "suspension", r["count"], r["total"],
                                         d.created_at, parse_iso(r.get("until")),
                                         parse_iso(r.get("warned_at"))))
            if d.kind == "flagger_quality":
                self.flaggers_reported[d.refs["flagger"]] = d.created_at

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents.values() if d.kind == kind]

    # --- who and what ------------------------------------------------------------------------

    def user_language(self, user_id: str | None, extra: Iterable[str] = ()) -> str:
        texts = list(extra)
        if user_id is not None:
            texts += [m.content for m in self.cw.content.recent_by_user(user_id, 20)]
        return language_of(texts, self.policy.languages, self.policy.default_language)

    def notifier_language(self, asked: str | None, texts: Iterable[str] = ()) -> str:
        """The language a notifier's letters (acknowledgement, decision notice) are written
        in: the one they asked for, when documents are written in it (`provider.languages`
        of the compliance policy), else, when they asked for none, the one their words are
        in; otherwise `provider.default_language`. Letters are written in French and English
        only: a notifier who used the public form in Spanish is written to in the default
        language, and the form's pages tell them so in Spanish."""
        lang = asked or language_of(list(texts), self.policy.languages,
                                    self.policy.default_language)
        return lang if lang in self.policy.languages else self.policy.default_language

    def affected_user(self, target: Target) -> str | None:
        content = self.cw.content
        if target.kind is TargetKind.USER:
            return target.id
        author = content.author_of(target)
        if author is not None:
            return author
        guild = content.guild_of(target)
        g = content.directory.guild(guild) if guild else None
        return g.owner_id if g else None

    def _describe(self, target: Target, lang: str) -> str:
        content = self.cw.content
        d = content.directory
        msg = content.message_of(target)
        if target.kind is TargetKind.MESSAGE and msg is not None:
            ch = d.channel(msg.channel_id)
            where = f"#{ch.name}" if ch and msg.guild_id else letters.word(lang, "dm")
            return letters.word(lang, "message", when=letters.day(msg.ts, lang), where=where)
        if target.kind is TargetKind.ATTACHMENT:
            att = content.attachment(target.id)
            return letters.word(lang, "attachment", name=(att.filename if att else None)
                                or target.id,
                                when=letters.day(msg.ts, lang) if msg else "?")
        if target.kind is TargetKind.GUILD:
            g = d.guild(target.id)
            return letters.word(lang, "guild", name=f"« {g.name} »" if lang == "fr" and g
                                and g.name else (f'"{g.name}"' if g and g.name else target.id))
        if target.kind is TargetKind.CHANNEL:
            ch = d.channel(target.id)
            return letters.word(lang, "channel", name=f"#{ch.name}" if ch else target.id)
        if target.kind is TargetKind.USER:
            return letters.word(lang, "user")
        if target.kind is TargetKind.INVITE:
            return letters.word(lang, "invite")
        return letters.word(lang, "unknown_item", kind=target.kind.value, id=target.id)

    def _kinds(self, target: Target) -> tuple[str, ...]:
        content = self.cw.content
        if target.kind is TargetKind.MESSAGE:
            msg = content.message(target.id)
            kinds = ["text"] if msg is None or msg.content.strip() else []
            for aid in msg.attachments if msg else ():
                kinds.append(self._file_kind(aid))
            return tuple(dict.fromkeys(kinds or ["text"]))
        if target.kind is TargetKind.ATTACHMENT:
            return (self._file_kind(target.id),)
        return ({TargetKind.USER: "account", TargetKind.GUILD: "server",
                 TargetKind.CHANNEL: "channel", TargetKind.INVITE: "invite"}[target.kind],)

    def _file_kind(self, attachment_id: str) -> str:
        att = self.cw.content.attachment(attachment_id)
        suffix = PurePath(att.filename or att.path or "").suffix.lower() if att else ""
        return "image" if suffix in _IMAGE else "video" if suffix in _VIDEO else "file"

    def _content_date(self, target: Target) -> datetime | None:
        msg = self.cw.content.message_of(target)
        if msg is not None:
            return msg.ts
        if target.kind is TargetKind.USER:
            u = self.cw.content.directory.user(target.id)
            return u.created_at if u else None
        return None

    def _source(self, case: Case | None) -> tuple[Source, str | None]:
        if case is None:
            return Source.OWN_INITIATIVE, None
        intakes = [self.cw.intakes[i] for i in case.intakes]
        sources = {i.source: i for i in intakes if i.kind is IntakeKind.REPORT}
        if "authority" in sources:
            return Source.AUTHORITY, None
        if "trusted_flagger" in sources:
            flagger = sources["trusted_flagger"].flagger
            tf = self.cw.policy.flaggers.get(flagger or "")
            return Source.TRUSTED_FLAGGER, tf.name if tf else None
        if sources:
            return Source.NOTICE, None
        return Source.OWN_INITIATIVE, None

    def _automated_detection(self, case: Case | None) -> bool:
        return case is None or any(self.cw.intakes[i].kind is IntakeKind.FINDING
                                   for i in case.intakes)

    def _minor_victim(self, case: Case | None, target: Target) -> bool:
        if case is not None and self.cw.minor_in_dm(case):
            return True
        msg = self.cw.content.message_of(target)
        return msg is not None and any(self._is_minor(u) for u in msg.recipients)

    def _minors_written_to(self, messages: Iterable[MessageRecord]) -> list[User]:
        """The minors (by the age band the platform knows) these messages were sent to."""
        found: dict[str, User] = {}
        for m in messages:
            for rid in m.recipients:
                u = self.cw.content.directory.user(rid)
                if u is not None and u.age_band in MINOR_BANDS:
                    found.setdefault(rid, u)
        return list(found.values())

    def _is_minor(self, user_id: str) -> bool:
        u = self.cw.content.directory.user(user_id)
        return u is not None and u.age_band in MINOR_BANDS

    def _restriction(self, decision_id: str, case: Case | None, target: Target,
                     category: Category, ground: str, ground_text: str,
                     measures: tuple[str, ...], duration: int | None, scope: tuple[str, ...],
                     at: datetime, automation: Automation, explanation: str | None,
                     detected: bool | None = None) -> Restriction:
        source, flagger = self._source(case)
        if detected is None:
            detected = self._automated_detection(case)
        if automation is Automation.NOT and detected:
            automation = Automation.PARTIALLY
        msg = self.cw.content.message_of(target)
        return Restriction(
            decision_id=decision_id, case_id=case.id if case else None, target=target,
            affected_user=self.affected_user(target), category=category, ground=ground,
            ground_text=ground_text, measures=measures, duration_days=duration,
            territorial_scope=scope, applied_at=at, content_date=self._content_date(target),
            content_kinds=self._kinds(target), source=source, automated_detection=detected,
            automation=automation, minor_victim=self._minor_victim(case, target),
            flagger_name=flagger, explanation=explanation,
            content_language=content_language(msg.content) if msg is not None
            and target.kind is TargetKind.MESSAGE else None)

    # --- notices (Art. 16) -------------------------------------------------------------------

    def report_received(self, intake: Intake, report: Report, now: datetime) -> None:
        notice_id = report.notice_id or report.id
        notice = self.notices.get(notice_id)
        harm = self.policy.harms.get(intake.category) if intake.category else None
        if notice is None:
            notice = Notice(notice_id, now, intake.source, dict(report.notifier or {}),
                            report.reporter_id)
            self.notices[notice_id] = notice
            if intake.source in NOTICE_SOURCES:
                notice.missing = missing_elements(report, bool(harm and harm.anonymous_notices))
        notice.items.append(intake.id)
        if intake.source == "authority":
            return  # an order is acknowledged to the authority by its own channel (Art 9)
        recipient = self._notifier_address(notice)
        if recipient is None:
            return  # an anonymous notice: there is no one to acknowledge to (16(4))
        lang = self.notifier_language(notice.notifier.get("language"),
                                      [report.explanation or ""])
        items = [self._describe_for_notifier(self.cw.intakes[i].target, lang)
                 for i in notice.items]
        tf = self.cw.policy.flaggers.get(report.flagger or "")
        letter = letters.render("notice_ack", lang, notice_id=notice_id,
                                name=notice.notifier.get("name"),
                                received_at=notice.received_at, items=items,
                                trusted_flagger=tf.name if tf and intake.source ==
                                "trusted_flagger" else None, incomplete=notice.missing,
                                provider=self.policy.provider_name)
        doc = self._doc("notice_ack", now, recipient, language=lang, letter=letter,
                        refs={"notice_id": notice_id, "intakes": list(notice.items),
                              "missing_elements": notice.missing},
                        doc_id=notice.ack_id)
        notice.ack_id = doc.id

    def _notifier_address(self, notice: Notice) -> dict[str, str | None] | None:
        email = notice.notifier.get("email")
        if email:
            return {"role": "notifier", "id": notice.reporter_id, "address": email,
                    "channel": "email"}
        if notice.reporter_id:
            return {"role": "notifier", "id": notice.reporter_id, "address": None,
                    "channel": "in_app"}
        if notice.notifier.get("channel") == "web":
            # The public form: the notifier, maybe anonymous, reads it behind a private link.
            return {"role": "notifier", "id": None, "address": None, "channel": "web"}
        return None

    def _describe_for_notifier(self, target: Target, lang: str) -> str:
        words = {"fr": {"message": "message", "attachment": "fichier", "user": "compte",
                        "guild": "serveur", "channel": "salon", "invite": "invitation"},
                 "en": {"message": "message", "attachment": "file", "user": "account",
                        "guild": "server", "channel": "channel", "invite": "invitation"}}
        return f"{words[lang][target.kind.value]} {target.id}"

    def reporter_suspended(self, intake: Intake, now: datetime) -> datetime | None:
        """Art. 23(2): the sender's notices are not processed until this time, unless they
        concern what the policy always reviews (child sexual abuse)."""
        if intake.category in self.policy.misuse.still_reviewed:
            return None
        return self.misuse.suspended(Misuse.UNFOUNDED_NOTICES, intake.reporter_id, now)

    def intake_resolved(self, intake: Intake, now: datetime) -> None:
        if intake.kind is IntakeKind.REPORT:
            self._notice_item_resolved(intake, now)
            if intake.reporter_id and intake.source != "authority":
                self._count_notice(intake, now)
            if intake.source == "trusted_flagger" and intake.flagger:
                self._check_flagger(intake.flagger, now)

    def _count_notice(self, intake: Intake, now: datetime) -> None:
        assert intake.reporter_id is not None
        if intake.resolution is Resolution.REPORTER_SUSPENDED:
            return
        self.misuse.item(Misuse.UNFOUNDED_NOTICES, intake.reporter_id, now)
        if intake.resolution in (Resolution.REJECTED, Resolution.ALREADY_REVIEWED):
            step = self.misuse.misuse(Misuse.UNFOUNDED_NOTICES, intake.reporter_id, now)
            if step is not None:
                self._misuse_letter(step)

    def _notice_item_resolved(self, intake: Intake, now: datetime) -> None:
        notice = self.notices.get(intake.notice_id or intake.id.removeprefix("report:"))
        if notice is None or notice.notified_at is not None:
            return
        items = [self.cw.intakes[i] for i in notice.items]
        if any(i.pending for i in items) or notice.source == "authority":
            return
        notice.notified_at = now
        recipient = self._notifier_address(notice)
        if recipient is None:
            return
        lang = self.notifier_language(notice.notifier.get("language"),
                                      [i.explanation or "" for i in items])
        rows = []
        decisions = []
        for i in items:
            assert i.resolution is not None
            rows.append({"what": self._describe_for_notifier(i.target, lang),
                         "outcome": self._outcome_words(i, lang), "reason": None})
            d = self._decision_of(i)
            if d is not None:
                decisions.append(d)
        until = add_months(now, self.policy.complaint_window_months)
        matched = any(i.resolution in (Resolution.ALREADY_REVIEWED, Resolution.ALREADY_ACTIONED)
                      for i in items)
        letter = letters.render(
            "decision_notice", lang, notice_id=notice.id, name=notice.notifier.get("name"),
            received_at=notice.received_at, decided_at=now, items=rows,
            automated=letters.word(lang, "automated_match" if matched
                                   else "automated_notice"), complaint_until=until,
            complaints_url=self.policy.complaints_url, provider=self.policy.provider_name)
        informed = [[d, notice.reporter_id or notice.id] for d in decisions]
        for d in decisions:
            self.informed[d, notice.reporter_id or notice.id] = now
        self._doc("decision_notice", now, recipient, language=lang, letter=letter,
                  refs={"notice_id": notice.id, "intakes": list(notice.items),
                        "decisions": decisions, "informed": informed,
                        "resolutions": [i.resolution.value for i in items
                                        if i.resolution is not None],
                        "complaint_until": iso(until)})

    def _decision_of(self, intake: Intake) -> str | None:
        """The decision that settled a report: its case's, when a reviewer decided it."""
        if intake.resolution not in (Resolution.UPHELD, Resolution.REJECTED):
            return None
        case = self.cw.cases.get(intake.case_id or "")
        return case.decision_id if case is not None else None

    def _outcome_words(self, intake: Intake, lang: str) -> str:
        r = intake.resolution
        assert r is not None
        if r is Resolution.UPHELD:
            actions = [a for a in self.cw.enforcement.on_target(intake.target)
                       if a.action in MEASURES and a.active]
            covering = self.cw.enforcement.covering(intake.target)
            names = {letters.word(lang, a.action) for a in actions} or (
                {letters.word(lang, covering.action)} if covering else set())
            return letters.word(lang, "upheld", measures=", ".join(sorted(names)) or "—")
        if r is Resolution.ALREADY_ACTIONED:
            return letters.word(lang, "already_actioned", detail=intake.reason or "")
        if r in (Resolution.REJECTED, Resolution.ALREADY_REVIEWED, Resolution.OWNER_DELETED,
                 Resolution.REPORTER_SUSPENDED):
            return letters.word(lang, r.value)
        return letters.word(lang, "pending")

    # --- decisions (Art. 17, 24(5), NCMEC, Art. 18) ----------------------------------------

    def decided(self, decision: Decision, case: Case, now: datetime) -> None:
        restrictions = []
        for td in decision.targets:
            if not td.violation or td.category is None:
                continue
            measures = tuple(a.action for a in self.cw.enforcement.on_target(td.target)
                             if a.decision_id == decision.id and a.action in MEASURES)
            # Content the platform never had (refused on arrival, named in a report) restricts
            # nobody: it owes no statement.
            if measures and self.cw.content.knows(td.target):
                restrictions.append(self._restriction(
                    decision.id, case, td.target, td.category, td.ground or "illegal",
                    td.ground_text or "", measures, td.duration_days, td.territorial_scope,
                    now, Automation.NOT, td.explanation))
        self._restricted(restrictions, now)
        self._count_illegal(decision, now)
        done = {a.action for a in self.cw.enforcement.actions.values()
                if a.decision_id == decision.id}
        if "report_ncmec" in done:
            self._ncmec(decision, case, now)
        if "refer_authority" in done:
            self._referral(decision, case, now)

    def automatic(self, action: Action, case: Case | None, now: datetime) -> None:
        """The policy's automatic measure: a decision of its own (fully automated)."""
        if action.action not in (*MEASURES, "block_join") or action.category is None:
            return
        grounds = self.cw.policy.grounds[action.category]
        r = self._restriction(action.id, case, action.target, action.category, "illegal",
                              grounds.law, (action.action,), None,
                              self.cw.policy.territorial_scope, now, Automation.FULLY, None)
        self._restricted([r], now)

    def _restricted(self, restrictions: list[Restriction], now: datetime) -> None:
        by_user: dict[str | None, list[Restriction]] = {}
        for r in restrictions:
            by_user.setdefault(r.affected_user, []).append(r)
            self._tdb(r, now)
        for user, rs in by_user.items():
            self._statement_of_reasons(user, rs, now)

    def _tdb(self, r: Restriction, now: datetime) -> None:
        if self.policy.small_enterprise:
            return  # Art. 19: micro and small enterprises do not submit to the TDB
        payload = tdb.statement(r, self.policy)
        names = self._names(r)
        errors = tdb.validate(payload) + tdb.lint_personal_data(payload, names)
        self._doc("tdb_statement", now, {"role": "public", "id": None, "address": None,
                                         "channel": "transparency_database"},
                  payload=payload, errors=errors,
                  refs={"decision_id": r.decision_id, "case_id": r.case_id,
                        "target": r.target.to_json(), "puid": payload["puid"]})

    def _names(self, r: Restriction) -> list[str]:
        d = self.cw.content.directory
        names: list[str] = []
        if r.affected_user:
            u = d.user(r.affected_user)
            if u is not None:
                names += [u.name, u.display_name or ""]
        guild = self.cw.content.guild_of(r.target)
        g = d.guild(guild) if guild else None
        if g is not None and g.name:
            names.append(g.name)
        if r.case_id:
            for iid in self.cw.cases[r.case_id].intakes:
                notifier = self.cw.intakes[iid].notifier or {}
                names.append(notifier.get("name", ""))
        return [n for n in names if n]

    def _sor_letter(self, user: str | None, rs: list[Restriction], now: datetime
                    ) -> tuple[str, tuple[str, str], datetime]:
        """The statement of reasons for one person (language, letter, complaint deadline)."""
        lang = self.user_language(user)
        items = []
        for r in rs:
            scope = (letters.word(lang, "scope_all") if len(r.territorial_scope) >= 30
                     else letters.word(lang, "scope_some",
                                       codes=", ".join(r.territorial_scope)))
            measures = [letters.word(lang, "terminated") if m == "suspend_account"
                        and r.duration_days is None else letters.word(lang, m)
                        for m in r.measures]
            kinds = letters.kinds(lang, r.content_kinds)
            items.append({
                "what": self._describe(r.target, lang), "measures": ", ".join(measures),
                "scope": scope,
                "duration": letters.word(lang, "indefinite") if r.duration_days is None
                else letters.word(lang, "days", n=r.duration_days),
                "facts": letters.word(lang, "facts_account" if r.target.kind is
                                      TargetKind.USER else "facts", kinds=kinds,
                                      harm=letters.word(lang, r.category.value),
                                      source=letters.word(lang, f"src_{r.source.value}")),
                "ground": r.ground, "ground_text": r.ground_text,
                "why": letters.word(lang, f"why_{r.category.value}"),
                "explanation": r.explanation})
        first = rs[0]
        until = add_months(now, self.policy.complaint_window_months)
        u = self.cw.content.directory.user(user) if user else None
        letter = letters.render(
            "statement_of_reasons", lang, name=u.name if u else None, applied_at=now,
            items=items, account=any(r.target.kind is TargetKind.USER for r in rs),
            contents=any(r.target.kind is not TargetKind.USER for r in rs),
            automation=letters.word(lang, f"auto_{first.automation.value}"),
            terms_url=self.policy.terms_url, complaint_until=until,
            complaints_url=self.policy.complaints_url, reference=first.decision_id,
            provider=self.policy.provider_name)
        return lang, letter, until

    def preview(self, case: Case, decisions: Iterable[TargetDecision], now: datetime
                ) -> list[dict[str, Any]]:
        """The statements of reasons a decision would write, before it is taken (the console
        shows them for confirmation). Nothing is recorded."""
        by_user: dict[str | None, list[Restriction]] = {}
        for td in decisions:
            measures = tuple(m for m in td.measures if m in MEASURES)
            if not td.violation or td.category is None or not measures \
                    or not self.cw.content.knows(td.target):
                continue
            r = self._restriction("(preview)", case, td.target, td.category,
                                  td.ground or "illegal", td.ground_text or "", measures,
                                  td.duration_days, td.territorial_scope, now, Automation.NOT,
                                  td.explanation)
            by_user.setdefault(r.affected_user, []).append(r)
        out = []
        for user, rs in by_user.items():
            lang, letter, _ = self._sor_letter(user, rs, now)
            out.append({"user": user, "language": lang, "subject": letter[0], "body": letter[1],
                        "targets": [r.target.to_json() for r in rs]})
        return out

    def _statement_of_reasons(self, user: str | None, rs: list[Restriction], now: datetime
                              ) -> None:
        lang, letter, until = self._sor_letter(user, rs, now)
        first = rs[0]
        person = user or "unknown"
        self.informed[first.decision_id, person] = now
        doc = self._doc("statement_of_reasons", now,
                  {"role": "user", "id": user, "address": None, "channel": "in_app"},
                  language=lang, letter=letter,
                  refs={"decision_id": first.decision_id, "case_id": first.case_id,
                        "targets": [r.target.to_json() for r in rs],
                        "restrictions": [r.to_json() for r in rs],
                        "informed": [[first.decision_id, person]],
                        "complaint_until": iso(until)})
        if user is None:
            # Art. 17(2): owed where contact details are known; the statement is kept as
            # the record of the reasons (and feeds the transparency report), not sent.
            doc.status = "no_recipient"
            self.sink(doc)

    def lifted(self, action: Action, reason_key: str, now: datetime) -> None:
        """A restriction was lifted (a review found no violation, a complaint succeeded)."""
        if action.action not in MEASURES:
            return
        user = self.affected_user(action.target)
        lang = self.user_language(user)
        restored = {"suspend_account": "restored_account",
                    "delete_guild": "restored_guild"}.get(action.action, "restored_content")
        u = self.cw.content.directory.user(user) if user else None
        letter = letters.render(
            "restored", lang, name=u.name if u else None, at=now, applied_at=action.ts,
            what=self._describe(action.target, lang),
            measure=letters.word(lang, restored), reason=letters.word(lang, reason_key),
            reference=action.decision_id or action.id, provider=self.policy.provider_name)
        self._doc("restored", now, {"role": "user", "id": user, "address": None,
                                    "channel": "in_app"},
                  language=lang, letter=letter,
                  refs={"action_id": action.id, "decision_id": action.decision_id,
                        "target": action.target.to_json()})

    # --- NCMEC -----------------------------------------------------------------------------

    def _ncmec(self, decision: Decision, case: Case, now: datetime) -> None:
        confirmed = [td for td in decision.targets if td.violation and td.category]
        category = max((td.category for td in confirmed if td.category),
                       key=lambda c: self.cw.policy.severity_of(c.value))
        harm = self.policy.harms[category]
        incident = harm.ncmec_incident or self.policy.harms[Category.CSAM].ncmec_incident
        assert incident is not None
        content = self.cw.content
        d = content.directory
        users = [td.target.id for td in confirmed if td.target.kind is TargetKind.USER]
        suspect_id = users[0] if users else self.affected_user(confirmed[0].target) or "unknown"
        u = d.user(suspect_id)
        suspended = next((a.ts for a in self.cw.enforcement.on_target(
            Target(TargetKind.USER, suspect_id)) if a.action == "suspend_account"
            and a.active), None)
        suspect = ncmec.Account(suspect_id, u.name if u else None,
                                u.display_name if u else None, disabled_at=suspended)
        messages = [m for td in confirmed if (m := content.message_of(td.target)) is not None]
        messages.sort(key=lambda m: m.ts)
        victims = [ncmec.Account(v.id, v.name, note=f"Age band known to the platform: "
                                                    f"{v.age_band.value if v.age_band else '?'}.")
                   for v in self._minors_written_to(messages)]
        annotations = list(harm.ncmec_annotations)
        if u is not None and u.age_band in MINOR_BANDS:
            annotations.append("minorToMinorInteraction")
        first = messages[0] if messages else None
        ch = d.channel(first.channel_id) if first else None
        room = (f"#{ch.name}" if ch and first and first.guild_id else "direct message")
        risk = self.cw.imminent_risk(case, decision.targets)
        escalation = (f"A child may be at imminent risk: {risk}. The platform has "
                      f"suspended the suspect's account and referred the case to the "
                      f"competent authority." if risk is not None else None)
        files = []
        for aid in self._confirmed_files(confirmed):
            att = content.attachment(aid)
            if att is None:
                continue
            msg = content.message(att.message_id)
            files.append(ncmec.ReportedFile(
                aid, att.filename, msg.ts if msg else None, att.md5, att.sha256, att.pdq,
                viewed_by_human=aid in self.cw.viewed_media,
                publicly_available=bool(msg and msg.guild_id)))
        context = []
        if first is not None:
            for m in [*content.recent_in_channel(first.channel_id,
                                                 self.cw.policy.context_messages,
                                                 before=first.id), *messages]:
                chan = d.channel(m.channel_id)
                context.append(ncmec.ChatLine(m.ts, m.author_id,
                                              chan.name if chan else m.channel_id, m.content))
        evidence = sorted({rid for t in case.targets
                           for rid in self.cw.vault.by_target.get(t, ())})
        tip = ncmec.CyberTip(
            incident_type=incident, annotations=tuple(annotations),
            incident_at=first.ts if first else now, platform=self.policy.service,
            reporter=dict(self.policy.ncmec), suspect=suspect,
            chat_client=self.policy.ncmec["chat_client"], chat_room=room,
            chat_excerpt=" / ".join(m.content for m in messages if m.content)[:1000] or None,
            victims=tuple(victims), escalation=escalation, files=tuple(files),
            chat_context=tuple(context),
            additional_info=(f"Case {case.id}, decision {decision.id}. Content preserved "
                             f"as sealed evidence: {', '.join(evidence) or 'none'}."),
            case_id=case.id, decision_id=decision.id)
        xml = ncmec.report_xml(tip)
        errors = ncmec.validate_xml(xml)
        self._doc("ncmec_report", now, {"role": "ncmec", "id": None, "address": None,
                                        "channel": "cybertipline"},
                  payload={"xml": xml,
                           "files": [{"attachment_id": f.attachment_id, "filename": f.filename,
                                      "uploaded_at": iso(f.uploaded_at), "md5": f.md5,
                                      "sha256": f.sha256, "pdq": f.pdq,
                                      "viewed_by_human": f.viewed_by_human,
                                      "publicly_available": f.publicly_available}
                                     for f in files],
                           "chat_context": [{"at": iso(c.at), "author_id": c.author_id,
                                             "channel": c.channel, "content": c.content}
                                            for c in context],
                           "evidence": evidence},
                  errors=errors, refs={"decision_id": decision.id, "case_id": case.id})

    def _confirmed_files(self, confirmed: Iterable[Any]) -> list[str]:
        out: list[str] = []
        for td in confirmed:
            if td.target.kind is TargetKind.ATTACHMENT:
                out.append(td.target.id)
            elif td.target.kind is TargetKind.MESSAGE:
                msg = self.cw.content.message(td.target.id)
                out += list(msg.attachments) if msg else []
        return list(dict.fromkeys(out))

    # --- Art. 18 ---------------------------------------------------------------------------

    def _referral(self, decision: Decision, case: Case, now: datetime) -> None:
        content = self.cw.content
        d = content.directory
        confirmed = [td for td in decision.targets if td.violation and td.category]
        users = [td.target.id for td in confirmed if td.target.kind is TargetKind.USER]
        suspect_id = users[0] if users else self.affected_user(confirmed[0].target)
        su = d.user(suspect_id) if suspect_id else None
        seen = {m.id: m for t in case.targets if (m := content.message_of(t))}
        if suspect_id:
            seen.update((m.id, m) for m in content.recent_by_user(suspect_id, 50))
        messages = sorted(seen.values(), key=lambda m: m.ts)
        victims = [{"id": v.id, "age_band": v.age_band.value if v.age_band else "?"}
                   for v in self._minors_written_to(messages)]
        ms, authority = self.policy.authority_for(self.policy.member_state)
        lang = "fr" if ms == "FR" and "fr" in self.policy.languages else "en"
        risk = self.cw.imminent_risk(case, decision.targets) or ""
        if risk.startswith("sexual extortion of a minor"):
            risk = letters.word(lang, "urgent_sextortion")
        category = confirmed[0].category
        assert category is not None
        evidence = [{"id": rid, "target": f"{self.cw.vault.records[rid].target.kind.value}:"
                     f"{self.cw.vault.records[rid].target.id}",
                     "sha256": self.cw.vault.records[rid].sha256}
                    for t in case.targets for rid in self.cw.vault.by_target.get(t, ())]
        actions = sorted({letters.word(lang, a.action) for a in
                          self.cw.enforcement.actions.values()
                          if a.decision_id == decision.id and a.action in MEASURES})
        data: dict[str, Any] = {"basis": "DSA18", "member_state": ms, "authority": authority.name,
                "channel": authority.channel, "reference": f"{case.id}/{decision.id}",
                "harm": letters.word(lang, category.value), "urgency": risk,
                "first_seen": messages[0].ts if messages else case.opened_at,
                "last_seen": messages[-1].ts if messages else now,
                "suspect": {"id": suspect_id, "name": su.name if su else None,
                            "created_at": su.created_at if su else None},
                "victims": victims, "measures": ", ".join(actions) or "—",
                "evidence": evidence, "ncmec": any(
                    a.action == "report_ncmec" and a.decision_id == decision.id
                    for a in self.cw.enforcement.actions.values()),
                "contact": self.policy.contact, "provider": self.policy.provider_name}
        letter = letters.render("referral", lang, **data)
        payload = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in data.items()}
        payload["suspect"] = {**data["suspect"], "created_at": iso(su.created_at)
                              if su and su.created_at else None}
        self._doc("referral", now, {"role": "authority", "id": ms, "address": authority.channel,
                                    "channel": "authority"},
                  language=lang, letter=letter, payload=payload,
                  refs={"decision_id": decision.id, "case_id": case.id, "basis": "DSA18"})

    # --- complaints (Art. 20) --------------------------------------------------------------

    def complaint_window(self, decision_id: str, person: str) -> datetime | None:
        informed = self.informed.get((decision_id, person))
        return add_months(informed, self.policy.complaint_window_months) if informed else None

    def complaint_suspended(self, complainant: str | None, now: datetime) -> datetime | None:
        return self.misuse.suspended(Misuse.UNFOUNDED_COMPLAINTS, complainant, now)

    def complaint_answered(self, intake: Intake, outcome: str, reversal: list[str],
                           decision_ref: str, now: datetime, *, email: str | None = None,
                           refusal: str | None = None) -> None:
        person = intake.reporter_id
        lang = self.user_language(person, [intake.explanation or ""])
        key = {"upheld": "c_upheld", "reversed": "c_reversed",
               "partially_reversed": "c_partially_reversed",
               "newly_imposed": "c_newly_imposed"}.get(outcome)
        text = refusal if refusal is not None else letters.word(lang, key or "c_upheld")
        u = self.cw.content.directory.user(person) if person else None
        letter = letters.render(
            "complaint_outcome", lang, complaint_id=intake.id.removeprefix("complaint:"),
            name=u.name if u else None, decision_ref=decision_ref,
            received_at=intake.received_at, decided_at=now, outcome_text=text,
            reversal=", ".join(letters.word(lang, m) for m in reversal) if reversal else None,
            refused=refusal is not None, provider=self.policy.provider_name)
        self._doc("complaint_outcome", now,
                  {"role": "complainant", "id": person, "address": email,
                   "channel": "email" if email else "in_app"},
                  language=lang, letter=letter,
                  refs={"complaint": intake.id, "decision_id": intake.challenges,
                        "outcome": outcome, "target": intake.target.to_json()})
        if person:
            self.misuse.item(Misuse.UNFOUNDED_COMPLAINTS, person, now)
            if outcome == "upheld" and refusal is None:
                step = self.misuse.misuse(Misuse.UNFOUNDED_COMPLAINTS, person, now)
                if step is not None:
                    self._misuse_letter(step)

    def refusal_words(self, reason: str, lang: str, **kw: Any) -> str:
        return letters.word(lang, reason, **kw)

    # --- misuse (Art. 23) and trusted flaggers (22(6)) -------------------------------------

    def posted(self, author_id: str) -> None:
        """Every post counts (Art. 23(3)(b): the share of an account's items). One dict
        update: it runs for every message."""
        self._posts[author_id] = self._posts.get(author_id, 0) + 1

    def _posts_in_window(self, author: str, now: datetime) -> int:
        """The account's posts in the misuse window: its recent messages when they do not
        reach back past the window's start, else its lifetime count (an upper bound: a
        higher total only makes a suspension less likely)."""
        start = now - timedelta(days=self.policy.misuse.window_days)
        cap = self.cw.policy.user_messages
        recent = self.cw.content.recent_by_user(author, cap)
        if len(recent) < cap or (recent and recent[0].ts < start):
            return sum(m.ts >= start for m in recent)
        return self._posts.get(author, len(recent))

    def _count_illegal(self, decision: Decision, now: datetime) -> None:
        """One decision confirming manifestly illegal posts counts once per author (Art. 23
        is about posting *frequently*); an account already suspended needs no warning."""
        authors: dict[str, Category] = {}
        for td in decision.targets:
            if (td.violation and td.ground == "illegal" and td.category is not None
                    and td.target.kind in (TargetKind.MESSAGE, TargetKind.ATTACHMENT)):
                author = self.cw.content.author_of(td.target)
                if author is not None:
                    authors.setdefault(author, td.category)
        for author, category in authors.items():
            self._last_illegal[author] = category
            if self.cw.enforcement.suspended(author, now) is not None:
                continue
            step = self.misuse.misuse(Misuse.ILLEGAL_CONTENT, author, now,
                                      total=self._posts_in_window(author, now))
            if step is not None:
                self._misuse_letter(step)
                if step.stage == "suspension":
                    self.cw.misuse_suspension(step)

    def misuse_suspended(self, action: Action, step: Step) -> None:
        """The statement of reasons and TDB entry of an Art. 23(1) suspension."""
        category = self._last_illegal.get(step.account, Category.CSAM)
        law = self.cw.policy.grounds[category].law
        r = self._restriction(action.id, None, action.target, category, "illegal",
                              f"DSA Art. 23(1) (repeated manifestly illegal content); {law}",
                              ("suspend_account",), self.policy.misuse.suspension_days,
                              self.cw.policy.territorial_scope, step.at, Automation.FULLY,
                              None, detected=False)
        self._restricted([r], step.at)

    def _misuse_letter(self, step: Step) -> None:
        lang = self.user_language(step.account)
        u = self.cw.content.directory.user(step.account)
        letter = letters.render(
            "misuse", lang, stage=step.stage, kind=step.kind.value, name=u.name if u else None,
            window_days=int(self.policy.misuse.window_days), count=step.count,
            total=step.total, suspension_days=self.policy.misuse.suspension_days,
            warned_at=step.warned_at or step.at, until=step.until or step.at,
            complaints_url=self.policy.complaints_url, provider=self.policy.provider_name)
        kind = "misuse_warning" if step.stage == "warning" else "misuse_suspension"
        self._doc(kind, step.at, {"role": "user", "id": step.account, "address": None,
                                  "channel": "in_app"},
                  language=lang, letter=letter,
                  refs={"misuse": step.kind.value, "account": step.account,
                        "count": step.count, "total": step.total, "until": iso(step.until),
                        "warned_at": iso(step.warned_at), "basis": "DSA23"})

    def _check_flagger(self, flagger: str, now: datetime) -> None:
        window = timedelta(days=self.policy.tf_window_days)
        last = self.flaggers_reported.get(flagger)
        if last is not None and now - last < window:
            return  # one letter per window: the coordinator is not flooded
        rows = [i for i in self.cw.intakes.values()
                if i.flagger == flagger and i.source == "trusted_flagger"
                and i.resolved_at is not None and now - i.resolved_at <= window
                and i.resolution in (Resolution.UPHELD, Resolution.REJECTED,
                                     Resolution.ALREADY_REVIEWED)]
        if len(rows) < self.policy.tf_min_notices:
            return
        upheld = sum(i.resolution is Resolution.UPHELD for i in rows)
        precision = upheld / len(rows)
        if precision >= self.policy.tf_min_precision:
            return
        tf = self.cw.policy.flaggers.get(flagger)
        lang = "fr" if tf and tf.member_state == "FR" and "fr" in self.policy.languages \
            else "en"
        letter = letters.render(
            "flagger_quality", lang, flagger=tf.name if tf else flagger,
            dsc=tf.dsc if tf else "?", member_state=tf.member_state if tf else "?",
            provider=self.policy.provider_name, since=now - window, until=now,
            decided=len(rows), upheld=upheld, rejected=len(rows) - upheld,
            precision=f"{precision:.2f}", threshold=f"{self.policy.tf_min_precision:.2f}",
            rows=[{"id": i.id.removeprefix("report:"), "received_at": i.received_at,
                   "resolution": i.resolution.value if i.resolution else ""} for i in rows],
            contact=self.policy.contact)
        self.flaggers_reported[flagger] = now
        self._doc("flagger_quality", now,
                  {"role": "coordinator", "id": tf.dsc if tf else None, "address": None,
                   "channel": "dsc"},
                  language=lang, letter=letter,
                  refs={"flagger": flagger, "decided": len(rows), "upheld": upheld,
                        "precision": round(precision, 4), "basis": "DSA22(6)"})

    # --- summary ---------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for d in self.documents.values():
            row = out.setdefault(d.kind, {"ready": 0, "invalid": 0})
            row[d.status] = row.get(d.status, 0) + 1
        return out

