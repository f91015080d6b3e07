"""Photo storage outside the database.

An upload is accepted only if Pillow decodes it as JPEG, PNG or WebP within the size and pixel
limits. It is re-encoded from its pixels, which drops EXIF (GPS position, camera serial) and any
other metadata, after applying the EXIF orientation so the picture still stands upright. Files
get random names; only the database knows which case they belong to.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ValidationError
from .messages import msg

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"),
           "WEBP": ("image/webp", ".webp")}
MAX_PIXELS = 40_000_000
ATTACHMENT_KINDS = ("before", "after", "evidence")


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    mime: str
    extension: str
    sha256: str
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.content)


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes

    def prepare(self, data: bytes, field: str = "photo") -> PreparedImage:
        """Validate and clean an uploaded image, or raise ``ValidationError`` naming ``field``."""
        if not data:
            raise ValidationError({field: msg("the file is empty")})
        if len(data) > self.max_bytes:
            limit = self.max_bytes // (1024 * 1024)
            raise ValidationError({field: msg("the file is larger than {limit} MB", limit=limit)})
        try:
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise ValidationError({field: msg("only JPEG, PNG or WebP photos are accepted")})
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValidationError({field: msg("the picture has too many pixels")})
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
        except ValidationError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ValidationError({field: msg("the file is not a readable image")}) from None

        clean = Image.new(upright.mode, upright.size)
        clean.paste(upright)
        if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
            clean = clean.convert("RGB")
        out = io.BytesIO()
        save_args = {"quality": 88} if fmt in ("JPEG", "WEBP") else {"optimize": True}
        clean.save(out, fmt, **save_args)
        content = out.getvalue()
        mime, ext = FORMATS[fmt]
        return PreparedImage(content=content, mime=mime, extension=ext,
                             sha256=hashlib.sha256(content).hexdigest(),
                             width=clean.width, height=clean.height)

    def save(self, image: PreparedImage) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(16) + image.extension
        tmp = self.root / (name + ".part")
        tmp.write_bytes(image.content)
        os.replace(tmp, self.root / name)
        return name

    def path(self, storage_name: str) -> Path:
        if "/" in storage_name or storage_name.startswith("."):
            raise ValueError("bad storage name")
        return self.root / storage_name

    def delete(self, storage_name: str) -> None:
        self.path(storage_name).unlink(missing_ok=True)
