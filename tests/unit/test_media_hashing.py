"""PDQ as the reference computes it, lookup variants, and decoding hostile files safely."""

from __future__ import annotations

import csv
import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from bench.imagegen import make_image
from PIL import Image, ImageOps

from tests.shared_data import shared_testdata
from veilleur.detect.media.decode import Limits
from veilleur.detect.media.hashing import hash_file
from veilleur.detect.media.pdq import (
    DIHEDRAL,
    PdqHash,
    distance,
    enrolment_hashes,
    pdq,
    query_hashes,
    reference_downsample,
    trim_borders,
)


def save(im: Image.Image, path: Path, fmt: str = "PNG", **kw: object) -> Path:
    im.save(path, fmt, **kw)
    return path


def test_identical_to_meta_reference_on_its_vectors() -> None:
    """Reference tolerance is 10 bits; we measure 0 on all but one JPEG (2 bits). Every
    picture of the folder has its expected hash: none is left unchecked."""
    reference = shared_testdata("pdq-reference")
    rows = list(csv.DictReader((reference / "expected.csv").open()))
    pictures = {p.name for p in reference.iterdir() if p.suffix.lower() in (".jpg", ".png")}
    assert pictures == {row["file"] for row in rows}
    distances = {}
    for row in rows:
        h = hash_file(reference / row["file"], lookups=False)
        assert h.error is None and h.pdq is not None
        distances[row["file"]] = distance(h.pdq.bits, bytes.fromhex(row["pdq"]))
    assert max(distances.values()) <= 2, distances
    assert sum(d == 0 for d in distances.values()) >= len(rows) - 1
    assert distances["misc-images__c.png"] == 0  # lossless: no decoder difference possible


@pytest.mark.parametrize("shape", [(800, 1280), (1004, 1600), (513, 700), (600, 511),
                                   (3001, 4000), (300, 200)])
def test_reference_shrink_picks_the_pixels_cimg_picks(shape: tuple[int, int]) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    small = reference_downsample(rgb)
    rows, cols = shape
    if rows <= 512 and cols <= 512:
        assert small.shape == rgb.shape
        return
    ys = np.arange(512) * rows // 512
    xs = np.arange(512) * cols // 512
    assert np.array_equal(small, rgb[ys[:, None], xs[None, :]])


def test_hash_is_64_lowercase_hex_with_quality(tmp_path: Path) -> None:
    h = hash_file(save(make_image(4), tmp_path / "a.png"))
    assert h.error is None and h.pdq is not None and h.kind == "image"
    assert len(h.pdq.hex) == 64 and h.pdq.hex == h.pdq.hex.lower()
    assert 50 <= h.pdq.quality <= 100
    assert PdqHash.from_hex(h.pdq.hex).bits == h.pdq.bits
    doc = h.to_json()
    assert set(doc) == {"file", "md5", "sha256", "pdq", "pdq_quality", "error"}


def test_flat_picture_is_low_quality_and_unmatchable(tmp_path: Path) -> None:
    h = hash_file(save(Image.new("RGB", (300, 200), (40, 90, 200)), tmp_path / "flat.png"))
    assert h.pdq is not None and h.pdq.quality < 50 and not h.matchable


def test_orientation_lookups_are_exact_for_mirror_and_rotation() -> None:
    im = make_image(9)  # a text picture: the hardest case for PDQ's own orientation hashes
    _, original, _ = query_hashes(np.asarray(im))
    for copy in (ImageOps.mirror(im), im.transpose(Image.Transpose.ROTATE_90),
                 ImageOps.flip(im)):
        _, lookups, labels = query_hashes(np.asarray(copy))
        assert len(lookups) == len(labels) >= 10
        assert labels[:2] == ["as uploaded", "mirrored back"]
        assert set(labels[2:10]) == set(DIHEDRAL)
        # the anti-aliased upright hash of the original is among the copy's lookups
        assert original[2] in lookups
    # a mirrored copy flipped back is the original, pixel for pixel: same reference hash
    _, lookups, _ = query_hashes(np.asarray(ImageOps.mirror(im)))
    assert lookups[1] == original[0]


def test_border_and_letterbox_are_trimmed_before_hashing() -> None:
    im = make_image(5)
    framed = ImageOps.expand(im, border=60, fill=(250, 250, 250))
    box = trim_borders(np.asarray(framed))
    assert box is not None
    top, bottom, left, right = box
    assert abs(top - 60) <= 3 and abs(left - 60) <= 3
    assert abs(bottom - (60 + im.height)) <= 3 and abs(right - (60 + im.width)) <= 3
    _, lookups, labels = query_hashes(np.asarray(framed))
    assert any(label.startswith("border trimmed") for label in labels)
    own = next(h for h, form in enrolment_hashes(np.asarray(im)) if form == "reference")
    assert min(distance(own.bits, x) for x in lookups) <= 31
    assert trim_borders(np.asarray(make_image(0))) is None  # no uniform edge: nothing to trim


