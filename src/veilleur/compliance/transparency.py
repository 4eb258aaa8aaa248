"""The yearly transparency report: IR (EU) 2024/2835 Annex I, parts 4 to 8, from the records.

Parts: 4 notices, 5 own-initiative measures on the basis of law, 6 on the basis of the terms,
7 complaints, out-of-court disputes and Art. 23 suspensions, 8 automated means. CSV per RFC
4180 in UTF-8; counts are integers, shares floats in [0, 1], medians in hours. A row whose
obligation does not apply to the provider is left blank; a count that applies and is zero is
written 0 (Annex II). A median over nothing is left blank, with the reason in the row's
contextual information. Pure: the records come in, rows come out.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

from veilleur.cases.models import Decision, Intake, IntakeKind, Resolution
from veilleur.compliance import tdb_schema as schema
from veilleur.compliance.config import CompliancePolicy
from veilleur.compliance.documents import Document
from veilleur.taxonomy import Category

HOSTING = "Only for providers of hosting services, including online platforms"
PLATFORMS = "Only for providers of online platforms"
OTHER_TEXT = 'Text to detail the "Other" keyword.'
EU_LANGUAGES = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu",
                "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")
_MEASURE_COLUMNS = (
    "Visibility restriction Removal", "Visibility restriction Disable",
    "Visibility restriction Demoted", "Visibility restriction Age restricted",
    "Visibility restriction Interaction restricted", "Visibility restriction Labelled ",
    "Visibility restriction Other", "Monetary restriction Suspension",
    "Monetary restriction Termination", "Monetary restriction Other",
    "Provision of the service Suspension", "Provision of the service Termination",
    "Account restriction Suspension", "Account restriction Termination")
PART4_VALUES = (
    "Number of notices received ", "Number of notices received from Trusted flaggers",
    "Number of specific items of information included in the total number of notices",
    "Number of specific items of information included in the total number of notices by "
    "Trusted Flaggers (Trusted Flagger notices)",
    "Median time to take action", "Median time to take action (Trusted Flagger notices)",
    "Number of actions taken on the basis of the law",
    "Number of actions taken on the basis of the law (Trusted Flagger notices)",
    "Number of actions taken on the basis of the terms and conditions of the service",
    "Number of actions taken on the basis of the terms and conditions of the service "
    "(Trusted Flagger notices)")
OWN_VALUES = ("Number of measures taken at the provider's own initiative ",
              "Number of measures taken after detection with solely automated means ",
              *_MEASURE_COLUMNS)
COMPLAINT_TYPES = (
    ("removal", "Complaint regarding a decision to remove or disable access to or restrict "
                "visibility of information"),
    ("service", "Complaint regarding a decision to suspend or terminate the provision of the "
                "service"),
    ("account", "Complaint regarding a decision to suspend or terminate an account "),
    ("monetisation", "Complaint regarding a decision to restrict the ability to monetise "
                     "information"),
    ("notice", "Complaint regarding a decision not to take action on a notice submitted in "
               "accordance with Article 16"),
    ("tf_notice", "Complaint regarding a decision not to take action on a notice submitted by "
                  "a Trusted Flagger in accordance with Article 16"))


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date
    """Inclusive."""

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    def __contains__(self, ts: datetime | None) -> bool:
        return ts is not None and self.start <= ts.date() <= self.end

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass
class Records:
    intakes: Sequence[Intake]
    decisions: Sequence[Decision]
    documents: Sequence[Document]


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list[str]]

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        return out.getvalue()


def _hours(values: Iterable[float]) -> str:
    v = list(values)
    return f"{statistics.median(v):.2f}" if v else ""


def _share(num: int, den: int) -> str:
    return f"{num / den:.4f}" if den else ""


def _taxonomy_rows(*, tc: bool, not_specified: bool) -> list[tuple[str, str]]:
    """(row label, TDB category of the row) in the template's order."""
    rows = []
    for cat, kws in schema.CATEGORIES.items():
        if cat == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC" and not tc:
            continue
        if cat == "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE":
            continue
        rows.append((cat, cat))
        rows += [(f"KEYWORD_{k}", cat) for k in kws]
        rows.append((schema.KEYWORD_OTHER, cat))
    if not_specified:
        rows.append(("STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
                     "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE"))
    return rows


