"""Running the seed again (after an upgrade, say) adds what the city lacks and keeps what its
administrators changed: a row that exists is the city's."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from workflow.store import seed
from workflow.store.models import Agency, Area, Category, City, QrTeam, ResponseTemplate


def test_the_seed_keeps_administrators_changes_and_adds_what_is_missing(world, reference_restored):
    with world.services.uow() as uow:
        s = uow.session
        s.execute(update(Agency).where(Agency.code == "DLH").values(name="Dinas Lingkungan Hidup Kota", active=False))
        s.execute(update(Category).where(Category.code == "sampah").values(name_id="Sampah liar", active=False,
                                                                           nearby_m=75))
        s.execute(update(QrTeam).where(QrTeam.code == "qr-mariso-1").values(name="Tim Mariso", active=False))
        s.execute(update(Area).where(Area.code == "mariso").values(name="Kec. Mariso"))
        s.execute(update(City).values(name="Kota Makassar (uji)", duplicate_days=9))
        template = s.scalars(select(ResponseTemplate).order_by(ResponseTemplate.id)).first()
        template.text_id, template_code = "Teks dari administrator {case_number}.", template.code
        s.execute(delete(ResponseTemplate).where(ResponseTemplate.code != template_code,
                                                 ResponseTemplate.id == template.id + 1))  # one of the seed's
        uow.commit()
    with world.services.uow() as uow:
        seed.load_reference_data(uow.session)
        uow.commit()
    with world.services.reading() as s:
        agency = s.scalar(select(Agency).where(Agency.code == "DLH"))
        category = s.scalar(select(Category).where(Category.code == "sampah"))
        team = s.scalar(select(QrTeam).where(QrTeam.code == "qr-mariso-1"))
        assert (agency.name, agency.active) == ("Dinas Lingkungan Hidup Kota", False)
        assert (category.name_id, category.active, category.nearby_m) == ("Sampah liar", False, 75)
        assert (team.name, team.active) == ("Tim Mariso", False)
        assert s.scalar(select(Area.name).where(Area.code == "mariso")) == "Kec. Mariso"
        assert s.scalar(select(City.name)) == "Kota Makassar (uji)" and s.scalar(select(City.duplicate_days)) == 9
        assert s.scalar(select(ResponseTemplate.text_id).where(ResponseTemplate.code == template_code)) \
            == "Teks dari administrator {case_number}."
        codes = set(s.scalars(select(ResponseTemplate.code)))
    # the template deleted above is the seed's and was missing: added again
    assert codes == {t["code"] for t in seed.yaml.safe_load(seed.DEFAULT_SEED.read_text())["response_templates"]}
