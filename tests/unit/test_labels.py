"""The one table of labels: every code of every context has words, one set of words per
code, and the filters and messages that show codes to people take their words from it."""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import CheckConstraint

import stewardship
from stewardship.assurance.rules import AuditStatus, ClaimStatus
from stewardship.complaints.rules import VERBS
from stewardship.core import labels
from stewardship.core.db import Base
from stewardship.core.templating import badge, label
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.service.audit_firms import FIRM_STATUSES
from stewardship.standards.rules import RevisionStatus

PACKAGE = Path(stewardship.__file__).resolve().parent
CONTEXTS = ("registry", "standards", "assurance", "custody", "carbon", "complaints", "interop")
# Enumerations of machinery, never shown to a person.
NOT_SHOWN = {"stewardship.core.config"}


def _modules() -> list[object]:
    found = []
    for info in pkgutil.walk_packages(stewardship.__path__, "stewardship."):
        if ".migrations" in info.name or info.name in NOT_SHOWN:
            continue
        found.append(importlib.import_module(info.name))
    return found


MODULES = _modules()


def _enums() -> list[type[enum.Enum]]:
    return sorted({obj for module in MODULES for obj in vars(module).values()
                   if inspect.isclass(obj) and issubclass(obj, enum.Enum)
                   and obj.__module__.startswith("stewardship.")}, key=lambda e: e.__name__)


def _literal_values(annotation: object) -> set[str]:
    values: set[str] = set()
    if typing.get_origin(annotation) is typing.Literal:
        values.update(v for v in typing.get_args(annotation) if isinstance(v, str))
    for arg in typing.get_args(annotation):
        values |= _literal_values(arg)
    return values


def _schema_literals() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module in MODULES:
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseModel) \
                    and obj.__module__ == module.__name__:  # type: ignore[attr-defined]
                for field, info in obj.model_fields.items():
                    values = _literal_values(info.annotation)
                    if values:
                        found[f"{name}.{field}"] = values
            elif typing.get_origin(obj) is typing.Literal:
                found[name] = _literal_values(obj)
    return found


