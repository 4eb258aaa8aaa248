"""`veilleur worker`: what it refuses before it reaches a broker."""

from __future__ import annotations

from typer.testing import CliRunner

from veilleur.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["worker", *args])
    return result.exit_code, result.output + (result.stderr or "")


def test_the_sink_needs_a_database() -> None:
    code, out = run("--stage", "sink", "--broker", "127.0.0.1:1")
    assert code == 2 and "give --db" in out


def test_a_detect_worker_writes_no_database() -> None:
    code, out = run("--stage", "detect", "--broker", "127.0.0.1:1", "--db", "x.db")
    assert code == 2 and "the sink's" in out


def test_librdkafka_settings_are_name_value() -> None:
    code, out = run("--stage", "detect", "--broker", "127.0.0.1:1",
                    "--producer-option", "linger.ms")
    assert code == 2 and "NAME=VALUE" in out


def test_the_command_is_listed() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "worker" in result.output
