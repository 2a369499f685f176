"""A buyer holding a number finds where to type it, signed out, from every page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_the_verify_box_is_on_the_home_page_the_menu_and_the_footer(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    # Hero, the two menus (compact and wide) and the footer.
    assert home.text.count('href="/verify"') >= 4
    assert "Verify a certificate or CoC document" in home.text
    page = client.get("/verify")
    assert page.status_code == 200
    assert 'action="/verify"' in page.text and 'name="number"' in page.text


@pytest.mark.parametrize(("typed", "target"), [
    ("STW-PS-2026-0001", "/certificates/STW-PS-2026-0001"),
    (" stw-coc-2025-0012 ", "/certificates/STW-COC-2025-0012"),
    ("coc-2026-k7qp3wxa4", "/verify/coc/COC-2026-K7QP3WXA4"),
    ("COC-2026-K7QP 3WXA4\n", "/verify/coc/COC-2026-K7QP3WXA4"),
])
def test_a_number_goes_to_the_page_that_verifies_it(client: TestClient, typed: str,
                                                    target: str) -> None:
    response = client.get("/verify", params={"number": typed}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == target


@pytest.mark.parametrize("typed", ["12345", "STW-", "ASI-PS-2026-1", "<script>"])
def test_a_number_of_neither_kind_is_explained_beside_the_field(client: TestClient,
                                                                typed: str) -> None:
    response = client.get("/verify", params={"number": typed}, follow_redirects=False)
    assert response.status_code == 422
    assert "starts with STW-" in response.text and "COC-" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "<script>" not in response.text


def test_an_overlong_number_is_refused_not_a_server_error(client: TestClient) -> None:
    response = client.get("/verify", params={"number": "C" * 101})
    assert response.status_code in (400, 422)
