"""`veilleur worker`: what it refuses before it reaches a broker."""

from __future__ import annotations

from pathlib import Path

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


def test_a_retro_run_needs_its_entries() -> None:
    code, out = run("--stage", "retro", "--broker", "127.0.0.1:1")
    assert code == 2 and "give --entries" in out


def test_retro_options_are_the_retro_stages(tmp_path: Path) -> None:
    bank = tmp_path / "b.csv"
    bank.write_text("signal_type,signal,category\n" f"md5,{'a' * 32},csam\n")
    code, out = run("--stage", "detect", "--broker", "127.0.0.1:1", "--entries", str(bank))
    assert code == 2 and "retro stage's" in out
    code, out = run("--stage", "retro", "--broker", "127.0.0.1:1", "--entries", str(bank),
                    "--bank", str(bank))
    assert code == 2 and "detect stage's" in out
    code, out = run("--stage", "retro", "--broker", "127.0.0.1:1", "--entries", str(bank),
                    "--run", "../x y")
    assert code == 2 and "--run" in out
    code, out = run("--stage", "detect", "--broker", "127.0.0.1:1", "--media-root",
                    str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in out


def test_unreadable_entries_stop_a_retro_run_before_the_broker(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_text("not,a,bank\n")
    code, out = run("--stage", "retro", "--broker", "127.0.0.1:1", "--entries", str(junk))
    assert code == 2 and "cannot read the new entries" in out and "nothing was checked" in out


def test_serve_checks_its_bus_before_anything(tmp_path: object) -> None:
    def serve(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["serve", "--db", f"{tmp_path}/v.db", *args])
        return result.exit_code, result.output + (result.stderr or "")

    code, out = serve("--bus", "k1:9092")
    assert code == 2 and "kafka://HOST:PORT" in out
    code, out = serve("--bus", "kafka://k1:port")
    assert code == 2 and "is not HOST:PORT" in out
    code, out = serve("--producer-option", "linger.ms=0")
    assert code == 2 and "go with --bus" in out
    code, out = serve("--bus", "kafka://127.0.0.1:9", "--producer-option", "linger.ms")
    assert code == 2 and "NAME=VALUE" in out
    # A broker that does not answer: the service does not start, and says why.
    from veilleur.bus import testbroker

    address = f"127.0.0.1:{testbroker.free_port()}"
    code, out = serve("--bus", f"kafka://{address}", "--bus-timeout", "1",
                      "--evidence-key", f"{tmp_path}/evidence.key")
    assert code == 1 and f"cannot reach the bus at kafka://{address}" in out, out
