"""The full text of a standard version (page and PDF) and a revision's draft shown as
changes against the version it revises."""

from __future__ import annotations

import html
import re
import uuid
import zlib
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.package import parse_package
from stewardship.standards.pdf import fold
from stewardship.standards.schemas import RevisionCreate, RoundOpen
from stewardship.standards.service import library, revisions
from tests import factories
from tests.today import TODAY

SUPPLIER_CODE = ("The Entity shall publish a supplier code of conduct and require its direct "
                 "suppliers to sign it.")


@pytest.fixture
def secretariat(db: Session) -> Actor:
    actor = factories.user(db, Role.SECRETARIAT)
    for name in ("performance-v2.yaml", "performance-v3.yaml"):
        library.store_version(db, actor, parse_package(shipped_package_text(name)))
    db.flush()
    return actor


def pdf_text(content: bytes) -> str:
    """The text a PDF of fpdf2's core fonts draws: every (string) shown by Tj in its
    deflated page streams, joined by spaces, escapes undone."""
    shown: list[str] = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
        try:
            stream = zlib.decompress(raw)
        except zlib.error:
            stream = raw
        for s in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", stream, re.S):
            text = re.sub(rb"\\([()\\])", rb"\1", s).decode("latin-1")
            shown.append(text)
    return " ".join(" ".join(shown).split())


def words(text: str) -> str:
    return " ".join(text.split())


def test_full_text_page_has_every_criterion_with_anchors_and_contents(
        client: TestClient, db: Session, secretariat: Actor) -> None:
    version = library.get_version(db, "performance", 3)
    page = client.get("/standards/performance/v3/full-text")
    assert page.status_code == 200
    body = html.unescape(page.text)
    toc = body[body.index('id="toc-heading"'):body.index("</nav>", body.index('id="toc-heading"'))]
    criteria = [c for p in version.principles for c in p.criteria]
    assert len(criteria) > 60
    for p in version.principles:
        assert f'id="principle-{p.number}"' in body and f'href="#principle-{p.number}"' in toc
    for c in criteria:
        assert f'id="criterion-{c.number}"' in body
        assert f'href="#criterion-{c.number}"' in toc
        assert c.requirement in body and c.title in body
        for part in c.parts:
            assert part.requirement in body
        if c.guidance:
            assert c.guidance in body
    # Applicability in words: labels, not codes.
    assert "Applies to" in body and "production_transformation" not in re.sub(r"<[^>]+>", "", body)
    assert 'href="/standards/performance/v3/full-text.pdf"' in body
    assert client.get("/standards/performance/v9/full-text").status_code == 404
    assert client.get("/standards/nothing/v1/full-text").status_code == 404


def test_the_library_links_to_the_full_text(client: TestClient, secretariat: Actor) -> None:
    assert 'href="/standards/performance/v3/full-text"' in client.get(
        "/standards/performance/v3").text
    listing = client.get("/standards").text
    assert 'href="/standards/performance/v2/full-text"' in listing
    assert 'href="/standards/performance/v3/full-text.pdf"' in listing


