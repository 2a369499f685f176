"""Failed passwords lock one account from one address only, and a locked-out owner gets in
through a one-time sign-in link delivered by a real SMTP receiver on 127.0.0.1."""

from __future__ import annotations

import email
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.mail import Mailer, MailNotSent
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry.models import LoginLink
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.api.pages import csrf_in
from tests.conftest import session_on

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PASSWORD = factories.PASSWORD
OWNER = "owner.staff@example.org"


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    # aiosmtpd calls the handler's handle_DATA by that name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"

    def link(self) -> str:
        assert self.arrived.wait(10), "no message reached the SMTP receiver"
        body = self.messages[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        match = re.search(r"https?://\S+/login/link/(\S+)", body.decode())
        assert match, body
        return match.group(1)


BASE = "https://stewardship.example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free port of 127.0.0.1 that keeps what it receives."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1],
                                       "login_max_failures": 5})


@pytest.fixture
def mail_app(engine: Engine, connection: Connection, mail_settings: Settings) -> FastAPI:
    application = create_app(settings=mail_settings, engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)
    return application


def browser_at(app: FastAPI, address: str) -> TestClient:
    """A browser whose requests come from ``address``."""
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000),
                      follow_redirects=False)


def log_in(browser: TestClient, address: str, password: str) -> Any:
    token = csrf_in(browser.get("/login").text)
    return browser.post("/login", data={"csrf_token": token, "email": address,
                                        "password": password})


def test_five_wrong_passwords_lock_that_address_only(db: Session, mail_app: FastAPI) -> None:
    factories.user(db, Role.SECRETARIAT, email=OWNER)
    db.flush()
    attacker = browser_at(mail_app, "203.0.113.9")
    for _ in range(5):
        assert log_in(attacker, OWNER, "guessing-again").status_code == 401
    locked = log_in(attacker, OWNER, PASSWORD)
    assert locked.status_code == 429
    assert "from your address" in locked.text
    assert "E-mail me a sign-in link" in locked.text
    assert SESSION_COOKIE not in locked.cookies
    # The real owner, elsewhere, is not locked out by the attacker.
    owner = browser_at(mail_app, "198.51.100.20")
    welcome = log_in(owner, OWNER, PASSWORD)
    assert welcome.status_code == 303 and welcome.headers["location"] == "/dashboard"
    # The owner's success does not reset the attacker's count.
    assert log_in(attacker, OWNER, PASSWORD).status_code == 429
    kinds = factories.event_kinds(db)
    assert kinds.count("registry.login.locked") == 1


def test_the_lock_ends_after_the_lockout(db: Session, settings: Settings) -> None:
    factories.user(db, Role.SECRETARIAT, email=OWNER)
    for _ in range(settings.login_max_failures):
        assert accounts.authenticate(db, OWNER, "nope-nope-nope", settings, ip="10.0.0.1") is None
    from stewardship.core.errors import TooManyRequests
    from stewardship.registry.models import LoginAttempt

    with pytest.raises(TooManyRequests):
        accounts.authenticate(db, OWNER, PASSWORD, settings, ip="10.0.0.1")
    assert accounts.authenticate(db, OWNER, PASSWORD, settings, ip="10.0.0.2") is not None
    db.execute(update(LoginAttempt).values(at=utcnow() - timedelta(hours=1)))
    assert accounts.authenticate(db, OWNER, PASSWORD, settings, ip="10.0.0.1") is not None


