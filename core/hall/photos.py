"""Staff board photos (挂牌公示): uploaded in the back office, decoded and
re-encoded server-side with Pillow, turned upright, scaled to fit
:data:`MAX_SIZE` and saved as JPEG without any metadata (EXIF, GPS, ICC …
are dropped by re-encoding the pixels only). Stored under the data
directory's ``uploads/staff-photos/`` by content hash; only the board serves
them."""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

MAX_SIZE = (480, 640)  # width, height
MAX_BYTES = 8 * 1024 * 1024
NAME = re.compile(r"[0-9a-f]{64}\.jpg", re.ASCII)


class PhotoError(ValueError):
    pass


def folder() -> Path:
    return Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads" / "staff-photos"


def path_of(name: str):
    return folder() / name if NAME.fullmatch(name or "") else None


def process(data: bytes) -> bytes:
    """The photo as a clean JPEG no larger than MAX_SIZE; PhotoError if it
    is not an image Pillow reads."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data or len(data) > MAX_BYTES:
        raise PhotoError(_l("A photo is a JPEG, PNG or WebP image of at most 8 MB."))
    Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "WEBP"):
                raise PhotoError(_l("A photo is a JPEG, PNG or WebP image of at most 8 MB."))
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image.thumbnail(MAX_SIZE, Image.Resampling.LANCZOS)
            clean = Image.new("RGB", image.size)
            clean.paste(image)  # pixels only: no info, no EXIF, no ICC profile
            out = io.BytesIO()
            clean.save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PhotoError(_l("A photo is a JPEG, PNG or WebP image of at most 8 MB.")) from exc
    return out.getvalue()


def store(data: bytes) -> str:
    """Process and store an upload; return its file name."""
    jpeg = process(data)
    name = hashlib.sha256(jpeg).hexdigest() + ".jpg"
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(jpeg)
        tmp.replace(path)
    return name
