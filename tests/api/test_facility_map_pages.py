"""The facility maps on the register of facilities and on each facility's page."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.pagination import PageParams
from stewardship.registry.service import facilities
from tests import factories
from tests.today import TODAY

MARKER = re.compile(r'<a href="(/facilities/[^"]+)" class="(map-marker[^"]*)"[^>]*>'
                    r'<title>([^<]+)</title>')


def _svg(page: str) -> str:
    found = re.search(r'<svg xmlns="http://www.w3.org/2000/svg" class="facility-map".*?</svg>',
                      page, re.S)
    assert found, "no facility map on the page"
    return found.group(0)


def _world(db: Session) -> dict[str, str]:
    fjord = factories.organization(db, name="Fjordlight Metals",
                                   joined_on=TODAY - timedelta(days=60))
    factories.facility(db, fjord, name="Fjordlight Smelter", latitude="61.4519",
                       longitude="5.857")
    factories.facility(db, fjord, name="Fjordlight Casthouse", latitude="60.39",
                       longitude="5.32")
    factories.facility(db, fjord, name="Fjordlight Office")  # no coordinates
    rhine = factories.organization(db, name="Rhine Rolling", country="DE")
    factories.facility(db, rhine, name="Rhine Mill", country="DE", latitude="51.43",
                       longitude="6.76", activities=["semi_fabrication"])
    every = facilities.list_facilities(db, None, PageParams(1, 50)).items
    return {f.name: f.id for f in every}


def test_register_map_has_one_linked_marker_per_facility_shown(client: TestClient,
                                                                db: Session) -> None:
    ids = _world(db)
    page = client.get("/facilities")
    assert page.status_code == 200
    svg = _svg(page.text)
    assert 'aria-labelledby="facility-map-title facility-map-desc"' in svg
    markers = MARKER.findall(svg)
    # Every facility with coordinates, once each, linking to its page; none highlighted.
    assert sorted(href for href, _, _ in markers) == sorted(
        f"/facilities/{ids[n]}" for n in ("Fjordlight Smelter", "Fjordlight Casthouse",
                                          "Rhine Mill"))
    assert all(kind == "map-marker" for _, kind, _ in markers)
    assert any(t.startswith("Rhine Mill, Germany") for _, _, t in markers)
    assert "3 of the 4 facilities listed here have coordinates" in page.text
    for href, _, _ in markers:
        assert client.get(href).status_code == 200

    # The map follows the filters: the facilities the table shows, no others.
    german = MARKER.findall(_svg(client.get("/facilities?country=DE").text))
    assert [href for href, _, _ in german] == [f"/facilities/{ids['Rhine Mill']}"]
    # No facility shown, no map.
    assert "facility-map" not in client.get("/facilities?q=nothing").text


def test_facility_page_highlights_its_facility_in_its_region(client: TestClient,
                                                             db: Session) -> None:
    ids = _world(db)
    page = client.get(f"/facilities/{ids['Fjordlight Smelter']}")
    svg = _svg(page.text)
    markers = MARKER.findall(svg)
    current = [href for href, kind, _ in markers if "map-marker-current" in kind]
    assert current == [f"/facilities/{ids['Fjordlight Smelter']}"]
    assert svg.count('aria-current="page"') == 1
    # Its neighbour in the same country is on the map too, as a plain marker; the German
    # mill (another country) is not.
    others = [href for href, kind, _ in markers if kind == "map-marker"]
    assert others == [f"/facilities/{ids['Fjordlight Casthouse']}"]
    assert "Map of the region of Fjordlight Smelter" in svg
    # A facility without coordinates has no map.
    assert "facility-map" not in client.get(f"/facilities/{ids['Fjordlight Office']}").text
