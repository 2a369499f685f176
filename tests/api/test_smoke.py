from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def test_public_register_lists_admitted_members_only(client: TestClient, db: Session) -> None:
    member = factories.organization(db, name="Fjordlight Metals")
    factories.organization(db, name="Hopeful Applicant", admitted=False)
    factories.facility(db, member)
    db.flush()
    response = client.get("/api/v1/registry/organizations")
    assert response.status_code == 200
    names = [o["name"] for o in response.json()["items"]]
    assert names == ["Fjordlight Metals"]
    assert response.json()["items"][0]["activities"] == ["smelting"]
