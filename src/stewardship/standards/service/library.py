"""The standards library: import, read, export, applicability, exclusions, diffs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.standards import repository as repo
from stewardship.standards.models import (
    ApplicabilityExclusion,
    Criterion,
    Principle,
    StandardVersion,
)
from stewardship.standards.models import Standard as StandardRow
from stewardship.standards.package import PackageInvalid, package_to_data, parse_package
from stewardship.standards.rules import (
    Applicability,
    StandardPackage,
    applicable_criteria,
    diff_criteria,
)
from stewardship.standards.rules import Criterion as RuleCriterion
from stewardship.standards.schemas import (
    ApplicabilityQuery,
    ApplicabilityRead,
    ApplicabilityRow,
    ChangeRead,
    CriterionBrief,
    CriterionRead,
    DiffRead,
    ExclusionCreate,
    ExclusionRead,
    PrincipleRead,
    StandardRead,
    VersionRead,
    VersionSummary,
)


def invalid_package(exc: PackageInvalid) -> InvalidInput:
    """A rejected package as a 422 listing every problem with its path and line."""
    details = [{"field": p.path or "package", "line": p.line, "message": p.message}
               for p in exc.problems]
    first = exc.problems[0]
    return InvalidInput(f"the package was rejected whole: {len(exc.problems)} problem(s); "
                        f"first: {first}", details=details)


def parse_or_reject(text: str | bytes) -> StandardPackage:
    try:
        return parse_package(text)
    except PackageInvalid as exc:
        raise invalid_package(exc) from None


def slug_of(urn: str) -> str:
    return urn.rsplit(":", 1)[-1]


def store_version(db: Session, actor: Actor, package: StandardPackage) -> StandardVersion:
    """Store a validated package as a new immutable version (the caller checked rights)."""
    standard = repo.standard_by_urn(db, package.urn)
    if standard is None:
        other = repo.standard_by_slug(db, slug_of(package.urn))
        if other is not None:
            raise Conflict(f"{package.urn} would be known as '{slug_of(package.urn)}', the "
                           f"name of {other.urn} already; choose a URN ending differently",
                           field="urn")
        standard = StandardRow(urn=package.urn, slug=slug_of(package.urn),
                               kind=package.kind.value, title=package.title)
        db.add(standard)
        db.flush()
    else:
        if standard.kind != package.kind.value:
            raise Conflict(f"{package.urn} is a {standard.kind} standard, not "
                           f"{package.kind.value}", field="kind")
        latest = repo.max_version(db, standard.id)
        if package.version <= latest:
            raise Conflict(
                f"version {package.version} of {package.urn} cannot be loaded: version "
                f"{latest} is loaded already and versions only go up", field="version")
        standard.title = package.title
    data = eventlog.json_ready(package_to_data(package))
    version = StandardVersion(
        standard_id=standard.id, version=package.version, title=package.title,
        provider=package.provider, copyright=package.copyright,
        illustrative=package.illustrative, published_on=package.published_on,
        effective_on=package.effective_on, transition_ends_on=package.transition_ends_on,
        package=data, digest=eventlog.digest_payload(data), loaded_by=actor.ref)
    db.add(version)
    db.flush()
    for principle in package.principles:
        db.add(Principle(version_id=version.id, number=principle.number, title=principle.title,
                         group=principle.group.value, intent=principle.intent))
        for c in principle.criteria:
            db.add(Criterion(
                version_id=version.id, principle_number=principle.number,
                minor=int(c.number.split(".")[1]), number=c.number, title=c.title,
                requirement=c.requirement, guidance=c.guidance,
                activities=sorted(c.activities) if c.activities is not None else None,
                member_classes=sorted(c.member_classes),
                parts=[{"letter": p.letter, "requirement": p.requirement} for p in c.parts],
                thresholds=[eventlog.json_ready({
                    "key": t.key, "value": str(t.value), "unit": t.unit,
                    "description": t.description, "applies_from": t.applies_from})
                    for t in c.thresholds]))
    db.flush()
    eventlog.append(db, actor, "standards.version.loaded", f"standard:{standard.slug}",
                    {"urn": package.urn, "version": package.version, "digest": version.digest,
                     "criteria": len(package.criteria())})
    return version


def import_package(db: Session, actor: Actor | None, text: str | bytes) -> VersionRead:
    """Load a standard version from its YAML package (secretariat). Rejected whole when
    any part is malformed; a lower or equal version of a loaded URN is refused."""
    actor = require(actor, Role.SECRETARIAT, action="load standards")
    package = parse_or_reject(text)
    store_version(db, actor, package)
    return get_version(db, slug_of(package.urn), package.version)


# --- reading ----------------------------------------------------------------------------


def version_status(version: StandardVersion, successor: StandardVersion | None,
                   today: date) -> str:
    if today < version.effective_on:
        return "upcoming"
    if successor is None or today < successor.effective_on:
        return "current"
    if successor.transition_ends_on is not None and today < successor.transition_ends_on:
        return "superseded"
    return "retired"


def _summaries(standard: StandardRow, counts: dict[uuid.UUID, int]) -> list[VersionSummary]:
    versions = sorted(standard.versions, key=lambda v: v.version)
    today = clock.today()
    out = []
    for i, v in enumerate(versions):
        successor = versions[i + 1] if i + 1 < len(versions) else None
        out.append(VersionSummary(
            version=v.version, title=v.title, published_on=v.published_on,
            effective_on=v.effective_on, transition_ends_on=v.transition_ends_on,
            illustrative=v.illustrative, criteria_count=counts.get(v.id, 0),
            status=version_status(v, successor, today)))
    return list(reversed(out))


def _criteria_count(version: StandardVersion) -> int:
    return sum(len(p["criteria"]) for p in version.package["principles"])


def list_standards(db: Session) -> list[StandardRead]:
    """Every standard with its versions, newest first. Public."""
    out = []
    for s in repo.list_standards(db):
        counts = {v.id: _criteria_count(v) for v in s.versions}
        out.append(StandardRead(urn=s.urn, slug=s.slug, kind=s.kind, title=s.title,
                                versions=_summaries(s, counts)))
    return out


def load_standard(db: Session, slug: str) -> StandardRow:
    standard = repo.standard_by_slug(db, slug)
    if standard is None:
        raise NotFound(f"no standard '{slug}'", field="standard")
    return standard


def load_version(db: Session, slug: str, version: int | None = None) -> StandardVersion:
    standard = load_standard(db, slug)
    if not standard.versions:
        raise NotFound(f"standard '{slug}' has no versions", field="version")
    number = version if version is not None else max(v.version for v in standard.versions)
    row = repo.version_of(db, standard.id, number)
    if row is None:
        raise NotFound(f"standard '{slug}' has no version {number}", field="version")
    return row


def criterion_read(c: Criterion) -> CriterionRead:
    return CriterionRead(number=c.number, title=c.title, requirement=c.requirement,
                         guidance=c.guidance, activities=c.activities,
                         member_classes=c.member_classes, parts=c.parts,  # type: ignore[arg-type]
                         thresholds=c.thresholds)  # type: ignore[arg-type]


def get_version(db: Session, slug: str, version: int | None = None, *,
                activity: str | None = None) -> VersionRead:
    """A version with its principles and criteria; ``activity`` keeps only the criteria
    that apply to it."""
    row = load_version(db, slug, version)
    criteria = repo.criteria_of(db, row.id)
    if activity is not None:
        criteria = [c for c in criteria if c.activities is None or activity in c.activities]
    by_principle: dict[int, list[CriterionRead]] = {}
    for c in criteria:
        by_principle.setdefault(c.principle_number, []).append(criterion_read(c))
    principles = [PrincipleRead(number=p.number, title=p.title, group=p.group, intent=p.intent,
                                criteria=by_principle.get(p.number, []))
                  for p in repo.principles_of(db, row.id)]
    return VersionRead(urn=row.standard.urn, slug=row.standard.slug, kind=row.standard.kind,
                       version=row.version, title=row.title, provider=row.provider,
                       copyright=row.copyright, illustrative=row.illustrative,
                       published_on=row.published_on, effective_on=row.effective_on,
                       transition_ends_on=row.transition_ends_on, digest=row.digest,
                       loaded_at=row.loaded_at, principles=principles)


def get_criterion(db: Session, slug: str, version: int, number: str) -> CriterionRead:
    row = load_version(db, slug, version)
    criterion = repo.criterion_of(db, row.id, number)
    if criterion is None:
        raise NotFound(f"version {version} of '{slug}' has no criterion {number}",
                       field="criterion")
    return criterion_read(criterion)


_PACKAGES: dict[str, StandardPackage] = {}


def to_package(version: StandardVersion) -> StandardPackage:
    """Rebuild the validated package from what was stored (kept by digest: a stored
    version never changes)."""
    package = _PACKAGES.get(version.digest)
    if package is None:
        if len(_PACKAGES) >= 32:
            _PACKAGES.clear()
        package = parse_package(yaml.safe_dump(version.package, sort_keys=False,
                                               allow_unicode=True))
        _PACKAGES[version.digest] = package
    return package


def export_package(db: Session, slug: str, version: int | None = None) -> str:
    """The version as a YAML package that imports back to the same content. Public."""
    row = load_version(db, slug, version)
    return yaml.safe_dump(row.package, sort_keys=False, allow_unicode=True, width=100)


# --- applicability ----------------------------------------------------------------------


def _rule_criteria(db: Session, version_id: uuid.UUID) -> list[RuleCriterion]:
    return [RuleCriterion(number=c.number, title=c.title, requirement=c.requirement,
                          guidance=c.guidance,
                          activities=frozenset(c.activities) if c.activities is not None
                          else None,
                          member_classes=frozenset(c.member_classes))
            for c in repo.criteria_of(db, version_id)]


def applicability(db: Session, slug: str, version: int | None,
                  query: ApplicabilityQuery) -> ApplicabilityRead:
    """Which criteria apply to a scope of these activities and member class. Public."""
    row = load_version(db, slug, version)
    exclusions = ({e.criterion_number: e.reason
                   for e in repo.exclusions_for(db, row.id, query.entity_id)}
                  if query.entity_id else {})
    result: list[Applicability] = applicable_criteria(
        _rule_criteria(db, row.id), [a.value for a in query.activities],
        query.member_class.value, exclusions)
    rows = [ApplicabilityRow(number=a.criterion.number, title=a.criterion.title,
                             applicable=a.applicable, reason=a.reason) for a in result]
    return ApplicabilityRead(applicable_count=sum(r.applicable for r in rows), rows=rows)


def mark_not_applicable(db: Session, actor: Actor | None, slug: str, version: int,
                        data: ExclusionCreate) -> ExclusionRead:
    """Record that a criterion does not apply to one entity's scope, and why (secretariat)."""
    from stewardship.registry.service import organizations

    actor = require(actor, Role.SECRETARIAT, action="mark criteria not applicable")
    row = load_version(db, slug, version)
    if repo.criterion_of(db, row.id, data.criterion) is None:
        raise InvalidInput(f"version {version} of '{slug}' has no criterion {data.criterion}",
                           field="criterion")
    if not organizations.entity_exists(db, data.entity_id):
        raise NotFound("no such entity", field="entity_id")
    if any(e.criterion_number == data.criterion
           for e in repo.exclusions_for(db, row.id, data.entity_id)):
        raise Conflict(f"criterion {data.criterion} is already marked not applicable for "
                       "this entity", field="criterion")
    exclusion = ApplicabilityExclusion(version_id=row.id, entity_id=data.entity_id,
                                       criterion_number=data.criterion, reason=data.reason,
                                       decided_by=actor.ref)
    db.add(exclusion)
    db.flush()
    eventlog.append(db, actor, "standards.criterion.not_applicable",
                    f"entity:{data.entity_id}",
                    {"standard": slug, "version": version, "criterion": data.criterion,
                     "reason": data.reason})
    return ExclusionRead.model_validate(exclusion)


