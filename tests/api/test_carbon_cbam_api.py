"""CBAM through the API and the pages: an installation's goods as JSON and as the
communication workbook (opened here with the reader library: its sheets and figures), an EU
importer's declaration as JSON, CSV and workbook; refusals name their field (422), another
member's installation is not found, a member outside the EU is refused (403)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.csvexport import FORMULA_STARTS, neutralise
from tests import cbam_world as cbw
from tests.today import TODAY

Client = Callable[[Actor], TestClient]
C = "/api/v1/carbon"
SHEETS = ["A_InstData", "C_Emissions&Energy", "D_Processes", "E_PurchPrec",
          "Summary_Products", "Notes"]


@pytest.fixture
def world(db: Session) -> cbw.CbamWorld:
    return cbw.build(db)


def _rows(sheet: object) -> list[tuple[object, ...]]:
    return list(sheet.iter_rows(min_row=4, values_only=True))  # type: ignore[attr-defined]


def test_the_installation_json_and_workbook_agree(world: cbw.CbamWorld,
                                                  client_for: Client) -> None:
    client = client_for(world.chain.mill.user)
    body = client.get(f"{C}/inventories/{world.mill_inventory}/cbam")
    assert body.status_code == 200, body.text
    good = body.json()["goods"][0]
    assert good["cn_code"] == "7606"
    assert Decimal(good["see_direct_t_per_t"]) == cbw.COIL_SEE
    assert [p["default_used"] for p in good["precursors"]].count(True) == 1

    got = client.get(f"{C}/inventories/{world.mill_inventory}/cbam.xlsx")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(got.content))
    assert book.sheetnames == SHEETS
    inst = dict(_rows(book["A_InstData"]))
    assert inst["Country"] == "DE" and inst["Installation is"] == "entity"
    (summary,) = _rows(book["Summary_Products"])
    assert summary[0] == "7606"
    assert Decimal(str(summary[4])) == Decimal(5)           # activity level, t
    assert Decimal(str(summary[7])) == cbw.COIL_SEE         # SEE direct
    assert Decimal(str(summary[9])) == Decimal(3)           # SEE indirect
    assert summary[11] == 1                                 # of which default values
    precursors = _rows(book["E_PurchPrec"])
    assert len(precursors) == 3
    defaults = [r for r in precursors if r[9] == "yes"]
    assert [r[1] for r in defaults] == [world.documents["none"]]
    assert {r[5] for r in precursors} == {"NO"}
    energy = {r[0]: r[1] for r in _rows(book["C_Emissions&Energy"])}
    assert Decimal(str(energy["Indirect emissions"])) == Decimal(15)
    (process,) = _rows(book["D_Processes"])
    assert process[0] == "rolling" and Decimal(str(process[7])) == Decimal(15)
    assert any("ILLUSTRATIVE" in str(r[0]) for r in _rows(book["Notes"]))


def test_the_importer_json_csv_and_page(world: cbw.CbamWorld, client_for: Client,
                                        signed_in: Client) -> None:
    client = client_for(world.chain.mill.user)
    data = client.get(f"{C}/cbam/imports", params={"year": TODAY.year})
    assert data.status_code == 200, data.text
    (line,) = data.json()["lines"]
    assert (line["cn_code"], line["origin_country"], line["quantity_kg"]) == ("7601", "NO",
                                                                             6000)
    assert Decimal(line["embedded_direct_t"]) == cbw.PRECURSORS_T
    text = client.get(f"{C}/cbam/imports.csv", params={"year": TODAY.year})
    assert text.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(text.text)))
    assert Decimal(row["embedded_direct_t"]) == cbw.PRECURSORS_T
    # As every export: no cell a spreadsheet would read as a formula.
    assert not [cell for cells in csv.reader(io.StringIO(text.text)) for cell in cells
                if cell.startswith(FORMULA_STARTS) and neutralise(cell) != cell]

    browser = signed_in(world.chain.mill.user)
    page = browser.get("/carbon/cbam/imports", params={"year": TODAY.year})
    assert page.status_code == 200
    assert "7601" in page.text and "NO" in page.text
    book = load_workbook(io.BytesIO(browser.get(
        "/carbon/cbam/imports.xlsx", params={"year": TODAY.year}).content))
    assert book.sheetnames == ["Declaration", "Documents"]
    (decl,) = _rows(book["Declaration"])
    assert Decimal(str(decl[5])) == cbw.PRECURSORS_T
    refused = browser.get("/carbon/cbam/imports", params={"year": TODAY.year,
                                                          "cn_code": "9999"})
    assert refused.status_code == 422
    assert "not a CN code of CBAM" in refused.text


def test_the_installation_pages(world: cbw.CbamWorld, signed_in: Client) -> None:
    browser = signed_in(world.chain.smelter.user)
    inv = browser.get(f"/carbon/inventories/{world.smelter_inventory}")
    assert f"/carbon/inventories/{world.smelter_inventory}/cbam.xlsx" in inv.text
    page = browser.get(f"/carbon/inventories/{world.smelter_inventory}/cbam")
    assert page.status_code == 200
    assert "7601" in page.text and "primary" in page.text
    book = load_workbook(io.BytesIO(browser.get(
        f"/carbon/inventories/{world.smelter_inventory}/cbam.xlsx").content))
    (summary,) = _rows(book["Summary_Products"])
    assert (summary[0], summary[2], Decimal(str(summary[7]))) == ("7601", "primary",
                                                                  Decimal("2.105"))
    mine = signed_in(world.chain.mine.user)
    assert "/cbam" not in mine.get(f"/carbon/inventories/{world.mine_inventory}").text
    empty = mine.get(f"/carbon/inventories/{world.mine_inventory}/cbam")
    assert empty.status_code == 422
    assert "records no production of aluminium goods" in empty.text


def test_refusals(world: cbw.CbamWorld, client_for: Client) -> None:
    mill = client_for(world.chain.mill.user)
    other = mill.get(f"{C}/inventories/{world.smelter_inventory}/cbam")
    assert other.status_code == 404
    assert mill.get(f"{C}/inventories/{world.smelter_inventory}/cbam.xlsx"
                    ).status_code == 404
    none = client_for(world.chain.mine.user).get(
        f"{C}/inventories/{world.mine_inventory}/cbam")
    assert none.status_code == 422
    assert none.json()["error"]["details"][0]["field"] == "period"
    for params, field in (({"year": TODAY.year, "cn_code": "7602"}, "cn_code"),
                          ({"year": TODAY.year + 1}, "year"), ({"year": "soon"}, "year"),
                          ({}, "year")):
        bad = mill.get(f"{C}/cbam/imports", params=params)
        assert bad.status_code == 422, params
        assert field in str(bad.json()["error"]["details"]), params
    outside = client_for(world.chain.smelter.user).get(f"{C}/cbam/imports",
                                                       params={"year": TODAY.year})
    assert outside.status_code == 403
    assert "outside the EU" in outside.json()["error"]["message"]
