"""The credential verification page in Chromium, on the demo world: the bundles that two
certificate pages offer (one certificate current, one suspended) and one with a byte of its
credential changed, each pasted and uploaded as a file; then the secretariat's
transparency-log page, where a checkpoint is signed and a witness key refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

CURRENT = "STW-PS-2024-0002"
SUSPENDED = "STW-PS-2024-0001"


def _bundle_of(page: Any, number: str) -> str:
    """The bundle the certificate's page offers for download, as a buyer gets it."""
    page.goto(f"/certificates/{number}")
    link = page.get_by_role("link", name="Verification bundle")
    href = link.get_attribute("href")
    assert href and href.endswith("/bundle")
    answer = page.request.get(href)
    assert answer.ok and "attachment" in answer.headers["content-disposition"]
    text: str = answer.text()
    return text


def _tampered(bundle: str) -> str:
    """The bundle with one byte of its credential changed: a letter of the holder's name
    inside the signed payload, the signature left as it was."""
    data = json.loads(bundle)
    header, payload, signature = data["credential"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    name = json.loads(raw)["credentialSubject"]["issuedToParty"]["name"].encode()
    at = raw.index(name)
    raw[at] = ord("X") if raw[at] != ord("X") else ord("Y")
    changed = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    data["credential"] = f"{header}.{changed}.{signature}"
    return json.dumps(data, indent=2)


def _paste(page: Any, bundle: str) -> None:
    page.goto("/verify/credential")
    page.fill("#field-bundle_text", bundle)
    page.get_by_role("button", name="Verify").click()


def _upload(page: Any, bundle: str, name: str) -> None:
    page.goto("/verify/credential")
    page.set_input_files("#field-bundle_file", files=[{
        "name": name, "mimeType": "application/json", "buffer": bundle.encode()}])
    page.get_by_role("button", name="Verify").click()


def _expect_verdict(page: Any, heading: str, tone: str, failed: str | None) -> None:
    verdict = page.locator("section.verdict")
    expect(verdict).to_have_class(f"verdict verdict-{tone}")
    expect(page.locator("#verdict-heading")).to_contain_text(heading)
    checks = verdict.locator("table.checks tbody tr")
    if failed is None:
        expect(verdict.get_by_text("The check that failed")).to_have_count(0)
        expect(checks.filter(has_text="Failed")).to_have_count(0)
        expect(checks.filter(has_text="Inclusion proof")).to_contain_text("Passed")
    else:
        expect(verdict).to_contain_text(f"The check that failed: {failed}.")
        expect(checks.filter(has_text="Failed")).to_have_count(1)
        expect(checks.filter(has_text="Failed")).to_contain_text(failed.capitalize())


@pytest.mark.parametrize("how", ["pasted", "uploaded"])
def test_valid_suspended_and_tampered_bundles(new_page: Any, artifacts: Path, how: str) -> None:
    page = new_page()
    current = _bundle_of(page, CURRENT)
    suspended = _bundle_of(page, SUSPENDED)
    cases = [
        ("current", current, "Valid", "success", None),
        ("suspended", suspended, "Suspended: the suspension bit is set", "warning", None),
        ("tampered", _tampered(current), "Tampered: the signature does not verify",
         "danger", "credential signature"),
    ]
    for name, bundle, heading, tone, failed in cases:
        if how == "pasted":
            _paste(page, bundle)
        else:
            _upload(page, bundle, f"{name}-bundle.json")
        _expect_verdict(page, heading, tone, failed)
        page.screenshot(path=str(artifacts / f"verify-credential-{name}-{how}.png"),
                        full_page=True)
    # The suspended one names its status check, passed, with the bit set.
    if how == "pasted":
        _paste(page, suspended)
    else:
        _upload(page, suspended, "suspended-bundle.json")
    status = page.locator("table.checks tbody tr").filter(has_text="Status (suspension)")
    expect(status).to_contain_text("the suspension bit is set")


def test_bad_input_is_named_on_the_page(page: Any) -> None:
    _paste(page, '{"type": "StewardshipVerificationBundle", "credential": ')
    expect(page.locator("#verdict-heading")).to_contain_text("Malformed: the bundle is not JSON")
    _upload(page, " " * 2_000_001, "huge.json")
    expect(page.locator("#error-summary")).to_contain_text("larger than this page takes")
    expect(page.locator("#error-bundle_file")).to_be_visible()
    page.goto("/verify/credential")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#error-bundle_text")).to_contain_text("Paste a verification bundle")


def test_the_secretariat_signs_a_checkpoint_and_registers_witnesses(page: Any,
                                                                    artifacts: Path) -> None:
    log_in(page, "secretariat@stewardship.example")
    page.goto("/dashboard")
    page.get_by_role("link", name="Transparency log: checkpoints, witnesses and keys").click()
    expect(page.locator("h1")).to_have_text("Transparency log")
    expect(page.locator("section[aria-labelledby='witnesses-heading']")).to_contain_text(
        "No witness registered yet")
    page.get_by_role("button", name="Sign a checkpoint now").click()
    expect(page.locator(".flash").first).to_contain_text("Checkpoint of")
    expect(page.locator("#checkpoint-note")).to_contain_text("\u2014 ")
    page.fill("#field-vkey", "firm.example/witness+0000+AAAA")
    page.get_by_role("button", name="Register witness").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#error-vkey")).to_contain_text("verifier key")
    page.screenshot(path=str(artifacts / "transparency-log-secretariat.png"), full_page=True)
    page.goto("/log")
    expect(page.locator("h1")).to_have_text("Transparency log")
    expect(page.locator("#checkpoint-note")).to_be_visible()
