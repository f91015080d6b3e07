"""Photo storage outside the database.

An upload is accepted only if Pillow decodes it as JPEG, PNG or WebP within the size and pixel
limits. It is scaled down to at most :data:`MAX_SIDE` pixels on its long side and re-encoded
from its pixels, which drops EXIF (GPS position, camera serial) and any other metadata, after
applying the EXIF orientation so the picture still stands upright. Files get random names; only
the database knows which case they belong to.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from workflow.errors import ValidationError
from workflow.messages import msg

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"),
           "WEBP": ("image/webp", ".webp")}
MAX_SIDE = 2560  # stored photos are at most this long on their long side: plenty to judge a fix
THUMB_SIDE = 160  # the small copies lists show (inbox rows), made once on first view
MAX_JPEG_PIXELS = 50_000_000  # JPEGs decode at a reduced scale: a 50 Mpx camera's photo is fine
MAX_WORK = 128 * 1024 * 1024  # memory one picture may take while it is cleaned (see _work)
WAIT = 20.0  # seconds an upload waits for the image thread before it is turned away
_POOL_LOCK = threading.Lock()
# Peak memory of cleaning a picture, in bytes per decoded pixel, measured with _clean on this
# code (decoding, flattening transparency, shrinking, re-encoding): grey pictures are cheap,
# transparent ones are flattened through RGBA, and libwebp decodes into a buffer of its own.
_WORK_PER_PIXEL = {"1": 3, "L": 3, "I;16": 3, "LA": 13, "PA": 13}
_WORK_PER_PIXEL_WEBP = 18
_WORK_PER_PIXEL_DEFAULT = 11


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """Three quarters of the stored size: a JPEG decoder scales by 1/2, 1/4 or 1/8 down to no
    less than this, so a phone's 12 Mpx photo decodes as 3 Mpx (and is stored at 2000 x 1500)
    and no JPEG decodes to more than about 11 Mpx."""
    scale = min(1.0, MAX_SIDE / max(width, height)) * 0.75
    return max(1, int(width * scale)), max(1, int(height * scale))


def _work(probe: Image.Image) -> int:
    """The memory cleaning ``probe`` (only its header read) would take: its decoded pixels (a
    JPEG's at the reduced scale it will be decoded at) times the measured cost of its kind."""
    width, height = probe.size
    if probe.format == "JPEG":
        wanted_w, wanted_h = _draft_size(width, height)
        scale = next((s for s in (8, 4, 2) if width // s >= wanted_w and height // s >= wanted_h), 1)
        width, height = -(-width // scale), -(-height // scale)
    if probe.format == "WEBP":
        per_pixel = _WORK_PER_PIXEL_WEBP
    else:
        per_pixel = _WORK_PER_PIXEL.get(probe.mode, _WORK_PER_PIXEL_DEFAULT)
    return width * height * per_pixel


def _too_big(probe: Image.Image) -> bool:
    if probe.format == "JPEG" and probe.width * probe.height > MAX_JPEG_PIXELS:
        return True
    return _work(probe) > MAX_WORK


def _on_white(img: Image.Image) -> Image.Image:
    """The picture flattened onto white (keeping its EXIF, for the orientation)."""
    rgba = img if img.mode == "RGBA" else img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    flat.info["exif"] = img.info.get("exif", b"")
    return flat


def _clean(data: bytes, fmt: str) -> tuple[bytes, int, int]:
    """(encoded bytes, width, height) of the picture: shrunk, upright, metadata left behind.
    Each step closes the picture it came from, so at most two sizes of it are in memory."""
    img = Image.open(io.BytesIO(data))
    try:
        if fmt == "JPEG":
            img.draft("RGB", _draft_size(*img.size))
        img.load()
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            flat = _on_white(img)  # a photo needs no transparency; resizing RGBA costs twice
            img.close()
            img = flat
        img.thumbnail((MAX_SIDE, MAX_SIDE))  # in place: the full-size pixels are freed here
        ImageOps.exif_transpose(img, in_place=True)
        clean = Image.new(img.mode, img.size)
        clean.paste(img)  # pixels only: EXIF (GPS, camera serial) is left behind
    finally:
        img.close()
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    out = io.BytesIO()
    save_args = {"quality": 88} if fmt in ("JPEG", "WEBP") else {"optimize": True}
    clean.save(out, fmt, **save_args)
    return out.getvalue(), clean.width, clean.height


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
        self._worker: ThreadPoolExecutor | None = None  # the image thread, started on first use

    def prepare(self, data: bytes, field: str = "photo") -> PreparedImage:
        """Validate and clean an uploaded image, or raise ``ValidationError`` naming ``field``.

        The header is read first: anything but JPEG, PNG or WebP, or a picture whose cleaning
        would take more than :data:`MAX_WORK` of memory (a "decompression bomb" is a few
        kilobytes that decode to gigabytes), is refused before a pixel is decoded. JPEGs are
        decoded at a reduced scale (1/2, 1/4, 1/8) close to the stored size. All decoding of a
        process happens on one thread, one picture at a time.
        """
        fmt = self.inspect(data, field)
        try:
            clean = self._decode(data, fmt)
        except TimeoutError:
            raise ValidationError({field: msg("many photos are being processed right now; "
                                              "please send it again in a moment")}) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ValidationError({field: msg("the file is not a readable image")}) from None

        content, width, height = clean
        mime, ext = FORMATS[fmt]
        return PreparedImage(content=content, mime=mime, extension=ext,
                             sha256=hashlib.sha256(content).hexdigest(), width=width, height=height)

    def inspect(self, data: bytes, field: str = "photo") -> str:
        """The picture's format, from its header alone (cheap: nothing is decoded), or
        ``ValidationError`` naming ``field``."""
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
                if _too_big(probe):
                    raise ValidationError({field: msg(
                        "the picture is too large ({width} x {height} pixels); send a smaller one",
                        width=probe.width, height=probe.height)})
                probe.verify()
                return fmt
        except ValidationError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ValidationError({field: msg("the file is not a readable image")}) from None

    def _decode(self, data: bytes, fmt: str) -> tuple[bytes, int, int]:
        """Decode, shrink, straighten and re-encode, on the process's image thread.

        One thread, one picture at a time, is what bounds the memory: eight huge uploads at once
        take turns instead of being decoded side by side, and since the allocator keeps an arena
        per thread, pixels decoded on every request thread would leave each thread holding the
        memory of its largest picture."""
        future = self._thread().submit(_clean, data, fmt)
        try:
            return future.result(timeout=WAIT)
        except TimeoutError:
            future.cancel()
            raise

    def _thread(self) -> ThreadPoolExecutor:
        with _POOL_LOCK:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="tanggap-images")
            return self._worker

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
        self._thumb_path(storage_name).unlink(missing_ok=True)

    def _thumb_path(self, storage_name: str) -> Path:
        return self.root / "thumbs" / (self.path(storage_name).stem + f"-{THUMB_SIDE}.jpg")

    def thumbnail(self, storage_name: str) -> Path:
        """A JPEG at most :data:`THUMB_SIDE` pixels long of a stored photo, made on the image
        thread the first time it is asked for and kept beside the photos (stored photos were
        cleaned on the way in, so decoding one is bounded). ``FileNotFoundError`` when the photo
        is gone, ``TimeoutError`` when the image thread stays busy."""
        thumb = self._thumb_path(storage_name)
        if not thumb.exists():
            thumb.parent.mkdir(parents=True, exist_ok=True)
            future = self._thread().submit(_small, self.path(storage_name))
            try:
                content = future.result(timeout=WAIT)
            except TimeoutError:
                future.cancel()
                raise
            tmp = thumb.with_name(thumb.name + f".{secrets.token_hex(4)}.part")
            tmp.write_bytes(content)
            os.replace(tmp, thumb)
        return thumb


def _small(path: Path) -> bytes:
    with Image.open(path) as img:
        img.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
        small = img.convert("RGB")
        small.thumbnail((THUMB_SIDE, THUMB_SIDE))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=80)
        return out.getvalue()
