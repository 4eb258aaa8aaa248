"""Hash one media file: MD5 and SHA-256 of the bytes, PDQ of the picture or of video frames.

This is `veilleur hash` (contracts §8) and what the engine stores for every attachment. The
lookup variants (orientations, trimmed borders) are computed in the same pass, so a file is
decoded once whether it is hashed for the record or matched against banks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from veilleur.detect.media.decode import (
    Limits,
    MediaError,
    UnknownFormatError,
    check_size,
    image_frames,
    sniff,
    video_frames,
)
from veilleur.detect.media.features import LocalFeatures
from veilleur.detect.media.features import extract as extract_features
from veilleur.detect.media.pdq import PdqHash, distance, pdq, query_hashes

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FrameHash:
    t: float
    pdq: PdqHash


@dataclass(frozen=True, slots=True)
class MediaHashes:
    file: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    kind: str | None = None
    """'image' or 'video' once decoded."""
    pdq: PdqHash | None = None
    frames: tuple[FrameHash, ...] = ()
    lookups: tuple[bytes, ...] = field(default=(), repr=False)
    """Every PDQ worth looking up in a bank (orientations, trimmed borders, video frames)."""
    lookup_labels: tuple[str, ...] = field(default=(), repr=False)
    features: LocalFeatures | None = field(default=None, repr=False)
    """Keypoints for crop-tolerant matching, when asked for (only enrolled banks use them)."""
    error: str | None = None
    unknown_format: bool = False
    """The file is no picture or video at all (the error says so); not worth reporting."""

    @property
    def matchable(self) -> bool:
        """Whether PDQ matching means anything for this file (quality >= 50)."""
        if self.pdq is not None:
            return self.pdq.matchable
        return bool(self.lookups)  # a video's lookups are only its matchable frames

    def to_json(self) -> dict[str, Any]:
        """The object of contracts §8."""
        doc: dict[str, Any] = {
            "file": self.file, "md5": self.md5, "sha256": self.sha256,
            "pdq": self.pdq.hex if self.pdq else None,
            "pdq_quality": self.pdq.quality if self.pdq else None,
            "error": self.error,
        }
        if self.kind == "video" or self.frames:
            doc["frames"] = [{"t": f.t, "pdq": f.pdq.hex, "pdq_quality": f.pdq.quality}
                             for f in self.frames]
        return doc


def digests(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def _stream_digests(f: BinaryIO) -> tuple[str, str, int]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    size = 0
    f.seek(0)
    while chunk := f.read(_CHUNK):
        md5.update(chunk)
        sha.update(chunk)
        size += len(chunk)
    return md5.hexdigest(), sha.hexdigest(), size


def hash_file(path: Path, limits: Limits | None = None, *, lookups: bool = True,
              features: bool = False) -> MediaHashes:
    """Every hash of one file; a file that cannot be read or decoded gets `error` instead.

    The byte digests survive a decoding failure: a damaged file is still matchable by MD5.
    """
    try:
        f = path.open("rb")
    except OSError as exc:
        return MediaHashes(file=str(path), error=f"cannot read file: {exc.strerror or exc}")
    with f:
        return hash_open(f, str(path), limits, lookups=lookups, features=features)


def hash_open(f: BinaryIO, name: str, limits: Limits | None = None, *, lookups: bool = True,
              features: bool = False) -> MediaHashes:
    """`hash_file` of a file already opened: every byte hashed and decoded comes through
    this one descriptor, so what was checked when it was opened is what gets read."""
    limits = limits or Limits()
    try:
        size_on_disk = check_size(os.fstat(f.fileno()).st_size, limits)
        head = f.read(16)
    except MediaError as exc:
        return MediaHashes(file=name, error=str(exc))
    except OSError as exc:
        return MediaHashes(file=name, error=f"cannot read file: {exc.strerror or exc}")
    if sniff(head) == "video":
        try:
            md5, sha, size = _stream_digests(f)
            f.seek(0)
        except OSError as exc:
            return MediaHashes(file=name, error=f"cannot read file: {exc.strerror or exc}")
        base = MediaHashes(file=name, md5=md5, sha256=sha, size=size, kind="video")
        try:
            return hash_video(base, f, limits)
        except MediaError as exc:
            return MediaHashes(file=name, md5=md5, sha256=sha, size=size, error=str(exc))
    try:
        f.seek(0)
        data = f.read(limits.max_bytes + 1)
    except OSError as exc:
        return MediaHashes(file=name, error=f"cannot read file: {exc.strerror or exc}")
    md5, sha = digests(data)
    try:
        return hash_image_bytes(data, name, md5, sha, limits, lookups=lookups,
                                features=features)
    except MediaError as exc:
        return MediaHashes(file=name, md5=md5, sha256=sha, size=size_on_disk, error=str(exc),
                           unknown_format=isinstance(exc, UnknownFormatError))


def hash_image_bytes(data: bytes, name: str, md5: str, sha: str, limits: Limits, *,
                     lookups: bool = True, features: bool = False) -> MediaHashes:
    frames = image_frames(data, limits)
    first = frames[0].rgb
    keypoints = extract_features(first) if features else None
    if lookups:
        own, variants, labels = query_hashes(first)
    else:
        own, variants, labels = pdq(first), [], []
    if lookups and frames[0].oriented is not None:
        turned = pdq(frames[0].oriented)
        if turned.bits not in variants:
            variants.append(turned.bits)
            labels.append("EXIF orientation applied")
    extra = []
    for i, frame in enumerate(frames[1:], 1):
        h = pdq(frame.rgb)
        extra.append(FrameHash(frame.t if frame.t is not None else float(i), h))
        if lookups and h.matchable and h.bits not in variants:
            variants.append(h.bits)
            labels.append(f"animation frame {i + 1}")
    return MediaHashes(file=name, md5=md5, sha256=sha, size=len(data), kind="image", pdq=own,
                       frames=tuple([FrameHash(0.0, own), *extra]) if extra else (),
                       lookups=tuple(variants), lookup_labels=tuple(labels),
                       features=keypoints)


def hash_video(base: MediaHashes, source: Path | BinaryIO, limits: Limits) -> MediaHashes:
    """PDQ of frames at a fixed rate and at scene changes (vPDQ-style), within the limits."""
    kept: list[FrameHash] = []
    step = 1.0 / limits.video_fps
    next_t = 0.0
    for frame in video_frames(source, limits):
        h = pdq(frame.rgb)
        t = frame.t or 0.0
        scheduled = t >= next_t
        changed = not kept or distance(h.bits, kept[-1].pdq.bits) > limits.scene_change
        if scheduled:
            next_t = t + step
        if scheduled or (changed and h.matchable):
            kept.append(FrameHash(t, h))
            if len(kept) >= limits.max_video_frames:
                break
    if not kept:
        raise MediaError("video has no decodable frames")
    lookups: list[bytes] = []
    labels: list[str] = []
    for f in kept:
        if f.pdq.matchable and f.pdq.bits not in lookups:
            lookups.append(f.pdq.bits)
            labels.append(f"video frame at {f.t:.1f}s")
    return MediaHashes(file=base.file, md5=base.md5, sha256=base.sha256, size=base.size,
                       kind="video", frames=tuple(kept), lookups=tuple(lookups),
                       lookup_labels=tuple(labels))
