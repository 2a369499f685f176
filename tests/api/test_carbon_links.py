"""The carbon pages as users reach them: the organisation page links its inventories and
each entity's carbon page for its own users and the secretariat (nobody else); the entity's
page lists its inventories and the footprints of its latest documents (404 for another
member); the public board links each smelter to its public facility page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.carbon.schemas import InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.core.auth import Actor
from tests import carbon_world as kw
from tests.api.pages import text
from tests.today import TODAY

YEAR = TODAY.year - 1
Browser = Callable[[Actor], TestClient]


@pytest.fixture
def world(db: Session) -> kw.CarbonWorld:
    return kw.build(db)


def test_the_organisation_page_links_its_carbon_for_its_users_and_the_secretariat(
        world: kw.CarbonWorld, signed_in: Browser, client: TestClient) -> None:
    slug, entity = world.smelter.slug, world.smelter.entity_id
    own = signed_in(world.smelter.user).get(f"/organizations/{slug}")
    assert own.status_code == 200
    assert 'href="/carbon/inventories"' in own.text
    assert f'href="/carbon/inventories?entity={entity}"' in own.text
    staff = signed_in(world.secretariat).get(f"/organizations/{slug}")
    assert f'href="/carbon/inventories?organization={slug}"' in staff.text
    assert f'href="/carbon/inventories?entity={entity}"' in staff.text
    for page in (signed_in(world.mill.admin).get(f"/organizations/{slug}"),
                 client.get(f"/organizations/{slug}")):
        assert page.status_code == 200
        assert "/carbon/inventories?" not in page.text and "carbon-heading" not in page.text


def test_the_entitys_carbon_page_lists_its_inventories_and_is_its_members_only(
        world: kw.CarbonWorld, db: Session, signed_in: Browser) -> None:
    made = inventories.record_inventory(db, world.smelter.admin, InventoryCreate(
        **kw.smelter_body(YEAR)))
    url = f"/carbon/inventories?entity={world.smelter.entity_id}"
    for who in (world.smelter.user, world.secretariat):
        page = signed_in(who).get(url)
        assert page.status_code == 200, page.text[-400:]
        body = text(page)
        assert "Footprints of its latest CoC documents" in body
        assert "This entity has issued no CoC document yet" in body
        assert f'href="/carbon/inventories/{made.id}"' in page.text
    detail = signed_in(world.smelter.user).get(f"/carbon/inventories/{made.id}")
    assert f'href="{url}"' in detail.text
    # the mill's own entity page has none of the smelter's inventories
    mill = signed_in(world.mill.admin)
    own = mill.get(f"/carbon/inventories?entity={world.mill.entity_id}")
    assert own.status_code == 200 and f"/carbon/inventories/{made.id}" not in own.text
    assert mill.get(url).status_code == 404
    assert mill.get("/carbon/inventories?entity=not-a-uuid").status_code == 422


def test_the_board_links_each_smelter_to_its_public_facility_page(
        world: kw.CarbonWorld, db: Session, client: TestClient) -> None:
    inventories.record_inventory(db, world.smelter.admin, InventoryCreate(
        **kw.smelter_body(YEAR)))  # entity-wide: the entity's smelting facility stands for it
    board = client.get("/carbon")
    assert f'href="/facilities/{world.smelter.facility}"' in board.text
    assert f'href="/facilities/{world.casthouse}"' not in board.text
    facility = client.get(f"/facilities/{world.smelter.facility}")
    assert facility.status_code == 200
    assert "NO" in text(board)  # the smelter's country, from its facility
