"""Pictures for reviewers: blurred and greyscale by default, made on the server, so the
browser never receives the clear picture until a person asks for it (and that is recorded).
Videos are shown as one blurred still; the clear video is served only after a reveal, and the
page never plays it by itself."""

from __future__ import annotations

import base64
import io
from datetime import datetime

from PIL import Image, ImageFilter, ImageOps

from veilleur.cases.casework import Casework
from veilleur.cases.evidence_docs import read_local_file
from veilleur.taxonomy import Target, TargetKind

MAX_BYTES = 64 * 1024 * 1024
MAX_SIDE = 720
BLUR = {"strong": 24, "light": 10}


def file_bytes(cw: Casework, attachment_id: str, *, viewer: str, now: datetime
               ) -> bytes | None:
    """The file: where the platform keeps it, else the preserved evidence (opening it is
    audited by the vault)."""
    att = cw.content.attachment(attachment_id)
    if att is None:
        return None
    if att.path:
        data = read_local_file(att.path, MAX_BYTES)
        if data is not None:
            return data
    for target in (Target(TargetKind.MESSAGE, att.message_id),
                   Target(TargetKind.ATTACHMENT, attachment_id)):
        for record_id in cw.vault.by_target.get(target, []):
            doc = cw.vault.open(record_id, actor=viewer, purpose="review: reveal media",
                                at=now)
            for item in doc.get("attachments", []):
                if item.get("id") == attachment_id and item.get("bytes_b64"):
                    return base64.b64decode(item["bytes_b64"])
    return None


def _still(data: bytes) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return ImageOps.exif_transpose(img) or img
    except Exception:  # not a picture: maybe a video
        pass
    try:
        import av

        with av.open(io.BytesIO(data), mode="r") as container:
            for frame in container.decode(video=0):
                still: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
                return still
    except Exception:  # neither: nothing to show
        return None
    return None


def render(data: bytes, *, clear: bool, colour: bool = False, blur: str = "strong"
           ) -> bytes | None:
    """A JPEG of the picture (or a video's first frame): greyscale unless `colour`, blurred
    unless `clear`."""
    img = _still(data)
    if img is None:
        return None
    img = img.convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE))
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