def test_exif_orientation_is_a_lookup_and_pdq_is_the_stored_pixels(tmp_path: Path) -> None:
    """As Meta's reference (and the lists we import) does, `pdq` hashes the stored pixels; the
    picture turned upright by its EXIF orientation is one more lookup, so a list entry made
    from the upright picture is still found."""
    im = make_image(3)
    upright = pdq(np.asarray(im)).bits
    stored = im.transpose(Image.Transpose.ROTATE_90)  # what a camera writes
    as_stored = pdq(np.asarray(stored)).bits
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = tmp_path / "phone.jpg"
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    h = hash_file(path)
    assert h.pdq is not None and distance(h.pdq.bits, as_stored) <= 16
    at = h.lookup_labels.index("EXIF orientation applied")
    assert distance(h.lookups[at], upright) <= 16


def test_wrong_extension_is_read_by_content(tmp_path: Path) -> None:
    png_named_jpg = save(make_image(2), tmp_path / "photo.jpg")
    h = hash_file(png_named_jpg)
    assert h.error is None and h.pdq is not None


def test_animated_gif_samples_a_few_frames_and_stays_bounded(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (48, 48), (i % 200, 40, 255 - i % 200)) for i in range(3000)]
    path = tmp_path / "long.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=20)
    started = time.monotonic()
    h = hash_file(path, Limits(max_frames_scanned=400, max_image_frames=4))
    assert time.monotonic() - started < 20
    assert h.error is None and 1 < len(h.frames) <= 4
    assert h.to_json()["frames"][0]["t"] == 0.0


@pytest.mark.parametrize("case", ["truncated", "bomb", "not_media", "empty", "garbage_png",
                                  "too_big", "heic"])
def test_hostile_files_get_a_clear_error_not_a_crash(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.bin"
    limits = Limits()
    if case == "truncated":
        buf = io.BytesIO()
        make_image(1).save(buf, "JPEG", quality=90)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        expect = "truncated"
    elif case == "bomb":
        # a valid PNG header declaring 100000 x 100000 pixels: never decoded
        def chunk(tag: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + tag + data
                    + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

        ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                         + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))
        expect = "decompression bomb"
    elif case == "not_media":
        path.write_text("just some text, not a picture")
        expect = "unknown format"
    elif case == "empty":
        path.write_bytes(b"")
        expect = "empty"
    elif case == "garbage_png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
        expect = "image"
    elif case == "heic":  # an ISO container, like MP4, but a still picture we do not read
        path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 500)
        expect = "unknown format"
    else:
        path.write_bytes(b"x" * 2000)
        limits = Limits(max_bytes=1000)
        expect = "over the limit"
    h = hash_file(path, limits)
    assert h.error is not None and expect in h.error, h.error
    assert h.pdq is None


def test_bytes_are_digested_even_when_the_picture_is_damaged(tmp_path: Path) -> None:
    buf = io.BytesIO()
    make_image(1).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[:3000])
    h = hash_file(path)
    assert h.error is not None and h.md5 is not None and h.sha256 is not None


def make_video(path: Path, seconds: int = 4, fps: int = 10, codec: str = "mpeg4",
               container: str | None = None) -> None:
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        scenes = [np.asarray(make_image(s).resize((160, 120))) for s in (11, 16)]
        for i in range(seconds * fps):
            rgb = scenes[0] if i < seconds * fps // 2 else scenes[1]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize(("name", "codec", "container"), [
    ("clip.mp4", "libx264", "mp4"), ("clip.webm", "libvpx", "webm"), ("clip.mov", "mpeg4", "mov"),
    ("looks-like-a-picture.jpg", "mpeg4", "mp4")])
def test_video_frames_at_fixed_rate_and_scene_changes(tmp_path: Path, name: str, codec: str,
                                                      container: str) -> None:
    path = tmp_path / name
    make_video(path, codec=codec, container=container)
    h = hash_file(path)
    assert h.error is None and h.kind == "video" and h.md5 is not None
    doc = h.to_json()
    assert doc["pdq"] is None and len(doc["frames"]) >= 4
    times = [f["t"] for f in doc["frames"]]
    assert times == sorted(times) and times[0] == 0.0
    assert {f["pdq"] for f in doc["frames"]} and all(len(f["pdq"]) == 64 for f in doc["frames"])
    assert len(h.lookups) >= 2  # both scenes are looked up
    # a frame of the second scene was kept at (or right after) the cut
    assert any(1.9 <= t <= 2.2 for t in times)


def test_broken_video_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    make_video(path)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:600])
    h = hash_file(cut)
    assert h.error is not None and h.md5 is not None
