"""What the console shows about a case, read from live casework: each target in context
(the conversation on both sides of a message, the server once), the findings grouped by
target, the reports and their sources, the clocks with what they are and why, the accounts'
history, the media, and the engine's suggestion for the decision form. Call under the
runtime's lock.

The result is plain data: codes (categories, measures, sources, clock kinds...) that the
templates name from the catalogues, and names (people, servers, channels) from the platform,
which templates show as text. No word for a reviewer is written here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from veilleur.cases.casework import BANNED_MEDIA, Casework
from veilleur.cases.models import Case, Clock, Intake, IntakeKind, iso
from veilleur.enforce.actions import RESTRICTING
from veilleur.service.auth import Account
from veilleur.taxonomy import Category, Target, TargetKind

DETECTORS = ("text.lexicon", "text.semantic", "text.learned", "places.meaning", "media.hash",
             "enforce.confirmed_media", "conversation.risk", "network.links", "targets.rollup")
"""Detectors whose findings the catalogues explain (`det_` + the id with `_` for `.`)."""
CATEGORIES = [c.value for c in Category]
OFFERED: dict[str, tuple[str, ...]] = {
    "message": ("remove_content",),
    "attachment": ("remove_content", "block_upload"),
    "channel": ("remove_content",),
    "invite": ("remove_content",),
    "guild": ("delete_guild",),
    "user": ("suspend_account",),
}
"""The measures a reviewer may choose on each kind of target: what enforcement carries out
on it (a suspension is for an account: a message's author is suspended as a target of its
own, `suspend the author too`)."""
CHIPS = ("report", "flagger", "order", "engine", "complaint")
"""Where what is in a case came from, for the queue's filter."""
AFTER = 5
"""Messages shown after the flagged one (the replies to it)."""
MERGED = 60
"""Messages at most in the one conversation shown for a channel."""
IN_FULL = 40
"""Targets shown with their whole context; those after them show their own message only
(every target is still in the decision form: each one must be decided)."""


def visible_to(account: Account, cw: Casework, case: Case) -> bool:
    """Whether this account may see the case: the one rule for the console and the CLI."""
    return account.sees_csam or not reserved(cw, case)


def reserved(cw: Casework, case: Case) -> bool:
    """Whether only child-safety specialists may see the case (child sexual abuse)."""
    if case.category is Category.CSAM:
        return True
    if any(cw.intakes[i].category is Category.CSAM for i in case.intakes
           if i in cw.intakes):
        return True
    # Decided as child sexual abuse (even by mistake, by someone who could not): from then
    # on its media are confirmed, and only specialists see it.
    decision = cw.decisions.get(case.decision_id or "")
    if decision is not None and any(td.category is Category.CSAM for td in decision.targets):
        return True
    return any(a.category is Category.CSAM and a.case_id == case.id
               for t in case.targets for a in cw.enforcement.on_target(t))


def detector_key(detector: str) -> str:
    return "det_" + detector.replace(".", "_") if detector in DETECTORS else "det_other"


