"""The engine on a Kafka log, run by Quix Streams workers (issue 21).

One module per concern:
- `topics.py`: the topics' names and the partition key of an event (pure);
- `wire.py`: what travels on `findings`, the dead-letter topic, `actions` and `documents`
  (pure JSON, versioned);
- `config.py`: how a worker reaches the broker (`BusConfig`) and the Quix application;
- `detect.py`: the detect stage (events in, findings out), the embedded engine unchanged;
- `sink.py`: the sink stage (findings in, casework in the database), and the taking in of
  findings it shares with `serve --bus`;
- `producer.py`: accepted events put on `events`;
- `serve.py`: `veilleur serve --bus`, the service as the bus's front door and casework
  writer;
- `outbox.py`: actions and documents onto `actions` and `documents` once the database has
  them;
- `media.py`: what travels on `media-hashes` (each hashed attachment, compacted), checked;
- `retro.py`: retroactive matching, a bounded replay of `media-hashes` against new entries;
- `state.py`, `labels.py`: the engine's memory (Quix's state store) and shared memory (the
  labels topic);
- `testbroker.py`: Tansu, the memory-only broker of the tests and the benchmark.

Only this package and `cli/` import quixstreams or confluent-kafka (the `bus` extra; the
service imports `serve.py` only with --bus): the scan, the replay and the embedded service
run without them.
"""
