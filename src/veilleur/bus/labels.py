"""The `labels` topic: written before each commit, read whole by every worker.

`LabelPublisher` is a Quix sink on the detect stream: Quix flushes every sink before it
commits the offsets it read, and the flush sends what the engine changed in shared memory
since the last one and waits for the broker's acknowledgement (or raises: Quix then does
not commit, and the events are read again, which changes the same keys again).

`LabelReader` reads the topic whole. A consumer group would split its partitions between
workers; every worker needs all of them, so each assigns itself every partition from the
beginning, outside any group (it commits nothing: a worker that starts again reads the
topic again, compacted to the last label per key). It first reads up to the end the topic
had when it started (`ready`), then follows it. It hands labels to the stage, which takes
them under its lock (the engine is one thread's at a time), and sends the findings they make
(an account judged again) to `findings` itself: a worker with no events to read still
finds what another worker's labels complete.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import orjson
from quixstreams.sinks import BaseSink

from veilleur.bus import topics
from veilleur.bus.config import produce

log = logging.getLogger("veilleur.bus.labels")
MAX_LABEL_BYTES = 512 * 1024
"""Half of a broker's default largest message (1 MB): a label over it is not sent."""


class LabelReader:
    def __init__(self, config: Any, stage: Any, *, timeout: float = 30.0) -> None:
        self.config = config
        self.stage = stage
        self.timeout = timeout
        self.ready = threading.Event()
        self.read = 0
        self.failed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labels", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as exc:
            self.failed = f"{type(exc).__name__}: {exc}"
            log.exception("the labels topic cannot be read: shared memory stays this "
                          "worker's own")
            self.stage.judging = True
            self.ready.set()

    def _follow(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        from veilleur.bus.config import ensure_topics

        name = topics.names(self.config.prefix)[topics.LABELS]
        ensure_topics(self.config, (topics.LABELS,))
        consumer = Consumer({
            "bootstrap.servers": self.config.broker,
            "group.id": f"{self.config.group}-labels-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            **{k: v for k, v in self.config.consumer.items() if k != "group.id"}})
        producer = Producer({"bootstrap.servers": self.config.broker, "acks": "all",
                             **self.config.producer})
        findings = topics.names(self.config.prefix)[topics.FINDINGS]
        try:
            meta = consumer.list_topics(name, timeout=self.timeout).topics[name]
            parts = sorted(meta.partitions)
            end = {}
            for p in parts:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p),
                                                           timeout=self.timeout)
                if high > low:
                    end[p] = high
            consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in parts])
            if not end:
                self._caught_up(producer, findings)
            while not self._stop.is_set():
                msg = consumer.poll(0.2)
                if msg is None:
                    self._take(producer, findings)
                    continue
                if msg.error() is not None:
                    log.warning("labels: %s", msg.error())
                    continue
                value = msg.value()
                if value is not None:  # a tombstone removes nothing from a replica
                    self.stage.inbox.put(value)
                    self.read += 1
                    if self.read % 1000 == 0:
                        self._take(producer, findings)
                p, offset = msg.partition(), msg.offset()
                if p in end and offset is not None and offset + 1 >= end[p]:
                    del end[p]
                    if not end:
                        self._caught_up(producer, findings)
        finally:
            consumer.close()
            producer.flush(10)

    def _caught_up(self, producer: Any, topic: str) -> None:
        """The topic read to where it ended at the start: what was read is taken without
        judging (what it made was sent when it was new), and from now on labels judge."""
        self._take(producer, topic)
        self.stage.judging = True
        self.ready.set()

    def _take(self, producer: Any, topic: str) -> None:
        for message in self.stage.take_labels():
            try:
                body = orjson.dumps(message)
            except (TypeError, orjson.JSONEncodeError) as exc:
                log.error("findings made by labels not sent: %s", exc)
                continue
            produce(producer, topic, body, str(message["key"]).encode())
        if len(producer):
            left = producer.flush(30)
            if left:  # what they made is made again when the labels are read again
                log.error("%d findings made by labels not acknowledged by the broker", left)


class LabelPublisher(BaseSink):
    """Sends the stage's pending labels whenever Quix flushes its sinks (before a commit)."""

    def __init__(self, config: Any, stage: Any, *, timeout: float = 30.0) -> None:
        super().__init__()
        from confluent_kafka import Producer

        self.stage = stage
        self.timeout = timeout
        self.topic = topics.names(config.prefix)[topics.LABELS]
        self._producer = Producer({"bootstrap.servers": config.broker, "acks": "all",
                                   **config.producer})

    def add(self, value: Any, key: Any, timestamp: int, headers: Any, topic: str,
            partition: int, offset: int) -> None:
        pass  # the labels are the engine's, taken at flush time

    def flush(self) -> None:
        from confluent_kafka import KafkaException

        failed: list[str] = []
        unsent: list[dict[str, Any]] = []

        def delivered(item: dict[str, Any]) -> Any:
            def on(err: Any, _msg: Any) -> None:
                if err is not None:
                    failed.append(str(err))
                    unsent.append(item["label"])
            return on

        for item in self.stage.due_labels():
            try:
                body = orjson.dumps(item["label"])
            except (TypeError, orjson.JSONEncodeError) as exc:  # never the commit's end
                self.stage.count("labels_unwritable")
                log.error("label %r not sent: %s", item["key"], exc)
                continue
            if len(body) > MAX_LABEL_BYTES:
                # A whole server's members in one label: over what brokers take by default;
                # the server stays shared as far as its last label went (said, counted).
                self.stage.count("labels_too_large")
                log.warning("label %r not sent: %d bytes (at most %d)", item["key"],
                            len(body), MAX_LABEL_BYTES)
                continue
            try:
                produce(self._producer, self.topic, body, item["key"].encode(),
                        delivered(item))
            except KafkaException as exc:
                self.stage.count("labels_refused")
                log.error("label %r refused by the producer: %s", item["key"], exc)
        left = self._producer.flush(self.timeout)
        if left or failed:
            # Not committed: the events are read again; what did not go is changed again
            # so that it goes with the next labels, whatever the events change.
            self.stage.unsent(unsent)
            raise RuntimeError(f"{left + len(failed)} labels not acknowledged by the broker "
                               f"({failed[0] if failed else 'timed out'})")