def reasons(cw: Casework, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Why the engine found it, read from what it observed (the signal keys: rule ids, bank
    entries, conversation stages, links): each a catalogue key, with the key to fall back on
    when the catalogue has no word for this one (a rule a site added), and what it names from
    the platform (a link, a server, an account). The engine's own sentence stays the record."""
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def add(key: str, fallback: str = "why_other", name: dict[str, Any] | None = None,
            text: str | None = None) -> None:
        out.setdefault((key, text or (name or {}).get("id") or ""),
                       {"key": key, "fallback": fallback, "name": name, "text": text})

    for k in keys:
        head, _, rest = k.partition(":")
        if k in ("semantic", "learned"):
            add("why_" + k)
        elif head == "bank":
            add("why_bank", text=rest.partition(":")[0] or None)
        elif head == "confirmed":
            add("why_confirmed")
        elif head == "meaning":
            add("why_place_" + rest)
        elif head == "network.successor":
            add("why_successor", name=name_of(cw, Target(TargetKind.GUILD, rest)))
        elif head == "network.invite":
            add("why_invite_fallen", name=name_of(cw, Target(TargetKind.GUILD, rest)))
        elif head == "network.returning":
            add("why_returning", name=name_of(cw, Target(TargetKind.USER, rest)))
        elif k == "messages" or head in ("channels", "owner"):
            add("why_rollup_" + head, name=name_of(cw, Target(TargetKind.GUILD, rest))
                if head == "owner" else None)
        elif k in ("server", "messages:server"):  # lifted by its server's finding
            if k == "messages:server":
                add("why_rollup_messages")
            add("why_rollup_server")
        elif head == "network.catalogue":
            add("why_catalogue")
        elif head == "conversation":
            # conversation:CHANNEL:stage+stage (a message's stages) or
            # conversation:CHANNEL:category[:urgent+stages] (the account's)
            parts = rest.split(":")[1:]
            if parts and parts[0] in CATEGORIES:
                add("why_conversation")
                if len(parts) > 1:
                    add("why_urgent")
                parts = parts[1:]
            for stage in (x for p in parts for x in p.split("+") if x):
                add("stage_" + stage, "why_conversation")
        elif k.partition(".")[0] in CATEGORIES and " " not in k and "/" not in k:
            add("rule_" + k.replace(".", "_"), "why_rule")
        elif "." in k or "/" in k:
            add("why_link", text=k)
        else:
            add("why_other")
    return list(out.values())


def chip(intake: Intake) -> str:
    if intake.kind is IntakeKind.FINDING:
        return "engine"
    if intake.kind is IntakeKind.COMPLAINT:
        return "complaint"
    if intake.flagger or intake.source == "trusted_flagger":
        return "flagger"
    if intake.source == "authority":
        return "order"
    return "report"


def source_code(intake: Intake) -> str:
    """`src_` + this in the catalogues."""
    if intake.kind is IntakeKind.FINDING:
        return "engine"
    return "trusted_flagger" if intake.flagger else intake.source


def clock_kind(clock: Clock, flagger_cap: float | None = None) -> str:
    """legal (an authority's order), flagger (a trusted flagger's cap, when it is what set
    the time), or internal."""
    if clock.kind == "legal":
        return "legal"
    if "trusted_flagger" in clock.basis and (flagger_cap is None
                                             or clock.hours == flagger_cap):
        return "flagger"
    return "internal"


def clock_json(clock: Clock, now: datetime, share: float, cap: float | None = None
               ) -> dict[str, Any]:
    return {"kind": clock_kind(clock, cap), "hours": clock.hours, "due": iso(clock.due),
            "started_at": iso(clock.started_at), "status": clock.status(now, share)}


def running_clocks(case: Case, now: datetime, share: float, cap: float | None = None
                   ) -> list[dict[str, Any]]:
    """Every clock still running, the one that runs out first first (a legal deadline shows
    even when an internal target comes sooner)."""
    running = [c for c in case.clocks if c.stopped_at is None and c.due is not None]
    running.sort(key=lambda c: c.due or now)
    return [clock_json(c, now, share, cap) for c in running]


def next_clock(case: Case, now: datetime, share: float, cap: float | None = None
               ) -> dict[str, Any] | None:
    """The running clock that runs out first."""
    running = [c for c in case.clocks if c.stopped_at is None and c.due is not None]
    if not running:
        return None
    return clock_json(min(running, key=lambda c: c.due or now), now, share, cap)


def label_json(label: str) -> dict[str, str | None]:
    """A target's label as a kind the catalogue names (`label_` + kind) and a category."""
    if label.endswith("_confirmed"):
        return {"kind": "confirmed", "category": label.removesuffix("_confirmed"), "raw": None}
    for prefix, kind in (("removed:", "removed"), ("violation:", "violation"),
                         ("flagged:", "flagged"),
                         (BANNED_MEDIA + ":", "banned_media")):
        if label.startswith(prefix):
            return {"kind": kind, "category": label.removeprefix(prefix), "raw": None}
    return {"kind": None, "category": None, "raw": label}


def _user(cw: Casework, user_id: str | None) -> dict[str, Any]:
    if user_id is None:
        return {"id": None, "name": None, "age_band": None}
    u = cw.content.directory.user(user_id)
    return {"id": user_id, "name": (u.display_name or u.name) if u else None,
            "age_band": u.age_band.value if u and u.age_band else None}


def name_of(cw: Casework, t: Target) -> dict[str, Any]:
    """How a reviewer calls a target: by the names the platform gave, not its ids (the id
    stays, for when nothing else is known)."""
    content, d = cw.content, cw.content.directory
    out: dict[str, Any] = {"kind": t.kind.value, "id": t.id, "name": None, "where": None,
                           "dm": False, "ts": None}
    msg = content.message_of(t)
    if msg is not None:
        author = _user(cw, msg.author_id)
        ch = d.channel(msg.channel_id)
        out.update(name=author["name"] or msg.author_id, ts=iso(msg.ts),
                   where=(ch.name if ch and ch.name else None), dm=msg.guild_id is None)
        if t.kind is TargetKind.ATTACHMENT:
            att = content.attachment(t.id)
            out["file"] = att.filename if att and att.filename else t.id
    elif t.kind is TargetKind.USER:
        out["name"] = _user(cw, t.id)["name"]
    elif t.kind is TargetKind.GUILD:
        g = d.guild(t.id)
        out["name"] = g.name if g and g.name else None
    elif t.kind is TargetKind.CHANNEL:
        ch = d.channel(t.id)
        out["where"] = ch.name if ch and ch.name else None
    elif t.kind is TargetKind.INVITE:
        guild = content.invite_guild(t.id)
        g = d.guild(guild) if guild else None
        out["name"] = g.name if g and g.name else None
    return out


def _message(cw: Casework, m: Any, *, focus: bool = False) -> dict[str, Any]:
    return {"id": m.id, "ts": iso(m.ts), "at": m.ts, "author": _user(cw, m.author_id),
            "content": m.content, "files": len(m.attachments), "focus": focus,
            "deleted_by": m.deleted_by, "gap": None, "after": False}


def _timed(convo: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In time order, each message with the time since the one before it (a reader sees
    "3 h later", not minutes counted from one message), and whether it came after the
    first flagged one (a reply)."""
    convo.sort(key=lambda m: (m["at"], m["id"]))
    seen_focus = False
    for prev, m in zip([None, *convo], convo, strict=False):
        m["gap"] = None if prev is None else max(timedelta(0), m["at"] - prev["at"])
        m["after"] = seen_focus and not m["focus"]
        seen_focus = seen_focus or m["focus"]
    return convo


def _conversation(cw: Casework, msg: Any) -> list[dict[str, Any]]:
    """The messages before the flagged one and the replies after it."""
    content = cw.content
    before = content.recent_in_channel(msg.channel_id, cw.policy.context_messages,
                                       before=msg.id)
    # Asked for directly: in a busy channel the replies may be far from the latest messages.
    after = content.after_in_channel(msg.channel_id, msg.id, AFTER)
    return ([_message(cw, m) for m in before] + [_message(cw, msg, focus=True)]
            + [_message(cw, m) for m in after])


def _guild(cw: Casework, guild: str) -> dict[str, Any]:
    content, d = cw.content, cw.content.directory
    g = d.guild(guild)
    names = []
    for cid in content.channels_of(guild)[:60]:
        ch = d.channel(cid)
        names.append(ch.name if ch and ch.name else cid)
    members = content.member_count(guild)
    return {"id": guild, "name": g.name if g and g.name else None,
            # An export or a server seen only through its messages has no count: unknown,
            # not zero.
            "members": members or None, "channels": names,
            "owner": _user(cw, g.owner_id) if g and g.owner_id else None,
            "gone": iso(gone[0]) if (gone := content.guild_deletion(guild)) else None}


def _in_context(cw: Casework, t: Target, i: int, case: Case, *, full: bool = True
                ) -> dict[str, Any]:
    content = cw.content
    item: dict[str, Any] = {"i": i, "target": t.to_json(), "name": name_of(cw, t),
                            "labels": [label_json(x) for x in sorted(cw.labels.get(t, ()))],
                            "offered": OFFERED.get(t.kind.value, ()), "author": None}
    msg = content.message_of(t)
    if msg is not None:
        item["channel"] = msg.channel_id
        item["conversation"] = _conversation(cw, msg) if full else [
            _message(cw, msg, focus=True)]
        author = Target(TargetKind.USER, msg.author_id)
        if author not in case.targets:
            item["author"] = _user(cw, msg.author_id)
    if t.kind is TargetKind.USER:
        item["user"] = _user(cw, t.id)
        item["recent"] = [_message(cw, m) for m in content.recent_by_user(t.id, 10)] \
            if full else []
    if t.kind is TargetKind.CHANNEL and full:
        item["conversation"] = [_message(cw, m) for m in content.recent_in_channel(t.id, 10)]
    item["guild"] = content.guild_of(t)
    gone = content.gone(t)
    if gone is not None:
        item["gone"] = {"at": iso(gone[0]), "by": gone[1]}
    return item


def _intake(cw: Casework, i: Intake) -> dict[str, Any]:
    notifier = i.notifier or {}
    flagger = cw.policy.flaggers.get(i.flagger) if i.flagger else None
    return {"id": i.id, "kind": i.kind.value, "source": source_code(i), "chip": chip(i),
            "flagger": flagger.name if flagger else i.flagger,
            "category": i.category.value if i.category else None,
            "received_at": iso(i.received_at), "explanation": i.explanation,
            "evidence": i.evidence, "score": round(i.score, 2),
            "detectors": [detector_key(x) for x in i.detectors],
            "notifier": notifier.get("name") or notifier.get("email") or None,
            "resolution": i.resolution.value if i.resolution else None,
            "notice_id": i.notice_id, "target": i.target.to_json(),
            "name": name_of(cw, i.target)}


def _findings(cw: Casework, findings: list[Intake]) -> tuple[list[dict[str, Any]], list[str]]:
    """Findings grouped by target, and the kinds of detector they came from (each explained
    once, not under every finding)."""
    groups: dict[Target, dict[str, Any]] = {}
    kinds: dict[str, None] = {}
    for f in findings:
        g = groups.setdefault(f.target, {"name": name_of(cw, f.target), "findings": []})
        keys = [detector_key(x) for x in f.detectors]
        kinds.update(dict.fromkeys(keys))
        g["findings"].append({"category": f.category.value if f.category else None,
                              "score": round(f.score * 100), "detectors": keys,
                              "why": reasons(cw, f.signal_keys), "evidence": f.evidence})
    return list(groups.values()), list(kinds)


def _history(cw: Casework, case: Case, account: Account | None = None
             ) -> list[dict[str, Any]]:
    """Earlier measures, labels and cases of the accounts in this case."""
    users: dict[str, None] = {}
    for t in case.targets:
        if t.kind is TargetKind.USER:
            users[t.id] = None
        elif (author := cw.content.author_of(t)) is not None:
            users[author] = None
    out = []
    for uid in list(users)[:12]:
        target = Target(TargetKind.USER, uid)
        actions = [{"action": a.action, "at": iso(a.ts), "active": a.active,
                    "reason": a.reason} for a in cw.enforcement.on_target(target)
                   if a.action in RESTRICTING]
        others = [c.id for c in cw.cases.values() if c.id != case.id and target in c.targets
                  and c.merged_into is None
                  and (account is None or visible_to(account, cw, c))][:10]
        out.append({"user": _user(cw, uid),
                    "labels": [label_json(x) for x in sorted(cw.labels.get(target, ()))],
                    "actions": actions, "cases": others})
    return out


def _network(cw: Casework, case: Case) -> list[dict[str, Any]]:
    out = []
    for k in sorted(k for k in case.keys if k.startswith("network:")):
        kind, _, rest = k.removeprefix("network:").partition(":")
        if kind == "guild":
            out.append({"kind": "guild", "name": name_of(cw, Target(TargetKind.GUILD, rest))})
        elif kind == "user":
            out.append({"kind": "user", "name": name_of(cw, Target(TargetKind.USER, rest))})
        else:
            out.append({"kind": "other", "name": {"kind": None, "id": k, "name": None}})
    return out


def suggestion(cw: Casework, case: Case, targets: list[dict[str, Any]]) -> dict[str, Any]:
    """What the engine would decide: the case's category on every target, with the policy's
    measures for it. Shown beside the form, never put in it until the reviewer says so."""
    cat = case.category
    if cat is None or case.kind == "complaint":
        return {"category": None, "targets": [], "case_measures": []}
    rows = []
    for item in targets:
        kind = item["target"]["kind"]
        wanted = cw.policy.measures[cat].get(kind, ())
        rows.append({"i": item["i"], "name": item["name"],
                     "measures": [m for m in wanted if m in item["offered"]]})
    return {"category": cat.value, "ground": "illegal", "targets": rows,
            "case_measures": list(cw.policy.measures[cat].get("case", ()))}


def case_page(cw: Casework, case: Case, now: datetime, lang: str = "fr",
              account: Account | None = None) -> dict[str, Any]:
    """`account`: who reads it (the links to other cases and the categories offered are
    those this account may see and decide)."""
    share, cap = cw.policy.at_risk_share, cw.policy.trusted_flagger_hours
    intakes = [cw.intakes[i] for i in case.intakes if i in cw.intakes]
    reports = [_intake(cw, i) for i in intakes if i.kind is not IntakeKind.FINDING]
    grouped, kinds = _findings(cw, [i for i in intakes if i.kind is IntakeKind.FINDING])
    files = []
    for aid in cw.files_of(case):
        att = cw.content.attachment(aid)
        files.append({"id": aid, "filename": att.filename if att else None,
                      "viewed": aid in cw.viewed_media,
                      # Events from the API name no file: the stored path tells a video.
                      "kind": _kind((att.filename or att.path) if att else None)})
    targets = [_in_context(cw, t, i, case, full=i < IN_FULL)
               for i, t in enumerate(case.targets)]
    _one_conversation_per_channel(targets)
    guilds: dict[str, None] = {}
    for item in targets:
        if item["guild"]:
            guilds[item["guild"]] = None
    return {"case": case.to_json(now, share), "kind": case.kind,
            "locked_by": case.locked_by, "reserved": reserved(cw, case),
            "targets": targets, "in_full": IN_FULL,
            "guilds": [_guild(cw, g) for g in list(guilds)[:10]],
            "reports": reports, "findings": grouped, "detector_kinds": kinds,
            "network": _network(cw, case),
            "factors": [{"name": f.name, "value": round(f.value * 100)} for f in case.factors
                        if f.value],
            "clocks": [clock_json(c, now, share, cap) for c in case.clocks],
            "history": _history(cw, case, account), "media": files,
            "due": iso(case.next_due()), "next_clock": next_clock(case, now, share, cap),
            "categories": [c for c in CATEGORIES if account is None or account.sees_csam
                           or c != Category.CSAM.value],
            "suggestion": suggestion(cw, case, targets)}


def _one_conversation_per_channel(targets: list[dict[str, Any]]) -> None:
    """The case's messages in one channel (a groomer's four messages in one DM, a message and
    its files) are one conversation, shown once at the first of them, with every one flagged;
    the others point to it. Past `MERGED` messages, the flagged ones and those nearest them
    are kept."""
    hosts: dict[str, dict[str, Any]] = {}
    for item in targets:
        convo, channel = item.get("conversation"), item.get("channel")
        if not convo or channel is None or item["target"]["kind"] not in (
                "message", "attachment"):
            continue
        host = hosts.setdefault(channel, item)
        if host is not item:
            have = {m["id"]: m for m in host["conversation"]}
            for m in convo:
                if m["id"] in have:
                    have[m["id"]]["focus"] |= m["focus"]
                else:
                    host["conversation"].append(m)
            item["conversation"], item["same_conversation"] = None, True
    for host in hosts.values():
        convo = _timed(host["conversation"])
        if len(convo) > MERGED:
            flagged = [i for i, m in enumerate(convo) if m["focus"]]
            keep = sorted(range(len(convo)),
                          key=lambda i: min(abs(i - f) for f in flagged))[:MERGED]
            convo = _timed([convo[i] for i in sorted(keep)])
        host["conversation"] = convo
    for item in targets:  # a channel's recent messages, listed for a channel target
        if item.get("conversation") and item.get("channel") is None:
            item["conversation"] = _timed(item["conversation"])


def summary(cw: Casework, case: Case) -> dict[str, Any]:
    """One safe line for the queue: the first message's text, cut short, and how many files
    it holds (never the files); else the name of the first target."""
    intakes = [cw.intakes[i] for i in case.intakes if i in cw.intakes]
    # What a person reported first, then what the engine is surest of, then the rest.
    ordered = [i.target for i in intakes if i.kind is not IntakeKind.FINDING] + [
        i.target for i in sorted((i for i in intakes if i.kind is IntakeKind.FINDING),
                                 key=lambda i: -i.score)] + list(case.targets)
    for t in ordered:
        msg = cw.content.message_of(t)
        if msg is not None:
            text = " ".join((msg.content or "").split())
            return {"text": text[:140] + ("…" if len(text) > 140 else ""),
                    "files": len(msg.attachments), "name": name_of(cw, t)}
    first = case.targets[0] if case.targets else None
    return {"text": None, "files": 0, "name": name_of(cw, first) if first else None}


def _kind(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith((".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")):
        return "video"
    return "image"
