"""Address-only reports land in the kecamatan the address names, or are refused with the
candidates: never a silent wrong area (which sends the case to the wrong QR team)."""

from __future__ import annotations

import pytest

from workflow.addresses import fold, locate_address
from workflow.errors import ValidationError
from workflow.store.models import Area
from workflow.store.reference import References


@pytest.fixture
def refs(world):
    with world.services.reading() as session:
        refs = References(session)
        refs.areas, refs.areas_by_id, refs.city  # loaded while the session is open
        yield refs


def _where(refs, address):
    kecamatan, kelurahan = locate_address(refs, address)
    return kecamatan.name, kelurahan.name if kelurahan else None


@pytest.mark.parametrize("address,expected", [
    # the two that were filed in Ujung Pandang (its kelurahan "Baru" was matched first)
    ("Perumahan Griya Baru Blok C2, Tamalate", ("Tamalate", None)),
    ("Kompleks Ruko Biringkanaya Baru, Biringkanaya", ("Biringkanaya", None)),
    # ", Makassar" is the city, not Kecamatan Makassar
    ("Jl. Rajawali No. 1, Lette, Mariso, Makassar", ("Mariso", "Lette")),
    ("Jl. Rajawali No. 1, Mariso, Kota Makassar, Sulawesi Selatan 90111", ("Mariso", None)),
    ("Jl. Andi Pangeran Pettarani, Kecamatan Makassar", ("Makassar", None)),
    ("Jl. Masjid Raya, Kec. Makassar, Makassar", ("Makassar", None)),
    # explicit names win, wherever they stand
    ("Kelurahan Baru, Jl. Penghibur", ("Ujung Pandang", "Baru")),
    ("Kel. Bara-Baraya Timur, Kec. Makassar", ("Makassar", "Bara-Baraya Timur")),
    ("Kecamatan Tallo, Ujung Pandang Baru", ("Tallo", "Ujung Pandang Baru")),
    ("Jl. Sunu, Kecamatan Tallo", ("Tallo", None)),
    # a part that is a kecamatan's name names the kecamatan, not its kelurahan of that name
    ("Jl. Cendrawasih, Mariso", ("Mariso", None)),
    ("Jl. Pa'baeng-baeng, Pa'baeng-baeng", ("Tamalate", "Pa'baeng-baeng")),
    # names inside a longer text: kecamatan names, and kelurahan names of two words or more
    ("Jl. Urip Sumoharjo depan kantor camat Panakkukang", ("Panakkukang", None)),
    ("Lorong 3 Ujung Pandang Baru", ("Tallo", "Ujung Pandang Baru")),
    ("Pasar Maricaya Baru lantai 2", ("Makassar", "Maricaya Baru")),
])
def test_the_address_decides_the_area(refs, address, expected):
    assert _where(refs, address) == expected


@pytest.mark.parametrize("address,candidates", [
    ("Jl. Perintis, Tamalanrea dekat Biringkanaya", ["Kecamatan Biringkanaya", "Kecamatan Tamalanrea"]),
    ("Depan Mall, Makassar", None),  # only the city: unknown
    ("Jl. Baru No. 5", None),  # "Baru" alone inside a longer text is an ordinary word
    ("Kelurahan Lette, Kecamatan Tallo", None),  # a contradiction is refused too
    ("", None),
])
def test_an_ambiguous_or_unknown_address_is_refused_with_the_candidates(refs, address, candidates):
    with pytest.raises(ValidationError) as refused:
        locate_address(refs, address)
    text = str(refused.value.errors["address"])
    for candidate in candidates or []:
        assert candidate in text, text


def test_a_kelurahan_name_that_is_an_ordinary_word_never_decides_inside_a_longer_text(refs):
    """Every single-word kelurahan name, in a street address of another kecamatan: the
    kecamatan named at the end decides."""
    single = [a for a in refs.areas.values() if not a.is_kecamatan and len(fold(a.name).split()) == 1]
    assert len(single) > 40
    for kelurahan in single:
        elsewhere = next(k for k in refs.areas.values() if k.is_kecamatan and k.id != kelurahan.parent_id
                         and fold(k.name) != "makassar")
        address = f"Jl. {kelurahan.name} Raya No. 7, {elsewhere.name}"
        assert _where(refs, address) == (elsewhere.name, None), address


def test_every_kelurahan_named_alone_is_found(refs):
    names: dict[str, list[Area]] = {}
    for a in refs.areas.values():
        if not a.is_kecamatan:
            names.setdefault(fold(a.name), []).append(a)
    for name, found in names.items():
        (kelurahan,) = found  # no two kelurahan of the seed share a name
        kecamatan = refs.areas_by_id[kelurahan.parent_id]
        if fold(kecamatan.name) == name:
            continue  # "Mariso, Mariso": the kecamatan is meant, tested above
        assert _where(refs, f"Jl. Merdeka 1, {kelurahan.name}") == (kecamatan.name, kelurahan.name)