def _constraint_codes() -> dict[str, set[str]]:
    """Codes that the database's CHECK constraints allow in a column (``status IN (...)``)."""
    found: dict[str, set[str]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            sql = str(constraint.sqltext)
            for column, listed in re.findall(r"(\w+) IN \(([^)]*)\)", sql):
                codes = set(re.findall(r"'([^']+)'", listed))
                if codes:
                    found[f"{table.name}.{column}"] = codes
    return found


ENUMS = _enums()


def test_the_enumerations_were_found() -> None:
    names = {e.__name__ for e in ENUMS}
    assert {"Activity", "CocMaterial", "CertificateStatus", "Role", "ComplaintStatus",
            "Transformation", "RevisionStatus", "Rating"} <= names
    assert _constraint_codes()["coc_documents.status"] == {"issued", "received", "rejected",
                                                            "cancelled"}


@pytest.mark.parametrize("vocabulary", ENUMS, ids=lambda e: f"{e.__module__}.{e.__name__}")
def test_every_value_of_every_enumeration_has_words(vocabulary: type[enum.Enum]) -> None:
    missing = [m.value for m in vocabulary if not labels.known(m.value)]
    assert missing == [], f"add words for {missing} to core/labels.py"


def test_every_literal_of_the_schemas_and_every_checked_column_code_has_words() -> None:
    sources = {**_schema_literals(), **_constraint_codes()}
    assert "InviteRole" in sources
    missing = {where: sorted(v for v in values if not labels.known(v))
               for where, values in sources.items()}
    assert {k: v for k, v in missing.items() if v} == {}


def _event_kinds_in_source() -> set[str]:
    """Every literal ``context.thing.verb`` string in the source."""
    pattern = re.compile(rf"^({'|'.join(CONTEXTS)})\.[a-z_]+\.[a-z_]+$")
    kinds: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and pattern.match(node.value) and "demo" not in path.name:
                kinds.add(node.value)
    return kinds


def test_every_event_kind_reads_as_a_sentence() -> None:
    written = _event_kinds_in_source()
    assert "custody.transformation.recorded" in written
    made = ({f"assurance.audit.{s}" for s in AuditStatus}
            | {f"assurance.claim.{s}" for s in ClaimStatus}
            | {f"standards.revision.{s}" for s in RevisionStatus}
            | {f"registry.organization.{s}" for s in OrganizationStatus}
            | {f"registry.audit_firm.{s}" for s in FIRM_STATUSES}
            | {f"complaints.complaint.{verb}" for verb in VERBS.values()}
            | {f"assurance.certificate.{k}" for k in ("issued", "suspended", "withdrawn",
                                                        "reinstated", "expired", "superseded")}
            | {f"assurance.finding.{k}" for k in ("raised", "changed")}
            | {f"complaints.consent.{k}" for k in ("given", "withdrawn")})
    unknown = sorted(k for k in written | made if k not in labels.EVENT_KINDS)
    assert unknown == [], "add these event kinds to labels.EVENT_KINDS"
    assert labels.event_sentence("custody.transformation.recorded") == "Transformation recorded"


def test_a_code_has_one_set_of_words_in_every_vocabulary() -> None:
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for name, words in labels.VOCABULARIES.items():
        for code, text in words.items():
            if code in seen and seen[code][1] != text:
                clashes.append(f"{code}: {seen[code]} vs {(name, text)}")
            seen.setdefault(code, (name, text))
    assert clashes == []


def test_words_are_words_not_codes() -> None:
    for code, text in labels.LABELS.items():
        assert text.strip() == text and text, code
        assert "_" not in text and not re.search(r"\w\.\w", text), (code, text)
        assert text[0].isupper(), (code, text)


def test_the_label_filter_reads_the_table_and_humanises_only_unknown_codes() -> None:
    assert label("semi_fabrication") == "Semi-fabrication"
    assert label("asi_alumina") == "ASI Alumina"
    assert label("bauxite_mining") == "Bauxite mining"
    assert label(RevisionStatus.VOTE) == "Being voted on"
    assert label("custody.document.issued") == "CoC document issued"
    assert label("some_new_code") == "Some new code"
    assert label(None) == ""


def test_the_badge_takes_its_words_from_the_table_and_keeps_the_code_for_its_colour() -> None:
    shown = str(badge("in_progress"))
    assert shown == '<span class="badge badge-in_progress" title="in_progress">In progress</span>'
    assert ">Under investigation<" in str(badge("investigation"))


@pytest.mark.parametrize(("code", "inside"), [
    ("semi_fabrication", "semi-fabrication"), ("asi_bauxite", "ASI Bauxite"),
    ("chain_of_custody", "Chain of Custody"), ("production_transformation",
                                               "Production & Transformation"),
    ("smelting", "smelting"), ("non_coc_input", "Non-CoC input"),
])
def test_words_inside_a_sentence_keep_acronyms_and_names(code: str, inside: str) -> None:
    assert labels.lower(code) == inside


def test_event_actors_and_subjects_in_words() -> None:
    names = {"user:1": "Ada Lind (Fjordlight Metals)", "facility:NO1": "Fjordlight Smelter"}
    assert labels.event_actor("user:1", names) == "Ada Lind (Fjordlight Metals)"
    assert labels.event_actor("user:2", names) == "A user no longer known"
    assert labels.event_actor("system:demo-loader", names) == "The demo loader"
    assert labels.event_actor("complainant", names) == "A complainant"
    assert labels.event_subject("facility:NO1", names) == "Facility: Fjordlight Smelter"
    assert labels.event_subject("certificate:STW-P-2025-0001", names) == \
        "Certificate STW-P-2025-0001"
    assert labels.event_subject("audit:0428f4c5", names) == "Audit"