# --- diff -------------------------------------------------------------------------------


def _criterion_view(c: RuleCriterion) -> dict[str, Any]:
    return {"number": c.number, "title": c.title, "requirement": c.requirement,
            "guidance": c.guidance,
            "activities": sorted(c.activities) if c.activities is not None else None,
            "member_classes": sorted(c.member_classes),
            "parts": [{"letter": p.letter, "requirement": p.requirement} for p in c.parts],
            "thresholds": [{"key": t.key, "value": str(t.value), "unit": t.unit}
                           for t in c.thresholds]}


def _change(old: RuleCriterion, new: RuleCriterion) -> ChangeRead:
    return ChangeRead(old_number=old.number, new_number=new.number, title=new.title,
                      old=_criterion_view(old), new=_criterion_view(new))


def diff(db: Session, slug: str, from_version: int, to_version: int) -> DiffRead:
    """What changed between two versions of a standard. Public."""
    if from_version == to_version:
        raise InvalidInput("compare two different versions", field="to")
    old = to_package(load_version(db, slug, from_version))
    new = to_package(load_version(db, slug, to_version))
    return diff_packages(slug, old, new)


def diff_packages(slug: str, old: StandardPackage, new: StandardPackage) -> DiffRead:
    """What changed from one package to another (two stored versions, or a stored
    version and a revision's draft)."""
    from_version, to_version = old.version, new.version
    d = diff_criteria(old.criteria(), new.criteria())
    return DiffRead(
        slug=slug, from_version=from_version, to_version=to_version,
        added=[CriterionBrief(number=c.number, title=c.title) for c in d.added],
        removed=[CriterionBrief(number=c.number, title=c.title) for c in d.removed],
        renumbered=[_change(r.old, r.new) for r in d.renumbered],
        reworded=[_change(c.old, c.new) for c in d.reworded],
        applicability_changed=[_change(c.old, c.new) for c in d.applicability_changed],
        thresholds_changed=[_change(c.old, c.new) for c in d.thresholds_changed],
        unchanged=d.unchanged)
