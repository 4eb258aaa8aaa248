"""Crop-tolerant matching of enrolled pictures by keypoints."""

from __future__ import annotations

import numpy as np
from bench.imagegen import make_image
from PIL import Image, ImageDraw, ImageFont

from veilleur.detect.media.features import FeatureIndex, LocalFeatures, extract, verify


def crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    w, h = im.size
    return np.asarray(im.crop((int(w * left), int(h * top), w - int(w * right),
                               h - int(h * bottom))))


def test_features_round_trip_through_bytes() -> None:
    feats = extract(np.asarray(make_image(3)))
    assert feats is not None and 12 <= len(feats.points) <= 250
    back = LocalFeatures.from_bytes(feats.to_bytes())
    assert np.array_equal(back.points, feats.points)
    assert np.array_equal(back.descriptors, feats.descriptors)
    assert (back.width, back.height) == (feats.width, feats.height)


def test_flat_picture_has_no_features() -> None:
    assert extract(np.asarray(Image.new("RGB", (400, 300), (10, 20, 30)))) is None


def test_cropped_and_resized_copies_match_only_their_original() -> None:
    index = FeatureIndex()
    pictures = {seed: make_image(seed) for seed in range(100, 140)}
    for seed, im in pictures.items():
        feats = extract(np.asarray(im))
        if feats is not None:
            index.add(seed, feats)
    index.compact()
    found = 0
    for seed, im in pictures.items():
        copy = crop(im, 0.04, 0.0, 0.02, 0.05)
        copy = np.asarray(Image.fromarray(copy).resize((copy.shape[1] * 2 // 3,
                                                        copy.shape[0] * 2 // 3)))
        feats = extract(copy)
        matches = index.match(feats) if feats is not None else {}
        assert set(matches) <= {seed}, (seed, matches)  # never another picture
        found += seed in matches
    assert found >= 0.85 * len(pictures)


def test_shared_caption_is_not_a_match() -> None:
    """Two different pictures with the same large caption: the text alone must not match."""
    font = ImageFont.load_default(size=48)
    a, b = make_image(201), make_image(202)
    for im in (a, b):
        ImageDraw.Draw(im).text((20, 20), "JOIN VIP NOW", fill=(255, 255, 255), font=font,
                                stroke_width=3, stroke_fill=(0, 0, 0))
    fa, fb = extract(np.asarray(a)), extract(np.asarray(b))
    assert fa is not None and fb is not None
    assert verify(fa, fb) == 0
    assert verify(fa, fa) > 0
