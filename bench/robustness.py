"""Known-image matching under what re-uploaders do: share matched per transformation.

    .venv/bin/python bench/robustness.py --images 2000

Each generated picture (bench/imagegen.py: shapes, composed photos and scenes, textures,
text) is put in a bank twice over: as its reference PDQ hash only, like an entry of an NCMEC
or StopNCII list, and enrolled with the picture at hand (reference PDQ plus local features),
like media a reviewer confirmed. Each transformed copy is then looked up the way the engine
looks up an upload (`query_hashes`: orientations and trimmed borders; local features when
enrolled entries exist), at the default radius of 31 bits.

Reported per transformation: the share of copies matched to their original, for hash-only
and for enrolled entries. False matches: every match of a copy (or an original) to a
*different* picture, over all (query, bank entry) pairs of distinct pictures. Pictures whose
PDQ quality is below 50 are unmatchable by design and are counted apart.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imagegen import KINDS, make_image
from veilleur.detect.media import features as lf
from veilleur.detect.media.index import PdqIndex
from veilleur.detect.media.pdq import enrolment_hashes, pdq, query_hashes

RADIUS = 31


def _crop(frac: float) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    def crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = im.size
        cw, ch = w * frac, h * frac
        ox, oy = rng.random(), rng.random()
        return im.crop((round(ox * cw), round(oy * ch), round(w - (1 - ox) * cw),
                        round(h - (1 - oy) * ch)))
    return crop


def _jpeg(quality: int) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    def jpeg(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return jpeg


def _border(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    width = int(max(im.size) * rng.uniform(0.04, 0.12))
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    return ImageOps.expand(im, border=width, fill=colour)


def _letterbox(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    target = 16 / 9 if w / h < 16 / 9 else 9 / 16
    if w / h < target:
        canvas = Image.new("RGB", (round(h * target), h))
    else:
        canvas = Image.new("RGB", (w, round(w / target)))
    canvas.paste(im, ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return canvas


def _caption(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    im = im.copy()
    d = ImageDraw.Draw(im)
    size = max(12, im.height // 18)
    d.text((im.width // 20, im.height - size * 2), "lol when u see it 😂"[:16],
           fill=(255, 255, 255), font=ImageFont.load_default(size=size),
           stroke_width=2, stroke_fill=(0, 0, 0))
    return im


def _tone(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    im = ImageEnhance.Brightness(im).enhance(rng.choice([0.8, 1.2]))
    return ImageEnhance.Contrast(im).enhance(rng.choice([0.8, 1.25]))


TRANSFORMS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "resize 1/2": lambda im, _: im.resize((im.width // 2, im.height // 2)),
    "resize 1/4": lambda im, _: im.resize((im.width // 4, im.height // 4)),
    "jpeg q30": _jpeg(30),
    "jpeg q50": _jpeg(50),
    "crop 2%": _crop(0.02),
    "crop 5%": _crop(0.05),
    "crop 10%": _crop(0.10),
    "border": _border,
    "letterbox": _letterbox,
    "mirror": lambda im, _: ImageOps.mirror(im),
    "rotate 90": lambda im, _: im.transpose(Image.Transpose.ROTATE_90),
    "text overlay": _caption,
    "brightness/contrast": _tone,
}


def work(seed: int) -> dict[str, object]:
    """Everything about one picture: its bank hashes and its transformed copies' lookups."""
    rng = np.random.default_rng(10_000 + seed)
    im = make_image(seed)
    rgb = np.asarray(im)
    own = pdq(rgb)
    out: dict[str, object] = {"seed": seed, "pdq": own.bits, "quality": own.quality,
                              "enrolled": [h.bits for h, _ in enrolment_hashes(rgb)],
                              "features": lf.extract(rgb), "queries": {}}
    queries: dict[str, tuple[list[bytes], object]] = {}
    for name, transform in TRANSFORMS.items():
        copy = np.asarray(transform(im, rng))
        _, lookups, _ = query_hashes(copy)
        queries[name] = (lookups, lf.extract(copy))
    _, own_lookups, _ = query_hashes(rgb)
    queries["original"] = (own_lookups, out["features"])
    out["queries"] = queries
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        items = list(pool.map(work, range(args.images), chunksize=8))
    prep_s = time.perf_counter() - t0

    matchable = [it for it in items if int(it["quality"]) >= 50]  # type: ignore[call-overload]
    low = len(items) - len(matchable)
    index = PdqIndex()
    index.add([it["pdq"] for it in matchable], refs=[int(it["seed"]) for it in matchable])
    index.compact()
    enrolled_pdq = PdqIndex()
    for it in matchable:
        hashes = it["enrolled"]
        enrolled_pdq.add(hashes, refs=[int(it["seed"])] * len(hashes))  # type: ignore
    enrolled_pdq.compact()
    enrolled = lf.FeatureIndex()
    for it in matchable:
        if it["features"] is not None:
            enrolled.add(int(it["seed"]), it["features"])  # type: ignore[arg-type]
    enrolled.compact()

    names = [*TRANSFORMS, "original"]
    hits_hash = dict.fromkeys(names, 0)
    hits_enrolled = dict.fromkeys(names, 0)
    false_hash = 0
    false_enrolled = 0
    false_pairs: list[dict[str, object]] = []
    misses_by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
    t0 = time.perf_counter()
    for it in matchable:
        seed = int(it["seed"])  # type: ignore[call-overload]
        for name, (lookups, feats) in it["queries"].items():  # type: ignore[attr-defined]
            refs = {index.ref(h.slot) for h in index.search(lookups, RADIUS)}
            hash_hit = seed in refs
            false_hash += len(refs - {seed})
            by_features = set(enrolled.match(feats)) if feats is not None else set()
            by_pdq = {enrolled_pdq.ref(h.slot) for h in enrolled_pdq.search(lookups, RADIUS)}
            feat_refs = by_features | by_pdq
            false_enrolled += len(feat_refs - {seed})
            for other in sorted(feat_refs - {seed}):
                false_pairs.append({"query": seed, "transform": name, "matched": other,
                                    "via": "features" if other in by_features else "pdq"})
            hits_hash[name] += hash_hit
            hits_enrolled[name] += seed in feat_refs
            if not hash_hit and not name.startswith("crop"):
                misses_by_kind[KINDS[seed % len(KINDS)]] += 1
    match_s = time.perf_counter() - t0
    n = len(matchable)
    pairs = n * (n - 1) * len(names)
    print(f"{len(items)} pictures ({low} below PDQ quality 50, unmatchable by design); "
          f"{n} matchable; radius {RADIUS}; prepared in {prep_s:.0f} s, matched in "
          f"{match_s:.0f} s")
    print(f"{'transformation':<22}{'hash-only bank':>16}{'enrolled':>12}")
    rows = {}
    for name in names:
        a, b = hits_hash[name] / n, hits_enrolled[name] / n
        rows[name] = {"hash_only": a, "enrolled": b}
        print(f"{name:<22}{a:>15.1%} {b:>11.1%}")
    print(f"false matches, hash-only: {false_hash} in {pairs:,} pairs "
          f"({false_hash / pairs:.2e}); with local features: {false_enrolled} "
          f"({false_enrolled / pairs:.2e})")
    print("hash-only misses (crops aside) by kind of picture: "
          + ", ".join(f"{k} {v}" for k, v in misses_by_kind.items()))
    if args.json:
        args.json.write_text(json.dumps({
            "pictures": len(items), "low_quality": low, "radius": RADIUS, "rows": rows,
            "pairs": pairs, "false_hash_only": false_hash,
            "false_enrolled": false_enrolled, "false_pairs": false_pairs,
            "hash_only_misses_by_kind": misses_by_kind}, indent=2))
    for fp in false_pairs[:10]:
        print(f"  false match: copy of {fp['query']} ({fp['transform']}) -> {fp['matched']} "
              f"via {fp['via']}")


if __name__ == "__main__":
    main()
