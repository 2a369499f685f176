"""A facility's time zone on its pages, without JavaScript: chosen when the site is
registered (or left to its country's), shown on its page, and changed there by the owner's
admins, a wrong name refused with the reason and nothing saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.eventlog import count_entries
from stewardship.core.pagination import PageParams
from stewardship.registry.service import facilities
from tests import custody_world as cw
from tests import factories
from tests.api.pages import post, text
from tests.today import TODAY, stopped_at

Browser = Callable[[Actor], TestClient]


def test_a_facility_is_registered_in_a_zone_and_shows_it(db: Session,
                                                          signed_in: Browser) -> None:
    slug = factories.organization(db, name="Dateline Metals", country="KI")
    browser = signed_in(factories.user(db, Role.MEMBER_ADMIN, organization=slug))
    form = browser.get("/members/facilities/new")
    assert '<select id="field-time_zone" name="time_zone"' in form.text
    assert '<option value="Pacific/Kiritimati">Pacific/Kiritimati</option>' in form.text
    assert "The country's main zone" in text(form)

    chosen = post(browser, "/members/facilities/new", {
        "name": "Line Islands Works", "country": "KI", "activities": ["smelting"],
        "time_zone": "Pacific/Kiritimati"})
    assert chosen.status_code == 303, text(chosen)
    assert "Time zone Pacific/Kiritimati" in text(browser.get(chosen.headers["location"]))
    left = post(browser, "/members/facilities/new", {
        "name": "Tarawa Works", "country": "KI", "activities": ["casthouse"]})
    assert left.status_code == 303
    # the first of Kiribati's zones
    assert "Time zone Pacific/Tarawa" in text(browser.get(left.headers["location"]))

    wrong = post(browser, "/members/facilities/new", {
        "name": "Nowhere Works", "country": "KI", "activities": ["casthouse"],
        "time_zone": "Pacific/Atlantis"})
    assert wrong.status_code == 422
    assert "'Pacific/Atlantis' is not an IANA time zone name" in text(wrong)
    page = facilities.list_facilities(db, None, PageParams(1, 50), organization=slug)
    assert sorted(f.name for f in page.items) == ["Line Islands Works", "Tarawa Works"]


def test_the_owners_admin_changes_the_zone_on_the_facility_page(
        db: Session, client: TestClient, signed_in: Browser) -> None:
    slug = factories.organization(db, name="Western Shield Metals", country="AU")
    site = factories.facility(db, slug, name="Pinjarra Refinery", country="AU",
                              activities=["alumina_refining"]).facility.id
    page = f"/facilities/{site}"
    shown = client.get(page)  # anyone
    assert "Time zone Australia/Sydney" in text(shown)
    assert "/time-zone" not in shown.text  # no form for who may not change it

    admin = signed_in(factories.user(db, Role.MEMBER_ADMIN, organization=slug))
    own = admin.get(page)
    assert f'action="/members/facilities/{site}/time-zone"' in own.text
    assert '<option value="Australia/Sydney" selected>' in own.text

    before = count_entries(db)
    refused = post(admin, f"/members/facilities/{site}/time-zone",
                   {"time_zone": "Australia/Atlantis"})
    assert refused.status_code == 422
    assert "'Australia/Atlantis' is not an IANA time zone name" in text(refused)
    assert facilities.get_facility(db, None, site).time_zone == "Australia/Sydney"
    assert count_entries(db) == before

    saved = post(admin, f"/members/facilities/{site}/time-zone",
                 {"time_zone": "Australia/Perth"})
    assert saved.status_code == 303 and saved.headers["location"] == page
    after = admin.get(page)
    assert "The time zone of Pinjarra Refinery is Australia/Perth" in text(after)
    assert re.search(r'<option value="Australia/Perth" selected>', after.text)
    db.expire_all()
    assert facilities.get_facility(db, None, site).time_zone == "Australia/Perth"

    user = signed_in(factories.user(db, Role.MEMBER_USER, organization=slug))
    assert "/time-zone" not in user.get(page).text
    assert post(user, f"/members/facilities/{site}/time-zone",
                {"time_zone": "UTC"}).status_code == 403
    assert facilities.get_facility(db, None, site).time_zone == "Australia/Perth"


def test_the_record_form_offers_the_day_it_is_at_the_members_site(
        db: Session, signed_in: Browser) -> None:
    w = cw.build(db)
    niue = cw.add_member(db, w, "Niue Casting", "NU", ["smelting"])
    browser = signed_in(niue.user)
    with stopped_at(datetime.combine(TODAY, time(10, 30), UTC)):  # still yesterday at Niue
        form = browser.get("/custody/record/production")
    assert form.status_code == 200, text(form)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert re.search(rf'name="occurred_on" value="{yesterday}"', form.text), form.text
