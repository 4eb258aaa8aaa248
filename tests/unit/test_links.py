from __future__ import annotations

import pytest

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.fold import fold
from veilleur.detect.text.links import LinkExtractor, LinkListError

LINKS = LinkExtractor.load(POLICY_DIR / "links.toml")


def extract(text: str) -> list[tuple[str, str, str, bool]]:
    return [(x.kind, x.domain, x.url, x.obfuscated) for x in LINKS.extract(fold(text))]


@pytest.mark.parametrize(("text", "kind", "url", "obfuscated"), [
    ("le reste sur mega. nz/folder/abc, enlevez l'espace", "filehost",
     "https://mega.nz/folder/abc", True),
    ("hxxps://mega[.]nz/file/X", "filehost", "https://mega.nz/file/X", True),
    ("mega (dot) nz / F0lder", "filehost", "https://mega.nz/F0lder", True),
    ("mega point nz / abc", "filehost", "https://mega.nz/abc", True),
    ("Ｍｅｇａ．ｎｚ/XyZ", "filehost", "https://mega.nz/XyZ", True),
    ("https://mega.nz/file/abc", "filehost", "https://mega.nz/file/abc", False),
    ("www.mediafire.com/file/x", "filehost", "https://www.mediafire.com/file/x", False),
    ("rejoins discord . gg / VipPack", "invite", "https://discord.gg/VipPack", True),
    ("https://discord.com/invite/AbC12", "invite", "https://discord.com/invite/AbC12", False),
    ("t.me/packs_private", "telegram", "https://t.me/packs_private", False),
    ("ouo (dot) io/xyz", "shortener", "https://ouo.io/xyz", True),
    # The path's slashes spaced or spelled too, every one of them.
    ("mega . nz / folder / Ab3dE ok", "filehost", "https://mega.nz/folder/Ab3dE", True),
    ("mega. nz/ folder/ Ab3dE", "filehost", "https://mega.nz/folder/Ab3dE", True),
    ("discord dot gg slash KqZp2 now", "invite", "https://discord.gg/KqZp2", True),
    ("mega punto nz barra folder barra Xy7", "filehost", "https://mega.nz/folder/Xy7", True),
])
def test_links_are_found_through_obfuscation(text: str, kind: str, url: str,
                                             obfuscated: bool) -> None:
    assert extract(text) == [(kind, extract(text)[0][1], url, obfuscated)]


def test_invite_codes_keep_their_case() -> None:
    (link,) = LINKS.extract(fold("discord.gg/AbCd"))
    assert link.code == "AbCd"
    (link,) = LINKS.extract(fold("discord.com/invite/XyZ/extra"))
    assert link.code == "XyZ"


@pytest.mark.parametrize("text", [
    "fin. le match", "mail me at bob@mega.nz", "https://www.youtube.com/watch?v=x",
    "discord.com/channels/1/2", "megа.nz.example.org/x",
])
def test_unlisted_or_not_links(text: str) -> None:
    assert extract(text) == []


def test_bad_link_list(tmp_path: object) -> None:
    with pytest.raises(LinkListError, match="unknown link kind 'spam'"):
        LinkExtractor({"spam": ["x.com"]})
