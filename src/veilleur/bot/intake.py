"""Into the engine: the same `Runtime` as `veilleur serve`, embedded in the bot's process.

Every event goes through the runtime's journals before anything else happens to it (accepted
means on disk; a crash loses nothing accepted, the restart takes it in again). Messages are
asked for a verdict (journaled in the verdicts' journal, then handled at once) after every
event the bot sent before them has been taken in, so a catalogue channel's name is known
when its first message is read. The engine runs in threads (`asyncio.to_thread`): the
gateway's loop never waits on it, only the bot's own intake task does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from veilleur.bot.plan import Answer, Evidence
from veilleur.cases.models import iso
from veilleur.cases.review import ReviewError, Verdict
from veilleur.events import PLATFORM_TYPES
from veilleur.service.runtime import Busy, EngineDown, Runtime, report_event
from veilleur.taxonomy import Category, Target, TargetKind

log = logging.getLogger("veilleur.bot")
SOURCE = "bot:discord"
"""The journal's stamp on what the bot hands in (`received_by`)."""

T = TypeVar("T")


class Engine(Protocol):
    """What the bot needs of an engine: embedded (`EmbeddedEngine`) or a running service
    (`remote.ServiceEngine`)."""

    @property
    def spool(self) -> Path | None:
        """Where fetched attachments wait for the engine; None: they are not fetched."""

    async def send(self, raws: list[dict[str, Any]]) -> int: ...

    async def judge(self, raw: dict[str, Any], *, fetched: bool = False,
                    references: dict[str, Any] | None = None) -> Answer:
        """The answer on a message; when it is not `allow`, the evidence the engine sealed
        for it is durable when this returns (the bot acts on it next). A service that cannot
        be reached is answered `allow` marked `queued` (`remote.ServiceEngine`): judged
        later, nothing is done now. `fetched`: `raw`'s attachment paths are files the bot
        wrote under `spool`; `references`: the same event with Discord's references instead
        (what a remote service is sent beside the files, and what is queued)."""

    async def evidence_of(self, message_id: int) -> tuple[Evidence, ...]: ...

    async def report(self, body: dict[str, Any]) -> None:
        """A member's report (`POST /v1/reports`'s body) journaled as a user report (durable
        when this returns); a refused one raises `ValueError`."""

    async def case_view(self, case_id: str, viewer: str) -> dict[str, Any] | None:
        """The engine's view of a case (`GET /v1/cases/{id}`: its targets in context, its
        clocks, its decision), following merges; None if there is none. The look is
        audited as `viewer`'s."""

    async def decide(self, case_id: str, reviewer: str,
                     verdicts: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
        """A moderator's decision on their server's part of the case, (kind, id) ->
        category or None (no violation), partial: the case stays open for what is not
        theirs; the decision (`POST /v1/cases/{id}/decision`'s answer). A refused one
        raises `ValueError` naming why."""

    async def report_case(self, report_id: str) -> str | None:
        """The case a report filed by this bot joined, once the engine has taken it in
        (None: not yet, or none)."""

    async def complaint(self, body: dict[str, Any]) -> None:
        """An Art. 20 complaint (`POST /v1/appeals`'s body), journaled; a refused one raises
        `ValueError`."""

    async def audit(self, kind: str, actor: str, subject: str, detail: dict[str, Any]
                    ) -> None:
        """One entry in the engine's audit chain, where it has one this bot may write."""


class EmbeddedEngine:
    def __init__(self, runtime: Runtime, *, busy_tries: int = 30,
                 poll_seconds: float = 0.01) -> None:
        self.runtime = runtime
        self.busy_tries = busy_tries
        self.poll_seconds = poll_seconds
        self._sent = 0
        """The last inbox row this bot journaled: verdicts wait until it is taken in."""
        self.rejected: list[str] = []

    async def send(self, raws: list[dict[str, Any]]) -> int:
        """Journal `raws` in order (durable when this returns); the number accepted (a
        resend after a gateway resume is a duplicate, dropped)."""
        if not raws:
            return 0
        result = await self._patiently(lambda: self.runtime.accept(
            raws, SOURCE, kinds=PLATFORM_TYPES))
        for bad in result.rejected:
            line = f"event {raws[bad['index']].get('type')} refused: {bad['error']}"
            self.rejected.append(line)
            del self.rejected[:-MAX_KEPT]
            log.error("%s", line)
        for item in result.accepted:
            self._sent = max(self._sent, item["seq"])
        return len(result.accepted)

    async def report(self, body: dict[str, Any]) -> None:
        """As the API's `/v1/reports` does: a `user` report, through the report door."""
        report = body | {"source": "user"}
        result = await self._patiently(lambda: self.runtime.accept(
            [report_event(self.runtime.clock(), report)], SOURCE, kinds=("report",)))
        if result.rejected:
            raise ValueError(f"report {body.get('id')} refused: "
                             f"{result.rejected[0]['error']}")

    async def case_view(self, case_id: str, viewer: str) -> dict[str, Any] | None:
        def view() -> dict[str, Any] | None:
            with self.runtime.work() as cw:
                cid: str | None = case_id
                for _ in range(100):  # a merge chain ends; a cycle would be a bug
                    case = cw.cases.get(cid or "")
                    if case is None or case.merged_into is None:
                        break
                    cid = case.merged_into
                if cid not in cw.cases:
                    return None
                return cw.view(cid, self.runtime.clock(), viewer=viewer)

        return await self._patiently(view)

    async def decide(self, case_id: str, reviewer: str,
                     verdicts: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
        parsed = {Target.of(kind, tid): Verdict(Category(c) if c else None)
                  for (kind, tid), c in verdicts.items()}
        try:
            decision = await self._patiently(lambda: self.runtime.decide(
                case_id, reviewer, parsed, partial=True))
        except ReviewError as exc:
            raise ValueError(str(exc)) from None
        return decision.to_json()

    async def report_case(self, report_id: str, *, seconds: float = 30.0) -> str | None:
        """Asked a few times a second, never waited on in a thread (members' reports must
        not hold the threads every engine call needs)."""
        def find() -> str | None:
            with self.runtime.lock:
                intake = self.runtime.casework.intakes.get(f"report:{report_id}")
                return intake.case_id if intake else None

        for _ in range(max(1, int(seconds / 0.25))):
            found = await asyncio.to_thread(find)
            if found is not None or self.runtime.failure is not None:
                return found
            await asyncio.sleep(0.25)
        return None

    async def complaint(self, body: dict[str, Any]) -> None:
        event = {"type": "complaint", "ts": iso(self.runtime.clock()),
                 "event_id": f"complaint:{body['id']}", "complaint": body}
        result = await self._patiently(lambda: self.runtime.accept(
            [event], SOURCE, kinds=("complaint",)))
        if result.rejected:
            raise ValueError(f"appeal {body.get('id')} refused: "
                             f"{result.rejected[0]['error']}")

    async def audit(self, kind: str, actor: str, subject: str, detail: dict[str, Any]
                    ) -> None:
        await self._patiently(lambda: self.runtime.audit(kind, actor, subject, detail))

    @property
    def spool(self) -> Path:
        """Where fetched attachments wait for the engine (its own upload folder)."""
        return self.runtime.upload_dir

    async def judge(self, raw: dict[str, Any], *, fetched: bool = False,
                    references: dict[str, Any] | None = None) -> Answer:
        """The engine's answer on a message event, once what was sent before it is in.
        `fetched`: its attachment paths are files the bot wrote under `spool` (the engine's
        upload folder: `references` is not needed)."""
        while not self.runtime.taken_in(self._sent):
            if self.runtime.failure is not None:
                raise EngineDown(self.runtime.failure)
            await asyncio.sleep(self.poll_seconds)
        verdict = await self._patiently(lambda: self.runtime.verdict(
            raw, SOURCE, trusted_paths=fetched))
        if verdict.get("verdict") != "allow":
            # The runtime writes at its next checkpoint: until then the sealed evidence is
            # only in memory. It is written now, before anyone acts on the answer (a
            # removal, the clear copy of a fetched file going).
            await asyncio.to_thread(self.runtime.sync)
        # An allowed message has no case and no sealed evidence: no second trip.
        evidence = (await self.evidence_of(int(raw["message"]["id"]))
                    if verdict.get("verdict") != "allow" else ())
        return Answer.of(verdict, evidence)

    async def evidence_of(self, message_id: int) -> tuple[Evidence, ...]:
        """What the engine sealed for the message (asked again right before a removal)."""
        found = await asyncio.to_thread(self.runtime.evidence_of,
                                        Target(TargetKind.MESSAGE, str(message_id)))
        return tuple(Evidence(i, sha) for i, sha in found)

    async def _patiently(self, call: Callable[[], T]) -> T:
        """`call` in a thread; a full backlog (`Busy`) is waited out as the runtime asks,
        a bounded number of times (the events stay in the bot's queue meanwhile)."""
        for _ in range(self.busy_tries - 1):
            try:
                return await asyncio.to_thread(call)
            except Busy as exc:
                log.warning("the engine is behind (%s); waiting %d s", exc, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
        return await asyncio.to_thread(call)


Work = Callable[[], Awaitable[None]]
MAX_QUEUE = 10_000
"""Events the bot holds in memory for the engine at most; past it, new ones are dropped and
logged (memory stays bounded when the engine falls far behind)."""
MAX_KEPT = 1000
"""Lines kept in `rejected` and `Executor.problems` (the newest; all are in the log)."""


class Intake:
    """One task takes the bot's work in the order the gateway gave it; the gateway's
    handlers only enqueue (they never wait on the engine). What is in this queue is not yet
    accepted: a crash loses it (Discord does not send it again), as it would lose what the
    gateway had not delivered. It holds `most` items at most: past that, new work is dropped
    with an error in the log rather than grow without end."""

    def __init__(self, on_down: Callable[[str], None] | None = None, *,
                 most: int = MAX_QUEUE) -> None:
        self.queue: asyncio.Queue[Work] = asyncio.Queue(most)
        self.dropped = 0
        """Work refused because the queue was full (the engine far behind)."""
        self._task: asyncio.Task[None] | None = None
        self.on_down = on_down
        """Called once if the engine stops: the bot then stops too, so that nothing more is
        taken from Discord that nobody will handle; a restart takes the journal in again."""
        self.down: str | None = None

    def put(self, work: Work) -> None:
        try:
            self.queue.put_nowait(work)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("the bot's queue is full (%d events waiting for the engine): "
                          "%d event(s) dropped so far, never seen by the engine",
                          self.queue.maxsize, self.dropped)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="intake")

    async def drain(self) -> None:
        await self.queue.join()

    async def _run(self) -> None:
        while True:
            work = await self.queue.get()
            try:
                if self.down is None:
                    await work()
            except EngineDown as exc:
                self.down = exc.why
                log.error("%s; the bot stops", exc)
                if self.on_down is not None:
                    self.on_down(exc.why)
            except Exception:  # one bad event never stops the intake
                log.exception("the bot could not hand an event to the engine")
            finally:
                self.queue.task_done()
