"""Pictures for reviewers: blurred and greyscale by default, made on the server, so the
browser never receives the clear picture until a person asks for it (and that is recorded).
Videos are shown as one blurred still; the clear video is served only after a reveal, and the
page never plays it by itself."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageFilter

from veilleur.cases.casework import Casework
from veilleur.confine import read_regular_file
from veilleur.detect.media.decode import Limits, sniff, still_image
from veilleur.taxonomy import Target, TargetKind

MAX_BYTES = 64 * 1024 * 1024
LIMITS = Limits(max_bytes=MAX_BYTES)
"""The hashing path's limits: a picture too large to hash is too large to show."""
MAX_SIDE = 720
BLUR = {"strong": 24, "light": 10}


def file_bytes(cw: Casework, attachment_id: str, *, viewer: str, now: datetime
               ) -> bytes | None:
    """The file: where the platform keeps it, else the preserved evidence (opening it is
    audited by the vault). Only bytes whose SHA-256 is the one recorded for this attachment
    are ever returned: a path that now names another file (or never named this one) serves
    nothing."""
    att = cw.content.attachment(attachment_id)
    if att is None:
        return None
    if att.path and att.sha256:
        data = read_regular_file(Path(att.path), MAX_BYTES)
        if data is not None and hashlib.sha256(data).hexdigest() == att.sha256:
            return data
    for target in (Target(TargetKind.MESSAGE, att.message_id),
                   Target(TargetKind.ATTACHMENT, attachment_id)):
        for record_id in cw.vault.by_target.get(target, []):
            doc = cw.vault.open(record_id, actor=viewer, purpose="review: reveal media",
                                at=now)
            for item in doc.get("attachments", []):
                if item.get("id") == attachment_id and item.get("bytes_b64"):
                    data = base64.b64decode(item["bytes_b64"])
                    recorded = {d for d in (item.get("sha256"), att.sha256) if d}
                    if recorded == {hashlib.sha256(data).hexdigest()}:
                        return data
    return None


def video_type(data: bytes) -> str | None:
    """The content type a video is served as, from its bytes; None for anything that is not
    a container the console plays (what is served is never taken on the sender's word)."""
    head = data[:16]
    if sniff(head) != "video":
        return None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"


def render(data: bytes, *, clear: bool, colour: bool = False, blur: str = "strong",
           limits: Limits = LIMITS) -> bytes:
    """A JPEG of the picture (or a video's first frame): greyscale unless `colour`, blurred
    unless `clear`. `MediaError` says why a file cannot be shown (too large, not a picture);
    the decode is bounded (`still_image`), whatever the file declares."""
    img = still_image(data, limits, MAX_SIDE).convert("RGB")
    if not colour or not clear:
        img = img.convert("L")
    if not clear:
        # Blur on a small copy: cheap, and no detail survives to be sharpened back.
        small = img.resize((max(1, img.width // 8), max(1, img.height // 8)),
                           Image.Resampling.BILINEAR)
        img = small.filter(ImageFilter.GaussianBlur(BLUR.get(blur, BLUR["strong"]) / 8)
                           ).resize(img.size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def placeholder() -> bytes:
    """What the console shows instead of a file it refuses to decode: a plain grey tile (the
    reason travels in a header and on the page, not in pixels)."""
    out = io.BytesIO()
    Image.new("L", (160, 120), 200).save(out, "JPEG", quality=60)
    return out.getvalue()
