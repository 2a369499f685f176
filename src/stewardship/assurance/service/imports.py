"""Registering certificates issued before the platform existed, so that a scheme moving
onto the platform brings its live certificates: from a JSON list or a CSV file, every row
checked and reported, all or nothing. An imported certificate has no platform audit (its
audit reference names the old one) and is marked imported wherever it is shown."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Certificate
from stewardship.assurance.rules import DEFAULT_POLICY, CertificateStatus
from stewardship.assurance.schemas import (
    CertificateImportReport,
    CertificateImportRow,
    ImportRowReport,
)
from stewardship.assurance.service import certificates
from stewardship.assurance.service.common import today_or
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import Entity, Organization
from stewardship.registry.rules import add_years, normalize_country
from stewardship.standards.models import StandardVersion
from stewardship.standards.service import library

CSV_COLUMNS = ["number", "organization", "entity", "standard", "version", "certificate_type",
               "maturity", "valid_from", "valid_until", "surveillance_due_on",
               "audit_reference", "status", "activities", "countries", "scope_id"]
"""The CSV file's header; activities and countries are separated by spaces."""
REQUIRED_COLUMNS = frozenset(CSV_COLUMNS) - {"surveillance_due_on", "status", "scope_id"}
LIST_COLUMNS = frozenset({"activities", "countries"})
MAX_ROWS = 2000


class ImportRefused(InvalidInput):
    """Some rows have problems: nothing was imported. ``rows`` reports every row."""

    def __init__(self, rows: list[ImportRowReport]) -> None:
        bad = [r for r in rows if not r.ok]
        super().__init__(
            f"{len(bad)} of {len(rows)} row(s) have problems; nothing was imported",
            details=[{"field": f"certificates.{r.row - 1}", "row": r.row, "number": r.number,
                      "message": problem} for r in bad for problem in r.problems])
        self.rows = rows


@dataclass
class _Checked:
    row: CertificateImportRow
    number: str
    organization: Organization
    entity: Entity
    version: StandardVersion
    kind: str
    countries: list[str]


def _entity(db: Session, org: Organization, ref: str) -> Entity | None:
    try:
        entity_id = uuid.UUID(ref.strip())
    except ValueError:
        return repo.entity_named(db, org.id, ref)
    return registry_repo.entity_of(db, org.id, entity_id)


def _check(db: Session, row: CertificateImportRow, day: date, seen: dict[str, int],
           index: int) -> tuple[_Checked | None, list[str]]:
    problems: list[str] = []
    number = row.number.strip().upper()
    if number in seen:
        problems.append(f"number: {number} is also on row {seen[number]}")
    elif repo.certificate_by_number(db, number) is not None:
        problems.append(f"number: certificate {number} is already registered")
    seen.setdefault(number, index)
    org = registry_repo.organization_by_slug(db, row.organization)
    entity = None
    if org is None:
        problems.append(f"organization: no organisation '{row.organization}'")
    else:
        entity = _entity(db, org, row.entity)
        if entity is None:
            problems.append(f"entity: {org.name} has no entity '{row.entity}'")
    version = kind = None
    try:
        version = library.load_version(db, row.standard, row.version)
        kind = repo.standard_of(db, version).kind
    except NotFound as exc:
        problems.append(f"{'version' if 'version' in exc.message else 'standard'}: "
                        f"{exc.message}")
    if row.valid_from > day:
        problems.append(f"valid_from: {row.valid_from} is after today; only a certificate "
                        "already issued is imported")
    years = (DEFAULT_POLICY.certificate_years if row.certificate_type == "full"
             else DEFAULT_POLICY.provisional_years)
    if row.valid_until > add_years(row.valid_from, years) - timedelta(days=1):
        problems.append(f"valid_until: a {row.certificate_type} certificate is valid for at "
                        f"most {years} year(s) from {row.valid_from}")
    if row.surveillance_due_on is not None:
        if row.certificate_type == "provisional":
            problems.append("surveillance_due_on: a provisional certificate has no "
                            "surveillance audit")
        elif not row.valid_from <= row.surveillance_due_on <= row.valid_until:
            problems.append("surveillance_due_on: the surveillance audit falls outside the "
                            "certificate's validity")
    countries: list[str] = []
    for code in row.countries:
        try:
            countries.append(normalize_country(code))
        except ValueError as exc:
            problems.append(f"countries: {exc}")
    if row.scope_id is not None and entity is not None:
        scope = repo.scope_by_id(db, row.scope_id)
        if scope is None or scope.entity_id != entity.id:
            problems.append(f"scope_id: {entity.name} has no scope {row.scope_id}")
        elif kind is not None and scope.standard_kind != kind:
            problems.append(f"scope_id: the scope is for the {scope.standard_kind} standard, "
                            f"not {kind}")
        else:
            live = repo.live_certificates(db, scope_ids=[scope.id])
            if live:
                problems.append(f"scope_id: the scope holds certificate {live[0].number} "
                                "already")
    if problems or org is None or entity is None or version is None or kind is None:
        return None, problems
    return _Checked(row, number, org, entity, version, kind, countries), []


