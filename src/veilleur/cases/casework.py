"""Casework: the loop after detection. Intake → cases → clocks → review → decisions → actions.

One `Casework` wraps the detection `Engine` and is what every front door drives: the replay
(simulated time), and later the HTTP service and the bot. Every method takes the time it
happens at; nothing reads a wall clock, so the same code runs live and under simulation.

- Every report and every finding is an `Intake`: recorded, acknowledged and audited on arrival,
  and ended by a resolution with a reason. Nothing is dropped silently.
- Intakes that share content, an account, a server or a DM join one open case; a case under
  review is never changed under its reviewer (later items open a follow-up case).
- Evidence for each target is preserved, encrypted, the moment it enters a case.
- Clocks (legal and internal) are scheduled; at risk raises a case, breached escalates it.
- Automatic actions are the policy's, reversible, and reversed when a human finds no violation.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from veilleur.audit import GENESIS, AuditLog
from veilleur.cases.config import CasePolicy, load_case_policy
from veilleur.cases.content import ContentIndex, ContentView
from veilleur.cases.evidence_docs import FileReader, evidence_document, read_local_file
from veilleur.cases.ids import IdTail, random_tail
from veilleur.cases.models import (
    Action,
    Case,
    Clock,
    Decision,
    Intake,
    IntakeKind,
    Resolution,
    TargetDecision,
    iso,
)
from veilleur.cases.priority import TrackRecords, prioritize
from veilleur.cases.review import ReviewError, Verdict, case_measures, target_decisions
from veilleur.cases.sink import CaseworkSink, NullSink
from veilleur.compliance.documents import Compliance, Document
from veilleur.compliance.misuse import Step
from veilleur.decide.policy import Finding
from veilleur.detect.network.detector import NetworkDetector
from veilleur.enforce.actions import RESTRICTING, Enforcement, Prevented, Stopped, subject_of
from veilleur.enforce.blocklist import Confirmed, ConfirmedMedia
from veilleur.enforce.evidence import EvidenceKey, EvidenceRecord, EvidenceVault
from veilleur.engine import Engine
from veilleur.events import (
    AgeBand,
    Complaint,
    ComplaintFiled,
    Event,
    GuildDeleted,
    MemberJoined,
    MessagePosted,
    OrderUpdated,
    Report,
    ReportFiled,
)
from veilleur.taxonomy import Category, Target, TargetKind

CONFIRMED_MEDIA = "enforce.confirmed_media"
BANNED_MEDIA = "banned_media"
"""Label of a confirmed file (`banned_media:<category>`): its re-uploads are blocked."""
MINOR_BANDS = frozenset({AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17})
REREVIEW_SOURCES = frozenset({"authority", "trusted_flagger"})

log = logging.getLogger("veilleur.casework")


@dataclass
class Snapshot:
    """Casework read back from the store, to pick it up in another process."""

    intakes: list[Intake]
    cases: list[dict[str, Any]]
    """`Case.to_record` forms."""
    decisions: list[Decision]
    actions: list[Action]
    labels: list[tuple[Target, str, str | None]]
    evidence: list[EvidenceRecord]
    documents: list[Document] = field(default_factory=list)
    label_times: dict[tuple[Target, str], datetime] = field(default_factory=dict)
    """When each label was set (detectors rebuild their memory from them)."""
    media_views: list[list[str]] = field(default_factory=list)
    """Attachments people opened (from the audit log's `media.viewed` entries)."""


@dataclass
class CaseworkStats:
    intakes: int = 0
    reports: int = 0
    findings: int = 0
    cases_opened: int = 0
    decisions: int = 0
    actions: int = 0
    prevented: int = 0
    alerts: int = 0
    by_resolution: dict[str, int] = field(default_factory=dict)


def _actor(who: str) -> str:
    """An audit actor fits its column (an input file's path may be long)."""
    return who if len(who) <= 128 else "…" + who[-127:]


def report_intake(report: Report, now: datetime, policy: CasePolicy) -> Intake:
    """A report as an intake, acknowledged now; an authority's request gets its legal clock."""
    try:
        category = Category(report.category_claimed) if report.category_claimed else None
    except ValueError:
        category = None  # an unknown claim is kept in the report, not trusted as a category
    intake = Intake(
        id=f"report:{report.id}", kind=IntakeKind.REPORT, source=report.source.value,
        target=report.target, category=category, received_at=now, acknowledged_at=now,
        reporter_id=report.reporter_id, flagger=report.flagger, notifier=report.notifier,
        explanation=report.explanation, notice_id=report.notice_id,
        bona_fide=report.bona_fide)
    if intake.source == "authority":
        hours = policy.legal_deadline_hours(category.value if category else None)
        intake.clock = Clock("removal request (LCEN art. 6-1)", "legal", now, hours,
                             "LCEN 6-1 / 6-2: removal within the deadline of receipt",
                             intake_id=intake.id)
    return intake


class Casework:
    """`id_tail` makes the part of each new id after `kind-`: random by default, because
    case and decision ids are in console URLs; `ids.CountedTails()` for simulations."""

    def __init__(self, engine: Engine, policy: CasePolicy | None = None, *,
                 key: EvidenceKey | None = None, sink: CaseworkSink | None = None,
                 id_prefix: str = "", audit_head: tuple[int, str] | None = (0, GENESIS),
                 read_file: FileReader = read_local_file, keep_audit: bool = True,
                 content: ContentView | None = None,
                 compliance: Compliance | None = None, id_tail: IdTail = random_tail
                 ) -> None:
        self.engine = engine
        self.policy = policy or load_case_policy()
        self.sink: CaseworkSink = sink or NullSink()
        self.content: ContentView = content or ContentIndex(
            engine.directory,
            recent_per_channel=max(self.policy.guild_messages, self.policy.context_messages + 1),
            recent_per_user=self.policy.user_messages)
        self.enforcement = Enforcement(self.content)
        self.confirmed = ConfirmedMedia()
        self.audit = AuditLog(head=audit_head, sink=self.sink.audit, keep=keep_audit)
        self.vault = EvidenceVault(key or EvidenceKey.generate(), self.audit,
                                   retention_days=self.policy.retention_days,
                                   new_id=self._new_id, sink=self.sink.evidence)
        self.records = TrackRecords()
        self.intakes: dict[str, Intake] = {}
        self.cases: dict[str, Case] = {}
        self.decisions: dict[str, Decision] = {}
        self.labels: dict[Target, set[str]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.prevented: list[Prevented] = []
        self.stats = CaseworkStats()
        self._prefix = id_prefix
        self._id_tail = id_tail
        self._open: set[str] = set()
        self._deferred: dict[str, Case] | None = None
        """Inside `batch`: the cases to weigh again when it ends."""
        self._by_key: dict[str, str] = {}
        self._merged_into: dict[str, str] = {}
        self._merged_from: dict[str, list[str]] = {}
        """The reverse of `_merged_into`: case -> the cases merged straight into it."""
        self._decisions_of: dict[str, list[str]] = {}
        """Case -> its decisions (several when partial ones came first)."""
        self._finding_intakes: dict[tuple[Target, Category], str] = {}
        self._cleared: dict[Target, datetime] = {}
        self._schedule: list[tuple[datetime, int, str, Clock, str]] = []
        self._order = itertools.count()
        self._read_file = read_file
        self.viewed_media: set[str] = set()
        """Attachments a person has opened (NCMEC's fileViewedByEsp must be truthful)."""
        self.compliance = compliance or Compliance(sink=self.sink.document)
        self.compliance.bind(self)

    # --- ids and records -------------------------------------------------------------------

    def restore(self, snap: Snapshot) -> None:
        """Take up stored casework: open cases back in the queue (with their clocks), actions
        in force, confirmed media blocked, track records, cleared targets, evidence."""
        clocks: dict[str, Clock] = {}
        for i in snap.intakes:
            self.intakes[i.id] = i
            if i.clock is not None:
                clocks[i.id] = i.clock
            if i.kind is IntakeKind.FINDING and i.category is not None:
                self._finding_intakes[i.target, i.category] = i.id
            elif i.resolution in (Resolution.UPHELD, Resolution.REJECTED):
                self.records.record(i, i.resolution is Resolution.UPHELD)
        for record in snap.cases:
            case = Case.from_record(record, clocks)
            missing = [i for i in case.intakes if i not in self.intakes]
            if missing:
                # A case stored by a checkpoint whose items were lost (a write that failed
                # before this one): the case is taken up with what there is, never the
                # reason a start fails.
                log.warning("case %s refers to items that are not stored: %s", case.id,
                            ", ".join(missing[:10]))
                case.intakes = [i for i in case.intakes if i in self.intakes]
            self.cases[case.id] = case
            if case.merged_into:
                self._merged_into[case.id] = case.merged_into
                self._merged_from.setdefault(case.merged_into, []).append(case.id)
            if case.status == "closed":
                continue
            if case.status == "open":
                self._open.add(case.id)
            for k in case.keys:
                self._by_key[k] = case.id
            self._schedule_clocks(case)
        for d in sorted(snap.decisions, key=lambda d: d.decided_at):
            self.decisions[d.id] = d
            self._decisions_of.setdefault(d.case_id, []).append(d.id)
            for td in d.targets:
                if not td.violation:
                    self._cleared[td.target] = d.decided_at
        for a in sorted(snap.actions, key=lambda a: a.ts):
            self.enforcement.apply(a)
        decision_of = {c.id: c.decision_id for c in self.cases.values()}
        for e in snap.media_views:
            self.viewed_media.update(e)
        for target, label, case_id in snap.labels:
            self.labels.setdefault(target, set()).add(label)
            at = snap.label_times.get((target, label))
            if at is not None:
                self.engine.remember(target, label, at)
            kind, _, cat = label.partition(":")
            att = self.content.attachment(target.id) if kind == BANNED_MEDIA else None
            if att is not None:
                self.confirmed.add(Confirmed(Category(cat), decision_of.get(case_id or "")
                                             or "stored", att.id),
                                   md5=att.md5, sha256=att.sha256, pdq=att.pdq)
        self.vault.restore(snap.evidence)
        self.compliance.restore(snap.documents)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many intakes at once (a bus sink's batch of findings): each case touched is
        weighed again once, when the batch ends, not at every intake. Weighing reads every
        intake of the case, so a case that grows by n intakes one at a time costs O(n²);
        a batch costs O(n) per case. Nothing reads a priority inside a batch (the caller
        holds casework for its length)."""
        if self._deferred is not None:  # nested: the outer batch weighs
            yield
            return
        self._deferred = {}
        try:
            yield
        finally:
            deferred, self._deferred = self._deferred, None
            for case in deferred.values():
                self._reprioritize(case)

    def take_findings(self, findings: Iterable[Finding], now: datetime) -> list[Intake]:
        """Findings that came from outside an event (a bank that learnt an old file)."""
        return [self._intake_finding(f, now) for f in findings]

    def findings_on(self, target: Target) -> list[Intake]:
        """The engine's findings about one target, as taken in (one per category)."""
        return [self.intakes[iid] for c in Category
                if (iid := self._finding_intakes.get((target, c))) is not None]

    def case_of(self, case_id: str | None) -> Case | None:
        """A case, or the case it was merged into."""
        return self._live(case_id) if case_id is not None else None

    def _new_id(self, kind: str) -> str:
        return f"{self._prefix}{kind}-{self._id_tail(kind)}"

    def _touch(self, case: Case) -> None:
        self.sink.case(case)

    # --- events ----------------------------------------------------------------------------

    def handle(self, event: Event, *, now: datetime | None = None, live: bool = True) -> None:
        """One platform event: stop it if it should not happen, else detect, take in reports
        and findings, and keep the clocks.

        Live (the platform, the replay), the event happens at its own time and what is in
        force refuses it. Reading the past (`scan --cases` over exports), `now` is when the
        engine learns of it, and nothing is refused: it already happened."""
        now = now or event.ts
        self.tick(now)
        stopped = self.enforcement.stops(event) if live else None
        if stopped is not None:
            self._stop(event, stopped)
            return
        self.content.apply(event)
        if isinstance(event, MessagePosted):
            self.compliance.posted(event.message.author_id)
            self._check_confirmed_media(event, now, live)
        for finding in self.engine.process(event):
            self._intake_finding(finding, now, live=live)
        if live and isinstance(event, MemberJoined):
            barred = self.enforcement.join_blocked(event.user_id)
            if barred is not None and barred.ts == event.ts:
                # What this very join revealed (an account linked to a suspended one, into a
                # successor server) bars it: the join itself is refused.
                self._stop(event, Stopped("the account is linked to a suspended one", barred))
        # Who handed a report, complaint or order update in is the door it came through
        # (`event.source`: the service's key, the operator's file), not what its body says.
        if isinstance(event, ReportFiled):
            self.intake_report(event.report, now, received_by=event.source)
        elif isinstance(event, OrderUpdated):
            self.update_order(event.report_id, event.status, now, event.note,
                              by=event.source)
        elif isinstance(event, ComplaintFiled):
            self.intake_complaint(event.complaint, now, received_by=event.source)
        elif isinstance(event, GuildDeleted):
            self._guild_gone(event)

    def _stop(self, event: Event, stopped: Stopped) -> None:
        subject = subject_of(event)
        self.stats.prevented += 1
        action_id = stopped.action.id
        if stopped.join and subject.kind is TargetKind.USER:
            join = self._act("block_join", subject, event.ts, case_id=stopped.action.case_id,
                             automated=True, category=stopped.action.category,
                             reason=f"join refused: {stopped.reason} ({stopped.action.id})")
            action_id = join.id
        self.prevented.append(Prevented(event.ts, event.type, subject, stopped.reason,
                                        action_id))

    def _guild_gone(self, event: GuildDeleted) -> None:
        target = Target(TargetKind.GUILD, event.guild_id)
        preserved = self.vault.by_target.get(target, [])
        if preserved or f"guild:{event.guild_id}" in self._by_key:
            self.audit.append(event.ts, "target.gone", event.by, f"guild:{event.guild_id}",
                              {"evidence": preserved})

    # --- intake ----------------------------------------------------------------------------

    def intake_report(self, report: Report, now: datetime, *, received_by: str | None = None
                      ) -> Intake:
        iid = f"report:{report.id}"
        if iid in self.intakes:
            self.audit.append(now, "intake.duplicate", _actor(received_by or "engine"), iid,
                              {"note": "a report with this id was already taken in"})
            return self.intakes[iid]
        intake = report_intake(report, now, self.policy)
        intake.received_by = received_by
        self._record_intake(intake, now)
        self.compliance.report_received(intake, report, now)
        until = self.compliance.reporter_suspended(intake, now)
        if until is not None:
            self._resolve(intake, Resolution.REPORTER_SUSPENDED, now,
                          f"notices from this account are not processed until {iso(until)} "
                          "(DSA Art. 23(2))")
            return intake
        if intake.clock is not None and not self.content.knows(intake.target):
            # LCEN 6-2 II: a request that cannot be acted on is answered with a request for
            # clarification; its clock starts again on the answer.
            intake.clock.pause(now, "clarification requested: the target is unknown here")
            self._alert(now, "order.clarification", iid,
                        f"authority order {report.id}: target {report.target.kind.value}:"
                        f"{report.target.id} unknown; clarification requested")
        covered = self.enforcement.covering(intake.target)
        if covered is not None:
            self._resolve(intake, Resolution.ALREADY_ACTIONED, now,
                          f"already {covered.action} by {covered.id} at {iso(covered.ts)}")
            return intake
        cleared = self._cleared.get(intake.target)
        window = timedelta(days=self.policy.reviewed_again_after_days)
        if (cleared is not None and now - cleared <= window
                and intake.source not in REREVIEW_SOURCES):
            self._resolve(intake, Resolution.ALREADY_REVIEWED, now,
                          f"reviewed on {iso(cleared)} and found not violating; "
                          "the report adds nothing new")
            return intake
        self._file(intake, now)
        return intake

    def _intake_finding(self, finding: Finding, now: datetime, *, detector: str | None = None,
                        live: bool = True) -> Intake:
        """`live`: the policy's automatic actions apply (not to the past, read from exports)."""
        key = (finding.target, finding.category)
        iid = self._finding_intakes.get(key)
        found_by = (detector,) if detector else finding.detectors
        if iid is not None:
            intake = self.intakes[iid]
            if _holds(finding.target, found_by) and not _holds(finding.target,
                                                               intake.detectors):
                # Found first as a successor only, now for what it holds: it seeds now.
                self._label(finding.target, f"flagged:{finding.category.value}", now, None)
            if finding.score > intake.score:
                intake.score = finding.score
                intake.signal_keys = tuple(dict.fromkeys((*intake.signal_keys,
                                                          *finding.signal_keys)))
                # What the reviewer and an automatic rule read is the evidence as it is now.
                intake.detectors = tuple(dict.fromkeys((*intake.detectors, *found_by)))
                intake.evidence = finding.evidence or intake.evidence
                self.sink.intake(intake)
                if intake.pending and intake.case_id in self._open:
                    case = self.cases[intake.case_id]
                    for net_key, target in self._network_of(intake):
                        if net_key not in case.keys:  # a network link learnt since filing
                            case.keys.add(net_key)
                            self._by_key.setdefault(net_key, case.id)
                            if target not in case.targets:
                                case.targets.append(target)
                    self._reprioritize(case)
                    if live:  # stronger evidence may now reach an automatic rule's line
                        self._auto_actions(intake, case, now)
            return intake
        intake = Intake(
            id=self._new_id("finding"), kind=IntakeKind.FINDING, source="engine",
            target=finding.target, category=finding.category, received_at=now,
            acknowledged_at=now, score=finding.score,
            detectors=found_by, signal_keys=finding.signal_keys, evidence=finding.evidence)
        self._finding_intakes[key] = intake.id
        self._record_intake(intake, now)
        if _holds(finding.target, found_by):
            # A server flagged for what it holds seeds the search for its successors; one
            # flagged only as a successor waits for a reviewer (else one wrong seed flags a
            # chain of look-alike servers, each the next one's seed).
            self._label(finding.target, f"flagged:{finding.category.value}", now, None)
        covered = self.enforcement.covering(intake.target)
        if covered is not None:
            self._resolve(intake, Resolution.ALREADY_ACTIONED, now,
                          f"already {covered.action} by {covered.id}")
            return intake
        case = self._file(intake, now)
        if live:
            self._auto_actions(intake, case, now)
        return intake

    def _record_intake(self, intake: Intake, now: datetime) -> None:
        self.intakes[intake.id] = intake
        self.stats.intakes += 1
        if intake.kind is IntakeKind.REPORT:
            self.stats.reports += 1
        else:
            self.stats.findings += 1
        contact = "notifier contact" if intake.notifier else (
            "in-app" if intake.source == "user" else "recorded")
        # The actor is who handed it in; the kind of report it claims to be is detail.
        self.audit.append(now, "intake", _actor(intake.received_by or intake.source),
                          intake.id, {
            "source": intake.source, "target": intake.target.to_json(),
            "category": intake.category.value if intake.category else None,
            "acknowledged_at": iso(intake.acknowledged_at), "acknowledgement": contact,
            "reporter_id": intake.reporter_id, "flagger": intake.flagger,
            "score": round(intake.score, 4) if intake.kind is IntakeKind.FINDING else None})
        self.sink.intake(intake)

    def update_order(self, report_id: str, status: str, now: datetime,
                     note: str | None = None, *, by: str | None = None) -> None:
        intake = self.intakes.get(f"report:{report_id}")
        if intake is None or intake.clock is None:
            self._alert(now, "order.unknown", f"report:{report_id}",
                        f"update {status!r} for an authority order that was never received")
            return
        reason = status.replace("_", " ") + (f": {note}" if note else "")
        if status in ("force_majeure", "clarification_requested"):
            intake.clock.pause(now, reason)
        else:
            intake.clock.restart(now, reason)
            if intake.case_id is not None:
                case = self._live(intake.case_id)
                if case is not None:
                    self._schedule_clocks(case)
        self.audit.append(now, "order.update", _actor(by or "engine"), intake.id,
                          {"status": status, "note": note})
        self.sink.intake(intake)

    # --- cases -----------------------------------------------------------------------------

    def _live(self, case_id: str) -> Case | None:
        while case_id in self._merged_into:
            case_id = self._merged_into[case_id]
        return self.cases.get(case_id)

    @staticmethod
    def _network_of(intake: Intake) -> list[tuple[str, Target]]:
        """What a network finding links its target to (the fallen server of a successor, the
        suspended account behind a new one): the case holds it and groups by it, so the
        successors of one server, and the returns of one account, are one case."""
        out = []
        for key in intake.signal_keys:
            kind, _, rest = key.partition(":")
            if kind == "network.successor" and rest:
                out.append((f"network:guild:{rest}", Target(TargetKind.GUILD, rest)))
            elif kind == "network.returning" and rest:
                out.append((f"network:user:{rest}", Target(TargetKind.USER, rest)))
        return out

    def _file(self, intake: Intake, now: datetime) -> Case:
        network = self._network_of(intake)
        keys = self.content.grouping_keys(intake.target) | {k for k, _ in network}
        linked = {self._by_key[k] for k in keys if k in self._by_key}
        open_cases = sorted((self.cases[c] for c in linked if c in self._open),
                            key=lambda c: c.opened_at)
        locked = [c for c in linked if self.cases[c].status == "in_review"]
        if open_cases:
            case = open_cases[0]
            for other in open_cases[1:]:
                self._merge(case, other, now)
            self.audit.append(now, "case.joined", "engine", case.id, {"intake": intake.id})
        else:
            case = Case(id=self._new_id("case"), opened_at=now,
                        follows=min(locked) if locked else None)
            self.cases[case.id] = case
            self._open.add(case.id)
            self.stats.cases_opened += 1
            self.audit.append(now, "case.opened", "engine", case.id,
                              {"intake": intake.id, "follows": case.follows})
        intake.case_id = case.id
        case.intakes.append(intake.id)
        for k in keys:
            self._by_key[k] = case.id
        case.keys |= keys
        for t in (intake.target, *self.content.related_targets(intake.target),
                  *(t for _, t in network)):
            if t not in case.targets:
                case.targets.append(t)
        if intake.clock is not None:
            case.clocks.append(intake.clock)
        self._set_internal_clock(case, intake)
        self._preserve(case, now, refresh=intake.target
                       if intake.kind is IntakeKind.REPORT else None)
        self._reprioritize(case)
        self._schedule_clocks(case)
        self.sink.intake(intake)
        return case

    def _merge(self, into: Case, other: Case, now: datetime) -> None:
        for t in other.targets:
            if t not in into.targets:
                into.targets.append(t)
        into.intakes.extend(other.intakes)
        for iid in other.intakes:
            self.intakes[iid].case_id = into.id
        into.keys |= other.keys
        for k in other.keys:
            if self._by_key.get(k) == other.id:
                self._by_key[k] = into.id
        into.clocks.extend(c for c in other.clocks if c.kind == "legal")
        into.preserved |= other.preserved
        into.raised |= other.raised
        into.escalated |= other.escalated
        for c in other.clocks:
            if c.kind == "internal":
                self._offer_internal(into, c)
        other.status, other.closed_at, other.merged_into = "closed", now, into.id
        other.close_reason = f"merged into {into.id}"
        self._open.discard(other.id)
        self._merged_into[other.id] = into.id
        self._merged_from.setdefault(into.id, []).append(other.id)
        self.audit.append(now, "case.merged", "engine", other.id, {"into": into.id})
        self._touch(other)

    def _set_internal_clock(self, case: Case, intake: Intake) -> None:
        cat = intake.category.value if intake.category else None
        hours = self.policy.target_hours(cat)
        if intake.source == "trusted_flagger":
            hours = min(hours, self.policy.trusted_flagger_hours)
        clock = Clock(f"internal target ({cat or 'unclassified'}, {hours:g} h)", "internal",
                      intake.received_at, hours, f"internal target for {intake.source} intake")
        self._offer_internal(case, clock)

    @staticmethod
    def _offer_internal(case: Case, clock: Clock) -> None:
        current = next((c for c in case.clocks if c.kind == "internal"), None)
        if current is None:
            case.clocks.append(clock)
        elif clock.due is not None and current.due is not None and clock.due < current.due:
            case.clocks[case.clocks.index(current)] = clock

    def _reprioritize(self, case: Case) -> None:
        intakes = [self.intakes[i] for i in case.intakes]
        pending = [i for i in intakes if i.pending] or intakes
        cats = [i.category for i in pending if i.category is not None]
        # The category at once, even in a batch: what is recorded meanwhile (evidence
        # preserved for a new target) names it.
        case.category = max(cats, key=lambda c: self.policy.severity_of(c.value), default=None)
        if self._deferred is not None:
            self._deferred[case.id] = case
            return
        guilds = {g for t in case.targets if (g := self.content.guild_of(t)) is not None}
        members = [self.content.member_count(g) for g in guilds]
        case.priority, case.factors = prioritize(
            pending, members, policy=self.policy, records=self.records,
            minor_at_risk=self.minor_in_dm(case))
        self._touch(case)

    def minor_in_dm(self, case: Case) -> bool:
        for t in case.targets:
            msg = self.content.message_of(t)
            if msg is None or msg.guild_id is not None:
                continue
            for uid in (msg.author_id, *msg.recipients):
                user = self.content.directory.user(uid)
                if user is not None and user.age_band in MINOR_BANDS:
                    return True
        return False

    def _preserve(self, case: Case, now: datetime, refresh: Target | None = None) -> None:
        """Snapshot every target new to the case, and `refresh` (a target reported again)
        when its last snapshot is older than the policy's refresh interval."""
        stale = timedelta(minutes=self.policy.refresh_minutes)
        # Only what is new to the case, and the target reported again, are looked at closely
        # (the filter itself still reads each target once).
        for t in [t for t in case.targets if t == refresh or t not in case.preserved]:
            if t in case.preserved:
                last = self.vault.by_target.get(t)
                if t != refresh or not last or \
                        now - self.vault.records[last[-1]].preserved_at < stale:
                    continue
            case.preserved.add(t)
            doc = evidence_document(t, self.content, self.policy, case_id=case.id, at=now,
                                    read_file=self._read_file)
            rec = self.vault.preserve(case.id, t, doc, now)
            self._act("preserve_evidence", t, now, case_id=case.id, automated=True,
                      category=case.category, reason="case opened: preserved before review",
                      detail={"evidence_id": rec.id, "sha256": rec.sha256})

    # --- clocks ----------------------------------------------------------------------------

    def _schedule_clocks(self, case: Case) -> None:
        for clock in case.clocks:
            due = clock.due
            if clock.stopped_at is not None or due is None:
                continue
            risk = clock.at_risk_from(self.policy.at_risk_share)
            for when, kind in ((risk, "at_risk"), (due, "due")):
                if when is not None:
                    heapq.heappush(self._schedule,
                                   (when, next(self._order), case.id, clock, kind))

    def tick(self, now: datetime) -> None:
        """Raise cases whose clocks are at risk and escalate those that ran out, up to `now`."""
        while self._schedule and self._schedule[0][0] <= now:
            when, _, case_id, clock, kind = heapq.heappop(self._schedule)
            case = self._live(case_id)
            if (case is None or case.status == "closed" or clock.stopped_at is not None
                    or all(c is not clock for c in case.clocks)):
                continue
            status = clock.status(when, self.policy.at_risk_share)
            if kind == "at_risk" and status == "at_risk" and not case.raised:
                case.raised = True
                self.audit.append(when, "clock.at_risk", "engine", case.id,
                                  {"clock": clock.name, "due": iso(clock.due)})
                self._touch(case)
            elif kind == "due" and status == "breached":
                first = not case.escalated
                case.escalated = True
                self._alert(when, "clock.breached", case.id,
                            f"{clock.name} ran out on case {case.id}"
                            + ("; moved to the senior queue" if first else ""))
                self._touch(case)

    def _alert(self, at: datetime, kind: str, subject: str, text: str) -> None:
        self.alerts.append({"at": iso(at), "kind": kind, "subject": subject, "text": text})
        self.stats.alerts += 1
        self.audit.append(at, kind, "engine", subject, {"alert": text})

    def clock_report(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """Cases with a breached or at-risk clock, worst first: nothing sits unseen."""
        out: dict[str, list[dict[str, Any]]] = {"breached": [], "at_risk": []}
        share = self.policy.at_risk_share
        for case in self.cases.values():
            if case.status == "closed":
                continue
            statuses = {c.status(now, share) for c in case.clocks}
            for bucket in ("breached", "at_risk"):
                if bucket in statuses:
                    out[bucket].append(case.to_json(now, share))
                    break
        for rows in out.values():
            rows.sort(key=lambda r: (-r["priority"], r["opened_at"]))
        return out

    # --- the review queue ------------------------------------------------------------------

    def queue(self, now: datetime) -> list[Case]:
        """Open cases in the order reviewers take them: escalated (senior queue) first, then by
        priority (raised when a clock is at risk), the nearest deadline, the oldest."""
        boost = self.policy.at_risk_boost
        far = now + timedelta(days=3650)
        ready = [c for c in (self.cases[i] for i in self._open)
                 if c.locked_by is None or (c.lock_until is not None and c.lock_until <= now)]
        ready.sort(key=lambda c: (not c.escalated, -c.effective_priority(boost),
                                  c.next_due() or far, c.opened_at, c.id))
        return ready

    def take_next(self, reviewer: str, now: datetime) -> Case | None:
        self.tick(now)
        ready = self.queue(now)
        if not ready:
            return None
        return self.take(ready[0].id, reviewer, now)

    def take_first(self, reviewer: str, now: datetime, may_see: Callable[[Case], bool]
                   ) -> Case | None:
        """The first case in queue order that `may_see` admits and that can be taken now
        (one another reviewer just took is passed over): what the console and the CLI give
        a reviewer whose role keeps some cases from them."""
        self.tick(now)
        for case in self.queue(now):
            if not may_see(case):
                continue
            try:
                return self.take(case.id, reviewer, now)
            except ReviewError:
                continue
        return None

    def take(self, case_id: str, reviewer: str, now: datetime) -> Case:
        case = self.cases.get(case_id)
        if case is None or case.status == "closed":
            raise ReviewError(f"case {case_id} is not open")
        if case.locked_by not in (None, reviewer) and case.lock_until and case.lock_until > now:
            raise ReviewError(f"case {case_id} is being reviewed by {case.locked_by}")
        until = now + timedelta(minutes=self.policy.lock_minutes)
        if not self.sink.claim(case.id, reviewer, now, until):
            raise ReviewError(f"case {case_id} was just taken by another reviewer")
        case.status, case.locked_by, case.lock_until = "in_review", reviewer, until
        self._open.discard(case.id)
        self.audit.append(now, "case.taken", reviewer, case.id,
                          {"priority": round(case.priority, 4), "queue": case.queue})
        self._touch(case)
        return case

    def release(self, case_id: str, reviewer: str, now: datetime) -> None:
        case = self.cases.get(case_id)
        if case is None or case.status != "in_review" or case.locked_by != reviewer:
            raise ReviewError(f"case {case_id} is not held by {reviewer}")
        case.status, case.locked_by, case.lock_until = "open", None, None
        self._open.add(case.id)
        self.audit.append(now, "case.released", reviewer, case.id, {})
        self._touch(case)

    def view(self, case_id: str, now: datetime, viewer: str | None = None) -> dict[str, Any]:
        """What a reviewer sees: each target in context, the reports and signals, the priority
        explained, the clocks. A named viewer's look is audited."""
        case = self.cases.get(case_id)
        if case is None:
            raise ReviewError(f"no case {case_id}")
        if viewer is not None:
            self.audit.append(now, "case.viewed", viewer, case_id, {})
        targets = []
        for t in case.targets:
            item: dict[str, Any] = {"target": t.to_json()}
            msg = self.content.message_of(t)
            if msg is not None:
                item["message"] = {"content": msg.content, "author_id": msg.author_id,
                                   "channel_id": msg.channel_id, "ts": iso(msg.ts),
                                   "deleted_by": msg.deleted_by,
                                   # Which files were read and hashed (the others' bytes
                                   # are in no evidence: a removal waits for them).
                                   "attachments": [
                                       {"id": aid, "sha256": a.sha256 if a else None}
                                       for aid in msg.attachments[:50]
                                       for a in (self.content.attachment(aid),)]}
                ch = self.content.directory.channel(msg.channel_id)
                item["channel_name"] = ch.name if ch else None
            if t.kind is TargetKind.USER:
                u = self.content.directory.user(t.id)
                item["user"] = {"name": u.name if u else None,
                                "age_band": u.age_band.value if u and u.age_band else None}
            guild = self.content.guild_of(t)
            if guild is not None:
                g = self.content.directory.guild(guild)
                item["guild"] = {"id": guild, "name": g.name if g else None,
                                 "members": self.content.member_count(guild)}
            gone = self.content.gone(t)
            if gone is not None:
                item["gone"] = {"at": iso(gone[0]), "by": gone[1]}
            item["labels"] = sorted(self.labels.get(t, ()))
            targets.append(item)
        return {**case.to_json(now, self.policy.at_risk_share), "targets_in_context": targets,
                "decided_targets": [t.to_json() for t in sorted(self.decided_targets(case))],
                "merged_from": self.merged_from(case.id),
                "items": [self.intakes[i].to_json() | {"evidence": self.intakes[i].evidence,
                                                       "explanation":
                                                       self.intakes[i].explanation}
                          for i in case.intakes]}

    def imminent_risk(self, case: Case, decisions: Iterable[TargetDecision]) -> str | None:
        """Why a child is at risk now (DSA Art. 18: a threat to life or safety), if so: a
        meeting or a threat in the signals or the reports, or confirmed sextortion of a
        minor, which is ongoing by nature."""
        risk = next((f for f in case.factors if f.name == "risk_now" and f.value >= 1.0), None)
        if risk is not None:
            return risk.why
        if self.minor_in_dm(case) and any(td.violation and td.category is Category.SEXTORTION
                                          for td in decisions):
            return "sexual extortion of a minor, confirmed by review"
        return None

    def files_of(self, case: Case) -> list[str]:
        """The case's attachments: its own and those of its messages."""
        files: list[str] = []
        for t in case.targets:
            if t.kind is TargetKind.ATTACHMENT:
                files.append(t.id)
            elif t.kind is TargetKind.MESSAGE and (msg := self.content.message(t.id)):
                files += msg.attachments
        return list(dict.fromkeys(files))

    def view_media(self, case_id: str, viewer: str, now: datetime,
                   only: Iterable[str] | None = None) -> list[str]:
        """A person opened the case's files (blurred and greyscale by default, in the
        console). Recorded and audited: a CyberTipline report says truthfully whether a person
        viewed each file it reports."""
        case = self.cases.get(case_id)
        if case is None:
            raise ReviewError(f"no case {case_id}")
        files = self.files_of(case)
        if only is not None:
            wanted = set(only)
            files = [f for f in files if f in wanted]
        files = [f for f in dict.fromkeys(files) if f not in self.viewed_media]
        if files:
            self.viewed_media.update(files)
            self.audit.append(now, "media.viewed", viewer, case_id, {"attachments": files})
        return files

    # --- decisions -------------------------------------------------------------------------

    def add_targets(self, case: Case, targets: Iterable[Target], now: datetime,
                    actor: str) -> list[Target]:
        """Targets a reviewer adds to a case (a message's author, to suspend too): their
        evidence preserved, as for any target entering a case, and the addition audited.
        Returns those that were new."""
        new = [t for t in dict.fromkeys(targets) if t not in case.targets]
        if not new:
            return []
        case.targets.extend(new)
        self.audit.append(now, "case.targets_added", actor, case.id,
                          {"targets": [t.to_json() for t in new]})
        self._preserve(case, now)
        self._touch(case)
        return new

    def merged_from(self, case_id: str) -> list[str]:
        """The cases merged into this one, directly or through others."""
        found: list[str] = []
        todo = [case_id]
        while todo and len(found) < 1000:
            for other in self._merged_from.get(todo.pop(), ()):
                if other not in found:
                    found.append(other)
                    todo.append(other)
        return sorted(found)

    def decided_targets(self, case: Case) -> set[Target]:
        """The case's targets a partial decision already decided."""
        return set(self._earlier(case))

    def _earlier(self, case: Case) -> dict[Target, tuple[Decision, TargetDecision]]:
        return {td.target: (d, td) for d in (self.decisions[i] for i in
                                             self._decisions_of.get(case.id, ()))
                for td in d.targets}

    def decide(self, case_id: str, reviewer: str, verdicts: Mapping[Target, Verdict],
               now: datetime, add: Iterable[Target] = (), *, partial: bool = False
               ) -> Decision:
        """The reviewer's decision, target by target; `add`: targets the reviewer adds to the
        case with it (`add_targets`), only once the verdicts are known to decide.

        Targets an earlier partial decision decided are not decided again. `partial`: only
        the targets named in `verdicts` are decided (a community's moderators decide their
        server's messages and members, not the server itself or its owner, which a case
        often holds too); the case stays open for the rest, and only the items about
        decided targets are answered. Otherwise every target left is decided, the unnamed
        ones as not violating, and the case closes."""
        case = self.cases.get(case_id)
        if case is None:
            raise ReviewError(f"no case {case_id}")
        if case.status != "in_review" or case.locked_by != reviewer:
            raise ReviewError(f"case {case_id} is not locked by {reviewer}: take it first")
        added = [t for t in dict.fromkeys(add) if t not in case.targets]
        earlier = self._earlier(case)
        # A report about a decided target that came in after its decision (a trusted
        # flagger disagreeing) puts it back to be decided: new information, new review.
        for iid in case.intakes:
            intake = self.intakes[iid]
            settled = earlier.get(intake.target)
            if intake.pending and settled and intake.received_at > settled[0].decided_at:
                del earlier[intake.target]
        for t, v in verdicts.items():
            if t in earlier and (v.category is not None) != earlier[t][1].violation:
                d = earlier[t][0]
                raise ReviewError(
                    f"{t.kind.value}:{t.id} was decided in {d.id} by {d.reviewer} "
                    f"({'a violation' if earlier[t][1].violation else 'no violation'}); a "
                    "decision is changed through a complaint against it, not a second one")
        left = [t for t in [*case.targets, *added] if t not in earlier]
        verdicts = {t: v for t, v in verdicts.items() if t not in earlier}
        scope = [t for t in left if t in verdicts] if partial else left
        if not scope:
            raise ReviewError(f"case {case_id}: nothing left to decide among these targets")
        # Checked before anything changes: verdicts that do not decide add nothing.
        tds = target_decisions(scope, verdicts, self.policy)
        self.add_targets(case, added, now, reviewer)
        risk_now = self.imminent_risk(case, tds) is not None
        complaint = case.kind == "complaint"
        decision = Decision(self._new_id("decision"), case.id, now, reviewer, False, tds,
                            () if complaint else
                            case_measures(tds, self.policy, risk_now=risk_now))
        self.decisions[decision.id] = decision
        self._decisions_of.setdefault(case.id, []).append(decision.id)
        self.stats.decisions += 1
        self.audit.append(now, "decision", reviewer, case.id, decision.to_json())
        self.sink.decision(decision)
        if complaint:
            self._decide_complaint(case, decision, now)
            return decision
        confirmed = {td.target: td for td in tds if td.violation}
        for td in tds:
            if td.violation:
                self._carry_out(td, case, decision, now)
            else:
                self._clear(td.target, case, reviewer, now)
        self._case_measures(decision, confirmed, case, now)
        self.compliance.decided(decision, case, now)
        decided = {td.target for td in tds}
        rest = [t for t in left if t not in decided]
        # An item about a target an earlier partial decision settled (a report that came
        # in since) is answered by that decision's outcome.
        confirmed_ever = set(confirmed) | {t for t, (_, td) in earlier.items() if td.violation}
        for iid in case.intakes:
            intake = self.intakes[iid]
            if intake.pending and (not rest or intake.target in decided):
                upheld = any(t in confirmed_ever for t in (intake.target,
                                                           *self.content.containers(
                                                               intake.target)))
                if intake.kind is IntakeKind.REPORT:
                    self.records.record(intake, upheld)
                self._resolve(intake, Resolution.UPHELD if upheld else Resolution.REJECTED,
                              now, f"decision {decision.id}")
        case.reviewed_at = now
        if rest:
            # The others' part waits for its own reviewer.
            case.status, case.locked_by, case.lock_until = "open", None, None
            self._open.add(case.id)
            self.audit.append(now, "case.partly_decided", reviewer, case.id,
                              {"decision": decision.id,
                               "left": [t.to_json() for t in rest]})
            self._reprioritize(case)
            self._touch(case)
            self._sweep(now)
            return decision
        case.decision_id = decision.id
        self._close(case, now, f"decided ({decision.id})")
        self._sweep(now)
        return decision

    # --- complaints (DSA Art. 20) -----------------------------------------------------------

    def intake_complaint(self, complaint: Complaint, now: datetime, *,
                         received_by: str | None = None) -> Intake:
        """A complaint against a decision. Admissible ones become a case a person decides
        (Art. 20(6)); the others are answered at once, with the reason."""
        iid = f"complaint:{complaint.id}"
        if iid in self.intakes:
            self.audit.append(now, "intake.duplicate", _actor(received_by or "engine"), iid,
                              {"note": "a complaint with this id was already taken in"})
            return self.intakes[iid]
        challenged = self._challenged(complaint)
        original = next((td for td in challenged.targets if td.target == complaint.target),
                        None) if challenged else None
        intake = Intake(
            id=iid, kind=IntakeKind.COMPLAINT, source=complaint.by, target=complaint.target,
            category=original.category if original else None, received_at=now,
            acknowledged_at=now, reporter_id=complaint.complainant_id,
            notifier={"email": complaint.email} if complaint.email else None,
            explanation=complaint.explanation,
            challenges=challenged.id if challenged else None, received_by=received_by)
        self._record_intake(intake, now)
        refusal = self._complaint_refusal(complaint, challenged, now)
        if refusal is not None:
            resolution, key, kw = refusal
            lang = self.compliance.user_language(complaint.complainant_id,
                                                 [complaint.explanation or ""])
            text = self.compliance.refusal_words(key, lang, **kw)
            self._resolve(intake, resolution, now, text)
            self.compliance.complaint_answered(
                intake, "omitted", [], challenged.id if challenged else "—", now,
                email=complaint.email, refusal=text)
            return intake
        assert challenged is not None
        case = Case(id=self._new_id("case"), opened_at=now, kind="complaint",
                    targets=[complaint.target], intakes=[iid])
        self.cases[case.id] = case
        self._open.add(case.id)
        self.stats.cases_opened += 1
        intake.case_id = case.id
        self.audit.append(now, "case.opened", "engine", case.id,
                          {"intake": iid, "complaint_against": challenged.id})
        self._set_internal_clock(case, intake)
        self._reprioritize(case)
        self._schedule_clocks(case)
        self.sink.intake(intake)
        return intake

    def _challenged(self, complaint: Complaint) -> Decision | None:
        if complaint.decision_id:
            return self.decisions.get(complaint.decision_id)
        if complaint.report_id:
            report = self.intakes.get(f"report:{complaint.report_id}")
            if report is not None and report.case_id is not None:
                case = self.cases.get(report.case_id)
                if case is not None and case.decision_id:
                    return self.decisions.get(case.decision_id)
        latest = [d for d in self.decisions.values()
                  if any(td.target == complaint.target for td in d.targets)]
        return max(latest, key=lambda d: d.decided_at) if latest else None

    def _complaint_refusal(self, complaint: Complaint, decision: Decision | None,
                           now: datetime) -> tuple[Resolution, str, dict[str, Any]] | None:
        if decision is None or all(td.target != complaint.target for td in decision.targets):
            return Resolution.NOT_ADMISSIBLE, "c_not_party", {}
        person = complaint.complainant_id
        if complaint.by == "affected":
            party = person is not None and person == self.compliance.affected_user(
                complaint.target)
        else:
            case = self.cases.get(decision.case_id)
            party = person is not None and case is not None and any(
                self.intakes[i].reporter_id == person for i in case.intakes
                if self.intakes[i].kind is IntakeKind.REPORT)
        if not party:
            return Resolution.NOT_ADMISSIBLE, "c_not_party", {}
        window = self.compliance.complaint_window(decision.id, person or "")
        if window is not None and now > window:
            return (Resolution.NOT_ADMISSIBLE, "c_rejected_late",
                    {"months": self.compliance.policy.complaint_window_months})
        until = self.compliance.complaint_suspended(person, now)
        if until is not None:
            return Resolution.REPORTER_SUSPENDED, "c_suspended", {"until": iso(until)}
        return None

    def _decide_complaint(self, case: Case, decision: Decision, now: datetime) -> None:
        """Compare the person's verdict with the decision contested: a restriction found
        wrong is lifted at once (content restored, account reinstated, labels removed); a
        refusal to act found wrong is acted on now."""
        for iid in case.intakes:
            intake = self.intakes[iid]
            original = self.decisions[intake.challenges or ""]
            before = next((td for td in original.targets if td.target == intake.target), None)
            now_td = next(td for td in decision.targets if td.target == intake.target)
            lifted: list[str] = []
            if before is not None and before.violation and not now_td.violation:
                outcome = "reversed"
                lifted = self._reverse(original, intake.target, decision, now)
            elif (before is None or not before.violation) and now_td.violation:
                outcome = "newly_imposed"
                self._carry_out(now_td, case, decision, now)
                self.compliance.decided(decision, case, now)
            else:
                outcome = "upheld"
            self._resolve(intake, Resolution.UPHELD if outcome != "upheld"
                          else Resolution.REJECTED, now,
                          f"complaint decided ({decision.id}): decision {original.id} "
                          f"{outcome.replace('_', ' ')}")
            self.compliance.complaint_answered(
                intake, outcome, lifted, original.id, now,
                email=(intake.notifier or {}).get("email"))
        case.reviewed_at, case.decision_id = now, decision.id
        self._close(case, now, f"complaint decided ({decision.id})")

    def _reverse(self, original: Decision, target: Target, by: Decision, now: datetime
                 ) -> list[str]:
        """Undo what `original` did to `target` (and to the files of a message)."""
        covered = {target}
        msg = self.content.message_of(target)
        if msg is not None and target.kind is TargetKind.MESSAGE:
            covered |= {Target(TargetKind.ATTACHMENT, a) for a in msg.attachments}
        lifted = []
        for t in covered:
            for action in list(self.enforcement.on_target(t)):
                if action.active and action.action in RESTRICTING and \
                        action.decision_id == original.id:
                    self.revert(action.id, by.reviewer,
                                f"complaint upheld by {by.id}", now, why="complaint_reversed")
                    lifted.append(action.action)
            for label in sorted(self.labels.get(t, ())):
                self.labels[t].discard(label)
                self.audit.append(now, "label.removed", by.reviewer,
                                  f"{t.kind.value}:{t.id}", {"label": label,
                                                             "decision_id": by.id})
                self.sink.label_removed(t, label, now)
                if label.startswith(BANNED_MEDIA):
                    self.confirmed.remove(t.id)
            self._cleared[t] = now
        return sorted(set(lifted))

    def _carry_out(self, td: TargetDecision, case: Case, decision: Decision, now: datetime
                   ) -> None:
        category = td.category
        assert category is not None  # a violation always names its category
        for measure in td.measures:
            if self.enforcement.done(td.target, measure):
                continue  # e.g. an automatic block the reviewer now confirms
            self._act(measure, td.target, now, case_id=case.id, automated=False,
                      category=category, decision_id=decision.id, reason=td.ground_text)
        self._bank_confirmed_media(td.target, category, decision, now)
        label = {TargetKind.USER: f"{category.value}_confirmed",
                 TargetKind.GUILD: f"removed:{category.value}"}.get(
                     td.target.kind, f"violation:{category.value}")
        self._label(td.target, label, now, case.id)

    def _clear(self, target: Target, case: Case, reviewer: str, now: datetime) -> None:
        self._cleared[target] = now
        for action in list(self.enforcement.on_target(target)):
            if (action.automated and action.active
                    and action.case_id is not None and action.action != "preserve_evidence"
                    and self._live(action.case_id) is case):
                self.revert(action.id, reviewer, "review found no violation", now)

    def _case_measures(self, decision: Decision, confirmed: Mapping[Target, TargetDecision],
                       case: Case,
                       now: datetime) -> None:
        if not decision.case_measures:
            return
        users = [t for t in confirmed if t.kind is TargetKind.USER]
        subject = users[0] if users else next(iter(confirmed))
        category = confirmed[subject].category
        for measure in decision.case_measures:
            self._act(measure, subject, now, case_id=case.id, automated=False,
                      category=category, decision_id=decision.id,
                      reason="NCMEC CyberTipline report" if measure == "report_ncmec"
                      else "DSA Art. 18: a threat to a child's life or safety")
            if measure == "report_ncmec":
                until = now + timedelta(days=self.policy.ncmec_retention_days)
                for t in case.targets:
                    self.vault.extend(t, until, "NCMEC report filed (18 USC 2258A(h))", now)

    def _bank_confirmed_media(self, target: Target, category: Category, decision: Decision,
                              now: datetime) -> None:
        if target.kind is TargetKind.ATTACHMENT:
            ids: Iterable[str] = (target.id,)
        elif target.kind is TargetKind.MESSAGE:
            msg = self.content.message(target.id)
            ids = msg.attachments if msg else ()
        else:
            return
        for aid in ids:
            att = self.content.attachment(aid)
            if att is None or not (att.md5 or att.sha256 or att.pdq):
                continue
            if self.confirmed.add(Confirmed(category, decision.id, aid), md5=att.md5,
                                  sha256=att.sha256, pdq=att.pdq):
                self._label(Target(TargetKind.ATTACHMENT, aid),
                            f"{BANNED_MEDIA}:{category.value}", now, decision.case_id)

    def _label(self, target: Target, label: str, now: datetime, case_id: str | None) -> None:
        labels = self.labels.setdefault(target, set())
        if label not in labels:
            labels.add(label)
            self.audit.append(now, "label", "engine", f"{target.kind.value}:{target.id}",
                              {"label": label, "case_id": case_id})
            self.sink.label(target, label, now, case_id)
            # Labels are the engine's memory across events: what they reveal (a server's
            # successors, a suspended account's new one) is taken in like any finding.
            for finding in self.engine.label(target, label, now):
                self._intake_finding(finding, now)

    def _resolve(self, intake: Intake, resolution: Resolution, now: datetime,
                 reason: str) -> None:
        intake.settle(resolution, now, reason)
        self.stats.by_resolution[resolution.value] = \
            self.stats.by_resolution.get(resolution.value, 0) + 1
        self.audit.append(now, "intake.resolved", "engine", intake.id,
                          {"resolution": resolution.value, "reason": reason})
        self.sink.intake(intake)
        self.compliance.intake_resolved(intake, now)

    def _close(self, case: Case, now: datetime, reason: str) -> None:
        case.status, case.closed_at, case.close_reason = "closed", now, reason
        case.locked_by = case.lock_until = None
        self._open.discard(case.id)
        for clock in case.clocks:
            if clock.stopped_at is None:
                clock.stopped_at = now
        for k in case.keys:
            if self._by_key.get(k) == case.id:
                del self._by_key[k]
        self.audit.append(now, "case.closed", "engine", case.id, {"reason": reason})
        self._touch(case)

    def _sweep(self, now: datetime) -> None:
        """After a decision: items elsewhere that it already took care of are resolved."""
        for case_id in list(self._open):
            case = self.cases[case_id]
            changed = False
            for iid in case.intakes:
                intake = self.intakes[iid]
                if not intake.pending:
                    continue
                covered = self.enforcement.covering(intake.target)
                cleared = self._cleared.get(intake.target)
                # An automatic block does not settle an item: a human still reviews it.
                if covered is not None and not covered.automated:
                    self._resolve(intake, Resolution.ALREADY_ACTIONED, now,
                                  f"already {covered.action} by {covered.id}")
                    changed = True
                elif (cleared is not None and intake.kind is IntakeKind.REPORT
                      and intake.source not in REREVIEW_SOURCES
                      and cleared >= intake.received_at):
                    self._resolve(intake, Resolution.ALREADY_REVIEWED, now,
                                  f"reviewed on {iso(cleared)} and found not violating")
                    changed = True
            if changed:
                if all(not self.intakes[i].pending for i in case.intakes):
                    self._close(case, now, "every item was settled by other decisions")
                else:
                    self._reprioritize(case)

    # --- actions ---------------------------------------------------------------------------

    def _act(self, action: str, target: Target, now: datetime, *, case_id: str | None,
             automated: bool, category: Category | None, decision_id: str | None = None,
             reason: str | None = None, detail: dict[str, Any] | None = None) -> Action:
        a = Action(self._new_id("action"), now, action, target, case_id, automated, category,
                   decision_id, reason, detail=detail or {})
        gone = self.content.gone(target)
        if gone is not None and action != "preserve_evidence":
            a.detail["already_gone"] = {"at": iso(gone[0]), "by": gone[1]}
        self.enforcement.apply(a)
        self.stats.actions += 1
        self.audit.append(now, "action", "engine" if automated else "reviewer", a.id,
                          a.to_json())
        self.sink.action(a)
        return a

    def revert(self, action_id: str, by: str, reason: str, now: datetime, *,
               why: str = "review_no_violation") -> Action:
        """Lift a measure; the person it concerned is told (`why`: the letter's reason)."""
        action = self.enforcement.revert(action_id, now, by, reason)
        self.audit.append(now, "action.reverted", by, action_id, {"reason": reason})
        self.sink.action(action)
        self.compliance.lifted(action, why, now)
        return action

    def misuse_suspension(self, step: Step) -> None:
        """DSA Art. 23(1): after a warning, an account that keeps posting manifestly illegal
        content is suspended for the policy's period."""
        target = Target(TargetKind.USER, step.account)
        if self.enforcement.suspended(step.account, step.at) is not None:
            return
        assert step.until is not None
        action = self._act("suspend_account", target, step.at, case_id=None, automated=True,
                           category=None,
                           reason=f"DSA Art. 23(1): {step.count} manifestly illegal items of "
                                  f"{step.total}, after a warning on {iso(step.warned_at)}",
                           detail={"until": iso(step.until), "basis": "DSA23(1)"})
        self.compliance.misuse_suspended(action, step)

    def _auto_actions(self, intake: Intake, case: Case, now: datetime) -> None:
        for i, rule in enumerate(self.policy.auto):
            if (intake.category not in rule.categories or intake.score < rule.min_score
                    or (rule.detector is not None and rule.detector not in intake.detectors)):
                continue
            kind = intake.target.kind
            fits = {"block_upload": kind is TargetKind.ATTACHMENT,
                    "remove_content": kind in (TargetKind.MESSAGE, TargetKind.ATTACHMENT),
                    "suspend_account": kind is TargetKind.USER,
                    "block_join": kind is TargetKind.USER}[rule.action]
            if fits and self.enforcement.covering(intake.target) is None and not (
                    rule.action == "block_join"
                    and self.enforcement.join_blocked(intake.target.id) is not None):
                action = self._act(rule.action, intake.target, now, case_id=case.id,
                                   automated=True, category=intake.category,
                                   reason=f"automatic (policy auto rule #{i + 1}): "
                                   f"{intake.evidence}",
                                   detail={"bars_joins": True}
                                   if rule.action == "block_join" else None)
                self.compliance.automatic(action, case, now)

    def _check_confirmed_media(self, event: MessagePosted, now: datetime, live: bool) -> None:
        if not len(self.confirmed):
            return
        for att in event.message.attachments:
            hit = self.confirmed.match(att.media, att.md5, att.sha256)
            if hit is None:
                continue
            target = Target(TargetKind.ATTACHMENT, att.id)
            finding = Finding(
                target=target, category=hit.entry.category, score=1.0,
                detectors=(CONFIRMED_MEDIA,),
                evidence=(f"re-upload of media confirmed by {hit.entry.decision_id} "
                          f"(attachment {hit.entry.attachment_id}; {hit.how}, distance "
                          f"{hit.distance})"),
                context={"guild_id": event.message.guild_id,
                         "channel_id": event.message.channel_id,
                         "author_id": event.message.author_id},
                signal_keys=(f"confirmed:{hit.entry.attachment_id}",))
            self._intake_finding(finding, now, detector=CONFIRMED_MEDIA, live=live)

    # --- summary ---------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.close()
        self.sink.flush()


def _holds(target: Target, detectors: Sequence[str]) -> bool:
    """A server found for what it holds, not only as the successor of another."""
    return target.kind is TargetKind.GUILD and bool(set(detectors) - {NetworkDetector.id})
