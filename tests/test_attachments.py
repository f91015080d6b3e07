"""Uploaded photos: decoded by Pillow, size-limited, stripped of EXIF, stored under random names."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import jpeg_bytes
from workflow import commands
from workflow.errors import ValidationError

GPS_IFD = 0x8825


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "KameraHP"  # Make
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (5.0, 9.0, 21.6), 3: "E", 4: (119.0, 24.0, 18.0)})
    return jpeg_bytes(size=(40, 20), exif=exif.tobytes())


def test_non_image_renamed_jpg_is_refused(services):
    with pytest.raises(ValidationError) as info:
        services.storage.prepare(b"%PDF-1.4 this is not a photo", field="photo")
    assert info.value.errors == {"photo": "the file is not a readable image"}


def test_oversized_image_is_refused(services):
    twenty_mb = jpeg_bytes() + b"\0" * (20 * 1024 * 1024)
    with pytest.raises(ValidationError) as info:
        services.storage.prepare(twenty_mb, field="photo")
    assert "larger than 10 MB" in info.value.errors["photo"]


def test_gif_is_refused_even_though_it_decodes(services):
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, "GIF")
    with pytest.raises(ValidationError, match="JPEG, PNG or WebP"):
        services.storage.prepare(out.getvalue())


def test_gps_exif_is_stripped_and_orientation_applied(world):
    original = Image.open(io.BytesIO(_jpeg_with_gps()))
    assert original.getexif().get_ifd(GPS_IFD)  # the upload does carry a position
    sub, triage = world.report(), world.triage
    image = world.services.storage.prepare(_jpeg_with_gps())
    with world.services.uow() as uow:
        row = commands.add_attachment(uow, triage, sub.case_id, image, kind="before")
        uow.commit()
    stored = world.services.storage.path(row.storage_name)
    assert stored.name != "upload.jpg" and len(stored.stem) == 32
    with Image.open(stored) as img:
        assert dict(img.getexif()) == {}
        assert img.size == (20, 40)  # rotated upright, then the tag dropped
    assert (row.width, row.height, row.mime) == (20, 40, "image/jpeg")
    assert world.actions(sub.case_id)[-1] == "attachment_added"


def test_file_is_removed_when_the_work_is_rolled_back(world):
    sub, triage = world.report(), world.triage
    image = world.services.storage.prepare(jpeg_bytes())
    with world.services.uow() as uow:
        row = commands.add_attachment(uow, triage, sub.case_id, image, kind="evidence")
        path = world.services.storage.path(row.storage_name)
        assert path.exists()
        # leaving without commit
    assert not path.exists()
