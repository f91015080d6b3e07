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


def _png(size, mode="RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 30) if mode == "RGB" else 0).save(out, "PNG", optimize=True, **options)
    return out.getvalue()


def _webp(size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 30)).save(out, "WEBP")
    return out.getvalue()


def test_a_decompression_bomb_is_refused_before_it_is_decoded(world, web, monkeypatch):
    bomb = _png((6300, 6300))  # some kilobytes on the wire, 119 MB once decoded
    assert len(bomb) < 400_000
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    before = world.table_counts()
    response = web.post("/lapor", {"category": "sampah", "description": "Sampah menumpuk di pasar sejak Senin.",
                                   "area": "mariso", "lat": "-5.1560", "lon": "119.4050",
                                   "photo": (io.BytesIO(bomb), "lampu.png")}, page="/lapor",
                        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "gambar terlalu besar (6300 x 6300 piksel)" in response.get_data(as_text=True)
    assert (6300, 6300) not in decoded  # refused from its header alone
    assert world.table_counts() == before


def test_a_big_photo_is_stored_at_most_2560_pixels_long(services, monkeypatch):
    big = jpeg_bytes(size=(6000, 4000))  # 24 megapixels: accepted, decoded at half scale
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    image = services.storage.prepare(big)
    assert (image.width, image.height) == (2560, 1707)
    assert (3000, 2000) in decoded and (6000, 4000) not in decoded
    phone = services.storage.prepare(jpeg_bytes(size=(4000, 3000)))
    assert (phone.width, phone.height) == (2000, 1500)  # decoded at half scale, stored so
    huge = services.storage.prepare(jpeg_bytes(size=(8160, 6120)))  # 50 Mpx, decoded at 1/4
    assert (huge.width, huge.height) == (2040, 1530)
    tall = services.storage.prepare(_png((1000, 3000)))
    assert (tall.width, tall.height) == (853, 2560)
    small = services.storage.prepare(jpeg_bytes(size=(800, 600)))
    assert (small.width, small.height) == (800, 600)  # never enlarged


@pytest.mark.parametrize("make, size", [
    (lambda: jpeg_bytes(size=(8200, 6200)), "8200 x 6200"),  # over 50 Mpx
    (lambda: _png((3500, 3500), "RGBA"), "3500 x 3500"),  # 12 Mpx, about 135 MB of work
    (lambda: _png((3800, 3800), "RGB"), "3800 x 3800"),
    (lambda: _webp((3000, 3000)), "3000 x 3000"),  # libwebp's buffer: about 160 MB of work
    (lambda: _png((3500, 3500), "P", transparency=0), "3500 x 3500"),  # flattened through RGBA
    (lambda: _png((3300, 3300), "LA"), "3300 x 3300"),
])
def test_pictures_over_the_decoding_limit_are_refused(services, make, size):
    with pytest.raises(ValidationError) as refused:
        services.storage.prepare(make())
    assert size in refused.value.errors["photo"]


def test_pictures_are_decoded_one_at_a_time_on_one_thread(services, monkeypatch):
    import threading

    from workflow.store import attachments

    seen, inside, most, lock = set(), [0], [0], threading.Lock()
    real = attachments._clean

    def clean(data, fmt):
        with lock:
            seen.add(threading.get_ident())
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real(data, fmt)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(attachments, "_clean", clean)
    photo = jpeg_bytes(size=(1200, 900))
    threads = [threading.Thread(target=services.storage.prepare, args=(photo,), daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == 1 and len(seen) == 1 and threading.get_ident() not in seen


def test_an_upload_that_cannot_get_the_image_thread_in_time_is_turned_away(services, monkeypatch):
    import threading

    from workflow.store import attachments

    release = threading.Event()
    monkeypatch.setattr(attachments, "WAIT", 0.2)
    blocker = services.storage._thread().submit(release.wait, 10)  # the thread is busy
    try:
        with pytest.raises(ValidationError) as refused:
            services.storage.prepare(jpeg_bytes())
        assert "sedang diproses" not in refused.value.errors["photo"]  # domain text: English
        assert refused.value.errors["photo"].template.startswith("many photos are being processed")
    finally:
        release.set()
        blocker.result(timeout=10)


def test_a_report_with_mistakes_never_decodes_its_photo(world, web, monkeypatch):
    from workflow.store import attachments

    decoded = []
    real = attachments._clean
    monkeypatch.setattr(attachments, "_clean", lambda data, fmt: decoded.append(fmt) or real(data, fmt))
    photo = jpeg_bytes(size=(1200, 900))
    response = web.post("/lapor", {"category": "sampah", "description": "pendek", "area": "mariso",
                                   "lat": "-5.1560", "lon": "119.4050", "photo": (io.BytesIO(photo), "a.jpg")},
                        page="/lapor", content_type="multipart/form-data")
    assert response.status_code == 400 and decoded == []  # refused for its description alone
    accepted = web.post("/lapor", {"category": "sampah", "description": "Sampah menumpuk di pasar sejak Senin.",
                                   "area": "mariso", "lat": "-5.1560", "lon": "119.4050",
                                   "photo": (io.BytesIO(photo), "a.jpg")}, page="/lapor",
                        content_type="multipart/form-data")
    assert accepted.status_code == 302 and decoded == ["JPEG"]
