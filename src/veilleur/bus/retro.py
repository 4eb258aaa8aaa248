"""Retroactive matching on the bus: a bounded replay of `media-hashes` against new entries.

When a bank learns entries, the media seen before must be checked against those entries
only (what the older entries matched was found when it was posted). `veilleur worker
--stage retro --entries FILE...` reads every partition of `media-hashes` from its start up to
the high watermark it found when it began, and then ends: what is posted meanwhile is the
detect workers' to match, with the new entries in their banks.

- **One matcher.** The new entries are read by the bank readers of `scan --bank` and matched
  by the embedded `BankMatcher` (`matcher_from_banks`), each bank with its own PDQ radius;
  every match becomes signals and a `Finding` as the embedded look back makes them
  (`match_signals`, `FindingBook` under the engine's policy), and goes on `findings` in the
  detect stage's wire format, keyed by the place, for the sink to take into casework.
- **Its own consumer group**, named after the run: the detect workers' offsets are never
  touched. Offsets are committed only once the findings of what they cover are acknowledged
  by the broker, so a run that dies is resumed by running it again with the same `--run`
  (what was read after the last commit is read again; the sink takes a finding once).
- **Hostile input.** A message that cannot be read (`media.read_sighting`) is counted with
  its reason and skipped; the run goes on. A deleted key (a null value) is counted apart.
- **Bounded memory**: messages are matched a batch at a time; only counters outlive a batch.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from veilleur.bus import media, topics, wire
from veilleur.bus.config import produce
from veilleur.decide.policy import Finding, FindingBook, Policy, load_policy
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.media.banks import HashBank, load_bank_file
from veilleur.detect.media.detector import HashMatchDetector, match_signals
from veilleur.detect.media.index import PdqIndex
from veilleur.detect.media.matcher import BankMatcher, matcher_from_banks
from veilleur.events import Attachment
from veilleur.ingest.problems import ProblemLog

log = logging.getLogger("veilleur.bus.retro")
STAGE = "retro"
MAX_QUERIES = 100_000
"""PDQ lookups searched at once (a batch of 2,000 pictures has ~20,000; hostile messages
with 4,096 lookups each are searched in parts, so a batch's memory stays bounded)."""
MAX_REASONS = 50
"""Distinct reasons kept in the summary (hostile input could make each message's differ)."""


class RetroError(RuntimeError):
    """The run cannot be done (unreadable entries, no topic, a broker that stops answering);
    the message says what and what to do."""


def load_entries(paths: Sequence[Path]) -> tuple[list[HashBank], list[str]]:
    """The new entries' banks, and the problems of rows that were refused. A file that is
    no usable bank stops the run: checking part of what was asked would look complete."""
    problems = ProblemLog()
    banks = []
    unusable = []
    for path in paths:
        bank = load_bank_file(path, problems)
        if bank is None:
            unusable.append(str(path))
        else:
            banks.append(bank)
    notes = [f"{p.source}: {p.problem}" + (f" ({p.where})" if p.where else "")
             for p in problems]
    if unusable:
        raise RetroError("cannot read the new entries, nothing was checked: "
                         + "; ".join(notes[:10]))
    if not any(e.enabled for b in banks for e in b.entries):
        raise RetroError("the entry files hold no entry to match (only withdrawals?), nothing "
                         "was checked")
    return banks, notes


class RetroMatcher:
    """Sightings in, findings out, against the new entries only (pure: no broker).

    As the embedded look back does (`BankStore.retro_match`), a batch of sightings is first
    sifted for candidates (a digest among the new entries', or a lookup within the widest
    radius of one of their PDQs: one search for the whole batch), and each candidate is
    then matched by the `BankMatcher` itself, which applies each bank's own radius."""

    def __init__(self, banks: Sequence[HashBank], policy: Policy | None = None) -> None:
        matcher = matcher_from_banks(banks)
        if matcher is None:
            raise RetroError("the entry files hold no entry to match")
        self.matcher: BankMatcher = matcher
        self.policy = policy or load_policy(POLICY_DIR / "policy.toml")
        live = [(b, e) for b in banks for e in b.entries if e.enabled]
        self.entries = len(live)
        self._exact = {(e.signal_type, e.signal) for _, e in live if e.signal_type != "pdq"}
        codes = [bytes.fromhex(e.signal) for _, e in live if e.signal_type == "pdq"]
        self._radius = max((b.pdq_threshold for b, e in live if e.signal_type == "pdq"),
                           default=0)
        self._codes = codes
        self._index: PdqIndex | None = None

    def candidates(self, batch: Sequence[media.Sighting]) -> list[bool]:
        """Which sightings may match (a superset of those that do)."""
        hit = [bool((h.md5 and ("md5", h.md5) in self._exact)
                    or (h.sha256 and ("sha256", h.sha256) in self._exact))
               for h in (s.hashes for s in batch)]
        if not self._codes:
            return hit
        queries: list[bytes] = []
        owners: list[int] = []
        for i, s in enumerate(batch):
            if s.hashes.matchable:
                queries.extend(s.hashes.lookups)
                owners.extend([i] * len(s.hashes.lookups))
            if len(queries) >= MAX_QUERIES:  # a batch of videos' frames: searched in parts
                self._sift(queries, owners, hit)
                queries, owners = [], []
        if queries:
            self._sift(queries, owners, hit)
        return hit

    def _sift(self, queries: list[bytes], owners: list[int], hit: list[bool]) -> None:
        # Index the larger side, search with the smaller (the search's answer is sized by
        # its queries): a few new entries against a batch's many lookups, or a whole list
        # against a small batch.
        if len(self._codes) < len(queries):
            lookups = PdqIndex(capacity=len(queries), radius_hint=self._radius)
            lookups.add(queries, sort=False)
            lookups.compact()
            slots = lookups.search_arrays(self._codes, self._radius)[:, 1]
        else:
            if self._index is None:
                self._index = PdqIndex(capacity=len(self._codes), radius_hint=self._radius)
                self._index.add(self._codes, sort=False)
                self._index.compact()
            slots = self._index.search_arrays(queries, self._radius)[:, 0]
        for q in set(slots.tolist()):
            hit[owners[q]] = True

    def findings(self, sighting: media.Sighting) -> tuple[int, list[Finding]]:
        """(matches, findings) of one attachment: its findings as the embedded look back
        makes them (`BankStore.record_retro_findings`)."""
        matches = self.matcher.match(sighting.hashes).matches
        if not matches:
            return 0, []
        att = Attachment(id=sighting.attachment_id, filename=sighting.filename)
        signals = match_signals(att, sighting.message, matches, HashMatchDetector.id,
                                HashMatchDetector.version)
        book = FindingBook(self.policy)
        book.add(signals)
        return len(matches), book.findings()


@dataclass
class Summary:
    run: str
    group: str
    entries: int = 0
    partitions: int = 0
    to_read: int = 0
    """Messages between where this run started and the high watermarks it took at start."""
    read: int = 0
    checked: int = 0
    """Sightings read and matched (`read` less deleted keys and bad messages)."""
    deleted: int = 0
    bad: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)
    matched_media: int = 0
    matches: int = 0
    findings: int = 0
    messages_written: int = 0
    resumed: bool = False
    """Some partition began where an earlier run of this name had committed."""
    seconds: float = 0.0
    entry_problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "group": self.group, "entries": self.entries,
                "partitions": self.partitions, "to_read": self.to_read, "read": self.read,
                "checked": self.checked, "deleted": self.deleted, "bad": self.bad,
                "bad_reasons": dict(self.bad_reasons.most_common()),
                "matched_media": self.matched_media, "matches": self.matches,
                "findings": self.findings, "messages_written": self.messages_written,
                "resumed": self.resumed, "seconds": round(self.seconds, 3),
                "hashes_per_second": round(self.checked / self.seconds) if self.seconds else 0,
                "entry_problems": self.entry_problems[:20]}

    def bad_message(self, reason: str, where: str) -> None:
        self.bad += 1
        if reason in self.bad_reasons or len(self.bad_reasons) < MAX_REASONS:
            self.bad_reasons[reason] += 1
        else:
            self.bad_reasons["(other reasons)"] += 1
        if self.bad <= 20:
            log.warning("media-hashes message at %s skipped: %s", where, reason)
        elif self.bad == 21:
            log.warning("more media-hashes messages skipped: counted, not logged")


