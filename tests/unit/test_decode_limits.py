"""Every decode is bounded: hashing, banks and the console's previews share one opener."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Reader
from tests.factories import attachment, export, gradient_png, message, write
from veilleur.detect.media.decode import Limits, MediaError, image_frames, still_image
from veilleur.detect.media.hashing import hash_file
from veilleur.events import MessagePosted
from veilleur.service.media import render


def huge_png(side: int = 30_000) -> bytes:
    """A valid, mostly-empty side x side PNG (1 bit a pixel): ~110 KB that a careless decoder
    turns into 900 MB, and into 2.7 GB once made RGB."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    row = b"\x00" * (1 + (side + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return huge_png()


def test_pillow_keeps_its_own_bomb_guard_for_the_whole_process() -> None:
    import veilleur.detect.media.decode  # noqa: F401 - importing it must not switch it off

    assert Image.MAX_IMAGE_PIXELS is not None


def test_a_huge_picture_is_refused_by_hashing_with_its_size(tmp_path: Path, bomb: bytes
                                                            ) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(bomb)
    h = hash_file(path)
    assert h.error is not None and h.error.startswith("picture too large ("), h.error
    assert "900,000,000 pixels > limit of 64,000,000 pixels" in h.error
    assert h.sha256 is not None and h.pdq is None  # still matchable by its bytes


def test_the_console_preview_refuses_it_before_decoding(bomb: bytes) -> None:
    for clear in (False, True):
        with pytest.raises(MediaError, match=r"picture too large \(900,000,000 pixels"):
            render(bomb, clear=clear)


def test_below_pillows_guard_our_limit_names_width_and_height() -> None:
    small = Limits(max_pixels=1000)
    with pytest.raises(MediaError, match="picture too large \\(64\u00d764 > limit of 1,000"):
        image_frames(gradient_png(64, 64), small)
    with pytest.raises(MediaError, match="picture too large \\(64\u00d764 > limit of 1,000"):
        still_image(gradient_png(64, 64), small, 100)
    with pytest.raises(MediaError, match="over the limit of 100"):
        still_image(gradient_png(64, 64), Limits(max_bytes=100), 100)


def test_a_large_jpeg_preview_is_decoded_reduced() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (90, 120, 150)).save(buf, "JPEG", quality=70)
    im = still_image(buf.getvalue(), Limits(), 720)
    assert max(im.size) == 720
    jpeg = render(buf.getvalue(), clear=True, colour=True)
    assert Image.open(io.BytesIO(jpeg)).size == (720, 540)


def test_scan_reports_a_huge_attachment_as_unreadable_and_keeps_it(tmp_path: Path,
                                                                   bomb: bytes, read: Reader
                                                                   ) -> None:
    (tmp_path / "m.json_Files").mkdir()
    (tmp_path / "m.json_Files" / "big.png").write_bytes(bomb)
    doc = export([message("x", id="5", attachments=[attachment("m.json_Files/big.png",
                                                               id="b1")])])
    events, problems = read(write(tmp_path / "m.json", doc))
    (p,) = list(problems)
    assert "attachment b1" in str(p) and "picture too large" in p.problem
    att = next(e for e in events if isinstance(e, MessagePosted)).message.attachments[0]
    assert att.sha256 is not None and att.media_error is not None


@pytest.mark.parametrize(("name", "container"), [("v.mp4", None), ("v.avi", "avi")])
def test_a_video_preview_is_its_first_frame_shrunk(tmp_path: Path, name: str,
                                                   container: str | None) -> None:
    from tests.unit.test_media_hashing import make_video

    make_video(tmp_path / name, seconds=1, container=container)
    data = (tmp_path / name).read_bytes()
    assert still_image(data, Limits(), 80).size == (80, 60)
    with pytest.raises(MediaError, match="picture too large \\(160\u00d7120 > limit of 100"):
        still_image(data, Limits(max_pixels=100), 80)
