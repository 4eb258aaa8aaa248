"""Crop-tolerant matching: local features (ORB) with geometric verification.

PDQ is a global hash: cropping 5 % of a picture moves every low-frequency component and
costs it ~60-80 bits, far past any safe radius (measured in `bench/robustness.py`). Keypoint
descriptors are local: a crop removes some of them and leaves the rest where they were,
relative to each other. So for media we hold (pictures a reviewer confirmed, or enrolled on
purpose) we keep up to 250 ORB keypoints and descriptors; an upload's keypoints vote for
the enrolled pictures that share descriptors, and a vote only counts as a match when enough
of them agree on one similarity transform (RANSAC), spread over a good part of the picture,
at a plausible scale. That last check is what keeps shared fonts, logos and flat shapes from
matching unrelated pictures.

Hash-only bank entries (NCMEC, StopNCII, ThreatExchange lists) cannot use this: there is no
picture to take keypoints from. They rely on PDQ with orientations and border trimming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from veilleur.detect.media.index import PdqIndex

WORK_SIDE = 384
N_FEATURES = 250
VOTE_RADIUS = 24
"""Descriptors this close (of 256 bits) vote for the enrolled picture they belong to."""
MAX_BUCKET = 48
"""Descriptor chunks shared by more enrolled keypoints than this are not distinctive (flat
corners, glyph strokes): they are skipped, as stop words are in text search."""
MIN_VOTES = 4
MAX_CANDIDATES = 8
MIN_INLIERS = 24
"""Measured on generated pictures: true copies (resize, JPEG, crop to 10 %, borders, caption)
keep >= 28 agreeing keypoints in 95 % of cases (median ~100); structurally similar distinct
pictures (composed scenes) reached 12-19. 24 sits between."""
MIN_INLIER_SHARE = 0.25
MIN_COVERAGE = 0.12
"""Inliers must span this share of the upload's area (a caption or logo spans less)."""
MAX_SCALE = 2.5
MAX_ANGLE = 12.0
_RANSAC_PX = 4.0 / WORK_SIDE


@dataclass(frozen=True, slots=True)
class LocalFeatures:
    points: np.ndarray
    """(n, 2) float32 keypoint positions, in units of the picture's longer side."""
    descriptors: np.ndarray
    """(n, 32) uint8 ORB descriptors."""
    width: float
    height: float
    """The picture's extent in the same units (the longer one is 1)."""

    def to_bytes(self) -> bytes:
        head = np.array([len(self.points), self.width, self.height], np.float32).tobytes()
        return head + self.points.astype(np.float32).tobytes() + self.descriptors.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LocalFeatures:
        n, width, height = np.frombuffer(blob[:12], np.float32)
        k = int(n)
        points = np.frombuffer(blob[12: 12 + 8 * k], np.float32).reshape(k, 2)
        desc = np.frombuffer(blob[12 + 8 * k: 12 + 40 * k], np.uint8).reshape(k, 32)
        return cls(points, desc, float(width), float(height))


def extract(rgb: np.ndarray) -> LocalFeatures | None:
    """Keypoints of a picture; None when it has too few (flat or tiny pictures)."""
    import cv2  # ~30 MB: loaded by the first picture, not by every scan

    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = WORK_SIDE / max(h, w)
    if scale < 1:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    h, w = grey.shape
    if min(h, w) < 32:
        return None
    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=N_FEATURES, fastThreshold=12, edgeThreshold=15, patchSize=31)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or len(keypoints) < MIN_INLIERS:
        return None
    side = float(max(h, w))
    points = np.array([k.pt for k in keypoints], np.float32) / side
    # extents rounded to float32 as stored, so a picture and its stored copy are equal
    return LocalFeatures(points, np.ascontiguousarray(descriptors, np.uint8),
                         float(np.float32(w / side)), float(np.float32(h / side)))


def verify(query: LocalFeatures, ref: LocalFeatures) -> int:
    """How many keypoints agree on one plausible similarity transform (0 if not a match)."""
    import cv2

    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, ref.descriptors, k=2)
    good = [p[0] for p in pairs
            if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and p[0].distance <= 64]
    if len(good) < MIN_INLIERS:
        return 0
    src = query.points[[g.queryIdx for g in good]]
    dst = ref.points[[g.trainIdx for g in good]]
    model, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                              ransacReprojThreshold=_RANSAC_PX,
                                              maxIters=500, confidence=0.99)
    if model is None or mask is None:
        return 0
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(good):
        return 0
    a, b = float(model[0, 0]), float(model[1, 0])
    scale = math.hypot(a, b)
    angle = abs(math.degrees(math.atan2(b, a)))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE or angle > MAX_ANGLE:
        return 0
    kept = src[mask.ravel().astype(bool)]
    span = np.ptp(kept, axis=0)
    if span[0] * span[1] < MIN_COVERAGE * query.width * query.height:
        return 0
    return inliers


class FeatureIndex:
    """Enrolled pictures' descriptors, searchable by Hamming radius (the PDQ index code)."""

    def __init__(self) -> None:
        # Descriptor sets are small next to banks; wide chunks keep candidates few.
        self._index = PdqIndex(min_chunk_bits=16)
        self._features: dict[int, LocalFeatures] = {}

    def __len__(self) -> int:
        return len(self._features)

    def add(self, ref: int, features: LocalFeatures) -> None:
        if ref < 0:
            raise ValueError("refs are non-negative")
        self._features[ref] = features
        self._index.add([bytes(d) for d in features.descriptors],
                        refs=[ref] * len(features.descriptors), sort=False)

    def compact(self) -> None:
        self._index.compact()

    def match(self, query: LocalFeatures) -> dict[int, int]:
        """Enrolled pictures the query shows (ref -> agreeing keypoints)."""
        if not self._features:
            return {}
        # Exact chunk agreement only (no flipped probes): a true correspondence shares a
        # chunk with its keypoint more often than not, and voting needs only some of them.
        hits = self._index.search_arrays([bytes(d) for d in query.descriptors], VOTE_RADIUS,
                                         max_bucket=MAX_BUCKET, flips=0)
        if not len(hits):
            return {}
        refs = self._index.refs()[hits[:, 1]].astype(np.int64)
        # one vote per query keypoint per picture
        pairs = np.unique(hits[:, 0] * (1 << 32) + refs)
        voted, counts = np.unique(pairs & 0xFFFFFFFF, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:MAX_CANDIDATES]
        found = {}
        for ref, n in zip(voted[order].tolist(), counts[order].tolist(), strict=True):
            if n < MIN_VOTES:
                break
            inliers = verify(query, self._features[ref])
            if inliers:
                found[ref] = inliers
        return found
