"""The custody pages read as people read them: tonnes with the exact kilograms on hover,
the dashboard's actions before its balances, an account's balance over time drawn from its
journal, the chain behind a document as a graph, the annual report exported as CSV (exact
kilograms) and PDF with its flagged yields, the public verification's one verdict, and the
network's links for the secretariat against the public view."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.models import Certificate, CertificateEvent
from stewardship.core import clock
from stewardship.core.auth import Actor
from stewardship.core.pagination import PageParams
from stewardship.custody.service import reads
from tests import custody_world as cw
from tests.api.pages import text
from tests.today import TODAY

SVG = "{http://www.w3.org/2000/svg}"
C = "/api/v1/custody"
ALL = PageParams(1, 100)
Clients = Callable[[Actor], TestClient]


@pytest.fixture
def w(db: Session) -> cw.Chain:
    return cw.build(db)


def _svg(page: Response, css: str) -> ET.Element:
    found = re.search(rf'<svg [^>]*class="chart {css}".*?</svg>', page.text, re.S)
    assert found, f"no {css} chart"
    return ET.fromstring(found.group(0))


def _account_id(db: Session, m: cw.Member, material: str) -> str:
    return next(str(a.id) for a in reads.list_accounts(db, m.user, ALL,
                                                        entity_id=m.entity_id).items
                if a.material.value == material and a.status == "open")


def _days_back(n: int) -> date:
    """A day n days ago, but within this year's period (the run may start on 1 January)."""
    return max(cw.YEAR_START, TODAY - timedelta(days=n))


# --- tonnes and the order of the dashboard -----------------------------------------------


def test_the_dashboard_shows_tonnes_with_the_exact_kilograms_and_its_actions_first(
        db: Session, w: cw.Chain, signed_in: Clients) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 123_456_789)
    page = signed_in(w.smelter.user).get("/custody")
    assert page.status_code == 200
    body = text(page)
    assert "123,456.8 t" in body and "123,456,789 kg" not in body
    assert 'title="123,456,789 kg" data-kg="123456789">123,456.8 t</span>' in page.text
    order = [page.text.index(marker) for marker in (
        'href="/custody/record/transformation', 'id="incoming-heading"',
        'id="issue-heading"', 'id="balances-heading"', 'id="unmatched-heading"')]
    assert order == sorted(order), order
    account = _account_id(db, w.smelter, "asi_aluminium")
    assert f'href="/custody/accounts/{account}"' in page.text


def test_documents_journal_and_chain_show_tonnes_with_the_kilograms_on_hover(
        db: Session, w: cw.Chain, signed_in: Clients) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 2_500_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_234_567)
    client = signed_in(w.smelter.user)
    for url in ("/custody/documents", f"/custody/documents/{number}",
                f"/custody/documents/{number}/chain", "/custody/journal",
                f"/verify/coc/{number}"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "1,234.6 t" in text(page), url
        assert 'title="1,234,567 kg"' in page.text, url
    api = client.get(f"{C}/documents/{number}").json()
    assert api["coc_quantity_kg"] == 1_234_567  # the API keeps exact kilograms


# --- an account's balance over time -------------------------------------------------------


def test_the_account_page_draws_the_balance_step_by_step_from_the_journal(
        db: Session, w: cw.Chain, signed_in: Clients) -> None:
    days = [_days_back(9), _days_back(4), _days_back(4), _days_back(0)]
    cw.produce(db, w.smelter, "asi_aluminium", 40_000, on=days[0])
    cw.produce(db, w.smelter, "asi_aluminium", 10_000, on=days[1])
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 15_000, on=days[2])
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=days[3])
    expected: dict[date, int] = {}
    running = 0
    for on, kg in zip(days, (40_000, 10_000, -15_000, 5_000), strict=True):
        running += kg
        expected[on] = running
    account = _account_id(db, w.smelter, "asi_aluminium")
    page = signed_in(w.smelter.user).get(f"/custody/accounts/{account}")
    assert page.status_code == 200
    chart = _svg(page, "balance-chart")
    assert chart.get("role") == "img"
    assert chart.find(f"{SVG}title") is not None and chart.find(f"{SVG}desc") is not None
    dots = [(date.fromisoformat(c.get("data-on", "")), int(c.get("data-balance-kg", "")))
            for c in chart.iter(f"{SVG}circle")]
    assert dots == sorted(expected.items())
    rows = re.findall(r'<tr data-on="([\d-]+)" data-balance-kg="(-?\d+)">', page.text)
    assert [(date.fromisoformat(d), int(kg)) for d, kg in rows] == dots  # the table behind
    assert "40.0 t" in text(page) and 'title="40,000 kg"' in page.text
    path = chart.find(f"{SVG}path")
    assert path is not None and path.get("d", "").startswith("M")
    legs = reads.account_history(db, w.smelter.user, uuid.UUID(account))
    assert legs.points[-1].balance_kg == 40_000 and legs.account.balance_kg == 40_000
    api = signed_in(w.smelter.user).get(f"{C}/accounts/{account}/history").json()
    assert [p["balance_kg"] for p in api["points"]] == [kg for _, kg in dots]
    assert signed_in(w.mill.user).get(f"/custody/accounts/{account}").status_code == 404
    assert signed_in(w.secretariat).get(f"/custody/accounts/{account}").status_code == 200


