"""Reading a point as reporters type or paste it: decimal commas, "lat, lon" pairs, map links."""

from __future__ import annotations

import io

import pytest

from tests.helpers import jpeg_bytes
from tests.webclient import WebClient
from workflow.geo import parse_point

LOSARI = (-5.1436, 119.4075)


@pytest.mark.parametrize("lat,lon", [
    ("-5,1436", "119,4075"),  # an Indonesian keyboard's decimal comma
    ("-5.1436", "119.4075"),
    (" -5,1436 ", " 119,4075 "),
    ("−5,1436", "119,4075"),  # a typographic minus
    (-5.1436, 119.4075),  # JSON numbers
    ("-5.1436, 119.4075", ""),  # a pair pasted into the first field
    ("-5.1436,119.4075", None),
    ("-5,1436, 119,4075", ""),
    ("-5,1436; 119,4075", ""),
    ("-5,1436 119,4075", ""),
    ("-5,1436,119,4075", ""),
    ("https://www.google.com/maps/place/Pantai+Losari/@-5.1436,119.4075,17z/data=!3m1!4b1", ""),
    ("https://maps.google.com/?q=-5.1436,119.4075", ""),
    ("https://www.google.com/maps/search/?api=1&query=-5.1436,119.4075", ""),
    ("https://www.openstreetmap.org/?mlat=-5.1436&mlon=119.4075#map=18/-5.1436/119.4075", ""),
    ("https://www.openstreetmap.org/#map=17/-5.1436/119.4075", ""),
])
def test_a_point_is_read_however_it_was_typed_or_pasted(lat, lon):
    assert parse_point(lat, lon) == pytest.approx(LOSARI)


@pytest.mark.parametrize("lat,lon", [
    ("abc", "119,4"), ("-5..1", "119"), ("-5,1,2", ""), ("-5,1436", ""), ("", ""), (None, None),
    ("91", "0"), ("0", "181"), ("1e400", "1"), ("nan", "1"), ("inf", "1"), (float("inf"), 1.0),
    (True, 1.0), ("https://example.com/somewhere", ""), ("https://maps.google.com/?q=Pantai+Losari", ""),
    ("-5.1\x00436", "119.4"), ("٥.١", "119.4"),  # NUL; Arabic-Indic digits
])
def test_anything_else_is_refused(lat, lon):
    with pytest.raises(ValueError):
        parse_point(lat, lon)


def test_the_form_takes_a_decimal_comma_and_a_pasted_link(world, app):
    citizen = WebClient(app)
    base = {"category": "sampah", "description": "Sampah menumpuk di dekat Pantai Losari.",
            "area": "ujung-pandang", "address": "Jl. Penghibur", "notify_by": "none"}
    for lat, lon in (("-5,1436", "119,4075"), ("https://maps.google.com/?q=-5.1436,119.4075", "")):
        response = citizen.post("/lapor", {**base, "lat": lat, "lon": lon,
                                           "photo": (io.BytesIO(jpeg_bytes()), "foto.jpg")},
                                content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    refused = citizen.post("/lapor", {**base, "lat": "di dekat pantai", "lon": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "tempel tautan Google Maps" in html
    assert 'value="di dekat pantai"' in html  # what was typed is kept
