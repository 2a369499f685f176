"""Migration 0022 indexes the events captured before it: each EPC's canonical Digital
Link and the field rows the query parameters read (here on a scratch SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from stewardship.core.db import make_engine
from stewardship.core.migrate import upgrade
from stewardship.interop import rules
from stewardship.interop.epcis import fields


def test_events_captured_before_are_indexed_for_the_field_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
    event = {"type": "ObjectEvent", "eventID": "urn:test:old",
             "eventTime": "2024-05-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
             "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
             "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                               "quantity": 200, "uom": "KGM"}],
             "ext1:grade": "A"}
    try:
        upgrade(engine, "0021")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO epcis_contexts (id, digest, body) VALUES (1, 'd', :body)"),
                {"body": json.dumps([{"ext1": "http://example.com/ext1/"}])})
            connection.execute(text(
                "INSERT INTO epcis_events (id, event_id, error_declaration, event_type, "
                "event_time, record_time, context_id, body) VALUES (1, 'urn:test:old', 0, "
                "'ObjectEvent', '2024-05-01 10:00:00.000000', '2024-05-01 10:00:00.000000', "
                "1, :body)"), {"body": json.dumps(event)})
            connection.execute(text("INSERT INTO epcis_event_terms (event_pk, kind, value) "
                                    "VALUES (1, 1, 'urn:epc:id:sgtin:0614141.107346.2017')"))
        upgrade(engine)
        with engine.connect() as connection:
            rows = set(connection.execute(text(
                "SELECT kind, value, number FROM epcis_event_terms WHERE event_pk = 1")))
        assert (rules.EPC, "urn:epc:id:sgtin:0614141.107346.2017", None) in rows
        assert (rules.EPC + rules.CANONICAL_OFFSET,
                "https://id.gs1.org/01/10614141073464/21/2017", None) in rows
        assert (fields.NUMBER, fields.key(fields.STD, "quantity_KGM"), 200.0) in rows
        assert (fields.TEXT, fields.key("", "http://example.com/ext1/grade", "A")) in \
            {row[:2] for row in rows}
        assert len([r for r in rows if r[0] == rules.EPC]) == 1  # nothing indexed twice
    finally:
        engine.dispose()
