"""The schema code the PACT tests validate our footprints with accepts PACT's own example
payloads (and refuses the one the README names as invalid): the check is the real one."""

from __future__ import annotations

import pytest

from tests.interop.pact.schema import example, needs_conformance, problems

pytestmark = needs_conformance


@pytest.mark.parametrize("name", ["example-1.json", "example-2.json", "example-3.json",
                                  "example-4.json"])
def test_the_v3_example_footprints_validate(name: str) -> None:
    assert problems("3", "ProductFootprint", example(f"v3/examples/{name}")) == []


def test_the_v3_example_responses_and_event_validate() -> None:
    assert problems("3", "ProductFootprint", example("v3/examples/get-footprint-response.json"),
                    wrap="one") == []
    for name in ("list-footprints-response.json", "invalid-response-all-properties.json"):
        assert problems("3", "ProductFootprint", example(f"v3/examples/{name}"),
                        wrap="list") == []
    assert problems("3", "RequestFulfilledEvent",
                    example("v3/examples/pf-response-event.json")) == []
    assert problems("3", "Error", example("v3/examples/error-response-access-denied.json")) == []


@pytest.mark.parametrize("version", ["2.0", "2.2", "2.3"])
def test_the_v2_examples_validate(version: str) -> None:
    assert problems(version, "ProductFootprint",
                    example("v2/examples/get-footprint-response.json"), wrap="one") == []
    assert problems(version, "ProductFootprint",
                    example("v2/examples/list-footprints-response.json"), wrap="list") == []


def test_a_broken_footprint_is_refused() -> None:
    # The all-properties v2 example writes "updated" as 2023-1-08T14:47:32Z.
    found = problems("2.3", "ProductFootprint",
                     example("v2/examples/invalid-response-all-properties.json"), wrap="list")
    assert any("updated" in p for p in found), found
    footprint = example("v3/examples/example-1.json")
    del footprint["pcf"]["productMassPerDeclaredUnit"]
    footprint["id"] = "not-a-uuid"
    found = problems("3", "ProductFootprint", footprint)
    assert any(p.startswith("id") for p in found) and any("productMassPerDeclaredUnit" in p
                                                          for p in found), found
