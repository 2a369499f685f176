"""The standards library on a real database: import, immutability, reading, export,
applicability with recorded exclusions, diffs and version status."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import yaml
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.core.auth import Role
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from stewardship.core.eventlog import EventLogEntry
from stewardship.registry.rules import Activity, MembershipClass
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.models import Criterion, StandardVersion
from stewardship.standards.package import parse_package
from stewardship.standards.schemas import ApplicabilityQuery, ExclusionCreate
from stewardship.standards.service import library
from tests import factories

PERFORMANCE_URN = "urn:stewardship:standard:performance"


def load(db: Session, *names: str) -> None:
    for name in names or ("performance-v2.yaml", "performance-v3.yaml",
                          "chain-of-custody-v2.yaml"):
        library.import_package(db, factories.SYSTEM, shipped_package_text(name))


def stored(db: Session) -> tuple[int, int, int]:
    db.flush()
    return (db.scalar(select(func.count()).select_from(StandardVersion)) or 0,
            db.scalar(select(func.count()).select_from(Criterion)) or 0,
            eventlog.count_entries(db))


def with_version(name: str, version: int) -> str:
    data = yaml.safe_load(shipped_package_text(name))
    data["version"] = version
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --- import -----------------------------------------------------------------------------


def test_import_the_shipped_packages(db: Session) -> None:
    v2 = library.import_package(db, factories.SYSTEM, shipped_package_text("performance-v2.yaml"))
    assert (v2.slug, v2.version, v2.kind) == ("performance", 2, "performance")
    assert len(v2.principles) == 11
    assert sum(len(p.criteria) for p in v2.principles) >= 45
    v3 = library.import_package(db, factories.SYSTEM, shipped_package_text("performance-v3.yaml"))
    assert v3.version == 3
    assert v3.transition_ends_on == date(2023, 6, 1)
    assert v3.digest != v2.digest and len(v3.digest) == 64
    coc = library.import_package(db, factories.SYSTEM,
                                 shipped_package_text("chain-of-custody-v2.yaml"))
    assert (coc.slug, coc.kind) == ("chain-of-custody", "chain_of_custody")
    assert sum(len(p.criteria) for p in coc.principles) >= 12
    loaded = db.scalars(select(EventLogEntry).where(
        EventLogEntry.kind == "standards.version.loaded").order_by(EventLogEntry.sequence)).all()
    assert [(e.subject, e.payload["version"]) for e in loaded] == [
        ("standard:performance", 2), ("standard:performance", 3), ("standard:chain-of-custody", 2)]
    assert loaded[0].payload["criteria"] == sum(len(p.criteria) for p in v2.principles)
    assert eventlog.verify_chain(db).ok


def test_a_secretariat_user_may_import(db: Session) -> None:
    staff = factories.user(db, Role.SECRETARIAT)
    version = library.import_package(db, staff, shipped_package_text("chain-of-custody-v2.yaml"))
    row = db.scalar(select(StandardVersion))
    assert row is not None and row.loaded_by == f"user:{staff.user_id}"
    assert version.version == 2


@pytest.mark.parametrize("role", [Role.MEMBER_ADMIN, Role.MEMBER_USER, Role.AUDITOR])
def test_only_the_secretariat_may_import(db: Session, role: Role) -> None:
    org = factories.organization(db) if role in (Role.MEMBER_ADMIN, Role.MEMBER_USER) else None
    firm = factories.audit_firm(db) if role is Role.AUDITOR else None
    actor = factories.user(db, role, organization=org, audit_firm=firm)
    before = stored(db)
    with pytest.raises(Forbidden):
        library.import_package(db, actor, shipped_package_text("chain-of-custody-v2.yaml"))
    with pytest.raises(Unauthenticated):
        library.import_package(db, None, shipped_package_text("chain-of-custody-v2.yaml"))
    assert stored(db) == before


@pytest.mark.parametrize("version", [3, 2])
def test_an_equal_or_lower_version_is_refused_and_nothing_stored(db: Session,
                                                                  version: int) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    before = stored(db)
    source = "performance-v3.yaml" if version == 3 else "performance-v2.yaml"
    with pytest.raises(Conflict, match=f"version {version} of {PERFORMANCE_URN}") as info:
        library.import_package(db, factories.SYSTEM, shipped_package_text(source))
    assert "version 3 is loaded" in info.value.message
    assert info.value.details[0]["field"] == "version"
    assert stored(db) == before


def test_a_malformed_package_is_refused_whole_with_lines(db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    before = stored(db)
    data = yaml.safe_load(with_version("chain-of-custody-v2.yaml", 3))
    data["principles"][0]["criteria"][0]["applies_to"]["activities"] = ["pottery"]
    data["principles"][1]["criteria"][0]["number"] = "7.7"
    data["principles"][2]["criteria"][0]["colour"] = "blue"
    with pytest.raises(InvalidInput, match="rejected whole: 3 problem") as info:
        library.import_package(db, factories.SYSTEM, yaml.safe_dump(data, sort_keys=False))
    details = info.value.details
    assert len(details) == 3
    assert [d["field"] for d in details] == [
        "principles[0].criteria[0].applies_to.activities", "principles[1].criteria[0].number",
        "principles[2].criteria[0].colour"]
    assert all(isinstance(d["line"], int) and d["line"] > 1 for d in details)
    assert details == sorted(details, key=lambda d: d["line"])
    assert stored(db) == before


def test_a_package_that_is_not_yaml_is_refused(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        library.import_package(db, factories.SYSTEM, "urn: [unclosed\nversion: 2\n")
    assert info.value.details[0]["field"] == "package"
    assert info.value.details[0]["line"] is not None
    assert stored(db) == (0, 0, 0)


def test_a_urn_cannot_change_kind(db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    data = yaml.safe_load(with_version("chain-of-custody-v2.yaml", 3))
    data["kind"] = "performance"
    with pytest.raises(Conflict, match="chain_of_custody standard"):
        library.import_package(db, factories.SYSTEM, yaml.safe_dump(data, sort_keys=False))


def test_two_urns_cannot_share_a_slug(db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    before = stored(db)
    data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
    data["urn"] = "urn:other-scheme:standard:chain-of-custody"
    with pytest.raises(Conflict, match="chain-of-custody") as info:
        library.import_package(db, factories.SYSTEM, yaml.safe_dump(data, sort_keys=False))
    assert info.value.details[0]["field"] == "urn"
    assert stored(db) == before


# --- immutability -----------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE standard_versions SET title = 'Rewritten'",
    "DELETE FROM standard_versions",
    "UPDATE criteria SET requirement = 'Nothing at all.'",
    "DELETE FROM criteria",
    "UPDATE principles SET title = 'Rewritten'",
    "DELETE FROM principles",
])
def test_stored_versions_are_immutable_in_the_database(db: Session, statement: str) -> None:
    load(db, "chain-of-custody-v2.yaml")
    db.flush()
    with pytest.raises(DBAPIError, match="immutable"), db.begin_nested():
        db.execute(text(statement))
    criterion = library.get_criterion(db, "chain-of-custody", 2, "1.1")
    assert criterion.requirement != "Nothing at all."
    assert library.get_version(db, "chain-of-custody", 2).title != "Rewritten"


# --- reading and export -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "slug", "version"), [
    ("performance-v2.yaml", "performance", 2), ("chain-of-custody-v2.yaml", "chain-of-custody", 2)])
def test_export_round_trips_to_the_source_package(db: Session, name: str, slug: str,
                                                  version: int) -> None:
    load(db, name)
    exported = library.export_package(db, slug, version)
    assert parse_package(exported) == parse_package(shipped_package_text(name))
    assert library.to_package(library.load_version(db, slug, version)) == parse_package(
        shipped_package_text(name))


def test_the_exported_package_imports_elsewhere_as_the_same_version(db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    first = library.get_version(db, "chain-of-custody", 2)
    exported = library.export_package(db, "chain-of-custody", 2)
    data = yaml.safe_load(exported)
    data["urn"] = "urn:stewardship:standard:coc-copy"
    copy = library.import_package(db, factories.SYSTEM, yaml.safe_dump(data, sort_keys=False))
    assert [p.model_dump() for p in copy.principles] == [p.model_dump()
                                                          for p in first.principles]


def test_get_version_defaults_to_the_latest(db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    assert library.get_version(db, "performance").version == 3
    assert library.get_version(db, "performance", 2).version == 2


def test_get_version_with_an_activity_keeps_what_applies(db: Session) -> None:
    load(db, "performance-v3.yaml")
    everything = library.get_version(db, "performance", 3)
    mining = library.get_version(db, "performance", 3, activity=Activity.BAUXITE_MINING.value)
    all_numbers = [c.number for p in everything.principles for c in p.criteria]
    kept = [c for p in mining.principles for c in p.criteria]
    assert 0 < len(kept) < len(all_numbers)
    assert all(c.activities is None or "bauxite_mining" in c.activities for c in kept)
    dropped = set(all_numbers) - {c.number for c in kept}
    for p in everything.principles:
        for c in p.criteria:
            if c.number in dropped:
                assert c.activities is not None and "bauxite_mining" not in c.activities
    assert len(mining.principles) == 11


def test_get_criterion(db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    c = library.get_criterion(db, "performance", 3, "5.2")
    assert c.number == "5.2"
    assert {t.key for t in c.thresholds} == {"smelter_ghg_intensity_new_max",
                                            "smelter_ghg_intensity_existing_max"}
    assert {str(t.value) for t in c.thresholds} == {"11.0"}
    assert library.get_criterion(db, "performance", 2, "5.2").thresholds[0].value == 8
    with pytest.raises(NotFound, match=r"no criterion 5\.99"):
        library.get_criterion(db, "performance", 3, "5.99")
    with pytest.raises(NotFound, match="no version 9"):
        library.get_criterion(db, "performance", 9, "5.2")
    with pytest.raises(NotFound, match="no standard"):
        library.get_criterion(db, "nothing", 3, "5.2")


def test_a_standard_without_versions_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        library.get_version(db, "performance")
    with pytest.raises(NotFound):
        library.export_package(db, "performance", 2)


# --- applicability and exclusions -------------------------------------------------------


def query(*activities: str, entity_id: uuid.UUID | None = None,
          member_class: str = "production_transformation") -> ApplicabilityQuery:
    return ApplicabilityQuery(activities=[Activity(a) for a in activities],
                              member_class=MembershipClass(member_class), entity_id=entity_id)


def test_applicability_for_a_scope(db: Session) -> None:
    load(db, "performance-v3.yaml")
    smelter = library.applicability(db, "performance", 3, query("smelting"))
    numbers = [r.number for r in smelter.rows]
    assert len(numbers) == len(set(numbers)) >= 45
    assert smelter.applicable_count == sum(r.applicable for r in smelter.rows)
    by_number = {r.number: r for r in smelter.rows}
    assert by_number["5.2"].applicable
    bigger = library.applicability(db, "performance", 3, query("smelting", "casthouse"))
    assert bigger.applicable_count >= smelter.applicable_count
    supporter = library.applicability(db, "performance", 3,
                                      query("smelting", member_class="civil_society"))
    assert supporter.applicable_count == 0


def test_an_exclusion_is_reported_with_its_reason(db: Session) -> None:
    load(db, "performance-v3.yaml")
    org = factories.organization(db)
    entity = factories.entity(db, org)
    other = factories.entity(db, org, name="Other Entity AS")
    before = library.applicability(db, "performance", 3, query("smelting", entity_id=entity.id))
    assert {r.number: r.applicable for r in before.rows}["7.2"]
    exclusion = library.mark_not_applicable(db, factories.SYSTEM, "performance", 3,
                                            ExclusionCreate(entity_id=entity.id, criterion="7.2",
                                                            reason="No water abstraction on site"))
    assert exclusion.criterion_number == "7.2"
    assert exclusion.decided_by == factories.SYSTEM.ref
    after = library.applicability(db, "performance", 3, query("smelting", entity_id=entity.id))
    row = {r.number: r for r in after.rows}["7.2"]
    assert not row.applicable
    assert row.reason == "marked not applicable: No water abstraction on site"
    assert after.applicable_count == before.applicable_count - 1
    assert [r.number for r in after.rows] == [r.number for r in before.rows]
    # Another entity, or no entity, is untouched.
    for q in (query("smelting", entity_id=other.id), query("smelting")):
        assert {r.number: r for r in library.applicability(db, "performance", 3, q).rows}[
            "7.2"].applicable
    [entry] = db.scalars(select(EventLogEntry).where(
        EventLogEntry.kind == "standards.criterion.not_applicable")).all()
    assert entry.subject == f"entity:{entity.id}"
    assert entry.payload["criterion"] == "7.2"


def test_exclusion_rules(db: Session) -> None:
    load(db, "performance-v3.yaml")
    org = factories.organization(db)
    entity = factories.entity(db, org)
    data = ExclusionCreate(entity_id=entity.id, criterion="7.2", reason="No water on site")
    library.mark_not_applicable(db, factories.SYSTEM, "performance", 3, data)
    with pytest.raises(Conflict, match=r"7\.2 is already marked"):
        library.mark_not_applicable(db, factories.SYSTEM, "performance", 3, data)
    with pytest.raises(InvalidInput, match=r"no criterion 7\.99") as info:
        library.mark_not_applicable(db, factories.SYSTEM, "performance", 3, ExclusionCreate(
            entity_id=entity.id, criterion="7.99", reason="Does not exist"))
    assert info.value.details[0]["field"] == "criterion"
    with pytest.raises(NotFound):
        library.mark_not_applicable(db, factories.SYSTEM, "performance", 3, ExclusionCreate(
            entity_id=uuid.uuid4(), criterion="7.3", reason="Nobody at all"))
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    with pytest.raises(Forbidden):
        library.mark_not_applicable(db, admin, "performance", 3, ExclusionCreate(
            entity_id=entity.id, criterion="7.3", reason="We would rather not"))
    with pytest.raises(Unauthenticated):
        library.mark_not_applicable(db, None, "performance", 3, ExclusionCreate(
            entity_id=entity.id, criterion="7.3", reason="We would rather not"))


def test_applicability_refuses_an_unknown_version(db: Session) -> None:
    load(db, "performance-v3.yaml")
    with pytest.raises(NotFound):
        library.applicability(db, "performance", 4, query("smelting"))


# --- diff -------------------------------------------------------------------------------


def test_diff_of_the_shipped_performance_versions(db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    d = library.diff(db, "performance", 2, 3)
    assert (d.slug, d.from_version, d.to_version) == ("performance", 2, 3)
    assert [c.number for c in d.added] == ["3.1", "4.5", "5.3", "6.8", "9.8", "10.4"]
    assert [c.number for c in d.removed] == ["5.3", "7.4", "11.6"]
    added = {c.number: c.title for c in d.added}
    removed = {c.number: c.title for c in d.removed}
    assert added["5.3"] != removed["5.3"]
    assert [(r.old_number, r.new_number) for r in d.renumbered] == [
        ("3.1", "3.2"), ("3.2", "3.3"), ("3.3", "3.4"), ("3.4", "3.5"),
        ("10.4", "10.5"), ("10.5", "10.6"), ("10.6", "10.7")]
    assert all(r.old["requirement"] == r.new["requirement"] for r in d.renumbered)
    assert [c.new_number for c in d.reworded] == ["2.4", "5.1", "5.2", "6.3", "7.3", "8.7",
                                                  "9.1", "11.2"]
    changed_scope = {c.new_number for c in d.applicability_changed}
    assert {"2.3", "2.6", "6.6", "7.2", "8.1", "8.6", "9.3", "9.6"} <= changed_scope
    six_six = next(c for c in d.applicability_changed if c.new_number == "6.6")
    assert set(six_six.new["activities"]) - set(six_six.old["activities"]) == {
        "semi_fabrication"}
    [thresholds] = d.thresholds_changed
    assert thresholds.new_number == "5.2"
    assert {t["value"] for t in thresholds.old["thresholds"]} == {"8.0"}
    assert {t["value"] for t in thresholds.new["thresholds"]} == {"11.0"}
    assert d.unchanged > 0
    reverse = library.diff(db, "performance", 3, 2)
    assert [c.number for c in reverse.added] == [c.number for c in d.removed]
    assert [c.number for c in reverse.removed] == [c.number for c in d.added]


def test_diff_needs_two_loaded_versions(db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    with pytest.raises(InvalidInput):
        library.diff(db, "performance", 3, 3)
    with pytest.raises(NotFound):
        library.diff(db, "performance", 2, 4)


# --- status of versions -----------------------------------------------------------------


def test_list_standards_shows_current_and_retired(db: Session) -> None:
    load(db)
    standards = {s.slug: s for s in library.list_standards(db)}
    assert set(standards) == {"performance", "chain-of-custody"}
    performance = standards["performance"]
    assert performance.urn == PERFORMANCE_URN
    assert [(v.version, v.status) for v in performance.versions] == [(3, "current"),
                                                                      (2, "retired")]
    v3 = library.get_version(db, "performance", 3)
    assert performance.versions[0].criteria_count == sum(len(p.criteria) for p in v3.principles)
    assert [(v.version, v.status) for v in standards["chain-of-custody"].versions] == [
        (2, "current")]


def test_version_status_through_a_transition() -> None:
    old = StandardVersion(version=2, effective_on=date(2017, 12, 1), transition_ends_on=None)
    new = StandardVersion(version=3, effective_on=date(2022, 5, 19),
                          transition_ends_on=date(2023, 6, 1))
    assert library.version_status(old, new, date(2017, 11, 30)) == "upcoming"
    assert library.version_status(old, new, date(2020, 1, 1)) == "current"
    assert library.version_status(old, new, date(2022, 5, 19)) == "superseded"
    assert library.version_status(old, new, date(2023, 5, 31)) == "superseded"
    assert library.version_status(old, new, date(2023, 6, 1)) == "retired"
    assert library.version_status(new, None, date(2022, 5, 18)) == "upcoming"
    assert library.version_status(new, None, date(2030, 1, 1)) == "current"
