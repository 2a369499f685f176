"""Malformed and hostile input at the HTTP edge: the right status, the one error shape, and
nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.eventlog import EventLogEntry
from stewardship.registry.models import Facility, Organization, User
from stewardship.registry.rules import CHECK_ALPHABET, new_facility_id
from tests import factories
from tests.api.pages import api_error, fields
from tests.today import TODAY

ORGS = "/api/v1/registry/organizations"
FACILITIES = "/api/v1/registry/facilities"
GOOD_ORG = {"name": "Valid Metals", "membership_class": "production_transformation",
            "country": "NO"}


def _counts(db: Session) -> tuple[int, int, int]:
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (Organization, Facility, EventLogEntry))


@pytest.fixture
def staff(db: Session, client_for: Callable[[Actor], TestClient]) -> TestClient:
    return client_for(factories.user(db, Role.SECRETARIAT))


# --- 422 for malformed payloads ---------------------------------------------------------


def test_unknown_field_is_named(staff: TestClient, db: Session) -> None:
    before = _counts(db)
    error = api_error(staff.post(ORGS, json={**GOOD_ORG, "colour": "red"}), 422)
    assert error["code"] == "validation_error"
    assert fields(error) == {"colour": "unknown field"}
    assert _counts(db) == before


def test_unknown_nested_field_is_named_with_its_path(staff: TestClient) -> None:
    body = {"name": "Nested Audits", "country": "GB",
            "accreditation": {"standards": ["performance"], "countries": ["NO"],
                              "activities": ["smelting"],
                              "expires_on": str(TODAY + timedelta(days=365)), "extra": 1}}
    error = api_error(staff.post("/api/v1/registry/audit-firms", json=body), 422)
    assert fields(error) == {"accreditation.extra": "unknown field"}


@pytest.mark.parametrize(("patch", "field"), [
    ({"name": 123}, "name"),
    ({"name": ["a list"]}, "name"),
    ({"membership_class": "oligarchs"}, "membership_class"),
    ({"website": "ftp://example.org"}, "website"),
    ({"name": "x" * 201}, "name"),
    ({"description": "x" * 2001}, "description"),
])
def test_wrong_types_and_values(staff: TestClient, db: Session, patch: dict[str, Any],
                                field: str) -> None:
    before = _counts(db)
    error = api_error(staff.post(ORGS, json={**GOOD_ORG, **patch}), 422)
    assert field in fields(error)
    assert _counts(db) == before


@pytest.mark.parametrize("missing", ["name", "membership_class", "country"])
def test_missing_required_fields(staff: TestClient, missing: str) -> None:
    body = {k: v for k, v in GOOD_ORG.items() if k != missing}
    error = api_error(staff.post(ORGS, json=body), 422)
    assert missing in fields(error)


def test_body_that_is_not_json(staff: TestClient) -> None:
    response = staff.post(ORGS, content=b"{not json", headers={"content-type":
                                                                "application/json"})
    api_error(response, 422)


def test_bad_country_is_named(staff: TestClient, db: Session) -> None:
    before = _counts(db)
    for bad in ("XX", "NOR", "N"):
        error = api_error(staff.post(ORGS, json={**GOOD_ORG, "country": bad}), 422)
        assert "country" in fields(error)
    error = api_error(staff.get(ORGS, params={"country": "XX"}), 422)
    assert "country" in fields(error)
    assert _counts(db) == before


def test_bad_facility_ids_are_named(client: TestClient, db: Session) -> None:
    org = factories.organization(db)
    good = factories.facility(db, org).facility.id
    wrong_check = good[:-1] + next(c for c in CHECK_ALPHABET if c != good[-1])
    for raw, says in [(wrong_check, "check character"), ("NOPE", "not a facility id"),
                      ("XX" + good[2:], "country code")]:
        error = api_error(client.get(f"{FACILITIES}/{raw}"), 422)
        assert "facility_id" in fields(error)
        assert says in error["message"]
    assert client.get(f"{FACILITIES}/{good.lower()}").json()["id"] == good
    unknown = new_facility_id("SE", 2020, "ABCDEF")
    api_error(client.get(f"{FACILITIES}/{unknown}"), 404)


def test_facility_input_is_checked(db: Session, client_for: Callable[[Actor], TestClient]
                                   ) -> None:
    org = factories.organization(db)
    client = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=org))
    before = _counts(db)
    base = {"name": "Valid Plant", "country": "NO", "activities": ["smelting"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"activities": []}, "activities"),
        ({"activities": ["teleportation"]}, "activities.0"),
        ({"latitude": "91", "longitude": "5"}, "latitude"),
        ({"latitude": "north", "longitude": "5"}, "latitude"),
        ({"latitude": "60"}, "longitude"),  # the pair rule names the missing half
        ({"annual_capacity_t": -1}, "annual_capacity_t"),
        ({"annual_capacity_t": 1.5}, "annual_capacity_t"),
    ]
    for patch, field in cases:
        error = api_error(client.post(FACILITIES, json={**base, **patch}), 422)
        assert field in fields(error), (patch, error)
    assert _counts(db) == before


def test_per_page_over_the_maximum(client: TestClient, settings: Settings) -> None:
    error = api_error(client.get(ORGS, params={"per_page": settings.page_size_max + 1}), 422)
    assert "per_page" in fields(error)
    assert client.get(ORGS, params={"per_page": settings.page_size_max}).status_code == 200
    for bad in ("0", "-1", "many"):
        assert "per_page" in fields(api_error(client.get(ORGS, params={"per_page": bad}), 422))
    assert "page" in fields(api_error(client.get(ORGS, params={"page": "0"}), 422))


def test_bad_uuid_in_the_path(staff: TestClient) -> None:
    error = api_error(staff.patch("/api/v1/registry/users/not-a-uuid", json={"active": False}),
                      422)
    assert "user_id" in fields(error)


# --- 413 for oversized bodies -----------------------------------------------------------


def _oversized(settings: Settings) -> bytes:
    filler = "x" * (settings.max_body_bytes + 10)
    return ('{"name": "Big", "membership_class": "civil_society", "country": "NO", '
            f'"description": "{filler}"}}').encode()


def test_oversized_body_with_content_length(staff: TestClient, db: Session,
                                            settings: Settings) -> None:
    before = _counts(db)
    body = _oversized(settings)
    response = staff.post(ORGS, content=body, headers={"content-type": "application/json"})
    error = api_error(response, 413)
    assert error["code"] == "payload_too_large"
    assert _counts(db) == before


def test_oversized_streamed_body_without_content_length(staff: TestClient, db: Session,
                                                        settings: Settings) -> None:
    before = _counts(db)
    body = _oversized(settings)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    response = staff.post(ORGS, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    error = api_error(response, 413)
    assert error["code"] == "payload_too_large"
    assert _counts(db) == before


def test_streamed_body_under_the_limit_is_accepted(staff: TestClient) -> None:
    body = b'{"name": "Streamed Metals", "membership_class": "civil_society", "country": "NO"}'

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = staff.post(ORGS, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["slug"] == "streamed-metals"


# --- nothing written when a request fails -----------------------------------------------


def test_a_refused_change_after_partial_writes_leaves_nothing(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    org = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    client = client_for(admin)
    db.flush()
    events_before = _counts(db)[2]
    # The service changes the role, flushes, counts the admins left and refuses: the
    # request's transaction must roll the flushed change back.
    response = client.patch(f"/api/v1/registry/users/{admin.user_id}",
                            json={"role": "member_user"})
    error = api_error(response, 409)
    assert error["code"] == "conflict"
    db.expire_all()
    assert db.scalar(select(User.role).where(User.id == admin.user_id)) == "member_admin"
    assert _counts(db)[2] == events_before


def test_conflict_on_create_leaves_nothing(staff: TestClient, db: Session) -> None:
    assert staff.post(ORGS, json={**GOOD_ORG, "slug": "taken-slug"}).status_code == 201
    before = _counts(db)
    error = api_error(staff.post(ORGS, json={**GOOD_ORG, "name": "Other", "slug": "taken-slug"}),
                      409)
    assert fields(error) == {"slug": error["message"]}
    assert _counts(db) == before


# --- the error shape everywhere ---------------------------------------------------------


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    error = api_error(client.get("/api/v1/registry/nothing-here"), 404)
    assert error["code"] == "not_found"
    assert "/api/v1/registry/nothing-here" in error["message"]


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.delete(ORGS)
    error = api_error(response, 405)
    assert error["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_unknown_organisation_is_a_json_404(client: TestClient) -> None:
    error = api_error(client.get(f"{ORGS}/no-such-org"), 404)
    assert error["code"] == "not_found"
    assert fields(error) == {"slug": error["message"]}


def test_bad_bearer_token_is_a_json_401_even_on_public_endpoints(app: Any) -> None:
    client = TestClient(app, raise_server_exceptions=False,
                        headers={"Authorization": "Bearer stw_not-a-real-token"})
    error = api_error(client.get(ORGS), 401)
    assert error["code"] == "unauthenticated"


# --- integers beyond any column --------------------------------------------------------

HUGE = "99999999999999999999999"
STANDARD = "/api/v1/standards/performance"


@pytest.mark.parametrize(("method", "url", "field"), [
    ("get", f"{STANDARD}/versions/{HUGE}", "version"),
    ("get", f"{STANDARD}/versions/{HUGE}/package", "version"),
    ("get", f"{STANDARD}/versions/{HUGE}/criteria/1.1", "version"),
    ("post", f"{STANDARD}/versions/{HUGE}/applicability", "version"),
    ("post", f"{STANDARD}/versions/{HUGE}/exclusions", "version"),
    ("get", f"{STANDARD}/diff?from={HUGE}&to=1", "from"),
    ("get", f"{STANDARD}/diff?from=1&to={HUGE}", "to"),
    ("get", f"{STANDARD}/versions/2147483648", "version"),
    ("get", f"{ORGS}?per_page={HUGE}", "per_page"),
    ("get", f"{ORGS}?page={HUGE}", "page"),
])
def test_an_integer_past_the_columns_is_a_422_naming_it(staff: TestClient, method: str,
                                                       url: str, field: str) -> None:
    response = staff.request(method, url, json={} if method == "post" else None)
    error = api_error(response, 422)
    assert field in fields(error)
    assert "less than or equal to" in fields(error)[field]


def test_the_largest_version_number_is_a_plain_404(staff: TestClient) -> None:
    error = api_error(staff.get(f"{STANDARD}/versions/2147483647"), 404)
    assert error["code"] == "not_found"


@pytest.mark.parametrize("page", [f"/standards/performance/v{HUGE}",
                                  f"/standards/performance/v{HUGE}/criteria/1.1",
                                  f"/standards/performance/v{HUGE}/applicability",
                                  f"/standards/performance/diff?from={HUGE}&to=1"])
def test_an_integer_past_the_columns_on_a_page_is_an_error_page(client: TestClient,
                                                               page: str) -> None:
    response = client.get(page, headers={"accept": "text/html"})
    assert response.status_code in (404, 422), response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text


# --- JSON nested beyond reason ----------------------------------------------------------


def _nested(levels: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * levels + b"]" * levels
    return b'{"a":' * levels + b"1" + b"}" * levels


def _problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("epcisException:")
    return body


@pytest.mark.parametrize("levels", [1_030, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("url", ["/epcis/events", "/epcis/capture"])
def test_deeply_nested_json_on_epcis_is_a_problem_document(
        staff: TestClient, db: Session, url: str, kind: str, levels: int) -> None:
    before = _counts(db)
    response = staff.post(url, content=_nested(levels, kind),
                          headers={"content-type": "application/ld+json"})
    problem = _problem(response, 400)
    assert problem["type"] == "epcisException:ValidationException"
    assert f"body nests {levels} levels deep" in problem["detail"]
    assert "at most 64" in problem["detail"]
    assert _counts(db) == before


@pytest.mark.parametrize("levels", [1_030, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("url", [ORGS, f"{STANDARD}/versions/3/applicability"])
def test_deeply_nested_json_on_the_api_is_a_422_naming_the_body(
        staff: TestClient, db: Session, url: str, kind: str, levels: int) -> None:
    before = _counts(db)
    response = staff.post(url, content=_nested(levels, kind),
                          headers={"content-type": "application/json"})
    error = api_error(response, 422)
    assert error["code"] == "invalid"
    assert f"{levels} levels deep" in fields(error)["body"]
    assert _counts(db) == before


def test_json_nested_to_the_limit_reaches_the_route(staff: TestClient) -> None:
    # 64 levels (the object and 63 arrays) pass the guard; the name's type refuses them.
    nested = _nested(63, "array").decode()
    body = f'{{"name": {nested}, "membership_class": "civil_society", "country": "NO"}}'
    response = staff.post(ORGS, content=body, headers={"content-type": "application/json"})
    error = api_error(response, 422)
    assert error["code"] == "validation_error"
    assert "name" in fields(error)


def test_brackets_inside_strings_do_not_count_as_nesting(staff: TestClient) -> None:
    name = "[" * 200 + "{\\\"" * 100
    body = f'{{"name": "{name}", "membership_class": "civil_society", "country": "NO"}}'
    response = staff.post(ORGS, content=body, headers={"content-type": "application/json"})
    error = api_error(response, 422)
    assert "body" not in fields(error)
    assert "name" in fields(error)


def test_an_oversized_epcis_body_is_still_a_413_problem(staff: TestClient,
                                                        settings: Settings) -> None:
    body = b'{"type": "EPCISDocument", "x": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    problem = _problem(staff.post("/epcis/capture", content=chunks(),
                                  headers={"content-type": "application/json"}), 413)
    assert problem["type"] == "epcisException:CaptureLimitExceededException"


def test_a_json_body_that_is_not_utf8_is_named(staff: TestClient, db: Session) -> None:
    before = _counts(db)
    body = b'{"name": "Caf\xe9 Metals", "membership_class": "civil_society", "country": "NO"}'
    error = api_error(staff.post(ORGS, content=body,
                                 headers={"content-type": "application/json"}), 422)
    assert "not UTF-8" in fields(error)["body"]
    problem = _problem(staff.post("/epcis/events", content=body,
                                  headers={"content-type": "application/json"}), 400)
    assert "not UTF-8" in problem["detail"]
    assert _counts(db) == before


@pytest.mark.parametrize("page", ["/standards/performance/diff?from=%C2%B2&to=1",
                                  "/certificates?version=%C2%B2",
                                  "/findings?year=%C2%B2",
                                  "/findings?principle=%C2%B2"])
def test_a_digit_int_cannot_read_is_an_error_page(client: TestClient, page: str) -> None:
    # "²" is a digit to str.isdigit() but not a number to int(): whole numbers are read
    # with str.isdecimal().
    response = client.get(page, headers={"accept": "text/html"})
    assert response.status_code in (200, 404, 422), response.text[:300]
    assert "Traceback" not in response.text


def test_an_epcis_page_size_int_cannot_read_is_a_problem(staff: TestClient) -> None:
    problem = _problem(staff.get("/epcis/events?perPage=%C2%B2"), 400)
    assert "perPage" in problem["detail"]


def test_an_import_form_with_extra_fields_is_a_422_naming_the_file(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    slug = factories.organization(db)
    member = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=slug))
    response = member.post("/api/v1/custody/import",
                          files={"file": ("movements.csv", b"kind,date\n", "text/csv")},
                          data={"note": "a field", "more": "one field too many"})
    error = api_error(response, 422)
    assert "Too many fields" in fields(error)["file"]
