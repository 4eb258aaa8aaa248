"""The one confinement every hostile path goes through (`veilleur.confine`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veilleur.confine import (
    RefusedPathError,
    locate,
    open_inside,
    read_regular_file,
    relative_readings,
    safe_name,
    write_inside,
)

HOSTILE = {
    "up": "../secret",
    "up inside": "a/../../secret",
    "absolute": "/etc/passwd",
    "backslash up": "..\\secret",
    "encoded up": "%2e%2e/secret",
    "encoded slash": "%2e%2e%2fsecret",
    "double encoded": "%252e%252e%252fsecret",
    "triple encoded": "%25252e%25252e/secret",
    "encoded absolute": "%2Fproc%2Fself%2Fenviron",
    "drive": "C:\\Users\\secret",
    "drive relative": "C:secret",
    "drive forward": "c:/secret",
    "encoded drive": "C%3A%5Csecret",
    "unc": "\\\\server\\share\\secret",
    "unc forward": "//server/share/secret",
    "device": "\\\\?\\C:\\secret",
    "nul": "ok.png\x00../../secret",
    "encoded nul": "ok.png%00",
    "long path": "a/" * 3000 + "x.png",
    "long name": "x" * 300 + ".png",
    "nothing": "./",
}


@pytest.mark.parametrize("ref", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_path_trick_is_refused_before_touching_the_disk(ref: str) -> None:
    with pytest.raises(RefusedPathError) as exc:
        relative_readings(ref, "export folder")
    text = str(exc.value)
    assert any(w in text for w in ("leaves the export folder", "NUL", "long", "names no file"))
    assert "\x00" not in text and len(text) < 300  # quoted, escaped and short


def test_ordinary_references_keep_every_reading() -> None:
    rels = relative_readings("chan.json_Files\\b%20c.png", "export folder")
    assert [str(r) for r in rels] == ["chan.json_Files/b%20c.png", "chan.json_Files/b c.png"]
    assert [str(r) for r in relative_readings("./a//b/./c.png")] == ["a/b/c.png"]
    assert [str(r) for r in relative_readings("100%25.png")] == ["100%25.png", "100%.png"]


def test_links_out_of_the_folder_are_refused_inside_ones_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "media").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(b"k")
    (root / "media" / "real.png").write_bytes(b"p")
    (root / "media" / "out.png").symlink_to(outside / "secret")
    (root / "media" / "in.png").symlink_to(root / "media" / "real.png")
    (root / "linked").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")
    assert locate("media/in.png", root) == (root / "media" / "real.png").resolve()
    assert locate("media/missing.png", root) is None
    assert locate("loop/x", root) is None
    for ref in ("media/out.png", "linked/secret", "media%2Fout.png"):
        with pytest.raises(RefusedPathError, match=r"leaves the folder \(through a link\)"):
            locate(ref, root)


def test_a_folder_swapped_for_a_link_after_the_check_is_caught_on_open(tmp_path: Path
                                                                      ) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "media").mkdir(parents=True)
    outside.mkdir()
    (root / "media" / "a.png").write_bytes(b"inside")
    (outside / "a.png").write_bytes(b"outside")
    found = locate("media/a.png", root)
    assert found is not None
    os.rename(root / "media", tmp_path / "moved")  # the race: between locate and open
    (root / "media").symlink_to(outside)
    with pytest.raises(RefusedPathError, match="changed while being opened"):
        open_inside(found, root)
    (root / "media").unlink()
    (root / "media").mkdir()
    (root / "media" / "a.png").symlink_to(outside / "a.png")  # the last name a link
    with pytest.raises(RefusedPathError, match="changed while being opened"):
        open_inside(found, root)


def test_a_fifo_neither_blocks_nor_is_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert locate("pipe", tmp_path) is None
    assert read_regular_file(tmp_path / "pipe", 100) is None
    with pytest.raises(RefusedPathError, match="not a regular file"):
        open_inside(tmp_path / "pipe", tmp_path)


def test_writing_stays_in_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = safe_name("../../escaped-..\\x/.png")
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert write_inside(out, name, b"x").parent == out.resolve()
    for bad in ("../x", "a/b", "..", "", "a\x00b", "x" * 300):
        with pytest.raises(RefusedPathError):
            write_inside(out, bad, b"x")
    (out / "trap").symlink_to(tmp_path / "victim")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        write_inside(out, "trap", b"x")  # a link planted at the name is not followed
    assert not (tmp_path / "victim").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