def take(matcher: RetroMatcher, summary: Summary, value: bytes | str | None, where: str,
         worker: str) -> dict[str, Any] | None:
    """One media-hashes message: the findings message to write, if its attachment matched."""
    [answer] = take_batch(matcher, summary, [(value, where)], worker)
    return answer


def take_batch(matcher: RetroMatcher, summary: Summary,
               batch: Sequence[tuple[bytes | str | None, str]], worker: str
               ) -> list[dict[str, Any] | None]:
    """Messages (value, where) in; for each, the findings message to write or None."""
    read: list[tuple[int, media.Sighting]] = []
    for i, (value, where) in enumerate(batch):
        summary.read += 1
        if value is None:
            summary.deleted += 1  # a tombstone: the key was deleted, not a fault
            continue
        try:
            read.append((i, media.read_sighting(value)))
        except media.SightingError as exc:
            summary.bad_message(str(exc), where)
    summary.checked += len(read)
    out: list[dict[str, Any] | None] = [None] * len(batch)
    flagged = matcher.candidates([s for _, s in read])
    for (i, sighting), maybe in zip(read, flagged, strict=True):
        if not maybe:
            continue
        n, found = matcher.findings(sighting)
        if not n:
            continue
        summary.matched_media += 1
        summary.matches += n
        summary.findings += len(found)
        if not found:  # matches below the policy's threshold: nothing for casework
            continue
        message = wire.findings_message(sighting.event_id, media.message_event(sighting),
                                        found, worker)
        message["key"] = sighting.place
        out[i] = message
    return out