# --- the chain as a graph -----------------------------------------------------------------


def test_the_chain_graph_has_a_node_per_party_per_tier_and_edges_as_wide_as_their_kg(
        db: Session, w: cw.Chain, signed_in: Clients) -> None:
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.5")
    for kg in (1_200_000, 600_000):
        cw.receive(db, w.smelter, cw.ship(db, w.mine, w.smelter, "asi_alumina", kg))
    cw.transform(db, w.smelter, "smelting", "asi_alumina", 1_800_000, "0.52")
    metal = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 300_000)
    page = signed_in(w.mill.user).get(f"/custody/documents/{metal}/chain")
    assert page.status_code == 200
    graph = _svg(page, "chain-graph")
    assert graph.get("role") == "img" and graph.find(f"{SVG}desc") is not None
    nodes = [(int(g.get("data-column", "")), g.get("data-party", ""))
             for g in graph.iter(f"{SVG}g")]
    assert len(nodes) == len(set(nodes)) == 3  # one node per party per tier
    named = dict(nodes)
    assert named[0].startswith("Walz Rolling") and named[1].startswith("Fjell Aluminium")
    assert named[2].startswith("Red Earth Bauxite")
    edges = [(int(p.get("data-kg", "")), float(p.get("stroke-width", "")))
             for p in graph.iter(f"{SVG}path")]
    assert sorted(kg for kg, _ in edges) == [300_000, 1_800_000]  # the two alumina: one edge
    widths = [width for _, width in sorted(edges)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    xs = {g.get("data-column"): float(g.find(f"{SVG}rect").get("x", ""))  # type: ignore[union-attr]
          for g in graph.iter(f"{SVG}g")}
    assert xs["2"] < xs["1"] < xs["0"]  # origins on the left
    assert "Tier 1 upstream" in text(page)  # the tables behind the picture


# --- the annual report: print, CSV, PDF, flagged yields -----------------------------------


def _pdf_text(content: bytes) -> str:
    """The text drawn on the PDF's pages (fpdf2 compresses each page's stream)."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
        try:
            shown.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    drawn = [re.sub(r"\\(.)", r"\1", t) for s in shown
             for t in re.findall(r"\(((?:\\.|[^\\)])*)\)\s*Tj", s)]
    return " ".join(drawn)


@pytest.fixture
def flagged_year(db: Session, w: cw.Chain) -> cw.Chain:
    cw.produce(db, w.smelter, "asi_aluminium", 1_000_000)
    cw.transform(db, w.smelter, "casting", "asi_aluminium", 100_000, "0.80")  # flagged
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.45")  # typical
    return w


def test_the_report_page_flags_yields_outside_the_typical_range_and_prints(
        flagged_year: cw.Chain, signed_in: Clients) -> None:
    w = flagged_year
    page = signed_in(w.smelter.user).get(f"/custody/report?year={TODAY.year}")
    assert page.status_code == 200
    body = text(page)
    assert "1 yield outside the typical range" in body
    assert '<tr class="flagged">' in page.text and "Outside the typical range" in body
    assert "Casting yield 0.8000 kg/kg (80,000 kg out of 100,000 kg)" in body
    assert "1,000.0 t" in body and 'title="1,000,000 kg"' in page.text
    query = f"entity={w.smelter.entity_id}&amp;year={TODAY.year}"
    assert f'href="/custody/report.csv?{query}"' in page.text
    assert f'href="/custody/report.pdf?{query}"' in page.text
    assert page.text.count("<table") == 3  # two narrow material tables and the steps
    typical = signed_in(w.mine.user).get(f"/custody/report?year={TODAY.year}")
    assert "outside the typical range" not in text(typical).lower()


def test_the_report_csv_keeps_exact_kilograms_and_flags_yields(
        flagged_year: cw.Chain, signed_in: Clients) -> None:
    w = flagged_year
    got = signed_in(w.smelter.user).get(
        f"/custody/report.csv?entity={w.smelter.entity_id}&year={TODAY.year}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["Annual CoC report", str(TODAY.year)]
    header = rows.index(next(r for r in rows if r and r[0] == "Material"))
    metal = dict(zip(rows[header], rows[header + 1], strict=True))
    assert metal["Material"] == "ASI Aluminium"
    assert metal["Produced or taken in (kg)"] == "1000000"
    assert metal["Transformed in (kg)"] == "80000"
    assert metal["Closing balance (kg)"] == "980000"
    steps = rows.index(next(r for r in rows if r and r[0] == "Transformation"))
    casting = dict(zip(rows[steps], rows[steps + 1], strict=True))
    assert casting["Transformation"] == "Casting"
    assert casting["Total input (kg)"] == "100000" and casting["Total output (kg)"] == "80000"
    assert casting["Yield outside the typical range"] == "Yes"
    assert "far from the typical 0.95 to 0.98" in casting["Why"]
    mine = signed_in(w.mine.user).get(f"/custody/report.csv?year={TODAY.year}")
    mine_rows = list(csv.reader(io.StringIO(mine.text)))
    refining = mine_rows[[r[:1] for r in mine_rows].index(["Transformation"]) + 1]
    assert refining[0] == "Refining" and refining[-2:] == ["No", ""]


def test_the_report_pdf_lists_every_column_and_the_flagged_yield(
        flagged_year: cw.Chain, signed_in: Clients) -> None:
    w = flagged_year
    got = signed_in(w.smelter.user).get(f"/custody/report.pdf?year={TODAY.year}")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF")
    shown = _pdf_text(got.content)
    for heading in ("Carried in (kg)", "Closing balance (kg)", "CoC input (%)",
                    "Total output (kg)", "Yield outside the typical range"):
        assert heading in shown, heading
    assert "1,000,000" in shown and "980,000" in shown
    assert "FLAGGED" in shown and "1 yield outside the typical range" in shown


def test_the_report_exports_refuse_a_bad_year_and_another_members_entity(
        w: cw.Chain, signed_in: Clients) -> None:
    client = signed_in(w.mill.user)
    for suffix in ("csv", "pdf"):
        bad = client.get(f"/custody/report.{suffix}?year=1900")
        assert bad.status_code == 422, suffix
        assert "2000 to 2100" in bad.text
        other = client.get(f"/custody/report.{suffix}?entity={w.smelter.entity_id}")
        assert other.status_code == 404
    staff = signed_in(w.secretariat).get("/custody/report.csv")
    assert staff.status_code == 422 and "entity" in staff.text


# --- the public verification's verdict ---------------------------------------------------


def _verdicts(page: Response) -> list[tuple[str, str]]:
    """(data-verdict, class) of each block of the verdict at the top."""
    top = page.text.split('<section class="verdict"', 1)[1].split("</section>", 1)[0]
    return [(v, css) for css, v in re.findall(r'<div class="([^"]+)" role="\w+" '
                                              r'data-verdict="([^"]+)"', top)]


def _set_status(db: Session, number: str, status: str, at: datetime) -> None:
    cert = db.scalars(select(Certificate).where(Certificate.number == number)).one()
    db.add(CertificateEvent(certificate_id=cert.id, from_status=cert.status,
                            to_status=status, reason="tests", actor="system:tests", at=at))
    cert.status = status
    db.flush()


def _shipped_yesterday(db: Session, w: cw.Chain) -> str:
    day = TODAY - timedelta(days=1)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=day)
    return cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000, on=day)


def test_a_valid_document_gets_its_verdict_in_success_colours(
        db: Session, client: TestClient, w: cw.Chain) -> None:
    number = _shipped_yesterday(db, w)
    page = client.get(f"/verify/coc/{number}")
    assert _verdicts(page) == [("valid_on_shipment", "flash flash-success"),
                               ("active_today", "flash flash-success")]
    body = text(page)
    day = TODAY - timedelta(days=1)
    assert f"Valid on the shipment date, {day:%d %b %Y}." in body
    assert "Today: the issuer's certificates are active." in body
    assert page.text.count('<span class="badge badge-valid">Yes</span>') == 2
    assert '<span class="badge badge-valid">Matches the record</span>' in page.text
    assert "notice" not in page.text.split('<section class="verdict"', 1)[1].split(
        "</section>", 1)[0]
    api = client.get(f"{C}/verify/{number}").json()
    assert api["valid_on_shipment"] is True and api["issuer_standing_today"] == "active"


def test_a_certificate_suspended_since_shipment_is_said_in_the_headline(
        db: Session, client: TestClient, w: cw.Chain) -> None:
    number = _shipped_yesterday(db, w)
    coc = w.smelter.certificates["chain_of_custody"]
    _set_status(db, coc, "suspended", clock.now())
    page = client.get(f"/verify/coc/{number}")
    assert _verdicts(page) == [("valid_on_shipment", "flash flash-success"),
                               ("suspended_today", "notice")]
    body = text(page)
    assert (f"Today: the issuer's Chain of Custody certificate {coc} is suspended since "
            f"{TODAY:%d %b %Y}.") in body
    assert "Valid on the shipment date" in body
    assert f"since {TODAY:%d %b %Y}" in body.split("The issuer's certificates", 1)[1]
    api = client.get(f"{C}/verify/{number}").json()
    assert api["valid_on_shipment"] is True and api["issuer_standing_today"] == "suspended"
    suspended = next(c for c in api["certificates"] if c["number"] == coc)
    assert suspended["status_since"] == TODAY.isoformat()


def test_a_document_shipped_while_the_certificate_was_suspended_is_not_valid(
        db: Session, client: TestClient, w: cw.Chain) -> None:
    number = _shipped_yesterday(db, w)
    coc = w.smelter.certificates["chain_of_custody"]
    before = datetime.combine(TODAY - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    _set_status(db, coc, "suspended", before)
    page = client.get(f"/verify/coc/{number}")
    assert _verdicts(page) == [("not_valid_on_shipment", "flash flash-error"),
                               ("suspended_today", "notice")]
    assert "Not valid on the shipment date" in text(page)
    assert '<span class="badge badge-failed">No</span>' in page.text
    assert "flash-success" not in page.text.split('<section class="verdict"', 1)[1].split(
        "</section>", 1)[0]


# --- the network: every link for the secretariat, the published ones for the public -----


def test_the_secretariat_sees_every_link_and_the_public_only_the_published(
        db: Session, client: TestClient, w: cw.Chain, signed_in: Clients) -> None:
    cw.produce(db, w.mine, "asi_bauxite", 10_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 10_000, "0.4")
    cw.ship(db, w.mine, w.smelter, "asi_alumina", 1_000)  # one issuer: not published
    staff = signed_in(w.secretariat)
    page = staff.get(f"/custody/network?year={TODAY.year}")
    assert page.status_code == 200
    sankey = _svg(page, "sankey")
    links = [(p.get("data-kg"), p.get("data-published"), p.get("stroke-dasharray"))
             for p in sankey.iter(f"{SVG}path")]
    assert links == [("1000", "false", "6 4")]
    assert "Not published" in text(page) and "1 link is not published" in text(page)
    assert '<td data-label="Material">ASI Alumina</td>' in page.text  # the label, not the code
    api = staff.get(f"{C}/network", params={"year": TODAY.year}).json()
    assert [(ln["kilograms"], ln["published"]) for ln in api["links"]] == [(1_000, False)]
    public = client.get(f"/custody/flows?year={TODAY.year}")
    assert public.status_code == 200 and 'class="chart sankey"' not in public.text
    assert "No link of" in text(public)
    assert client.get(f"{C}/flows", params={"year": TODAY.year}).json()["links"] == []

    for n in range(2):
        other = cw.add_member(db, w, f"Tasman Alumina {n}", "AU",
                              ["bauxite_mining", "alumina_refining"])
        cw.produce(db, other, "asi_bauxite", 10_000)
        cw.transform(db, other, "refining", "asi_bauxite", 10_000, "0.4")
        cw.ship(db, other, w.smelter, "asi_alumina", 2_000)
    shown = client.get(f"/custody/flows?year={TODAY.year}")
    published = [(p.get("data-kg"), p.get("data-published"))
                 for p in _svg(shown, "sankey").iter(f"{SVG}path")]
    assert published == [("5000", "true")]
    assert "Alumina refining" in text(shown) and "5.0 t" in text(shown)
    assert '<td data-label="Material">ASI Alumina</td>' in shown.text
    assert "Public view" not in text(shown)  # the published links only, nothing to mark
    flows = client.get(f"{C}/flows", params={"year": TODAY.year}).json()
    assert [(ln["contributors"], ln["kilograms"]) for ln in flows["links"]] == [(3, 5_000)]


def test_the_network_page_is_the_secretariats_and_the_flows_page_anyones(
        client: TestClient, w: cw.Chain, signed_in: Clients) -> None:
    assert signed_in(w.mill.admin).get("/custody/network").status_code == 403
    assert client.get("/custody/flows").status_code == 200
    assert client.get("/custody/flows?year=19").status_code == 422

