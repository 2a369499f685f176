"""The transparency log's pages: the secretariat's (checkpoints, witnesses, keys; register a
witness, sign a checkpoint now) and the public /log page, as a browser sees them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from stewardship.core import eventlog, notes, tlog
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.keys import DEV_KEY_NAME
from stewardship.core.pagination import PageParams
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from tests import factories
from tests.factories import SYSTEM

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = "/secretariat/log"


@pytest.fixture
def signed_in(app: FastAPI, db: Session, settings: Settings) -> Callable[[Actor], TestClient]:
    def make(actor: Actor) -> TestClient:
        assert actor.user_id is not None
        user = registry_repo.user_by_id(db, actor.user_id)
        assert user is not None
        browser = TestClient(app, raise_server_exceptions=False)
        browser.cookies.set(SESSION_COOKIE, accounts.start_session(db, user, settings))
        db.flush()
        return browser

    return make


@pytest.fixture
def secretariat(db: Session) -> Actor:
    return factories.user(db, Role.SECRETARIAT)


@pytest.fixture
def staff(secretariat: Actor, signed_in: Callable[[Actor], TestClient]) -> TestClient:
    return signed_in(secretariat)


def text(response: Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def post(browser: TestClient, url: str, data: dict[str, str] | None = None) -> Response:
    token = CSRF.search(browser.get(PAGE).text)
    assert token
    return browser.post(url, data={**(data or {}), "csrf_token": token.group(1)},
                        headers={"referer": f"http://testserver{PAGE}"},
                        follow_redirects=False)


def _grow(db: Session, n: int) -> None:
    for i in range(n):
        eventlog.append(db, SYSTEM, "tests.log", f"item:{i}", {"i": i})
    db.flush()


def _witness(name: str = "firm.example/witness") -> tuple[notes.Signer, str]:
    signer = notes.Signer(name, Ed25519PrivateKey.generate())
    return signer, notes.witness_verifier(name, signer.private_key.public_key()).vkey


def test_only_the_secretariat_opens_the_page(
        db: Session, client: TestClient, signed_in: Callable[[Actor], TestClient]) -> None:
    assert client.get(PAGE, follow_redirects=False).status_code == 303
    member = signed_in(factories.user(db, Role.MEMBER_ADMIN,
                                      organization=factories.organization(db)))
    assert member.get(PAGE).status_code == 403
    refused = member.post(f"{PAGE}/checkpoint", data={"csrf_token": "x"},
                          follow_redirects=False)
    assert refused.status_code in (400, 403)
    assert tlog.latest_checkpoint(db) is None


def test_empty_states_name_what_to_do_with_the_exact_commands(
        app: FastAPI, staff: TestClient) -> None:
    page = staff.get(PAGE)
    assert page.status_code == 200
    body = text(page)
    assert "The log has signed no checkpoint yet" in body
    assert "No checkpoint is signed yet" in body
    assert "No witness registered yet" in body
    vkey = app.state.log_signer.verifier.vkey
    assert ("stewardship witness keygen --name firm.example/witness --key-file witness.key"
            in body)
    assert (f"stewardship witness --log http://testserver --key-file witness.key "
            f"--name firm.example/witness --log-vkey {vkey}") in body


def test_signing_a_checkpoint_now_and_the_history(db: Session, staff: TestClient,
                                                  app: FastAPI) -> None:
    _grow(db, 5)
    size = tlog.log_size(db)
    made = post(staff, f"{PAGE}/checkpoint")
    assert made.status_code == 303 and made.headers["location"] == PAGE
    latest = tlog.latest_checkpoint(db)
    assert latest is not None and latest.size == size
    page = staff.get(PAGE)
    assert f"Checkpoint of {size} entries signed." in text(page)
    # The note as the log signed it, ready to copy, and verifiable with the published key.
    note = re.search(r'<pre class="example checkpoint-note"[^>]*>(.*?)</pre>', page.text, re.S)
    assert note and html.unescape(note.group(1)) == latest.note
    notes.open_note(html.unescape(note.group(1)), app.state.log_signer.verifier)
    # Pressed again with nothing new: the same checkpoint stays the latest.
    again = post(staff, f"{PAGE}/checkpoint")
    assert again.status_code == 303
    assert "has not grown since its checkpoint" in text(staff.get(PAGE))
    assert tlog.latest_checkpoint(db).size == size  # type: ignore[union-attr]
    # Signing is not itself an entry of the log: the checkpoint covers the log as it is.
    assert tlog.log_size(db) == size


def test_the_history_paginates_with_cosignature_counts(db: Session, staff: TestClient,
                                                       app: FastAPI) -> None:
    signer, vkey = _witness()
    tlog.register_witness(db, vkey, "user:someone")
    origin = app.state.settings.resolved_log_origin
    for _ in range(22):
        _grow(db, 1)
        tlog.make_checkpoint(db, app.state.log_signer, origin)
    latest = tlog.latest_checkpoint(db)
    assert latest is not None
    line = notes.cosign(latest.note.split("\n\n")[0] + "\n", signer, 1_900_000_000).line
    tlog.add_cosignature(db, latest.size, line)
    db.flush()
    first = staff.get(PAGE)
    rows = re.findall(r'<th scope="row" data-label="Size" class="num">([\d,]+)</th>', first.text)
    assert len(rows) == 20 and rows[0] == f"{latest.size:,}"
    top = first.text[first.text.index(f'class="num">{latest.size:,}</th>'):]
    top = top[:top.index("</tr>")]
    assert 'data-label="Cosignatures" class="num">1<' in top and "firm.example/witness" in top
    assert "Page 1 of 2" in text(first)
    second = staff.get(f"{PAGE}?page=2")
    assert len(re.findall(r'data-label="Size" class="num">', second.text)) == 2
    assert "Up to date" in text(first)


def test_registering_a_witness_by_its_vkey(db: Session, staff: TestClient, app: FastAPI,
                                           secretariat: Actor) -> None:
    before = eventlog.list_entries(db, PageParams(1, 1)).total
    blank = post(staff, f"{PAGE}/witnesses", {"vkey": "  "})
    assert blank.status_code == 422
    assert 'href="#field-vkey"' in blank.text and 'id="error-vkey"' in blank.text
    assert "Enter the witness's verifier key" in text(blank)
    nonsense = post(staff, f"{PAGE}/witnesses", {"vkey": "not a key"})
    assert nonsense.status_code == 422 and "three parts" in text(nonsense)
    assert 'value="not a key"' in nonsense.text
    # The log's own kind of key (type 0x01) is not a witness's.
    log_key = post(staff, f"{PAGE}/witnesses", {"vkey": app.state.log_signer.verifier.vkey})
    assert log_key.status_code == 422 and "cosignature key (type 0x04)" in text(log_key)
    long_name = "w" * 250
    _, too_long = _witness(long_name)
    refused = post(staff, f"{PAGE}/witnesses", {"vkey": too_long})
    assert refused.status_code == 422 and "at most" in text(refused)
    assert tlog.witnesses(db) == []
    assert eventlog.list_entries(db, PageParams(1, 1)).total == before

    _, vkey = _witness()
    done = post(staff, f"{PAGE}/witnesses", {"vkey": vkey})
    assert done.status_code == 303, done.text
    assert [w.name for w in tlog.witnesses(db)] == ["firm.example/witness"]
    entry = eventlog.list_entries(db, PageParams(1, 1)).items[0]
    assert (entry.kind, entry.subject) == ("log.witness.registered",
                                           "witness:firm.example/witness")
    page = text(staff.get(PAGE))
    assert "Witness firm.example/witness is registered" in page
    assert vkey in page and f"by {secretariat.name}" in page and "Nothing yet" in page
    again = post(staff, f"{PAGE}/witnesses", {"vkey": vkey})
    assert again.status_code == 422 and "registered already" in text(again)


def test_a_witness_that_did_not_cosign_the_latest_checkpoint_is_behind(
        db: Session, staff: TestClient, app: FastAPI) -> None:
    signer, vkey = _witness()
    tlog.register_witness(db, vkey, "system:cli")
    origin = app.state.settings.resolved_log_origin
    _grow(db, 3)
    first = tlog.make_checkpoint(db, app.state.log_signer, origin)
    tlog.add_cosignature(db, first.size, notes.cosign(
        first.note.split("\n\n")[0] + "\n", signer, 1_900_000_000).line)
    _grow(db, 3)
    newer = tlog.make_checkpoint(db, app.state.log_signer, origin)
    db.flush()
    page = text(staff.get(PAGE))
    assert f"The checkpoint of {first.size} entries" in page
    assert f"Behind the latest checkpoint is of {newer.size} entries" in page


def test_keys_are_public_only_with_their_spans(db: Session, staff: TestClient, app: FastAPI,
                                               settings: Settings) -> None:
    _grow(db, 2)
    post(staff, f"{PAGE}/checkpoint")
    page = staff.get(PAGE).text
    verifier = app.state.log_signer.verifier
    assert verifier.vkey in page and verifier.key_id.hex() in page
    assert "Current" in page and "1 checkpoint, sizes" in text(staff.get(PAGE))
    seed = (settings.var_dir / DEV_KEY_NAME).read_text().strip()
    assert seed not in page and seed not in client_page(app)


def client_page(app: FastAPI) -> str:
    return TestClient(app, raise_server_exceptions=False).get("/log").text


def test_the_public_page_shows_the_latest_checkpoint_and_how_to_mirror(
        db: Session, client: TestClient, app: FastAPI) -> None:
    empty = client.get("/log")
    assert empty.status_code == 200 and "The log has signed no checkpoint yet" in text(empty)
    signer, vkey = _witness("auditors.example/w")
    tlog.register_witness(db, vkey, "system:cli")
    _grow(db, 4)
    cp = tlog.make_checkpoint(db, app.state.log_signer, app.state.settings.resolved_log_origin)
    tlog.add_cosignature(db, cp.size, notes.cosign(cp.note.split("\n\n")[0] + "\n", signer,
                                                   1_900_000_000).line)
    db.flush()
    page = client.get("/log")
    body = text(page)
    latest = tlog.latest_checkpoint(db)
    assert latest is not None and latest.note.count("\u2014 ") == 2
    note = re.search(r'<pre class="example checkpoint-note"[^>]*>(.*?)</pre>', page.text, re.S)
    assert note and html.unescape(note.group(1)) == latest.note
    assert "auditors.example/w" in body
    assert "http://testserver/log/tile/entries/" in body and "/log/checkpoint" in body
    assert app.state.log_signer.verifier.vkey in body
    assert "Sign a checkpoint now" not in body and "Register a witness" not in body
