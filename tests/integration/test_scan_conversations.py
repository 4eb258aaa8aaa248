"""`veilleur scan` on DiscordChatExporter exports written for issue 7: a groomer's DM, benign
look-alikes (peers, a coach, a parent, a prevention message), a server laid out as a catalogue
with mild messages."""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories import author, dm_export, export, message, write
from tests.integration.test_cli_scan import veilleur


def dm(folder: Path, name: str, lines: list[tuple[dict, str]], channel: str) -> None:  # type: ignore[type-arg]
    msgs = [message(text, user=who, ts=f"2026-03-{1 + i // 4:02d}T1{i % 4}:00:00.000+00:00")
            for i, (who, text) in enumerate(lines)]
    write(folder / f"{name}.json", dm_export(msgs, channel_id=channel, name=name))


def test_groomers_are_flagged_and_look_alikes_are_not(tmp_path: Path) -> None:
    man = author("700000000000000001", "max_16")
    kid = author("700000000000000002", "lea")
    dm(tmp_path / "in", "groomer", [
        (man, "salut t'es trop mignonne"), (man, "moi j'ai 16 ans et toi ?"),
        (kid, "j'ai 13 ans"), (man, "tu es trop mature pour ton âge"),
        (man, "garde ça secret, dis rien à tes parents"), (man, "en vrai j'ai 31 ans"),
        (man, "tu portes quoi comme culotte ?"), (man, "envoie moi une photo juste pour moi"),
        (man, "on se voit samedi ? je viens te chercher")], "800000000000000001")
    p1, p2 = author("700000000000000003", "tom"), author("700000000000000004", "ines")
    dm(tmp_path / "in", "peers", [
        (p1, "t'as quel âge ?"), (p2, "14 et toi"), (p1, "pareil 14, t'es en quelle classe ?"),
        (p2, "en 3e"), (p1, "envoie une photo de ton chat")], "800000000000000002")
    coach, player = author("700000000000000005", "coach_marc"), author("700000000000000006",
                                                                        "noah")
    dm(tmp_path / "in", "coach", [
        (coach, "on se retrouve au stade samedi à 10h pour le match"),
        (player, "j'ai 13 ans je peux jouer avec les U15 ?"),
        (coach, "oui, n'oublie pas tes crampons"), (coach, "tes parents viennent ?")],
        "800000000000000003")
    helper, teen = author("700000000000000007", "educ"), author("700000000000000008", "sam")
    dm(tmp_path / "in", "prevention", [
        (teen, "j'ai 14 ans, quelqu'un me demande des photos"),
        (helper, "ne partage jamais tes photos, et si quelqu'un te menace, signale-le au 3018"),
        (helper, "garde les captures comme preuve et parles-en à tes parents")],
        "800000000000000004")
    out = tmp_path / "findings.json"
    r = veilleur("scan", tmp_path / "in", "--json", out, "--db", tmp_path / "v.db")
    assert r.returncode == 0, r.stderr
    findings = json.loads(out.read_text())["findings"]
    users = {(f["target"]["id"], f["category"]) for f in findings
             if f["target"]["kind"] == "user"}
    assert users == {("700000000000000001", "grooming")}, users
    groomer = next(f for f in findings if f["target"]["id"] == "700000000000000001")
    assert "claimed 16" in groomer["evidence"] and "timeline" in groomer["evidence"]
    flagged_dms = {f["context"].get("channel_id") for f in findings
                   if f["target"]["kind"] == "message"}
    assert "800000000000000001" in flagged_dms
    assert not flagged_dms & {"800000000000000002", "800000000000000003", "800000000000000004"}


def test_a_catalogue_server_is_flagged_from_its_channels(tmp_path: Path) -> None:
    owner = author("700000000000000010", "admin")
    for i, name in enumerate(["general", "teaser-mineure", "vip-13-15", "preuves"]):
        doc = export([message("nouveau", user=owner)], guild_id="900000000000000100",
                     guild_name="la chill zone", channel_id=f"90000000000000020{i}",
                     channel_name=name)
        write(tmp_path / "in" / f"{name}.json", doc)
    out = tmp_path / "findings.json"
    r = veilleur("scan", tmp_path / "in", "--json", out)
    assert r.returncode == 0, r.stderr
    guilds = [f for f in json.loads(out.read_text())["findings"]
              if f["target"]["kind"] == "guild"]
    assert guilds and guilds[0]["category"] == "csam"
    assert "catalogue" in guilds[0]["evidence"]
