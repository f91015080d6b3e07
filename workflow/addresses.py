"""The kecamatan (and kelurahan) a free-text address names, for reports sent without a point
(Open311's ``address_string``). It never guesses: an address that fits more than one area, or
none, is refused with the candidates, because a case filed in the wrong kecamatan reaches the
wrong QR team.

In order:

1. An explicit name: "Kecamatan Tamalate" / "Kec. Tamalate", "Kelurahan Baru" / "Kel. Baru" /
   "Desa ...".
2. The address's comma-separated parts from the end, after dropping the city, the province, the
   country and postcodes ("..., Makassar, Sulawesi Selatan 90111"): the first part that *is* an
   area's name decides. A kecamatan's name there names the kecamatan (its kelurahan of the same
   name is not meant); a kelurahan's name names that kelurahan, if only one kelurahan has it or an
   earlier part names its kecamatan.
3. Otherwise, from the end, the first part that *contains* area names as whole words: a
   kecamatan's name, or a kelurahan's name of two words or more ("Bara-Baraya Timur"); single-word
   kelurahan names are ordinary words too often ("Baru", "Parang", "Daya", "Mampu") to count
   inside a longer text.

The city's own name is not a kecamatan unless it is said to be one ("Kecamatan Makassar").
"""

from __future__ import annotations

import re
import unicodedata

from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.store.models import Area
from workflow.store.reference import References

FIELD = "address"  # Open311 calls it address_string
_EXPLICIT = re.compile(r"\b(kecamatan|kec|kelurahan|kel|desa)\b\s*(.+)")
_NOT_PLACES = re.compile(r"^(?:kota |kabupaten |kab |provinsi |prov )?(?:sulawesi selatan|sulsel|indonesia|"
                         r"republik indonesia)$|^[0-9 ]+$")


def fold(text: str) -> str:
    """Lower case ASCII words: "Pa'baeng-baeng" -> "pa baeng baeng"."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def locate_address(refs: References, address: str) -> tuple[Area, Area | None]:
    """(kecamatan, kelurahan or None); a ValidationError on ``address_string`` naming the
    candidates when the address fits several areas, or asking for a kecamatan when it fits none."""
    kecamatan = {fold(a.name): a for a in refs.areas.values() if a.is_kecamatan}
    kelurahan: dict[str, list[Area]] = {}
    for a in refs.areas.values():
        if not a.is_kecamatan:
            kelurahan.setdefault(fold(a.name), []).append(a)
    city = fold(refs.city.name)
    city_names = {city, city.removeprefix("kota ").strip()}
    parts = [fold(p) for p in re.split(r"[,;\n]+", address)]
    parts = [p for p in parts if p]
    while parts and (parts[-1] in city_names or _NOT_PLACES.match(parts[-1]) or _postcode_tail(parts[-1], city_names)):
        parts.pop()
    parent = refs.areas_by_id

    def kelurahan_of(name: str, within: Area | None) -> Area | None:
        found = [k for k in kelurahan.get(name, []) if within is None or k.parent_id == within.id]
        if len(found) > 1:
            raise _ambiguous(found, parent)
        return found[0] if found else None

    # 1. explicit names
    said_kecamatan = said_kelurahan = None
    for part in parts:
        for word, rest in _EXPLICIT.findall(part):
            name = _longest_prefix(rest, kecamatan if word.startswith("kec") else kelurahan)
            if name and word.startswith("kec"):
                said_kecamatan = kecamatan[name]
            elif name:
                said_kelurahan = name
    if said_kelurahan:
        found = kelurahan_of(said_kelurahan, said_kecamatan)
        if found is None:  # the kelurahan said is not in the kecamatan said
            raise ValidationError({FIELD: msg("Kelurahan {kelurahan} is not in Kecamatan {kecamatan}",
                                              kelurahan=said_kelurahan.title(), kecamatan=said_kecamatan.name)})
        return parent[found.parent_id], found
    if said_kecamatan:
        for part in reversed(parts):
            found = kelurahan_of(part, said_kecamatan)
            if found:
                return said_kecamatan, found
        return said_kecamatan, None

    # 2. a part that is an area's name, from the end
    for i in range(len(parts) - 1, -1, -1):
        part = parts[i]
        if part in kecamatan and part not in city_names:
            area = kecamatan[part]
            earlier = next((k for p in parts[:i] if (k := kelurahan_of(p, area))), None)
            return area, earlier
        if part in kelurahan:
            found = kelurahan[part]
            named = {kecamatan[p].id for p in parts if p in kecamatan and p not in city_names}
            if len(found) > 1:
                found = [k for k in found if k.parent_id in named] or found
            if len(found) > 1:
                raise _ambiguous(found, parent)
            return parent[found[0].parent_id], found[0]

    # 3. names inside a part, from the end
    for part in reversed(parts):
        padded = f" {part} "
        hits = [a for name, a in kecamatan.items() if name not in city_names and f" {name} " in padded]
        hits += [k for name, ks in kelurahan.items() if len(name.split()) > 1 and f" {name} " in padded for k in ks]
        hits = _outermost(hits)
        if not hits:
            continue
        kelurahan_hits = [h for h in hits if not h.is_kecamatan]
        kecamatan_ids = {h.id for h in hits if h.is_kecamatan}
        if len(kelurahan_hits) == 1 and kecamatan_ids <= {kelurahan_hits[0].parent_id}:
            return parent[kelurahan_hits[0].parent_id], kelurahan_hits[0]
        if not kelurahan_hits and len(kecamatan_ids) == 1:
            return hits[0], None
        raise _ambiguous(hits, parent)
    raise ValidationError({FIELD: msg(
        "name a kecamatan or kelurahan of the city in the address (for example \"Kecamatan Tamalate\"), "
        "or give the point")})


def _postcode_tail(part: str, city_names: set[str]) -> bool:
    """"makassar 90111", "sulawesi selatan 90111": a place the resolver skips, with a postcode."""
    stripped = re.sub(r"\s*[0-9]{5}$", "", part)
    return stripped != part and (stripped in city_names or bool(_NOT_PLACES.match(stripped)))


def _longest_prefix(text: str, names) -> str | None:
    """The longest of ``names`` that ``text`` starts with, as whole words."""
    best = None
    for name in names:
        if (text == name or text.startswith(name + " ")) and (best is None or len(name) > len(best)):
            best = name
    return best


def _outermost(hits: list[Area]) -> list[Area]:
    """Drop names found inside a longer one ("Ujung Pandang" inside "Ujung Pandang Baru")."""
    names = {h.id: fold(h.name) for h in hits}
    return [h for h in hits if not any(o.id != h.id and f" {names[h.id]} " in f" {names[o.id]} "
                                       and len(names[o.id]) > len(names[h.id]) for o in hits)]


def _ambiguous(areas: list[Area], parent: dict[int, Area]) -> ValidationError:
    named = sorted({f"Kelurahan {a.name} ({parent[a.parent_id].name})" if not a.is_kecamatan
                    else f"Kecamatan {a.name}" for a in areas})
    return ValidationError({FIELD: msg(
        "the address fits more than one area: {candidates}; name the kecamatan (\"Kecamatan ...\")",
        candidates="; ".join(named))})
