"""`veilleur bot`: the token from a file or the environment only, never echoed; a bad policy
file stops the start with its name and key; `bot invite-link` prints the install URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest
from typer.testing import CliRunner

from veilleur.cli import app

runner = CliRunner()
TOKEN = "MTIz.fake-token-for-tests.abc"


def test_invite_link_prints_the_url_and_the_intents() -> None:
    r = runner.invoke(app, ["bot", "invite-link", "--client-id", "123456789012345678"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith(
        "https://discord.com/oauth2/authorize?client_id=123456789012345678&permissions=")
    assert "message_content: what messages say [privileged]" in r.stderr
    assert "Administrator" not in r.output
    bad = runner.invoke(app, ["bot", "invite-link", "--client-id", "abc"])
    assert bad.exit_code == 1 and "application's number" in bad.stderr


def test_no_token_option_exists_and_no_token_is_an_error(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.delenv("VEILLEUR_DISCORD_TOKEN", raising=False)
    r = runner.invoke(app, ["bot", "--token", TOKEN])
    assert r.exit_code == 2 and "No such option" in r.output
    r = runner.invoke(app, ["bot"])
    assert r.exit_code == 1 and "give --token-file FILE or set $VEILLEUR_DISCORD_TOKEN" \
        in r.stderr


def test_a_bad_policy_stops_the_start_naming_file_and_key(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("VEILLEUR_DISCORD_TOKEN", TOKEN)
    policy = tmp_path / "salon.toml"
    policy.write_text('guild_id = "1"\n[automatic]\ncsam = ["ban"]\n', encoding="utf-8")
    r = runner.invoke(app, ["bot", "--policy", str(policy), "--db", str(tmp_path / "b.db")])
    assert r.exit_code == 1
    assert f"{policy}: automatic.csam: 'ban' cannot be automatic" in r.stderr
    assert TOKEN not in r.output


def test_the_bot_runs_the_runtime_on_the_database_and_gets_the_token_from_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    seen: dict[str, Any] = {}

    def run(self: discord.Client, token: str, **kw: Any) -> None:
        seen["token"], seen["db"] = token, self.engine.runtime.url  # type: ignore[attr-defined]
        seen["alive"] = self.engine.runtime.alive  # type: ignore[attr-defined]
        seen["cap"] = self.fetch_cap  # type: ignore[attr-defined]
        seen["state"] = self.book.path  # type: ignore[attr-defined]
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr("veilleur.bot.client.VeilleurBot.run", run)
    r = runner.invoke(app, ["bot", "--token-file", str(token_file),
                            "--db", str(tmp_path / "b.db"), "--fetch-mb", "2"])
    assert seen == {"token": TOKEN, "db": f"sqlite:///{tmp_path / 'b.db'}", "alive": True,
                    "cap": 2 * 1024 * 1024, "state": str(tmp_path / "b.bot.sqlite")}
    # The bot's own records, beside the engine's database, owner-only.
    assert (tmp_path / "b.bot.sqlite").stat().st_mode & 0o077 == 0
    assert r.exit_code == 1 and "Discord refused the token" in r.stderr
    assert TOKEN not in r.output
    token_file.chmod(0o644)
    r = runner.invoke(app, ["bot", "--token-file", str(token_file),
                            "--db", str(tmp_path / "b.db")])
    # Rich wraps the warning at the terminal's width, wherever the temporary path ends.
    assert "can be read by other users" in " ".join(r.stderr.split())
    assert TOKEN not in r.output


def test_the_client_mode_needs_an_api_key_from_a_file_or_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLEUR_DISCORD_TOKEN", TOKEN)
    monkeypatch.delenv("VEILLEUR_API_KEY", raising=False)
    r = runner.invoke(app, ["bot", "--api", "http://127.0.0.1:8000"])
    assert r.exit_code == 1
    assert "no API key: give --api-key-file FILE or set $VEILLEUR_API_KEY" in r.stderr
    monkeypatch.setenv("VEILLEUR_API_KEY", "vk_secret")
    r = runner.invoke(app, ["bot", "--api", "ftp://host"])
    assert r.exit_code == 1 and "--api must be the service's http(s) URL" in r.stderr
    # Plain http would carry the key in clear: only to this machine.
    for url in ("http://veilleur.example:8000", "http://10.0.0.5", "http://localhost.evil.example"):
        r = runner.invoke(app, ["bot", "--api", url])
        assert r.exit_code == 1 and "send the API key in clear" in r.stderr, url
    from veilleur.cli.bot import loopback
    assert loopback("http://127.0.0.1:8000") and loopback("http://[::1]:8000")
    assert loopback("http://localhost:8000") and not loopback("http://10.0.0.5")
    assert "vk_secret" not in r.output and TOKEN not in r.output


def test_sigterm_stops_the_bot_as_ctrl_c_does_and_the_runtime_stops_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import time

    monkeypatch.setenv("VEILLEUR_DISCORD_TOKEN", TOKEN)
    seen: dict[str, Any] = {}

    def run(self: discord.Client, token: str, **kw: Any) -> None:
        seen["runtime"] = self.engine.runtime  # type: ignore[attr-defined]
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except KeyboardInterrupt:  # discord.py's run closes the client on Ctrl-C
            seen["interrupted"] = True

    monkeypatch.setattr("veilleur.bot.client.VeilleurBot.run", run)
    before = signal.getsignal(signal.SIGTERM)
    r = runner.invoke(app, ["bot", "--db", str(tmp_path / "b.db")])
    assert signal.getsignal(signal.SIGTERM) == before
    assert seen.get("interrupted") is True, r.output
    assert not seen["runtime"].alive  # stopped: what was in memory was written


def test_the_client_mode_keeps_its_queue_in_the_folder_given_one_bot_per_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from veilleur.bot.diskqueue import DiskQueue

    monkeypatch.setenv("VEILLEUR_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("VEILLEUR_API_KEY", "vk_secret")
    seen: dict[str, Any] = {}

    def run(self: discord.Client, token: str, **kw: Any) -> None:
        seen["queue"] = self.engine.queue  # type: ignore[attr-defined]
        seen["state"] = self.book.path  # type: ignore[attr-defined]

    monkeypatch.setattr("veilleur.bot.client.VeilleurBot.run", run)
    folder = tmp_path / "state" / "queue"
    r = runner.invoke(app, ["bot", "--api", "http://127.0.0.1:8000", "--queue", str(folder),
                            "--queue-mb", "2"])
    assert r.exit_code == 0, r.output
    assert seen["queue"].folder == folder and seen["queue"].max_bytes == 2 * 1024 * 1024
    assert seen["state"] == str(folder / "records.sqlite")
    assert f"queue on disk in {folder} (0 waiting)" in " ".join(r.stderr.split())
    assert (folder / "queue.db").stat().st_mode & 0o077 == 0
    held = DiskQueue(folder)
    try:
        r = runner.invoke(app, ["bot", "--api", "http://127.0.0.1:8000", "--queue",
                                str(folder)])
    finally:
        held.close()
    assert r.exit_code == 1 and "in use by another bot" in r.stderr
