"""How a worker reaches the broker, and the Quix Streams application it runs.

Defaults suit a real Kafka or Redpanda cluster; the tests and the benchmark run Tansu
(`testbroker.py`) and set what it needs (a shorter session timeout, one message per
producer batch) through the same fields, so no code path exists only for the test broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models.topics import Topic, TopicConfig

from veilleur.bus import topics


@dataclass(frozen=True)
class BusConfig:
    broker: str
    """HOST:PORT of one broker (bootstrap)."""
    group: str
    """The consumer group: N identical workers of a stage share its partitions."""
    prefix: str = ""
    """Put in front of every topic's name (several deployments on one cluster)."""
    partitions: int = 12
    """For topics the worker creates (a platform creates its own, sized by its plan)."""
    replication: int = 1
    retention_ms: int = 7 * 24 * 3600 * 1000
    retention_bytes: int = -1
    session_timeout_ms: int = 10_000
    """How soon a dead worker's partitions go to the others (Tansu: 2,000-6,000)."""
    commit_interval: float = 1.0
    """Seconds between offset commits: what a killed worker's successor reads again."""
    state_dir: Path | None = None
    producer: dict[str, Any] = field(default_factory=dict)
    """librdkafka producer settings (Tansu's failover tests: batch.num.messages=1,
    linger.ms=0)."""
    consumer: dict[str, Any] = field(default_factory=dict)

    def topic_config(self, name: str = topics.EVENTS) -> TopicConfig:
        """The config of topic `name` (one of `topics.names`' keys) when a worker makes it."""
        # Quix reads retention from the topics it creates; Tansu fails without both set.
        if name in topics.COMPACTED:
            # Compacted: the last message per key is kept whatever its age (retention.ms -1),
            # older ones with the same key go; a null value would delete the key.
            extra = {"cleanup.policy": "compact", "retention.ms": "-1",
                     "retention.bytes": "-1"}
        else:
            extra = {"retention.ms": str(self.retention_ms),
                     "retention.bytes": str(self.retention_bytes)}
        return TopicConfig(num_partitions=self.partitions, replication_factor=self.replication,
                           extra_config=extra)


def application(config: BusConfig, *, offset_reset: str = "earliest", state: bool = False,
                on_assign: Callable[[], None] | None = None) -> Application:
    """A Quix application in the stage's consumer group, at least once (Tansu's
    transactions are not real; exactly-once waits for a real cluster and the sink's
    de-duplication makes at-least-once safe). `state`: the stage keeps state in Quix's
    store, backed by changelog topics (what a worker taking a partition over restores)."""
    cls = Application if on_assign is None else _hooked(on_assign)
    return cls(
        broker_address=config.broker,
        consumer_group=config.group,
        auto_offset_reset=offset_reset,  # type: ignore[arg-type]
        commit_interval=config.commit_interval,
        consumer_extra_config={"session.timeout.ms": config.session_timeout_ms,
                               **config.consumer},
        producer_extra_config=dict(config.producer),
        state_dir=str(config.state_dir) if config.state_dir else None,
        processing_guarantee="at-least-once",
        use_changelog_topics=state,
        loglevel="WARNING",
    )


def _hooked(on_assign: Callable[[], None]) -> type[Application]:
    """An Application that calls `on_assign` whenever partitions are assigned to it. Quix
    3.28 has no public hook for it; its consumer calls the application's `_on_assign`
    (quixstreams is pinned, and a test checks the method is still there)."""

    class Hooked(Application):
        def _on_assign(self, consumer: Any, topic_partitions: Any) -> None:
            on_assign()
            super()._on_assign(consumer, topic_partitions)

    return Hooked


def topic(app: Application, config: BusConfig, name: str, *, value: str = "json",
          key: str = "str") -> Topic:
    """One of `topics.names`, created with the config if missing. `value`: the serializer
    of what the stage writes ("json"), or "bytes" for what it reads and checks itself."""
    full = topics.names(config.prefix)[name]
    return app.topic(full, value_deserializer=value, value_serializer=value,  # type: ignore[arg-type]
                     key_serializer=key, key_deserializer=key,  # type: ignore[arg-type]
                     config=config.topic_config(name))


def produce(producer: Any, topic: str, value: bytes, key: bytes | str,
            on_delivery: Callable[[Any, Any], None] | None = None) -> None:
    """`producer.produce`, waiting while librdkafka's local queue is full (it raises
    BufferError then) instead of failing: the queue drains as the broker acknowledges."""
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


def ensure_topics(config: BusConfig, which: tuple[str, ...] = (topics.EVENTS,
                                                                topics.FINDINGS,
                                                                topics.DEAD_LETTERS,
                                                                topics.MEDIA_HASHES),
                  timeout: float = 30.0) -> None:
    """Create the topics that are missing, with the config's partitions and retention.

    A producer calls this before its first event: a broker that creates topics on first use
    would make them with its own defaults (Tansu: without the retention Quix needs;
    media-hashes without compaction, its old sightings then deleted after the default
    retention), and the workers would then read a topic unlike the one they expect."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": config.broker})
    names = topics.names(config.prefix)
    existing = set(admin.list_topics(timeout=timeout).topics)
    configs = {t: config.topic_config(t) for t in which}
    new = [NewTopic(names[t], num_partitions=configs[t].num_partitions,
                    replication_factor=configs[t].replication_factor,
                    config=dict(configs[t].extra_config))
           for t in which if names[t] not in existing]
    for name, future in admin.create_topics(new, request_timeout=timeout).items() if new \
            else ():
        try:
            future.result(timeout)
        except KafkaException as exc:  # another process made it first: the same topic
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from None
