"""The ``stewardship`` command against an SQLite file, as an operator runs it.

The demo world takes seconds to load (every demo user's password is hashed), so one
database is migrated and loaded for the whole module; tests that would change it work
on a copy.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from stewardship.cli import app
from stewardship.core.config import get_settings

runner = CliRunner()


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def invoke(path: Path, *args: str) -> Result:
    """Run the command with STEWARDSHIP_DATABASE_URL pointing at ``path``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEWARDSHIP_DATABASE_URL", _url(path))
        patch.setenv("STEWARDSHIP_VAR_DIR", str(path.parent))
        patch.setenv("STEWARDSHIP_ENVIRONMENT", "development")
        patch.setenv("COLUMNS", "200")
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args))
        finally:
            get_settings.cache_clear()


def text_of(result: Result) -> str:
    """Output with Rich's line wrapping and styling undone."""
    return " ".join(result.output.split())


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _copy(source: Path, target: Path) -> Path:
    """A copy of the database, with the log's signing key that lives beside it (the
    checkpoints and credentials in it are signed with that key)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    key = source.parent / "log-signing-key"
    if key.exists() and not (target.parent / key.name).exists():
        shutil.copy(key, target.parent / key.name)
    return target


@dataclass
class Loaded:
    path: Path
    upgrade: Result
    demo: Result
    users: int
    events: int


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    path = tmp_path_factory.mktemp("cli") / "stewardship.db"
    upgraded = invoke(path, "db", "upgrade")
    demo = invoke(path, "demo")
    yield Loaded(path, upgraded, demo, _count(path, "users"), _count(path, "event_log"))


def test_db_upgrade_migrates_an_empty_file(loaded: Loaded) -> None:
    assert loaded.upgrade.exit_code == 0, loaded.upgrade.output
    assert "Database upgraded from empty to" in text_of(loaded.upgrade)
    again = invoke(loaded.path, "db", "upgrade")
    assert again.exit_code == 0
    assert "Database is up to date" in text_of(again)
    current = invoke(loaded.path, "db", "current")
    assert current.exit_code == 0 and "up to date" in text_of(current)


def test_demo_loads_and_prints_counts_and_logins(loaded: Loaded) -> None:
    out = text_of(loaded.demo)
    assert loaded.demo.exit_code == 0, loaded.demo.output
    assert "Demo world ready" in out
    assert f"{loaded.users} users" in out
    assert "organisations" in out and "facilities" in out and "audit firms" in out
    assert "Demo logins (fictional)" in out
    assert "secretariat@stewardship.example" in out
    assert "demo-password" in out
    assert "Demo PACT clients (fictional)" in out
    assert "pact_demo_hoshikawa_rheinfeld" in out and "pcs_demo-fictional" in out
    for role in ("secretariat", "member admin", "member user", "auditor"):
        assert role in out
    assert loaded.users > 5
    assert loaded.events > loaded.users


# One person per role, as the demo world's `logins` names them.
LOGINS = {"secretariat": "secretariat@stewardship.example",
          "member admin": "admin@fjordal.example",
          "member user": "erik.nygard@fjordal.example",
          "auditor": "rohan.mehta@coralsea-audit.example",
          "buyer at the car maker": "haruka.ishida@hoshikawa-motor.example",
          "standard-setting body member": "mariama.soumah@bauxite-communities-watch.example"}


def _login_rows(result: Result) -> dict[str, str]:
    """Role -> e-mail, read from the printed login lines (``role  e-mail  password: …``)."""
    rows = {}
    for line in result.output.splitlines():
        found = re.fullmatch(r"\s+(.+?)\s{2,}(\S+@\S+)\s+password: (\S+)", line)
        if found:
            rows[found.group(1)] = found.group(2)
            assert found.group(3) == "demo-password"
    return rows


def test_demo_prints_one_login_per_role_when_loaded_and_when_already_loaded(
        loaded: Loaded) -> None:
    assert _login_rows(loaded.demo) == LOGINS
    if_empty = invoke(loaded.path, "demo", "--if-empty")
    assert "has data already" in text_of(if_empty)
    assert _login_rows(if_empty) == LOGINS
    with sqlite3.connect(loaded.path) as conn:
        for email in LOGINS.values():
            assert conn.execute("SELECT count(*) FROM users WHERE email = ?",
                                (email,)).fetchone()[0] == 1
        buyer_org = conn.execute(
            "SELECT o.slug FROM users u JOIN organizations o ON o.id = u.organization_id "
            "WHERE u.email = ?", (LOGINS["buyer at the car maker"],)).fetchall()
        seated = conn.execute(
            "SELECT count(*) FROM body_members b JOIN users u ON u.id = b.user_id "
            "WHERE u.email = ?", (LOGINS["standard-setting body member"],)).fetchone()[0]
    assert buyer_org == [("hoshikawa-motor",)]
    assert seated == 1


def test_an_empty_database_prints_no_demo_logins(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    assert invoke(path, "db", "upgrade").exit_code == 0
    with sqlite3.connect(path) as conn:  # someone else's data, without the demo's people
        conn.execute("INSERT INTO organizations (id, slug, name, name_key, membership_class, "
                     "status, country, description, created_at, updated_at) VALUES ('1', 'x', "
                     "'X', 'x', 'civil_society', 'applicant', 'GB', '', '2026-01-01', "
                     "'2026-01-01')")
    result = invoke(path, "demo", "--if-empty")
    assert "has data already" in text_of(result)
    assert "Demo logins" not in text_of(result)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


def test_demo_history_is_dated_as_it_happened(loaded: Loaded) -> None:
    with sqlite3.connect(loaded.path) as conn:
        times = [t for (t,) in conn.execute(
            "SELECT recorded_at FROM event_log ORDER BY sequence")]
        # the Performance Standard v2, stored on its publication day
        first = conn.execute("SELECT kind, subject FROM event_log ORDER BY sequence "
                             "LIMIT 1").fetchone()
        # each CoC document's issue is in the log on its shipment day
        shipped = conn.execute(
            "SELECT d.number, d.shipment_date, e.recorded_at, d.issued_at FROM coc_documents d "
            "JOIN event_log e ON e.subject = 'coc_document:' || d.number "
            "AND e.kind = 'custody.document.issued'").fetchall()
        # every certificate's issue is logged on the day its audit was decided
        certified = conn.execute(
            "SELECT a.decided_at, e.recorded_at FROM audits a JOIN certificates c "
            "ON c.audit_id = a.id JOIN event_log e ON e.subject = 'certificate:' || c.number "
            "AND e.kind = 'assurance.certificate.issued'").fetchall()
        admitted = conn.execute(
            "SELECT o.joined_on, e.recorded_at FROM organizations o JOIN event_log e "
            "ON e.subject = 'organization:' || o.slug AND e.kind = "
            "'registry.organization.member'").fetchall()
    assert times == sorted(times), "the event log's times go back somewhere"
    assert _day(times[0]) == date(2017, 12, 1) and first[1] == "standard:performance"
    assert _day(times[-1]) <= date.today()
    assert len({t[:4] for t in times}) >= 6  # years of history, not the load's day
    assert len(shipped) > 50
    for number, shipment, logged, issued in shipped:
        assert _day(logged) == _day(issued) == _day(shipment), number
    assert len(certified) >= 10
    assert all(_day(decided) == _day(logged) for decided, logged in certified)
    assert any(_day(logged) < date.today() - timedelta(days=365) for _d, logged in certified)
    assert len(admitted) >= 12
    assert all(_day(logged) == _day(joined) for joined, logged in admitted)


def test_demo_has_an_audit_in_progress_for_the_demo_auditor(loaded: Loaded) -> None:
    with sqlite3.connect(loaded.path) as conn:
        rows = conn.execute(
            "SELECT a.id, a.status, a.submitted_at, o.slug FROM audits a "
            "JOIN organizations o ON o.id = a.organization_id "
            "JOIN auditors r ON r.id = a.lead_auditor_id "
            "WHERE r.email = ? AND a.status = 'in_progress'",
            (LOGINS["auditor"],)).fetchall()
        assert len(rows) == 1
        audit_id, _status, submitted, slug = rows[0]
        rated = conn.execute("SELECT count(*) FROM audit_ratings WHERE audit_id = ?",
                             (audit_id,)).fetchone()[0]
    assert slug == "kebbe-bauxite" and submitted is None
    assert 0 < rated < 20  # some rated, the rest left for the auditor


def test_demo_again_changes_nothing(loaded: Loaded) -> None:
    again = invoke(loaded.path, "demo")
    assert again.exit_code == 0, again.output
    assert "users" not in text_of(again).split("Demo logins")[0]
    assert _count(loaded.path, "users") == loaded.users
    assert _count(loaded.path, "event_log") == loaded.events
    if_empty = invoke(loaded.path, "demo", "--if-empty")
    assert if_empty.exit_code == 0
    assert "has data already" in text_of(if_empty)


def test_verify_says_ok(loaded: Loaded) -> None:
    result = invoke(loaded.path, "verify")
    assert result.exit_code == 0, result.output
    assert f"OK: {loaded.events} entries" in text_of(result)
    assert "CoC documents match the digests the event log recorded" in text_of(result)
    assert "no output beyond a facility's capacity" in text_of(result)


def test_verify_and_audit_flag_output_beyond_a_capacity(loaded: Loaded,
                                                        tmp_path: Path) -> None:
    # The smelter's capacity lowered after the year was recorded: its output is now far
    # beyond it, which both commands flag without failing.
    copy = _copy(loaded.path, tmp_path / "capacity.db")
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE facility_activities SET annual_capacity_kg = 1000000 WHERE "
                     "facility_id IN (SELECT id FROM facilities WHERE name = 'Fjordal Smelter')")
    for command in (("verify",), ("custody", "audit")):
        result = invoke(copy, *command)
        assert result.exit_code == 0, result.output
        out = text_of(result)
        assert "flag(s)" in out and "capacity: Fjordal Aluminium AS" in out, out
        assert "Fjordal Smelter" in out and "smelting" in out


def test_verify_names_a_tampered_entry(loaded: Loaded, tmp_path: Path) -> None:
    copy = _copy(loaded.path, tmp_path / "tampered.db")
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER event_log_no_update")
        conn.execute("UPDATE event_log SET payload = '{\"name\": \"Forged\"}' WHERE sequence = 3")
    result = invoke(copy, "verify")
    assert result.exit_code == 1
    out = text_of(result)
    assert "Broken at entry 3" in out
    assert "payload does not match its digest" in out
    assert "(2 entries before it verify)" in out


def test_verify_catches_a_rewrite_that_rehashes_the_whole_chain(loaded: Loaded,
                                                                 tmp_path: Path) -> None:
    from sqlalchemy import select

    from stewardship.core import eventlog
    from stewardship.core.db import make_engine, make_sessionmaker, transaction

    copy = _copy(loaded.path, tmp_path / "rehashed.db")
    signed = invoke(copy, "log", "checkpoint")
    assert signed.exit_code == 0, signed.output
    assert f"\n{loaded.events}\n" in signed.output
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER event_log_no_update")
    engine = make_engine(_url(copy))
    with transaction(make_sessionmaker(engine)) as db:
        prev = eventlog.GENESIS_HASH
        for e in db.scalars(select(eventlog.EventLogEntry)
                            .order_by(eventlog.EventLogEntry.sequence)):
            if e.sequence == 3:
                e.payload = {"name": "Forged"}
                e.payload_digest = eventlog.digest_payload(e.payload)
            e.prev_hash = prev
            e.hash = eventlog.entry_hash(e.sequence, e.recorded_at, e.actor, e.kind,
                                         e.subject, e.payload_digest, prev)
            prev = e.hash
    engine.dispose()
    result = invoke(copy, "verify")
    assert result.exit_code == 1
    out = text_of(result)
    assert "OK: " in out  # the hash chain alone is fooled...
    # Every leaf from the rewritten entry on, as one run (each later entry was rehashed).
    assert (f"event_log_nodes leaves 2 to {loaded.events - 1} (entry 3): do not hash entries "
            f"3 to {loaded.events} as they are stored now") in out
    assert (f"event_log_checkpoints size {loaded.events} (entry {loaded.events}): its root "
            "is not the root of the entries as they are stored now") in out


def test_log_prove_prints_an_inclusion_proof_that_verifies(loaded: Loaded,
                                                          tmp_path: Path) -> None:
    from stewardship.core import merkle

    copy = _copy(loaded.path, tmp_path / "proved.db")
    signed = invoke(copy, "log", "checkpoint")
    assert signed.exit_code == 0, signed.output
    root_line = signed.output.split(f"\n{loaded.events}\n", 1)[1].split("\n", 1)[0]
    proved = invoke(copy, "log", "prove", "3")
    assert proved.exit_code == 0, proved.output
    head, *path = proved.output.strip().split("\n")
    assert head == f"entry 3 in the tree of {loaded.events}: root {root_line}"
    assert len(path) == len(merkle.inclusion_ranges(2, loaded.events)) > 0
    missing = invoke(copy, "log", "prove", str(loaded.events + 1))
    assert missing.exit_code == 1
    assert f"The log has no entry {loaded.events + 1}" in text_of(missing)


def test_the_trigger_stops_a_plain_rewrite(loaded: Loaded, tmp_path: Path) -> None:
    copy = _copy(loaded.path, tmp_path / "guarded.db")
    with sqlite3.connect(copy) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE event_log SET kind = 'x' WHERE sequence = 1")
    assert invoke(copy, "verify").exit_code == 0


def test_user_create(loaded: Loaded, tmp_path: Path) -> None:
    copy = _copy(loaded.path, tmp_path / "users.db")
    created = invoke(copy, "user", "create", "new.staff@stewardship.example", "--name", "New Staff",
                     "--role", "secretariat", "--password", "a-long-password")
    assert created.exit_code == 0, created.output
    assert "Created new.staff@stewardship.example as secretariat" in text_of(created)
    assert _count(copy, "users") == loaded.users + 1


def test_user_create_with_a_bad_role_exits_2(loaded: Loaded) -> None:
    result = invoke(loaded.path, "user", "create", "x@example.org", "--name", "X",
                    "--role", "emperor", "--password", "a-long-password")
    assert result.exit_code == 2
    assert "role must be one of: secretariat, member_admin, member_user, auditor" in text_of(
        result)
    assert _count(loaded.path, "users") == loaded.users


def test_user_create_with_a_taken_email_exits_1(loaded: Loaded) -> None:
    result = invoke(loaded.path, "user", "create", "secretariat@stewardship.example",
                    "--name", "Clone", "--role", "secretariat", "--password", "a-long-password")
    assert result.exit_code == 1
    assert ("Not created (email): a user with e-mail secretariat@stewardship.example exists "
            "already") in text_of(result)
    assert _count(loaded.path, "users") == loaded.users


def test_user_create_for_an_unknown_organisation_exits_1(loaded: Loaded) -> None:
    result = invoke(loaded.path, "user", "create", "someone@example.org", "--name", "Someone",
                    "--role", "member_user", "--organization", "no-such-org",
                    "--password", "a-long-password")
    assert result.exit_code == 1
    assert "Not created (slug): no organisation 'no-such-org'" in text_of(result)


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    result = invoke(empty, "serve", "--port", "1")
    assert result.exit_code == 1
    out = text_of(result)
    assert "has no schema yet" in out
    assert "stewardship db upgrade" in out


def test_serve_wants_both_tls_files_and_readable_ones(tmp_path: Path) -> None:
    path = tmp_path / "tls.db"
    assert invoke(path, "db", "upgrade").exit_code == 0
    half = invoke(path, "serve", "--port", "1", "--tls-cert", str(tmp_path / "c.pem"))
    assert half.exit_code == 2 and "--tls-cert and --tls-key go together" in text_of(half)
    missing = invoke(path, "serve", "--port", "1", "--tls-cert", str(tmp_path / "c.pem"),
                     "--tls-key", str(tmp_path / "k.pem"))
    assert missing.exit_code == 2 and "is not a readable file" in text_of(missing)


def test_demo_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = invoke(tmp_path / "empty.db", "demo")
    assert result.exit_code == 1
    assert "stewardship db upgrade" in text_of(result)


def test_verify_on_an_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    assert invoke(path, "db", "upgrade").exit_code == 0
    result = invoke(path, "verify")
    assert result.exit_code == 0
    assert "OK: 0 entries" in text_of(result)


def test_custody_audit_of_the_demo_is_clean(loaded: Loaded) -> None:
    result = invoke(loaded.path, "custody", "audit")
    assert result.exit_code == 0, result.output
    out = text_of(result)
    assert "Chain-of-custody audit" in out and "material accounts" in out
    assert "CoC documents" in out and "OK: every balance agrees with its movements" in out
    assert _count(loaded.path, "coc_documents") > 50


def test_custody_audit_names_the_entity_of_a_tampered_balance(loaded: Loaded,
                                                               tmp_path: Path) -> None:
    copy = _copy(loaded.path, tmp_path / "custody-tampered.db")
    with sqlite3.connect(copy) as conn:
        changed = conn.execute(
            "UPDATE material_accounts SET balance_kg = balance_kg + 1000 WHERE status = 'open'"
            " AND material = 'asi_aluminium' AND entity_id = (SELECT id FROM entities"
            " WHERE name = 'Rheinfeld Walzwerk GmbH')").rowcount
    assert changed == 1
    result = invoke(copy, "custody", "audit")
    assert result.exit_code == 1, result.output
    out = text_of(result)
    assert "problem(s)" in out
    assert "Rheinfeld Walzwerk GmbH" in out and "asi_aluminium" in out
    assert "movements sum to" in out
    assert "Fjordal Aluminium AS" not in out


def test_custody_unmatched_lists_the_documents_waiting_for_their_recipient(
        loaded: Loaded) -> None:
    result = invoke(loaded.path, "custody", "unmatched", "--days", "30")
    assert result.exit_code == 0, result.output
    out = text_of(result)
    assert "CoC documents unmatched after 30 days" in out
    for name in ("Wattlebay", "Fjordal", "Rheinfeld", "Hoshikawa"):  # names may wrap
        assert name in out
    assert "3 document(s) between 3 pair(s) of entities" in out
    none = invoke(loaded.path, "custody", "unmatched", "--days", "3650")
    assert none.exit_code == 0
    assert "No CoC document has waited more than 3650 days" in text_of(none)
    bad = invoke(loaded.path, "custody", "unmatched", "--days", "-1")
    assert bad.exit_code == 2
