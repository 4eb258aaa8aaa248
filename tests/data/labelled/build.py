"""Build the labelled exports and labels.jsonl from corpus.toml (deterministic ids)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.factories import author, dm_export, export, message  # noqa: E402

CATEGORIES = {"csam", "grooming", "sextortion", "ncii"}


def labels_of(raw: str | None) -> list[str]:
    if raw is None or raw.strip() == "-":
        return []
    out = [x.strip() for x in raw.split(",")]
    bad = set(out) - CATEGORIES
    if bad:
        raise ValueError(f"unknown label(s) {sorted(bad)}")
    return out


def build(out: Path = HERE) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    corpus = tomllib.loads((HERE / "corpus.toml").read_text(encoding="utf-8"))
    docs: list[dict[str, object]] = []
    labels: list[dict[str, object]] = []
    for s, server in enumerate(corpus["server"], start=1):
        dm = server["name"] == "Direct Messages"
        guild_id = "0" if dm else f"7{s:03d}000000000000000"
        for cat in labels_of(server.get("label")):
            labels.append({"target": {"kind": "guild", "id": guild_id}, "category": cat})
        for c, channel in enumerate(server["channel"], start=1):
            channel_id = f"7{s:03d}{c:03d}000000000000"
            for cat in labels_of(channel.get("label")):
                labels.append({"target": {"kind": "channel", "id": channel_id},
                               "category": cat})
            messages = []
            for m, line in enumerate(channel["messages"], start=1):
                raw_labels, _, text = line.partition("|")
                message_id = f"7{s:03d}{c:03d}{m:03d}000000000"
                user = author(f"6{s:03d}{c:03d}{m % 3:03d}00000000000", f"user{m % 3}")
                messages.append(message(text.strip(), id=message_id, user=user,
                                        ts=f"2026-02-{(m % 28) + 1:02d}T12:00:00+01:00"))
                for cat in labels_of(raw_labels):
                    labels.append({"target": {"kind": "message", "id": message_id},
                                   "category": cat})
            if dm:
                doc = dm_export(messages, channel_id=channel_id, name=channel["name"])
            else:
                doc = export(messages, guild_id=guild_id, guild_name=server["name"],
                             channel_id=channel_id, channel_name=channel["name"],
                             topic=channel.get("topic"))
                if server.get("description"):
                    doc["guild"]["description"] = server["description"]
            docs.append(doc)
    exports = out / "exports"
    exports.mkdir(exist_ok=True)
    for old in exports.glob("*.json"):
        old.unlink()
    for i, doc in enumerate(docs, start=1):
        (exports / f"{i:03d}.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "labels.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in labels), encoding="utf-8")
    return docs, labels


if __name__ == "__main__":
    docs, labels = build()
    print(f"{len(docs)} exports, {len(labels)} labels")