def run(config: Any, banks: Sequence[HashBank], run_name: str, *,
        entry_problems: Sequence[str] = (), batch: int = 2000, idle_timeout: float = 60.0,
        policy: Policy | None = None) -> Summary:
    """Replay media-hashes up to the high watermarks taken at start; the summary. `config`:
    a `config.BusConfig` (its `group` is this run's). Raises `RetroError`."""
    started = time.monotonic()
    matcher = RetroMatcher(banks, policy)
    summary = Summary(run_name, config.group, entries=matcher.entries,
                      entry_problems=list(entry_problems))
    names = topics.names(config.prefix)
    source, target = names[topics.MEDIA_HASHES], names[topics.FINDINGS]
    worker = f"{STAGE}:{run_name}"
    consumer = Consumer({"bootstrap.servers": config.broker, "group.id": config.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": False,
                         # librdkafka reads ahead up to 64 MB by default; 16 MB keeps
                         # several batches ready (measured: no slower on 100,000 messages).
                         "queued.max.messages.kbytes": 16384,
                         "session.timeout.ms": config.session_timeout_ms, **config.consumer})
    try:
        meta = consumer.list_topics(source, timeout=30).topics.get(source)
        if meta is None or meta.error is not None or not meta.partitions:
            raise RetroError(f"no topic {source!r} on {config.broker}: no detect worker has "
                             "written media hashes there (check --topic-prefix)")
        from veilleur.bus.config import ensure_topics

        ensure_topics(config, (topics.FINDINGS,))
        parts = sorted(meta.partitions)
        summary.partitions = len(parts)
        committed = {tp.partition: tp.offset for tp in consumer.committed(
            [TopicPartition(source, p) for p in parts], timeout=30)}
        end: dict[int, int] = {}
        start: dict[int, int] = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(source, p), timeout=30)
            begin = committed.get(p, -1)
            if begin >= 0:
                summary.resumed = True
            begin = max(begin, low)
            if begin < high:
                start[p], end[p] = begin, high
                summary.to_read += high - begin
        log.info("retro %s: %d entries; %d messages to read in %d of %d partitions of %s",
                 run_name, matcher.entries, summary.to_read, len(start), len(parts), source)
        if start:
            producer = Producer({"bootstrap.servers": config.broker, "acks": "all",
                                 **config.producer})
            _replay(consumer, producer, matcher, summary, source, target, start, end,
                    worker, batch, idle_timeout)
    finally:
        consumer.close()
    summary.seconds = time.monotonic() - started
    log.info("retro %s done: %s", run_name, json.dumps(summary.to_json()))
    return summary