def test_a_locked_out_owner_signs_in_with_the_emailed_link(
        db: Session, mail_app: FastAPI, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    factories.user(db, Role.SECRETARIAT, email=OWNER)
    db.flush()
    # The owner shares an address with whoever guessed, so the password is refused here.
    office = browser_at(mail_app, "192.0.2.44")
    for _ in range(5):
        log_in(office, OWNER, "guessing-again")
    locked = log_in(office, OWNER, PASSWORD)
    assert locked.status_code == 429
    asked = office.post("/login/link", data={"csrf_token": csrf_in(locked.text),
                                              "email": OWNER})
    assert asked.status_code == 303  # post/redirect/get: the flash says it is sent
    assert "sign-in link is on its way" in office.get(asked.headers["location"]).text
    token = inbox.link()
    message = inbox.messages[-1]
    assert message["To"] == OWNER
    assert db.scalar(select(func.count()).select_from(LoginLink)) == 1
    stored = db.scalar(select(LoginLink.token_digest))
    assert stored is not None and token not in stored  # only the digest is kept

    # Opening the link signs nobody in (mail scanners open links); its button does.
    page = office.get(f"/login/link/{token}")
    assert page.status_code == 200 and SESSION_COOKIE not in office.cookies
    signed_in = office.post(f"/login/link/{token}", data={"csrf_token": csrf_in(page.text)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
    assert office.cookies.get(SESSION_COOKIE)
    assert office.get("/dashboard").status_code == 200
    assert "registry.user.signed_in_by_link" in factories.event_kinds(db)
    # Single use: a second try is refused and signs nobody in.
    stranger = browser_at(mail_app, "203.0.113.9")
    again = stranger.post(f"/login/link/{token}",
                          data={"csrf_token": csrf_in(stranger.get("/login").text)})
    assert again.status_code == 409 and "used already" in again.text
    assert SESSION_COOKIE not in stranger.cookies
    # The owner's link also cleared the lock at the owner's address.
    assert log_in(browser_at(mail_app, "192.0.2.44"), OWNER, PASSWORD).status_code == 303


def test_links_expire_and_unknown_addresses_get_the_same_answer(
        db: Session, mail_settings: Settings, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    factories.user(db, Role.MEMBER_ADMIN, organization=factories.organization(db),
                   email=OWNER)
    mailer = Mailer(mail_settings)
    unknown = accounts.request_login_link(db, "nobody@example.org", mail_settings, mailer,
                                           base_url=BASE)
    known = accounts.request_login_link(db, OWNER, mail_settings, mailer, base_url=BASE)
    assert unknown == known
    token = inbox.link()
    sent = inbox.messages[-1].get_payload(decode=True)
    assert isinstance(sent, bytes) and f"{BASE}/login/link/{token}" in sent.decode()
    assert len(inbox.messages) == 1  # nothing was sent for the unknown address
    db.execute(update(LoginLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    from stewardship.core.errors import Conflict

    with pytest.raises(Conflict, match="expired"):
        accounts.sign_in_with_link(db, token)


def test_links_per_hour_are_limited(db: Session, mail_settings: Settings,
                                    smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    factories.user(db, Role.SECRETARIAT, email=OWNER)
    mailer = Mailer(mail_settings)
    for _ in range(mail_settings.login_links_per_hour + 2):
        accounts.request_login_link(db, OWNER, mail_settings, mailer, base_url=BASE)
    inbox.link()
    assert len(inbox.messages) == mail_settings.login_links_per_hour


def test_an_unreachable_mail_server_is_a_clear_error(settings: Settings) -> None:
    closed = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": _free_port()})
    with pytest.raises(MailNotSent, match="could not be sent"):
        Mailer(closed).send(OWNER, "subject", "body")


def test_without_smtp_development_writes_the_outbox(settings: Settings) -> None:
    development = settings.model_copy(update={"environment": "development", "smtp_host": ""})
    Mailer(development).send(OWNER, "Your sign-in link", "http://x/login/link/abc")
    written = list((development.var_dir / "outbox").glob("*.eml"))
    assert len(written) == 1
    message = email.message_from_bytes(written[0].read_bytes())
    assert message["To"] == OWNER and message["Subject"] == "Your sign-in link"
    production_like = settings.model_copy(update={"environment": "production",
                                                  "smtp_host": ""})
    with pytest.raises(MailNotSent, match="no mail server"):
        Mailer(production_like).send(OWNER, "s", "b")
