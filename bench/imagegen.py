"""Generated test pictures: shapes, gradients, text, noise, and composed 'photos'.

Nothing here is a real photograph: every picture is drawn from a seed, so benchmarks and
tests can make thousands of distinct images and re-make any of them exactly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

KINDS = ("shapes", "photo", "texture", "text", "scene")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: tuple[int, int]
                  ) -> Image.Image:
    grid = rng.integers(0, 256, (cells[1], cells[0], 3), dtype=np.uint8)
    return Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC)


def _gradient(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    c0, c1, c2 = (rng.integers(0, 256, 3) for _ in range(3))
    a = c0 * (1 - x) * (1 - y) + c1 * x + c2 * y * (1 - x)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _words(rng: np.random.Generator, n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return " ".join("".join(letters[int(i)] for i in rng.integers(0, len(letters),
                                                                  int(rng.integers(2, 9))))
                    for _ in range(n))


def _shapes(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, n: int) -> None:
    for _ in range(n):
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            d.ellipse([x0, y0, x1, y1], fill=_colour(rng))
        elif kind == 1:
            d.rectangle([x0, y0, x1, y1], fill=_colour(rng))
        else:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h)))
                   for _ in range(int(rng.integers(3, 7)))]
            d.polygon(pts, fill=_colour(rng))


def make_image(seed: int, kind: str | None = None) -> Image.Image:
    """One distinct RGB picture, 400-1100 pixels a side, fully determined by `seed`."""
    rng = np.random.default_rng(seed)
    kind = kind or KINDS[seed % len(KINDS)]
    w, h = int(rng.integers(480, 1100)), int(rng.integers(400, 900))
    if kind == "shapes":
        im = _gradient(rng, w, h)
        _shapes(ImageDraw.Draw(im), rng, w, h, int(rng.integers(4, 12)))
    elif kind == "photo":
        im = _smooth_noise(rng, w, h, (int(rng.integers(3, 12)), int(rng.integers(3, 10))))
        detail = _smooth_noise(rng, w, h, (int(rng.integers(20, 60)), int(rng.integers(15, 45))))
        im = Image.blend(im, detail, 0.35)
        _shapes(ImageDraw.Draw(im), rng, w, h, int(rng.integers(1, 5)))
        im = im.filter(ImageFilter.GaussianBlur(1.2))
    elif kind == "texture":
        cells = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        im = Image.fromarray(cells).resize((w, h), Image.Resampling.NEAREST)
        _shapes(ImageDraw.Draw(im), rng, w, h, int(rng.integers(2, 6)))
    elif kind == "text":
        im = Image.new("RGB", (w, h), _colour(rng))
        d = ImageDraw.Draw(im)
        _shapes(d, rng, w, h, int(rng.integers(1, 4)))
        y = int(rng.integers(5, 40))
        while y < h - 30:
            size = int(rng.integers(18, 48))
            d.text((int(rng.integers(5, max(6, w // 4))), y), _words(rng, int(rng.integers(2, 6))),
                   fill=_colour(rng), font=ImageFont.load_default(size=size))
            y += size + int(rng.integers(4, 30))
    else:  # scene: sky, ground, sun, hills, houses, trees
        im = Image.new("RGB", (w, h))
        sky = _gradient(rng, w, h)
        im.paste(sky)
        d = ImageDraw.Draw(im)
        horizon = int(h * rng.uniform(0.4, 0.7))
        d.rectangle([0, horizon, w, h], fill=_colour(rng))
        r = int(rng.integers(20, 80))
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, max(r + 1, horizon - r)))
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(250, 230, int(rng.integers(0, 160))))
        for _ in range(int(rng.integers(2, 6))):
            x = int(rng.integers(0, w))
            d.polygon([(x - int(rng.integers(60, 300)), horizon), (x, horizon -
                       int(rng.integers(30, 200))), (x + int(rng.integers(60, 300)), horizon)],
                      fill=_colour(rng))
        for _ in range(int(rng.integers(2, 8))):
            x, s = int(rng.integers(0, w)), int(rng.integers(20, 90))
            y = horizon + int(rng.integers(0, max(1, h - horizon - s)))
            d.rectangle([x, y - s, x + s, y], fill=_colour(rng))
            d.polygon([(x - 5, y - s), (x + s // 2, y - s - s // 2), (x + s + 5, y - s)],
                      fill=_colour(rng))
        noise = rng.normal(0, 6, (h, w, 3))
        im = Image.fromarray(np.clip(np.asarray(im) + noise, 0, 255).astype(np.uint8))
    if kind != "text" and rng.random() < 0.4:
        d = ImageDraw.Draw(im)
        d.text((int(rng.integers(0, w // 2)), int(rng.integers(0, h - 60))), _words(rng, 2),
               fill=_colour(rng), font=ImageFont.load_default(size=int(rng.integers(20, 70))))
    return im.convert("RGB")
