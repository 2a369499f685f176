"""A guarded row changed under a request (optimistic version check) answers 409, never 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm.exc import StaleDataError


def test_a_stale_row_is_a_conflict_in_json_and_on_pages(app: FastAPI) -> None:
    @app.get("/api/v1/_stale")
    def stale() -> None:
        raise StaleDataError("UPDATE statement on table 'material_accounts' expected 1 row")

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/api/v1/_stale", headers={"accept": "application/json"})
    assert answer.status_code == 409
    body = answer.json()["error"]
    assert body["code"] == "conflict" and "try again" in body["message"]
    page = client.get("/api/v1/_stale", headers={"accept": "text/html"})
    assert page.status_code == 409 and "try again" in page.text
