"""Decoding untrusted media with bounded memory and time.

Uploads are hostile: decompression bombs, truncated files, a video named `.jpg`, a GIF with
ten thousand frames. Every failure becomes a `MediaError` naming what is wrong with the file;
nothing here may crash a run or decode without limits.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Our own limits are checked before decoding; Pillow's global bomb guard must not fire first
# with a less helpful message (or, below its error level, only warn).
Image.MAX_IMAGE_PIXELS = None

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
_VIDEO_MAGIC = (b"\x1a\x45\xdf\xa3",)  # Matroska / WebM
_MP4_BRANDS = b"ftyp"  # ISO base media (MP4, MOV, 3GP) at offset 4
_STILL_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis"})


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


@dataclass(frozen=True, slots=True)
class Frame:
    rgb: np.ndarray
    t: float | None
    """Seconds from the start (videos), or None for a still image."""


def sniff(head: bytes) -> str:
    """'video' when the bytes start like a container we read with PyAV, else 'image'."""
    if head[4:8] == _MP4_BRANDS:
        # HEIF/AVIF stills share the ISO container: they are pictures (not read here)
        return "image" if head[8:12] in _STILL_BRANDS else "video"
    if any(head.startswith(m) for m in _VIDEO_MAGIC):
        return "video"
    return "image"


def check_size(path: Path, limits: Limits) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from None
    if size == 0:
        raise MediaError("file is empty")
    if size > limits.max_bytes:
        raise MediaError(f"file is {size:,} bytes, over the limit of {limits.max_bytes:,}")
    return size


def image_frames(data: bytes, limits: Limits) -> list[Frame]:
    """The frames of a still or animated image worth hashing, EXIF orientation applied."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd metadata; errors still raise
            im = Image.open(io.BytesIO(data))
            if im.format not in IMAGE_FORMATS:
                raise MediaError(f"unsupported image format {im.format}")
            width, height = im.size
            if width * height > limits.max_pixels:
                raise MediaError(
                    f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over "
                    f"the limit of {limits.max_pixels / 1e6:.0f}: refusing to decode "
                    "(decompression bomb?)")
            if width < 1 or height < 1:
                raise MediaError(f"image has no pixels ({width}x{height})")
            return list(_sampled_frames(im, limits))
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:  # pragma: no cover - limits checked first
        raise MediaError(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UnknownFormatError("not an image or video this engine reads (unknown format)"
                            ) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise MediaError(_image_error(exc)) from None


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
        if index == 0:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # no copy when nothing to turn
        rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        yield Frame(rgb, round(index * duration, 3) if index else None)


def video_frames(path: Path, limits: Limits) -> Iterator[Frame]:
    """Every decoded frame of a video, shrunk to at most `video_side` pixels, with its time.

    The caller hashes them and keeps one per `1/video_fps` seconds plus each scene change
    (vPDQ-style); shrinking first keeps that affordable for every frame.
    """
    import av  # PyAV is heavy to import; images never need it

    started = time.monotonic()
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaError("file has no video stream")
            stream = container.streams.video[0]
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