def test_full_text_pdf_holds_every_criterion(client: TestClient, db: Session,
                                             secretariat: Actor) -> None:
    pdf = client.get("/standards/performance/v3/full-text.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    url = "http://testserver/standards/performance/v3/full-text"
    footer = re.compile(re.escape(f"Performance Standard (illustrative), version 3 - {url}")
                        + r" Page \d+ of \d+ ?")
    assert len(footer.findall(text)) > 10  # the running footer, on every page
    text = footer.sub("", text)  # a paragraph running on to the next page reads on
    version = library.get_version(db, "performance", 3)
    for p in version.principles:
        assert words(fold(f"Principle {p.number}. {p.title}")) in text
        for c in p.criteria:
            assert words(fold(f"{c.number} {c.title}")) in text
            assert words(fold(c.requirement)) in text
            for part in c.parts:
                assert words(fold(f"{c.number}.{part.letter} {part.requirement}")) in text
    assert client.get("/standards/performance/v9/full-text.pdf").status_code == 404


def test_fold_keeps_latin1_and_makes_the_rest_printable() -> None:
    dash, opening, closing = "\u2013", "\u201c", "\u201d"
    assert fold(f"Førde {dash} {opening}Al₂O₃{closing} … São Tomé") == \
        'Førde - "Al2O3" ... São Tomé'
    assert fold("Łódź") == "Lódz"
    assert fold("CO₂e ≤ 11 → ✓") == "CO2e <= 11 -> ?"


def _draft() -> str:
    """Version 3 as a draft of version 4 with one criterion reworded (1.1), one removed
    (1.4) and one added (2.8)."""
    data = yaml.safe_load(shipped_package_text("performance-v3.yaml"))
    data["version"] = 4
    first, second = data["principles"][0], data["principles"][1]
    first["criteria"].pop()  # 1.4 Whistleblowing and non-retaliation
    first["criteria"][0]["requirement"] = first["criteria"][0]["requirement"].replace(
        "an up-to-date register", "a complete and current register")
    second["criteria"].append({
        "number": f"2.{len(second['criteria']) + 1}", "title": "Supplier code of conduct",
        "requirement": SUPPLIER_CODE,
        "applies_to": {"activities": "all", "member_classes": ["production_transformation"]}})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.fixture
def consulted(db: Session, secretariat: Actor, settings: Settings) -> uuid.UUID:
    revision = revisions.create_revision(db, secretariat, RevisionCreate(
        standard="performance", title="Performance Standard version 4", draft=_draft()))
    revisions.open_round(db, secretariat, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=5), closes_on=TODAY + timedelta(days=60)), settings)
    db.flush()
    return revision.id


def _changes(page: str) -> str:
    start = page.index('id="changes-heading"')
    return page[start:page.index("</section>", start)]


def test_consultation_page_shows_the_draft_as_changes(client: TestClient,
                                                     consulted: uuid.UUID) -> None:
    page = client.get(f"/consultations/{consulted}")
    assert page.status_code == 200
    changes = _changes(page.text)
    assert "What the draft changes against version 3" in html.unescape(changes)
    # Added, with its full text; removed, linking to the current version's page.
    added = changes[changes.index('id="draft-added"'):changes.index('id="draft-removed"')]
    assert "2.8" in added and "Supplier code of conduct" in added and SUPPLIER_CODE in added
    removed = changes[changes.index('id="draft-removed"'):changes.index('id="draft-changed"')]
    assert "Whistleblowing and non-retaliation" in removed
    assert 'href="/standards/performance/v3/criteria/1.4"' in removed
    # Changed, the words marked: "an up-to-date" out, "a complete and current" in.
    changed = changes[changes.index('id="draft-changed"'):]
    assert 'id="draft-changed-1.1"' in changed
    assert "<del>an up-to-date</del>" in changed
    assert "<ins>a complete and current</ins>" in changed
    article = changed[changed.index('id="draft-changed-1.1"'):]
    assert article.count("<del>") == 1 and article.count("<ins>") == 1
    counts = html.unescape(re.sub(r"<[^>]+>", " ", changes))
    assert "Added 1" in words(counts) and "Removed 1" in words(counts)
    assert "Changed 1" in words(counts)


def test_secretariat_revision_page_shows_the_changes_too(
        client: TestClient, db: Session, secretariat: Actor, consulted: uuid.UUID,
        settings: Settings) -> None:
    from stewardship.registry import repository as registry_repo
    from stewardship.registry.service import accounts

    assert secretariat.user_id is not None
    user = registry_repo.user_by_id(db, secretariat.user_id)
    assert user is not None
    client.cookies.set("stw_session", accounts.start_session(db, user, settings))
    db.flush()
    page = client.get(f"/secretariat/revisions/{consulted}")
    assert page.status_code == 200
    changes = _changes(page.text)
    assert "<del>an up-to-date</del>" in changes and "Supplier code of conduct" in changes
