"""Which validation capture applies, and the problems it finds.

GS1's EPCIS 2.0 JSON Schema has no open licence, so it is not shipped in this package. The
server loads it from ``Settings.epcis_schema`` (``STEWARDSHIP_EPCIS_SCHEMA``; by default the
shared conformance copy beside the checkout when one exists) and compiles it once with
jsonschema-rs (draft 7, formats asserted, as GS1's own examples pass). Without a schema,
capture still works: ``rules.document_problems`` checks what each event type requires.
The discovery endpoint (``GET /epcis``) says which of the two is active.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs

from stewardship.interop import rules

_EVENT_PATHS = (("epcisBody", "eventList"), ("epcisBody", "queryResults", "resultsBody",
                                            "eventList"))
_MESSAGE_MAX = 300


@dataclass(frozen=True)
class Issue:
    """One fault: where (a JSON pointer), what, and which event (None: the document)."""

    pointer: str
    message: str
    index: int | None


def _event_index(path: list[Any] | tuple[Any, ...]) -> int | None:
    for prefix in _EVENT_PATHS:
        n = len(prefix)
        if len(path) > n and tuple(path[:n]) == prefix and isinstance(path[n], int):
            return int(path[n])
    return None


def _pointer(path: list[Any] | tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


_SHOWN = 60
"""Characters of an offending value a message quotes (the reason follows in full)."""


def _shorten(message: str, instance: Any = None) -> str:
    """The message within ``_MESSAGE_MAX`` characters, its reason kept: the schema
    validator starts many messages with the whole offending value, which is cut to its
    first characters, never the words after it that say what is wrong."""
    if len(message) <= _MESSAGE_MAX:
        return message
    try:
        shown = json.dumps(instance, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    except (TypeError, ValueError):
        shown = ""
    if shown and message.startswith(shown):
        reason = message[len(shown):]
        value = shown if len(shown) <= _SHOWN else shown[:_SHOWN - 1] + "…"
        return value + reason[:_MESSAGE_MAX - len(value)]
    # Unknown shape: keep the beginning and the end, where the reason is.
    tail = _MESSAGE_MAX // 2
    return message[:_MESSAGE_MAX - tail - 1] + "…" + message[-tail:]


class Validation:
    """The active validation: GS1's schema when configured, else structural checks."""

    def __init__(self, schema_path: Path | None) -> None:
        self.schema_path = schema_path if schema_path and schema_path.is_file() else None
        self._validator: Any = None
        if self.schema_path is not None:
            schema = json.loads(self.schema_path.read_text("utf-8"))
            self._validator = jsonschema_rs.validator_for(schema)

    @property
    def mode(self) -> str:
        return "gs1-json-schema" if self._validator is not None else "structural"

    def describe(self) -> dict[str, Any]:
        if self._validator is not None:
            return {"mode": self.mode, "validator": "jsonschema-rs (draft 7, formats asserted)",
                    "schema": str(self.schema_path)}
        return {"mode": self.mode,
                "detail": "no EPCIS JSON Schema configured (STEWARDSHIP_EPCIS_SCHEMA); events "
                "are checked for the fields each event type requires"}

    def document_issues(self, document: Any) -> list[Issue]:
        """Every fault of a capture document (an EPCISDocument or EPCISQueryDocument)."""
        if self._validator is not None:
            issues = [Issue(_pointer(e.instance_path), _shorten(e.message, e.instance),
                            _event_index(e.instance_path))
                      for e in self._validator.iter_errors(document)]
            if not issues and rules.event_list(document) is None:
                issues.append(Issue("/type", "must be EPCISDocument or EPCISQueryDocument",
                                    None))
            return issues
        found = []
        for pointer, message in rules.document_problems(document):
            parts = [int(p) if p.isdecimal() else p for p in pointer.split("/")[1:]]
            found.append(Issue(pointer, message, _event_index(parts)))
        return found

    def event_issues(self, event: Any) -> list[Issue]:
        """Every fault of one event sent on its own (it must carry ``@context``)."""
        if not isinstance(event, dict) or event.get("type") in ("EPCISDocument",
                                                                "EPCISQueryDocument"):
            return [Issue("", "a single EPCIS event is expected", 0)]
        if self._validator is not None:
            return [Issue(_pointer(e.instance_path), _shorten(e.message, e.instance), 0)
                    for e in self._validator.iter_errors(event)]
        issues = [Issue(pointer, message, 0) for pointer, message in rules.event_problems(event)]
        if "@context" not in event:
            issues.append(Issue("", '"@context" is a required property', 0))
        return issues

    def is_valid_query_document(self, document: Any) -> bool:
        if self._validator is not None:
            return bool(self._validator.is_valid(document))
        return not rules.document_problems(document)


_lock = threading.Lock()
_cache: dict[tuple[str, float], Validation] = {}


def validation_for(schema_path: Path | None) -> Validation:
    """The validation for a schema file, compiled once per file version."""
    key = ("", 0.0)
    if schema_path is not None and schema_path.is_file():
        key = (str(schema_path.resolve()), schema_path.stat().st_mtime)
    with _lock:
        if key not in _cache:
            _cache[key] = Validation(Path(key[0]) if key[0] else None)
        return _cache[key]
