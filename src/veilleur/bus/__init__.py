"""The engine on a Kafka log, run by Quix Streams workers (issue 21, first slice).

One module per concern:
- `topics.py`: the topics' names and the partition key of an event (pure);
- `wire.py`: what travels on `findings` and the dead-letter topic (pure JSON);
- `config.py`: how a worker reaches the broker (`BusConfig`) and the Quix application;
- `detect.py`: the detect stage (events in, findings out), the embedded engine unchanged;
- `sink.py`: the sink stage (findings in, casework in the database);
- `producer.py`: accepted events put on `events` (what `serve --bus` will use);
- `media.py`: what travels on `media-hashes` (each hashed attachment, compacted), checked;
- `retro.py`: retroactive matching, a bounded replay of `media-hashes` against new entries;
- `testbroker.py`: Tansu, the memory-only broker of the tests and the benchmark.

Only this package and `cli/` import quixstreams or confluent-kafka (the `bus` extra): the
scan, the replay and the embedded service run without them.
"""
