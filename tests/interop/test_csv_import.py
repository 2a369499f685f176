"""CSV import of custody movements: a valid file is stored; a file with one bad row
reports that row and stores nothing; a dry run stores nothing; file-level limits; and the
HTTP endpoint with a bearer token, as text/csv and as a multipart upload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.errors import Forbidden, InvalidInput, PayloadTooLarge
from stewardship.core.pagination import PageParams
from stewardship.custody.models import CocDocument, CustodyOperation
from stewardship.custody.service import documents, reads
from stewardship.interop import csv_import
from stewardship.interop.csv_import import import_csv, parse
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.conftest import session_on
from tests.today import TODAY

DAY = (TODAY - timedelta(days=2)).isoformat()
ALL = PageParams(1, 100)
HEADER = ("kind,date,facility_id,material,kilograms,transformation,source_material,input_kg,"
          "output_kg,recipient_entity_id,document_number,quantity_kg,coc_quantity_kg,note")


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def _smelter_file(w: cw.Chain, coc: int = 4_000, kilograms: str = "10000",
                  quantity: int = 5_000) -> str:
    s, mill = w.smelter, w.mill
    return _csv(
        f"production,{DAY},{s.facility},asi_aluminium,{kilograms},,,,,,,,,cast batch 7",
        f"non_coc_input,{DAY},,asi_aluminium,2500,,,,,,,,,",
        f"shipment,{DAY},,asi_aluminium,,,,,,{mill.entity_id},COC-CSV-0001,{quantity},{coc},"
        "ingots")


def _balance(db: Session, m: cw.Member, material: str) -> int:
    page = reads.list_accounts(db, m.user, ALL, entity_id=m.entity_id)
    return sum(a.balance_kg for a in page.items
               if a.material.value == material and a.status == "open")


def _stored(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(CustodyOperation)) or 0,
            db.scalar(select(func.count()).select_from(CocDocument)) or 0)


def test_a_valid_file_is_applied(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _smelter_file(w), apply=True)
    assert report.ok and report.applied and (report.rows, report.valid) == (3, 3)
    assert [r.row for r in report.results] == [2, 3, 4]
    assert report.results[0].message.startswith(f"production at {w.smelter.facility}")
    assert report.results[2].message.startswith("CoC document COC-CSV-0001 issued")
    assert _balance(db, w.smelter, "asi_aluminium") == 6_000
    doc = documents.get_document(db, w.smelter.user, "COC-CSV-0001")
    assert (doc.quantity_kg, doc.coc_quantity_kg, doc.description) == (5_000, 4_000, "ingots")


def test_a_transformation_row_takes_output_or_yield(db: Session) -> None:
    w = cw.build(db)
    m = w.mine.facility
    head = ("kind,date,facility_id,material,kilograms,transformation,source_material,"
            "input_kg,output_kg,declared_yield\n")
    both = f"transformation,{DAY},{m},,,refining,asi_bauxite,1000,450,0.45\n"
    report = import_csv(db, w.mine.user, head + both, apply=True)
    assert (report.results[0].field, report.results[0].message) == (
        "output_kg", "give either output_kg or declared_yield")
    text = (head + f"production,{DAY},{m},asi_bauxite,3000000,,,,,\n"
            f"transformation,{DAY},{m},,,refining,asi_bauxite,2000000,900000,\n"
            f"transformation,{DAY},{m},,,Refining,asi_bauxite,1000000,,\"0,4\"\n")
    report = import_csv(db, w.mine.user, text, apply=True)
    assert report.ok, report.results
    assert "declared yield of 0.45 kg/kg" in report.results[1].message
    assert "declared yield of 0.4 kg/kg" in report.results[2].message
    assert _balance(db, w.mine, "asi_alumina") == 1_300_000
    beyond = head + f"transformation,{DAY},{m},,,refining,asi_bauxite,1000000,900000,\n"
    report = import_csv(db, w.mine.user, beyond, apply=True)
    assert report.results[0].field == "output_kg"
    assert "physical limit of 0.85" in report.results[0].message


def test_one_bad_row_is_reported_and_nothing_is_stored(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _smelter_file(w, kilograms="10000.5"), apply=True)
    assert not report.ok and not report.applied
    assert (report.valid, report.invalid) == (1, 2)
    bad = report.results[0]
    assert (bad.row, bad.ok, bad.field) == (2, False, "kilograms")
    assert "not whole kilograms" in bad.message
    # the shipment was checked against the balance the file itself would have made
    assert report.results[2].ok is False and report.results[2].field == "coc_quantity_kg"
    assert _stored(db) == (0, 0)


def test_a_row_over_the_balance_fails_the_whole_file(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _smelter_file(w, coc=12_000, quantity=12_000),
                        apply=True)
    assert [r.ok for r in report.results] == [True, True, False]
    shipment = report.results[2]
    assert shipment.field == "coc_quantity_kg"
    assert "exceeds the available balance of 10000 kg" in shipment.message
    assert _stored(db) == (0, 0)
    assert _balance(db, w.smelter, "asi_aluminium") == 0


def test_a_dry_run_stores_nothing(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _smelter_file(w), apply=False)
    assert report.ok and not report.applied and report.valid == 3
    assert _stored(db) == (0, 0)
    assert documents.list_documents(db, w.smelter.user, ALL).total == 0


def test_rows_name_the_column_at_fault(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _csv(
        f"melting,{DAY},,,,,,,,,,,,",
        f"production,03/02/2026,{w.smelter.facility},asi_aluminium,100,,,,,,,,,",
        f"production,{DAY},{w.mill.facility},asi_aluminium,100,,,,,,,,,",
        f"production,{DAY},{w.smelter.facility},asi_aluminium,100,,,,,,COC-X-1,,,",
        f"non_coc_input,{DAY},,aluminium,100,,,,,,,,,",
        f"receipt,{DAY},,,,,,,,,COC-NOT-THERE,,,",
        f"shipment,{DAY},,asi_aluminium,,,,,,not-a-uuid,,,10,",
    ), apply=False)
    fields = [(r.row, r.field) for r in report.results]
    assert fields == [(2, "kind"), (3, "date"), (4, "facility_id"), (5, "document_number"),
                      (6, "material"), (7, "document_number"), (8, "recipient_entity_id")]
    assert "is not one of" in report.results[2].message
    assert "no CoC document" in report.results[5].message


def test_file_level_limits_and_shape() -> None:
    with pytest.raises(InvalidInput, match="unknown column 'weight'"):
        parse("kind,date,weight\nproduction,2026-01-01,5\n")
    with pytest.raises(InvalidInput, match="no rows"):
        parse(HEADER + "\n\n")
    with pytest.raises(InvalidInput, match="empty"):
        parse("")
    rows = "\n".join(["production,2026-01-01"] * (csv_import.MAX_ROWS + 1))
    with pytest.raises(PayloadTooLarge, match="more than 5,000 rows"):
        parse("kind,date\n" + rows)
    with pytest.raises(PayloadTooLarge, match="larger than"):
        parse("kind,date,note\n" + "x" * csv_import.MAX_BYTES)
    header, parsed, delimiter = parse("\ufeffKind;Date;declared_yield\r\nreceipt;2026-01-01;"
                                      "\r\n\r\nreceipt;2026-01-02;\r\n")
    assert (header, delimiter) == (["kind", "date", "declared_yield"], ";")
    assert [line for line, _ in parsed] == [2, 4]


def test_only_members_import(db: Session) -> None:
    w = cw.build(db)
    with pytest.raises(Forbidden):
        import_csv(db, w.secretariat, _smelter_file(w), apply=False)


# --- over HTTP ----------------------------------------------------------------------------


@pytest.fixture
def app(engine: Engine, connection: Connection, settings: Settings) -> FastAPI:
    application = create_app(settings=settings, engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)
    return application


@pytest.fixture
def client_for(app: FastAPI, db: Session) -> Callable[[Actor], TestClient]:
    def make(actor: Actor) -> TestClient:
        token = accounts.create_token(db, actor, "tests").token
        db.flush()
        return TestClient(app, raise_server_exceptions=False,
                          headers={"Authorization": f"Bearer {token}"})

    return make


URL = "/api/v1/custody/import"
CSV_HEADERS = {"content-type": "text/csv; charset=utf-8"}


def test_http_dry_run_and_apply(db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    client = client_for(w.smelter.user)
    text = _smelter_file(w)
    response = client.post(URL, content=text, headers=CSV_HEADERS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["applied"] is False and body["valid"] == 3
    assert _stored(db) == (0, 0)
    response = client.post(f"{URL}?apply=true",
                           files={"file": ("movements.csv", text.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["applied"] is True
    assert _balance(db, w.smelter, "asi_aluminium") == 6_000


def test_http_refused_rows_answer_422_with_the_report(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    client = client_for(w.smelter.user)
    response = client.post(f"{URL}?apply=true", content=_smelter_file(w, kilograms="ten"),
                           headers=CSV_HEADERS)
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert body["error"]["message"] == "2 of 3 rows are refused; nothing was stored"
    assert body["error"]["details"][0]["field"] == "row 2: kilograms"
    assert [r["ok"] for r in body["report"]["results"]] == [False, True, False]
    assert _stored(db) == (0, 0)


def test_http_refuses_other_bodies_and_strangers(
        db: Session, app: FastAPI, client_for: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    anonymous = TestClient(app, raise_server_exceptions=False)
    assert anonymous.post(URL, content=_smelter_file(w),
                          headers=CSV_HEADERS).status_code == 401
    client = client_for(w.smelter.user)
    response = client.post(URL, json={"kind": "production"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "content-type"
    response = client.post(URL, content=b"kind,date\n\xff\xfe",
                           headers=CSV_HEADERS)
    assert response.status_code == 422 and "UTF-8" in response.json()["error"]["message"]
    big = HEADER + "\n" + "x" * (csv_import.MAX_BYTES + 10)
    response = client.post(URL, content=big, headers=CSV_HEADERS)
    assert response.status_code == 413
    response = client.post(URL, files={"other": ("a.csv", b"kind,date\n", "text/csv")})
    assert response.status_code == 422
    assert client_for(w.auditor).post(URL, content=_smelter_file(w),
                                      headers=CSV_HEADERS).status_code == 403