def _replay(consumer: Any, producer: Any, matcher: RetroMatcher, summary: Summary,
            source: str, target: str, start: dict[int, int], end: dict[int, int], worker: str,
            batch: int, idle_timeout: float) -> None:
    failed: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    position = dict(start)  # next offset to read, per partition
    consumer.assign([TopicPartition(source, p, o) for p, o in start.items()])
    done: set[int] = set()
    last_progress = time.monotonic()
    since_commit = 0
    while len(done) < len(start):
        msgs = consumer.consume(num_messages=batch, timeout=1.0)
        if not msgs and time.monotonic() - last_progress > idle_timeout:
            left = {p: f"{position[p]}/{end[p]}" for p in start if p not in done}
            _checkpoint(consumer, producer, source, position, failed, summary)
            raise RetroError(f"the broker gave nothing for {idle_timeout:.0f} s with messages "
                             f"left to read (partition: offset/end {left}); what was read is "
                             "committed: run again with the same --run to go on")
        chunk: list[tuple[bytes | None, str]] = []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer: %s", err)
                continue
            p, offset = msg.partition(), msg.offset()
            if p in done or offset >= end[p]:
                _finish(consumer, source, p, done)
                continue  # posted after this run began: the detect workers' to match
            chunk.append((msg.value(), f"{source}[{p}]@{offset}"))
            position[p] = offset + 1
            if position[p] >= end[p]:
                _finish(consumer, source, p, done)
        if chunk:
            last_progress = time.monotonic()
            since_commit += len(chunk)
        for answer in take_batch(matcher, summary, chunk, worker):
            if answer is None:
                continue
            body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
            produce(producer, target, body, answer["key"].encode(), delivered)
            summary.messages_written += 1
        producer.poll(0)
        if since_commit >= batch * 5:
            _checkpoint(consumer, producer, source, position, failed, summary)
            since_commit = 0
    _checkpoint(consumer, producer, source, position, failed, summary)


def _finish(consumer: Any, source: str, partition: int, done: set[int]) -> None:
    if partition not in done:
        done.add(partition)
        consumer.pause([TopicPartition(source, partition)])


def _checkpoint(consumer: Any, producer: Any, source: str, position: dict[int, int],
                failed: list[str], summary: Summary) -> None:
    """Offsets committed only once the findings before them are on the broker."""
    left = producer.flush(60)
    if left or failed:
        raise RetroError(f"the broker did not acknowledge {left + len(failed)} findings "
                         f"messages ({failed[0] if failed else 'timed out'}); nothing after "
                         "the last commit counts as done: run again with the same --run")
    consumer.commit(offsets=[TopicPartition(source, p, o) for p, o in position.items()],
                    asynchronous=False)
    # What a run stopped halfway will not read again when run with its name.
    log.info("committed: read=%d of %d, matched=%d, written=%d", summary.read,
             summary.to_read, summary.matched_media, summary.messages_written)
