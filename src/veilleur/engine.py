"""The engine: events → detectors → policy → store. The one entry point every adapter uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from veilleur.decide.policy import Finding, FindingBook, Policy, load_policy
from veilleur.decide.rollup import Rollup
from veilleur.detect.base import Detector, DetectorSettings, Signal
from veilleur.detect.registry import DetectorRegistry, default_registry
from veilleur.events import Event
from veilleur.state import Directory, KeyedState, MemoryState
from veilleur.store.writer import StoreWriter
from veilleur.taxonomy import Target

DetectorFailure = Callable[[Detector, Event, Exception], None]


@dataclass
class EngineStats:
    events: int = 0
    messages: int = 0
    signals: int = 0
    detector_failures: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        detectors: Sequence[Detector],
        policy: Policy,
        *,
        state: KeyedState | None = None,
        store: StoreWriter | None = None,
        on_detector_failure: DetectorFailure | None = None,
        rollup: Rollup | None = None,
        memory: KeyedState | None = None,
    ) -> None:
        """`state`: the directory of names (guilds, channels, users); `memory`: the book's
        (and the roll-up's, given to `build`), in this process's memory by default."""
        self.detectors = list(detectors)
        self.rollup = rollup
        self.policy = policy
        self.directory = Directory(state if state is not None else MemoryState())
        self.book = FindingBook(policy, memory)
        self.store = store
        self.stats = EngineStats()
        self._on_failure = on_detector_failure

    @classmethod
    def build(
        cls,
        settings: DetectorSettings | None = None,
        *,
        registry: DetectorRegistry | None = None,
        detector_ids: Sequence[str] | None = None,
        store: StoreWriter | None = None,
        state: KeyedState | None = None,
        on_detector_failure: DetectorFailure | None = None,
        memory: KeyedState | None = None,
    ) -> Engine:
        settings = settings or DetectorSettings()
        registry = registry or default_registry()
        detectors = registry.create_all(settings, detector_ids)
        policy = load_policy(settings.policy_dir / "policy.toml")
        rollup = None
        if settings.rollup:
            # What the conversation tier knows of ages keeps children's words to each other
            # from making an account (the composition root wires it; the roll-up stays pure).
            ages = next((d for d in detectors if d.id == "conversation.risk"), None)

            def minor(user_id: str) -> bool:
                # Known, not claimed: a groomer posing as a 16-year-old claims to be a child.
                est = ages.age(user_id)  # type: ignore[union-attr]
                return est.minor is True and not est.contradiction and est.confidence >= 0.9

            rollup = Rollup.load(settings.policy_dir, policy.thresholds,
                                 minor if ages is not None and hasattr(ages, "age") else None,
                                 state=memory)
        return cls(detectors, policy, state=state, store=store,
                   on_detector_failure=on_detector_failure, rollup=rollup, memory=memory)

    def process(self, event: Event) -> list[Finding]:
        """Run one event through every stage; return the findings it created or changed."""
        self.stats.events += 1
        self.stats.by_type[event.type] = self.stats.by_type.get(event.type, 0) + 1
        if event.type == "message":
            self.stats.messages += 1
        self.directory.apply(event)
        signals: list[Signal] = self.rollup.observe(event) if self.rollup is not None else []
        for detector in self.detectors:
            try:
                signals.extend(detector.detect(event, self.directory))
            except Exception as exc:  # one faulty detector must not stop a scan
                self.stats.detector_failures += 1
                if self._on_failure is None:
                    raise
                self._on_failure(detector, event, exc)
        if self.store is not None:
            self.store.add(event)
        return self.accept(signals)

    def accept(self, signals: list[Signal]) -> list[Finding]:
        """Signals found outside `process` (labels, a bank that learnt an old file)."""
        found: list[Finding] = []
        # Findings on messages make channels, servers and accounts targets (rollup.py);
        # those make their servers and owners: a short chain, bounded.
        for _ in range(4):
            if not signals:
                break
            if self.store is not None:
                self.store.add_signals(signals)
            self.stats.signals += len(signals)
            new = self.book.add(signals)
            found += new
            signals = self.rollup.take(new, self.directory) if self.rollup and new else []
        return found

    def label(self, target: Target, label: str, at: datetime) -> list[Finding]:
        """Durable memory from casework (a server removed, an account confirmed): detectors
        that read labels (`on_label`) may find more from it (successors, returning accounts).
        """
        signals: list[Signal] = []
        for detector in self.detectors:
            on_label = getattr(detector, "on_label", None)
            if on_label is not None:
                signals.extend(on_label(target, label, at))
        return self.accept(signals)

    def forget(self) -> None:
        """Drop what detectors derived from the state in this process (a stream worker whose
        partitions changed hands: another may have changed their state meanwhile)."""
        for detector in self.detectors:
            forget = getattr(detector, "forget", None)
            if forget is not None:
                forget()

    def account_again(self, user_id: str) -> list[Finding]:
        """An account's roll-up judged again (what another process counted of it was
        merged in): the findings it makes or changes."""
        return self.accept(self.rollup.judge_account(user_id)) if self.rollup else []

    def remember(self, target: Target, label: str, at: datetime) -> None:
        """A label read back from the store: detectors rebuild their memory, nothing new
        is signalled (it was, when the label was set)."""
        for detector in self.detectors:
            on_label = getattr(detector, "on_label", None)
            if on_label is not None:
                on_label(target, label, at, emit=False)

    def findings(self) -> list[Finding]:
        return self.book.findings()

    def close(self) -> None:
        """Write what is buffered and the findings; the engine may still be read afterwards."""
        for detector in self.detectors:
            close = getattr(detector, "close", None)
            if close is not None:
                close()  # detectors with a memory in the store write it
        if self.store is not None:
            self.store.flush()
            self.store.save_findings(self.findings(), self.policy.version)