def _tdb_class(policy: CompliancePolicy, category: str | None, minor: bool = True
               ) -> tuple[str, tuple[str, ...]]:
    if category is None:
        return "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", ()
    harm = policy.harms[Category(category)]
    if harm.adult_category and not minor:
        return harm.adult_category, harm.adult_keywords
    return harm.category, harm.keywords


class _Grid:
    """Values per (category, keyword); the category rows are the sums of their keywords."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.cells: dict[tuple[str, str], list[list[float]]] = {}

    def add(self, cat: str, keywords: Sequence[str], col: int, value: float = 1.0) -> None:
        for kw in keywords or ("",):
            row = self.cells.setdefault((cat, kw), [[] for _ in range(self.columns)])
            row[col].append(value)

    def values(self, cat: str, kw: str | None, col: int) -> list[float]:
        if kw is not None:
            return self.cells.get((cat, kw), [[]] * self.columns)[col]
        out: list[float] = []
        seen: set[int] = set()
        for (c, _k), row in self.cells.items():
            if c == cat and id(row) not in seen:
                seen.add(id(row))
                out += row[col]
        return out


def part4(records: Records, period: Period, policy: CompliancePolicy) -> Table:
    by_case = {d.case_id: d for d in records.decisions}  # an upheld item: its case's decision
    grid = _Grid(10)
    counted_notices: set[tuple[str, str, str]] = set()
    contexts: list[str] = []
    for i in records.intakes:
        if i.kind is not IntakeKind.REPORT or i.source == "authority" \
                or i.received_at not in period:
            continue
        tf = i.source == "trusted_flagger"
        cat, kws = _tdb_class(policy, i.category.value if i.category else None)
        notice = i.notice_id or i.id
        key = (notice, cat, ",".join(kws))
        if key not in counted_notices:  # each notice counted once per category
            counted_notices.add(key)
            grid.add(cat, kws, 0)
            if tf:
                grid.add(cat, kws, 1)
        grid.add(cat, kws, 2)
        if tf:
            grid.add(cat, kws, 3)
        if i.resolution is Resolution.UPHELD and i.resolved_at is not None:
            hours = (i.resolved_at - i.received_at).total_seconds() / 3600
            grid.add(cat, kws, 4, hours)
            if tf:
                grid.add(cat, kws, 5, hours)
            d = by_case.get(i.case_id or "")
            ground = next((td.ground for td in d.targets if td.violation), "illegal") \
                if d else "illegal"
            col = 6 if ground == "illegal" else 8
            grid.add(cat, kws, col)
            if tf:
                grid.add(cat, kws, col + 1)
    if not contexts:
        contexts.append("Medians in hours, from receipt to the decision that acted; notices "
                        "decided without action are left out of the medians. Notices are "
                        "classed by the category the notifier claimed.")
    header = ["Applicability", "Service", "Reporting period", "Category of illegal content",
              'Description of the sub-category "Other"', *PART4_VALUES,
              *[f"Contextual information on {v}" for v in PART4_VALUES]]
    rows = []
    labels: list[tuple[str, str | None]] = [("TOTAL", None),
                                            *_taxonomy_rows(tc=False, not_specified=True)]
    for label, row_cat in labels:
        values = []
        for col in range(10):
            if row_cat is None:
                cells = [v for (_c, _k), row in grid.cells.items() for v in row[col]]
            else:
                cells = grid.values(row_cat, None if label == row_cat else label, col)
            values.append(_hours(cells) if col in (4, 5) else str(int(sum(cells))))
        context = [contexts[0] if label == "TOTAL" and col == 4 else "" for col in range(10)]
        rows.append([HOSTING, policy.service, period.label, label, "", *values, *context])
    return Table("Part_4_notices", header, rows)


def _restrictions(records: Records, period: Period) -> list[dict[str, Any]]:
    out = []
    for d in records.documents:
        if d.kind == "statement_of_reasons" and d.created_at in period:
            out += d.refs.get("restrictions", [])
    return out


def _own_initiative(records: Records, period: Period, policy: CompliancePolicy, ground: str
                    ) -> Table:
    grid = _Grid(len(OWN_VALUES))
    for r in _restrictions(records, period):
        if r["source"] != "own_initiative" or r["ground"] != ground:
            continue
        cat, kws = _tdb_class(policy, r["category"], r.get("minor_victim", True))
        grid.add(cat, kws, 0)
        if r["automation"] == "fully":
            grid.add(cat, kws, 1)
        measures = set(r["measures"])
        if measures & {"remove_content", "block_upload", "delete_guild"}:
            grid.add(cat, kws, 2)
        if "delete_guild" in measures:
            grid.add(cat, kws, 2 + 11)  # provision of the service: termination
        if "suspend_account" in measures:
            grid.add(cat, kws, 2 + (12 if r["duration_days"] is not None else 13))
    tc = ground == "terms"
    first = ("Category of incompatibility with the provider's terms and conditions" if tc
             else "Category of illegal content")
    header = ["Applicability", "Service", "Reporting period", first,
              'Description of the sub-category "Other"', *OWN_VALUES,
              *[f"Contextual Information on {v}" for v in OWN_VALUES]]
    rows = []
    labels: list[tuple[str, str | None]] = [("TOTAL", None),
                                            *_taxonomy_rows(tc=tc, not_specified=False)]
    for label, row_cat in labels:
        values = []
        for col in range(len(OWN_VALUES)):
            if row_cat is None:
                cells = [v for (_c, _k), row in grid.cells.items() for v in row[col]]
            else:
                cells = grid.values(row_cat, None if label == row_cat else label, col)
            values.append(str(int(sum(cells))))
        rows.append(["All", policy.service, period.label, label, "", *values,
                     *[""] * len(OWN_VALUES)])
    name = "Part_6_own_initiative_TC" if tc else "Part_5_own_initiative_illegal"
    return Table(name, header, rows)


def part5(records: Records, period: Period, policy: CompliancePolicy) -> Table:
    return _own_initiative(records, period, policy, "illegal")


def part6(records: Records, period: Period, policy: CompliancePolicy) -> Table:
    return _own_initiative(records, period, policy, "terms")


def _complaint_type(intake: Intake, decisions: dict[str, Decision],
                    reports: dict[str, Intake]) -> str:
    d = decisions.get(intake.challenges or "")
    td = next((t for t in d.targets if t.target == intake.target), None) if d else None
    if td is None or not td.violation:
        tf = any(r.source == "trusted_flagger" and r.reporter_id == intake.reporter_id
                 for r in reports.values() if d is not None and r.case_id == d.case_id)
        return "tf_notice" if tf else "notice"
    if "suspend_account" in td.measures:
        return "account"
    if "delete_guild" in td.measures:
        return "service"
    return "removal"


def part7(records: Records, period: Period, policy: CompliancePolicy) -> Table:
    decisions = {d.id: d for d in records.decisions}
    reports = {i.id: i for i in records.intakes if i.kind is IntakeKind.REPORT}
    outcomes = {d.refs.get("complaint"): d.refs.get("outcome") for d in records.documents
                if d.kind == "complaint_outcome"}
    by_type: dict[str, dict[str, list[float]]] = {}
    total: dict[str, list[float]] = {}
    newly = 0
    for i in records.intakes:
        if i.kind is not IntakeKind.COMPLAINT or i.received_at not in period:
            continue
        outcome = outcomes.get(i.id) or ("omitted" if i.resolution in (
            Resolution.NOT_ADMISSIBLE, Resolution.REPORTER_SUSPENDED) else "pending")
        if outcome == "newly_imposed":
            newly += 1
            outcome = "reversed"
        hours = ((i.resolved_at - i.received_at).total_seconds() / 3600
                 if i.resolved_at else None)
        kind = _complaint_type(i, decisions, reports)
        for bucket in (total, by_type.setdefault(kind, {})):
            bucket.setdefault("total", []).append(1)
            bucket.setdefault(outcome, []).append(1)
            if hours is not None and outcome != "omitted":
                bucket.setdefault("time", []).append(hours)
    platform = not policy.small_enterprise
    suspensions = {k: 0 for k in ("illegal_content", "unfounded_notices",
                                  "unfounded_complaints")}
    for d in records.documents:
        if d.kind == "misuse_suspension" and d.created_at in period:
            suspensions[d.refs["misuse"]] += 1
    header = ["Applicability", "Service", "Reporting period", "Section", "Indicator", "Scope",
              "Value", "Contextual Information"]
    section = "Internal complaints mechanism"
    rows: list[list[str]] = []

    def row(applies: str, sec: str, indicator: str, scope: str, value: str,
            context: str = "") -> None:
        blank = applies == PLATFORMS and not platform
        rows.append([applies, policy.service, period.label, sec, indicator, scope,
                     "" if blank else value, "" if blank else context])

    def counts(bucket: dict[str, list[float]], indicator: str, first: str,
               omitted: bool) -> None:
        row(first, section, indicator, "Total number", str(len(bucket.get("total", []))))
        for key, scope in (("upheld", "Decisions upheld"),
                           ("partially_reversed", "Decisions partially reversed"),
                           ("reversed", "Decisions reversed")):
            row(PLATFORMS, section, indicator, scope, str(len(bucket.get(key, []))))
        row(PLATFORMS, section, indicator, "Median time", _hours(bucket.get("time", [])),
            "hours from receipt to decision" if bucket.get("time") else "no complaint decided")
        if omitted:
            row(PLATFORMS, section, indicator, "Decision omitted",
                str(len(bucket.get("omitted", []))),
                "not admissible: late, not a party, or complaints suspended (Art. 23(2))")

    counts(total, "Number of complaints submitted to the internal-complaints mechanism", "All",
           True)
    row(PLATFORMS, section, "Number of restrictions newly imposed as a result of an internal "
        "complaint", "Total number", str(newly))
    for key, indicator in COMPLAINT_TYPES:
        counts(by_type.get(key, {}), indicator, PLATFORMS, False)
    ods = "Out-of-court dispute settlement bodies"
    ods_ind = "Number of disputes submitted to out-of-court dispute settlement bodies"
    note = ("not recorded by Veilleur: fill in from the ODS bodies' decisions "
            "(Art. 21 DSA)")
    for scope in ("Total number", "Decisions upheld", "Decisions partially reversed",
                  "Decisions reversed", "Median time", "Decision omitted",
                  "Percentage of outcomes implemented"):
        row(PLATFORMS, ods, ods_ind, scope, "", note if platform else "")
    rep = "Suspensions imposed on repeated offenders"
    for key, indicator in (("illegal_content", "Number of suspensions enacted for the "
                            "provision of manifestly illegal content "),
                           ("unfounded_notices", "Number of suspensions enacted for the "
                            "provision of manifestly unfounded notices"),
                           ("unfounded_complaints", "Number of suspensions enacted for the "
                            "provision of manifestly unfounded complaints")):
        row(PLATFORMS, rep, indicator, "Total number", str(suspensions[key]))
    return Table("Part_7_appeals_and_recidivism", header, rows)


def part8(records: Records, period: Period, policy: CompliancePolicy) -> Table:
    restrictions = _restrictions(records, period)
    findings = {i.target for i in records.intakes if i.kind is IntakeKind.FINDING}
    own_cases = {i.case_id for i in records.intakes if i.kind is IntakeKind.FINDING} - {
        i.case_id for i in records.intakes if i.kind is IntakeKind.REPORT}
    confusion = {"total": [0, 0, 0, 0], "own": [0, 0, 0, 0]}  # tp, fp, fn, tn
    for d in records.decisions:
        if d.decided_at not in period:
            continue
        for td in d.targets:
            flagged = td.target in findings
            cell = (0 if td.violation else 1) if flagged else (2 if td.violation else 3)
            confusion["total"][cell] += 1
            if d.case_id in own_cases:
                confusion["own"][cell] += 1
    header = ["Applicability", "Service", "Reporting period", "Section", "Indicator", "Scope",
              "Value", "Contextual Information"]
    section = "Use of automated means for content moderation"
    rows: list[list[str]] = []
    context = ("per decided target: a target the engine flagged counts as predicted positive, "
               "the reviewer's decision is the truth")

    def block(scope: str, items: list[dict[str, Any]], key: str) -> None:
        auto = sum(r["automation"] == "fully" for r in items)
        tp, fp, fn, tn = confusion[key]
        rows.append(["All", policy.service, period.label, section,
                     "Number of measures solely taken by automated means ", scope, str(auto),
                     "uploads blocked on a hash match, reviewed by a person afterwards"])
        rows.append(["All", policy.service, period.label, section,
                     "Number of measures not taken by automated means", scope,
                     str(len(items) - auto), ""])
        for name, value in (("Accuracy", _share(tp + tn, tp + fp + fn + tn)),
                            ("Precision", _share(tp, tp + fp)), ("Recall", _share(tp, tp + fn))):
            rows.append(["All", policy.service, period.label, section,
                         f"Accuracy of the automated means - {name}", scope, value,
                         context if value else "nothing decided in the period"])

    block("Total number", restrictions, "total")
    block("Own-initiative ", [r for r in restrictions if r["source"] == "own_initiative"],
          "own")
    for scope, sources, applies in (("NAM Total", ("user", "dsa_notice", "trusted_flagger"),
                                     HOSTING),
                                    ("NAM Trusted Flagger", ("trusted_flagger",), PLATFORMS)):
        notices = [i for i in records.intakes if i.kind is IntakeKind.REPORT
                   and i.source in sources and i.resolved_at in period]
        matched = sum(i.resolution in (Resolution.ALREADY_REVIEWED, Resolution.ALREADY_ACTIONED)
                      for i in notices)
        blank = applies == PLATFORMS and policy.small_enterprise
        for indicator, value, ctx in (
                ("Number of notices solely processed by automated means ", str(matched),
                 "matched automatically to an earlier human decision on the same item"),
                ("Number of notices not processed by automated means",
                 str(len(notices) - matched), "decided by a person")):
            rows.append([applies, policy.service, period.label, section, indicator, scope,
                         "" if blank else value, "" if blank else ctx])
        for name in ("Accuracy", "Precision", "Recall"):
            rows.append([applies, policy.service, period.label, section,
                         f"Accuracy of the automated means - {name}", scope, "",
                         "" if blank else "notices are decided by people; the automated "
                         "matching is exact, not a classifier"])
    for indicator in ("Number of measures solely taken by automated means ",
                      "Number of measures not taken by automated means",
                      "Accuracy of the automated means - Accuracy",
                      "Accuracy of the automated means - Precision",
                      "Accuracy of the automated means - Recall"):
        for lang in EU_LANGUAGES:
            rows.append(["Only for VLOPs", policy.service, period.label, section, indicator,
                         lang, "", ""])
    return Table("Part_8_automated_means", header, rows)


def report(records: Records, period: Period, policy: CompliancePolicy) -> list[Table]:
    return [part4(records, period, policy), part5(records, period, policy),
            part6(records, period, policy), part7(records, period, policy),
            part8(records, period, policy)]


# --- the readable version ----------------------------------------------------------------------


def bar_chart(bars: Sequence[tuple[str, float]], *, width: int = 640) -> Markup:
    """A horizontal bar chart as inline SVG (no script, nothing fetched). Markup, so a
    template prints it as is; every label in it is escaped here."""
    if not bars:
        return Markup('<p class="note">No data.</p>')
    top = max(v for _, v in bars) or 1.0
    label_w, row_h = 260, 24
    # The viewBox lets a narrower box (the console's cards) scale the chart down whole:
    # without it the figure after the longest bar was cut off.
    height = row_h * len(bars) + 8
    parts = [f'<svg role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(bars):
        y = 4 + i * row_h
        w = (width - label_w - 60) * value / top
        parts.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="#4a6fa5"/><text x="{label_w + w + 6:.1f}" y="{y + 15}">'
                     f'{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _value(table: Table, label: str, column: str) -> float:
    col = table.header.index(column)
    for row in table.rows:
        if row[3] == label:
            return float(row[col] or 0)
    return 0.0


def _indicator(table: Table, indicator: str, scope: str) -> str:
    for row in table.rows:
        if row[4] == indicator and row[5] == scope:
            return row[6]
    return ""


def _nonzero(cell: str) -> bool:
    try:
        return float(cell) != 0
    except ValueError:
        return False


def _percent(share: str | None) -> str:
    """`0.2055` as `20.5 % (0.2055)`: a share a reader takes in at once, and the figure the
    CSV holds."""
    try:
        return f"{float(share or ''):.1%}".replace("%", " %") + f" ({share})"
    except ValueError:
        return "—"


def html(tables: Sequence[Table], period: Period, policy: CompliancePolicy) -> str:
    from jinja2 import FileSystemLoader

    from veilleur.compliance.letters import TEMPLATES
    from veilleur.safe_html import html_environment

    p4, p5, p6, p7, p8 = tables
    notices = _value(p4, "TOTAL", PART4_VALUES[0])
    own = _value(p5, "TOTAL", OWN_VALUES[0]) + _value(p6, "TOTAL", OWN_VALUES[0])
    complaints = _indicator(p7, "Number of complaints submitted to the internal-complaints "
                            "mechanism", "Total number")
    cards = [("notices received", f"{notices:g}"),
             ("own-initiative measures", f"{own:g}"),
             ("complaints", complaints or "0"),
             ("median hours to act on a notice",
              next((r[3 + 1 + 1 + 4] for r in p4.rows if r[3] == "TOTAL"), "") or "—")]
    by_cat = [(r[3].removeprefix("STATEMENT_CATEGORY_").replace("_", " ").lower(),
               float(r[5])) for r in p4.rows
              if r[3].startswith("STATEMENT_CATEGORY_") and r[5] not in ("", "0")]
    measures = [(c, _value(p5, "TOTAL", c) + _value(p6, "TOTAL", c))
                for c in _MEASURE_COLUMNS]
    outcomes = [(scope.removeprefix("Decisions ").removeprefix("Decision "),
                 float(_indicator(p7, "Number of complaints submitted to the "
                                  "internal-complaints mechanism", scope) or 0))
                for scope in ("Decisions upheld", "Decisions partially reversed",
                              "Decisions reversed", "Decision omitted")]
    auto = [(scope, float(_indicator(p8, ind, "Total number") or 0)) for scope, ind in (
        ("solely automated", "Number of measures solely taken by automated means "),
        ("with a person", "Number of measures not taken by automated means"))]
    accuracy = {name: _indicator(p8, f"Accuracy of the automated means - {name}",
                                 "Total number") for name in ("Accuracy", "Precision",
                                                              "Recall")}
    charts = [
        {"title": "Notices by category (Part 4)", "svg": bar_chart(by_cat), "note": ""},
        {"title": "Own-initiative measures by type (Parts 5 and 6)",
         "svg": bar_chart([m for m in measures if m[1]]), "note": ""},
        {"title": "Complaints by outcome (Part 7)",
         "svg": bar_chart([o for o in outcomes if o[1]]), "note": ""},
        {"title": "Measures by automation (Part 8)", "svg": bar_chart([a for a in auto if a[1]]),
         "note": "How well the engine's flags matched what reviewers decided, per decided "
                 "target (a target the engine flagged is a predicted violation; the "
                 "reviewer's decision is the truth). Accuracy {Accuracy}: the share of "
                 "decided targets where the flag and the decision agreed. Precision "
                 "{Precision}: of the targets the engine flagged, the share reviewers found "
                 "violating. Recall {Recall}: of the targets reviewers found violating, the "
                 "share the engine had flagged (the rest came from reports, notices or "
                 "orders). A dash: nothing was decided in the period."
                 .format(**{k: _percent(v) for k, v in accuracy.items()})},
    ]
    shown = []
    for t in tables:
        value_cols = [i for i, h in enumerate(t.header)
                      if not h.startswith(("Applicability", "Service", "Reporting period",
                                           "Contextual", "Description"))]
        # Rows with nothing to report (blank or zero everywhere: e.g. one a language, for
        # very large platforms only) stay in the CSV files, not on the page.
        rows = [[row[i] for i in value_cols] for row in t.rows
                if any(_nonzero(row[i]) for i in value_cols)]
        shown.append({"title": t.name.replace("_", " "),
                      "header": [t.header[i] for i in value_cols], "rows": rows,
                      "left_out": len(t.rows) - len(rows)})
    env = html_environment(FileSystemLoader(TEMPLATES))
    return env.get_template("transparency.html.j2").render(
        period=period, policy=policy, cards=cards, charts=charts, tables=shown)
