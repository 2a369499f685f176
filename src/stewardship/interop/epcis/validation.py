"""Which validation capture applies, and the problems it finds.

GS1's EPCIS 2.0 JSON Schema has no open licence, so it is not shipped in this package. The
server loads it from ``Settings.epcis_schema`` (``STEWARDSHIP_EPCIS_SCHEMA``; by default the
shared conformance copy beside the checkout when one exists) and compiles it once with
jsonschema-rs (draft 7, formats asserted, as GS1's own examples pass). Without a schema,
capture still works: ``rules.document_problems`` checks what each event type requires.
The discovery endpoint (``GET /epcis``) says which of the two is active.
"""

from __future__ import annotations

import copy
import json
import re
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


_CBV_URN = re.compile(r"^urn:epcglobal:cbv:(bizstep|disp|btt|sdt|er):([A-Za-z0-9_]+)$")
"""A standard CBV value in its URN form (EPCIS 1.x, XML): the JSON schema takes the bare
word only, the CBV 2.0 standard both; capture reads the URN as the word."""


def _at(document: Any, pointer: str) -> tuple[Any, Any] | None:
    """(container, key) of the value a JSON pointer names, or None."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node: Any = document
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdecimal() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    if not parts:
        return None
    key: Any = int(parts[-1]) if isinstance(node, list) and parts[-1].isdecimal() else parts[-1]
    try:
        node[key]
    except (KeyError, IndexError, TypeError):
        return None
    return node, key


def _bare_cbv(document: Any, issues: list[Any]) -> Any | None:
    """A copy of the document with the CBV URNs that the issues point at written as bare
    words, or None when no issue is about one."""
    found = [(i.pointer, _at(document, i.pointer)) for i in issues]
    if not any(place is not None and isinstance(place[0][place[1]], str)
               and _CBV_URN.match(place[0][place[1]]) for _, place in found):
        return None
    bare = copy.deepcopy(document)
    for pointer, _ in found:
        place = _at(bare, pointer)
        if place is not None and isinstance(place[0][place[1]], str):
            match = _CBV_URN.match(place[0][place[1]])
            if match:
                place[0][place[1]] = match.group(2)
    return bare


def _reasons(error: Any, branches: list[list[Any]]) -> str:
    """The message of a schema error; for one that no alternative (anyOf/oneOf) admits,
    what each alternative found wrong, where, instead of the whole offending value."""
    if not branches:
        return _shorten(error.message, error.instance)
    base = _pointer(error.instance_path)
    seen: list[str] = []
    for branch in branches:
        sub = branch[0]
        where = _pointer(sub.instance_path)
        at = f" at {where}" if where != base else ""
        text = _shorten(sub.message, sub.instance)
        text = (text if len(text) <= 120 else text[:119] + "…") + at
        if text not in seen:
            seen.append(text)
    return _shorten("matches none of the allowed forms: " + "; or ".join(seen))


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
            issues = self._schema_issues(document)
            if not issues and rules.event_list(document) is None:
                issues.append(Issue("/type", "must be EPCISDocument or EPCISQueryDocument",
                                    None))
            return issues
        found = []
        for pointer, message in rules.document_problems(document):
            parts = [int(p) if p.isdecimal() else p for p in pointer.split("/")[1:]]
            found.append(Issue(pointer, message, _event_index(parts)))
        return found

    def _schema_issues(self, document: Any) -> list[Issue]:
        places: list[Issue] = []

        def check(value: Any) -> list[Issue]:
            found = []
            for error in self._validator.iter_errors(value):
                branches = [b for b in getattr(error.kind, "context", None) or [] if b]
                for branch in branches:
                    places.extend(Issue(_pointer(sub.instance_path), "", None)
                                  for sub in branch)
                found.append(Issue(_pointer(error.instance_path),
                                   _reasons(error, branches), _event_index(error.instance_path)))
            return found

        issues = check(document)
        bare = _bare_cbv(document, [*issues, *places]) if issues else None
        return check(bare) if bare is not None else issues

    def event_issues(self, event: Any) -> list[Issue]:
        """Every fault of one event sent on its own (it must carry ``@context``)."""
        if not isinstance(event, dict) or event.get("type") in ("EPCISDocument",
                                                                "EPCISQueryDocument"):
            return [Issue("", "a single EPCIS event is expected", 0)]
        if self._validator is not None:
            return [Issue(i.pointer, i.message, 0) for i in self._schema_issues(event)]
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