def import_certificates(db: Session, actor: Actor | None, rows: list[CertificateImportRow],
                        *, today: date | None = None) -> CertificateImportReport:
    """Register certificates issued before the platform existed (secretariat). Every row is
    checked; when any has a problem nothing is imported and the refusal reports each row."""
    actor = require(actor, Role.SECRETARIAT, action="import certificates")
    return _import(db, actor, [(r, [], r.number) for r in rows], today_or(today))


def _import(db: Session, actor: Actor,
            rows: list[tuple[CertificateImportRow | None, list[str], str]],
            day: date) -> CertificateImportReport:
    if not rows:
        raise InvalidInput("there is no certificate to import", field="certificates")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} certificates at a time", field="certificates")
    seen: dict[str, int] = {}
    checked: list[_Checked] = []
    reports: list[ImportRowReport] = []
    for index, (row, found, shown) in enumerate(rows, start=1):
        problems = list(found)
        if row is not None:
            done, more = _check(db, row, day, seen, index)
            problems += more
            if done is not None and not problems:
                checked.append(done)
        reports.append(ImportRowReport(row=index, number=shown, ok=not problems,
                                       problems=problems))
    if any(not r.ok for r in reports):
        raise ImportRefused(reports)
    stored = [_store(db, actor, c) for c in checked]
    return CertificateImportReport(imported=len(stored),
                                   certificates=certificates.summaries(db, stored, day))


def _store(db: Session, actor: Actor, c: _Checked) -> Certificate:
    row = c.row
    certificate = Certificate(
        number=c.number, organization_id=c.organization.id, entity_id=c.entity.id,
        holder_name=c.organization.name, entity_name=c.entity.name, scope_id=row.scope_id,
        audit_id=None, audit_reference=row.audit_reference.strip(), imported_at=utcnow(),
        version_id=c.version.id, standard_kind=c.kind,
        certificate_type=row.certificate_type, maturity=row.maturity.value,
        valid_from=row.valid_from, valid_until=row.valid_until,
        surveillance_due_on=row.surveillance_due_on, status=CertificateStatus.ACTIVE.value)
    certificates.attach_coverage(certificate, [a.value for a in row.activities], c.countries)
    db.add(certificate)
    db.flush()
    certificates.record_change(
        db, actor, certificate, None, CertificateStatus.ACTIVE.value,
        f"imported: issued on {row.valid_from} before the platform, on audit "
        f"{certificate.audit_reference}", kind="imported")
    if row.status == CertificateStatus.SUSPENDED.value:
        certificate.status = CertificateStatus.SUSPENDED.value
        db.flush()
        certificates.record_change(db, actor, certificate, CertificateStatus.ACTIVE.value,
                                   CertificateStatus.SUSPENDED.value,
                                   "suspended before the import (the scheme's old records)")
    return certificate


# --- the CSV file -----------------------------------------------------------------------


def parse_csv(data: bytes) -> list[tuple[CertificateImportRow | None, list[str], str]]:
    """The file's rows, each validated, with its problems (a row that does not validate
    comes back as None with them). The header must name the CSV_COLUMNS it uses."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InvalidInput("the file is empty", field="file")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if unknown or missing:
        said = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing column(s) {', '.join(missing)}"] if missing else [])
        raise InvalidInput("the header has " + " and ".join(said) + "; the columns are "
                           + ", ".join(CSV_COLUMNS), field="file")
    reader.fieldnames = header
    out: list[tuple[CertificateImportRow | None, list[str], str]] = []
    for record in reader:
        if len(out) >= MAX_ROWS:
            raise InvalidInput(f"at most {MAX_ROWS} certificates at a time", field="file")
        shown = (record.get("number") or "").strip()[:40]
        if None in record:
            out.append((None, ["the line has more fields than the header"], shown))
            continue
        values: dict[str, Any] = {}
        for name, raw in record.items():
            value = (raw or "").strip()
            if name in LIST_COLUMNS:
                values[name] = value.replace(",", " ").replace(";", " ").split()
            elif value:
                values[name] = value
        if not any(values.values()):
            continue
        try:
            out.append((CertificateImportRow.model_validate(values), [], shown))
        except ValidationError as exc:
            out.append((None, [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: "
                               f"{e['msg'].removeprefix('Value error, ')}"
                               for e in exc.errors()], shown))
    return out


def import_csv(db: Session, actor: Actor | None, data: bytes, *,
               today: date | None = None) -> CertificateImportReport:
    """``import_certificates`` from a CSV file with the CSV_COLUMNS header."""
    actor = require(actor, Role.SECRETARIAT, action="import certificates")
    return _import(db, actor, parse_csv(data), today_or(today))


def csv_template() -> list[list[str]]:
    """The header and one example row, for the import page."""
    return [list(CSV_COLUMNS),
            ["PS-2024-017", "fjordal-aluminium", "Fjordal Aluminium AS", "performance", "3",
             "full", "medium", "2024-03-01", "2027-02-28", "2025-09-01", "OLD-AUD-2024-017",
             "active", "smelting casthouse", "NO", ""]]
