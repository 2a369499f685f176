"""docs/scaling.md section 3 places every table of the schema on a Citus cluster: the list
is the migrations' metadata, table for table, and a member's own requests filter each
distributed table they touch by the key the document names (so that Citus routes them to
one shard), except the statements listed here, each with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.schema import metadata
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.conftest import session_on
from tests.interop.conftest import object_event
from tests.today import TODAY

DOC = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
_ROW = re.compile(r"^\| `(?P<table>\w+)` \| (?P<placement>[^|]+)\|(?P<key>[^|]*)\|\s*$")


def placements() -> dict[str, tuple[str, str | None]]:
    """Section 3's table: each table's placement and, when distributed, its key."""
    text = DOC.read_text()
    section = text[text.index("## 3. Citus"):text.index("## 4.")]
    out: dict[str, tuple[str, str | None]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        table = match["table"]
        assert table not in out, f"{table} is listed twice"
        key = match["key"].strip().strip("`") or None
        out[table] = (match["placement"].strip(), key)
    return out


def test_the_document_places_every_table_of_the_schema() -> None:
    listed = placements()
    assert sorted(set(metadata.tables) - set(listed)) == [], "tables the doc leaves out"
    assert sorted(set(listed) - set(metadata.tables)) == [], "tables the schema lacks"
    for table, (placement, key) in listed.items():
        kind = placement.split(",")[0].split(":")[0]
        assert kind in ("distributed", "reference", "local to the coordinator"), table
        if kind == "distributed":
            assert key, f"{table}: distributed by which key?"
            columns = metadata.tables[table].columns
            assert key in columns or "add it" in placement, f"{table}.{key}"
        else:
            assert key is None, f"{table} is not distributed but names a key"


# --- a member's requests, statement by statement ----------------------------------------

# (request, verb, table) -> why that statement may cross shards, or how Citus routes it.
# A statement filtered by another column than the key is sent to every shard by Citus (it
# still answers right); "by entity" and "by id" ones become single-shard once the service
# adds the member's organization_id, which it always knows, beside the filter it has.
_BY_ENTITY = ("by the member's entity: the entity belongs to one organization (a reference "
              "table), so the service adds that organization_id to route it to one shard")
_CHILDREN = ("child rows loaded by their parents' ids (selectin loading) after a query "
             "filtered by organization_id: the loader adds the member's organization_id "
             "(the table has it, or gets it: 'add it' in the doc)")
NOT_BY_KEY: dict[tuple[str, str, str], str] = {
    ("operations", "SELECT", "custody_operations"): _BY_ENTITY,
    ("issue", "SELECT", "custody_settings"): _BY_ENTITY,
    ("issue", "SELECT", "material_accounts"): _BY_ENTITY,
    ("issue", "UPDATE", "material_accounts"):
        "the account's update by primary key and version: Citus routes only by the key, "
        "so the update adds the account's organization_id (one shard, as now one row)",
    ("document", "SELECT", "coc_documents"):
        "a document is read by its number, which gives no shard: both parties and the "
        "public verification use it; routed through the recipient's inbox or a number to "
        "issuer lookup (the text below), otherwise sent to every shard",
    ("scopes", "SELECT", "scope_facilities"): _CHILDREN,
    ("scopes", "SELECT", "self_assessments"): _CHILDREN,
    ("audits", "SELECT", "certification_scopes"): _CHILDREN,
    ("audits", "SELECT", "scope_facilities"): _CHILDREN,
    ("capture", "INSERT", "epcis_event_terms"):
        "the terms do not carry the key yet ('add it'): the insert then names the event's "
        "organization_id and lands on the event's shard",
    ("capture", "SELECT", "epcis_events"):
        "the next event number is the table's maximum: global by design (the EPCIS "
        "stream order); on Citus a cluster-wide sequence replaces it",
    ("events", "SELECT", "epcis_event_terms"):
        "the EPCIS query shows a member its own events or those that name it (an EXISTS "
        "on the terms): events others captured about its goods live on their shards, so "
        "this query fans out by design",
}


@pytest.fixture
def app(engine: Engine, connection: Connection, settings: Settings) -> FastAPI:
    application = create_app(settings=settings, engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)
    return application


class Recorder:
    """Every SQL statement the engine runs while ``request`` names what is going on."""

    def __init__(self) -> None:
        self.request: str | None = None
        self.statements: list[tuple[str, str]] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.request is not None:
            self.statements.append((self.request, statement))


@pytest.fixture
def recorder(engine: Engine) -> Iterator[Recorder]:
    rec = Recorder()
    event.listen(engine, "before_cursor_execute", rec)
    try:
        yield rec
    finally:
        event.remove(engine, "before_cursor_execute", rec)


_VERB = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def _touches(statement: str, table: str) -> bool:
    return re.search(rf'(?<![\w.])"?{table}"?(?![\w])', statement) is not None


def _by_key(statement: str, verb: str, table: str, key: str) -> bool:
    """The statement pins the table's rows to one value (or a list) of its key: an
    equality or IN on the key in its WHERE or ON clause; an INSERT names the key among
    its columns."""
    if verb == "INSERT" and re.match(rf'\s*INSERT INTO "?{table}"?', statement):
        columns = statement[statement.index("(") + 1:statement.index(")")]
        return re.search(rf'(?<![\w])"?{key}"?(?![\w])', columns) is not None
    return re.search(rf'(?<![\w])"?{table}(_\d+)?"?\."?{key}"?\s*(=|IN\b)', statement,
                     re.IGNORECASE) is not None or (
        verb in ("UPDATE", "DELETE")
        and re.search(rf'WHERE\b.*(?<![\w.])"?{key}"?\s*(=|IN\b)', statement,
                      re.IGNORECASE | re.DOTALL) is not None)


def test_a_members_requests_stay_on_its_shard(db: Session, app: FastAPI,
                                              recorder: Recorder) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 50_000)
    token = accounts.create_token(db, w.mine.user, "tests").token
    db.flush()
    member = TestClient(app, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token}"})
    c = "/api/v1/custody"
    requests: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("accounts", "GET", f"{c}/accounts?entity_id={w.mine.entity_id}", None),
        ("operations", "GET", f"{c}/entities/{w.mine.entity_id}/operations", None),
        ("issue", "POST", f"{c}/documents", {
            "recipient_entity_id": str(w.smelter.entity_id), "material": "asi_bauxite",
            "quantity_kg": 10_000, "coc_quantity_kg": 10_000,
            "shipment_date": str(TODAY)}),
        ("documents", "GET", f"{c}/documents", None),
        ("capture", "POST", "/epcis/events", {"@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            **object_event(7)}),
        ("events", "GET", "/epcis/events", None),
        ("inventories", "GET", "/api/v1/carbon/inventories", None),
        ("scopes", "GET", "/api/v1/assurance/scopes", None),
        ("audits", "GET", "/api/v1/assurance/audits", None),
    ]
    for label, method, url, body in requests:
        recorder.request = label
        response = member.request(method, url, json=body)
        recorder.request = None
        assert response.status_code < 300, (label, response.status_code, response.text)
    number = member.get(f"{c}/documents").json()["items"][0]["number"]
    recorder.request = "document"
    assert member.get(f"{c}/documents/{number}").status_code == 200
    recorder.request = None

    keys = {t: key for t, (placement, key) in placements().items()
            if placement.startswith("distributed") and key}
    crossing: dict[tuple[str, str, str], str] = {}
    for request, statement in recorder.statements:
        verb_match = _VERB.match(statement)
        if verb_match is None:
            continue  # BEGIN, SAVEPOINT, SET and the like
        verb = verb_match[1].upper()
        for table, key in keys.items():
            if _touches(statement, table) and not _by_key(statement, verb, table, key):
                flat = " ".join(statement.split())
                crossing.setdefault((request, verb, table), flat[flat.find(" WHERE "):][:300])
    unlisted = {k: v for k, v in crossing.items() if k not in NOT_BY_KEY}
    assert unlisted == {}, "statements not filtered by the distribution key"
    assert sorted(set(NOT_BY_KEY) - set(crossing)) == [], "listed, no longer seen"
