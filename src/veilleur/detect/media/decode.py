"""Decoding untrusted media with bounded memory and time.

Uploads are hostile: decompression bombs, truncated files, a video named `.jpg`, a GIF with
ten thousand frames. Every failure becomes a `MediaError` naming what is wrong with the file;
nothing here may crash a run or decode without limits.
"""

from __future__ import annotations

import io
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
_VIDEO_MAGIC = (b"\x1a\x45\xdf\xa3",)  # Matroska / WebM
_MP4_BRANDS = b"ftyp"  # ISO base media (MP4, MOV, 3GP) at offset 4
_STILL_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


class MediaError(Exception):
    """A file that cannot be hashed, with the reason in words."""


class UnknownFormatError(MediaError):
    """Not a picture or video at all (a PDF, an archive): no PDQ, and nothing to report."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 64_000_000
    """Per frame. 64 MP holds any phone photo; a 'bomb' declares far more."""
    max_image_frames: int = 4
    """Frames hashed from an animated image: the first and up to 3 more, evenly spaced."""
    max_frames_scanned: int = 400
    """An animation is only read this far: seeking in a GIF decodes every earlier frame."""
    video_fps: float = 1.0
    max_video_frames: int = 300
    """Frames kept from a video (fixed-rate samples and scene changes together)."""
    scene_change: int = 64
    """A frame this many PDQ bits from the last kept one is a new scene and is kept."""
    max_video_seconds: float = 60.0
    """Wall-clock budget for decoding one video."""
    video_side: int = 160
    """Frames are hashed from a copy this size: PDQ reduces every frame to 64x64 anyway."""


_ORIENTATION = 0x0112  # the EXIF tag


@dataclass(frozen=True, slots=True)
class Frame:
    rgb: np.ndarray
    t: float | None
    """Seconds from the start (videos), or None for a still image."""
    oriented: np.ndarray | None = None
    """The first frame turned as its EXIF orientation says, when that differs from the stored
    pixels: other programmes' PDQ (Meta's reference, the lists we import) hashes the stored
    pixels, so those are `rgb`, and the turned picture is one more lookup."""


def sniff(head: bytes) -> str:
    """'video' when the bytes start like a container we read with PyAV, else 'image'."""
    if head[4:8] == _MP4_BRANDS:
        # HEIF/AVIF stills share the ISO container: they are pictures (not read here)
        return "image" if head[8:12] in _STILL_BRANDS else "video"
    if any(head.startswith(m) for m in _VIDEO_MAGIC):
        return "video"
    return "image"


def check_size(size: int, limits: Limits) -> int:
    if size == 0:
        raise MediaError("file is empty")
    _within_bytes(size, limits)
    return size


def _within_bytes(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise MediaError(f"file is {size:,} bytes, over the limit of {limits.max_bytes:,}")


def _video_stream(container: Any, limits: Limits) -> Any:
    """The first video stream of an open container, its declared frame size checked before
    anything is decoded."""
    if not container.streams.video:
        raise MediaError("file has no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_pixels:
        raise _too_large(f"{width}\u00d7{height}", limits)
    return stream


def _too_large(pixels: str, limits: Limits) -> MediaError:
    return MediaError(f"picture too large ({pixels} > limit of {limits.max_pixels:,} pixels): "
                      "refusing to decode (decompression bomb?)")


def open_image(data: bytes, limits: Limits) -> Image.Image:
    """Pillow's view of a picture with its size checked and nothing decoded yet.

    The one way this engine opens a picture (hashing, banks, the console's previews): the
    header is read, the declared size compared with the limits, and only then may a caller
    `load()` it. Pillow's own bomb guard stays on as a second line; whichever refuses first,
    the reason reads the same."""
    _within_bytes(len(data), limits)
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        found = _BOMB_PIXELS.search(str(exc))
        raise _too_large(f"{int(found.group(1)):,} pixels" if found else "size", limits
                         ) from None
    except UnidentifiedImageError:
        raise UnknownFormatError("not an image or video this engine reads (unknown format)"
                                 ) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise MediaError(_image_error(exc)) from None
    if im.format not in IMAGE_FORMATS:
        raise MediaError(f"unsupported image format {im.format}")
    width, height = im.size
    if width * height > limits.max_pixels:
        raise _too_large(f"{width}\u00d7{height}", limits)
    if width < 1 or height < 1:
        raise MediaError(f"image has no pixels ({width}x{height})")
    return im


def image_frames(data: bytes, limits: Limits) -> list[Frame]:
    """The frames of a still or animated image worth hashing, as stored (the first one also
    turned by its EXIF orientation, `Frame.oriented`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = open_image(data, limits)
            return list(_sampled_frames(im, limits))
    except MediaError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise MediaError(_image_error(exc)) from None


def still_image(data: bytes, limits: Limits, side: int) -> Image.Image:
    """The first frame of a picture or video, at most `side` pixels a side, for people to look
    at; `MediaError` (with the reason) for anything over the limits or unreadable.

    A JPEG is decoded at a reduced scale (`draft`), so a large photo never costs its full
    size in memory; nothing is decoded before its declared size passed `open_image`."""
    if sniff(data[:16]) == "video":
        return _video_still(data, limits, side)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = open_image(data, limits)
            im.draft("RGB", (side, side))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
            im.load()
            im = ImageOps.exif_transpose(im) or im
            im.thumbnail((side, side))
            return im
    except UnknownFormatError:  # not a picture: maybe a container the sniff does not know
        return _video_still(data, limits, side)
    except MediaError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise MediaError(_image_error(exc)) from None


def _video_still(data: bytes, limits: Limits, side: int) -> Image.Image:
    import av

    _within_bytes(len(data), limits)
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            for frame in container.decode(_video_stream(container, limits)):
                if frame.width * frame.height > limits.max_pixels:
                    raise _too_large(f"{frame.width}\u00d7{frame.height}", limits)
                scale = min(1.0, side / max(frame.width, frame.height, 1))
                rgb = frame.to_ndarray(width=max(1, round(frame.width * scale)),
                                       height=max(1, round(frame.height * scale)),
                                       format="rgb24")
                return Image.fromarray(rgb)
    except MediaError:
        raise
    except av.error.InvalidDataError:
        raise UnknownFormatError("not an image or video this engine reads (unknown format)"
                                 ) from None
    except (av.error.FFmpegError, OSError, ValueError, IndexError, MemoryError) as exc:
        raise MediaError(f"cannot decode video: {exc}") from None
    raise MediaError("video has no decodable frames")


def _image_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return f"truncated or damaged image: {text}"
    return f"cannot decode image: {text}"


def _sampled_frames(im: Image.Image, limits: Limits) -> Iterator[Frame]:
    n = getattr(im, "n_frames", 1) if getattr(im, "is_animated", False) else 1
    scanned = min(n, limits.max_frames_scanned)
    if scanned <= 1:
        picks = [0]
    else:
        k = min(limits.max_image_frames, scanned)
        picks = sorted({round(i * (scanned - 1) / (k - 1)) for i in range(k)})
    # Frame times are estimated from the first frame's duration: exact times would mean
    # decoding every frame in between, which is what the scan limit is there to avoid.
    duration = float(im.info.get("duration") or 100) / 1000
    for index in picks:
        if index:
            im.seek(index)
        oriented = None
        if index == 0:
            im.load()
            if im.getexif().get(_ORIENTATION, 1) in range(2, 9):
                turned = ImageOps.exif_transpose(im)
                oriented = np.asarray(turned if turned.mode == "RGB" else turned.convert("RGB"))
        rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        yield Frame(rgb, round(index * duration, 3) if index else None, oriented)


def video_frames(source: Path | BinaryIO, limits: Limits) -> Iterator[Frame]:
    """Every decoded frame of a video, shrunk to at most `video_side` pixels, with its time.

    The caller hashes them and keeps one per `1/video_fps` seconds plus each scene change
    (vPDQ-style); shrinking first keeps that affordable for every frame.
    """
    import av  # PyAV is heavy to import; images never need it

    started = time.monotonic()
    try:
        with av.open(str(source) if isinstance(source, Path) else source,
                     mode="r", metadata_errors="ignore") as container:
            stream = _video_stream(container, limits)
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if time.monotonic() - started > limits.max_video_seconds:
                    raise MediaError(
                        f"video decoding exceeded its budget of {limits.max_video_seconds:.0f}s")
                t = float(frame.time) if frame.time is not None else index / 25.0
                w, h = frame.width, frame.height
                scale = min(1.0, limits.video_side / max(w, h, 1))
                rgb = frame.to_ndarray(width=max(1, round(w * scale)),
                                       height=max(1, round(h * scale)), format="rgb24")
                yield Frame(rgb, max(0.0, round(t, 3)))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError, MemoryError) as exc:
        raise MediaError(f"cannot decode video: {exc}") from None
