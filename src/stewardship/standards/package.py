"""Standard packages as YAML: parse with line numbers, validate whole, export.

A package is rejected whole: every problem is collected, each with the path inside the
document and the line it is on, before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from stewardship.standards.rules import (
    ALL_ACTIVITIES,
    CERTIFYING,
    CRITERION_NUMBER,
    URN,
    Criterion,
    Part,
    Principle,
    PrincipleGroup,
    StandardKind,
    StandardPackage,
    Threshold,
)

MAX_PACKAGE_BYTES = 2_000_000
MAX_URN_LENGTH = 200
MAX_INT = 2**31 - 1
"""Versions are stored in a 32-bit integer column."""
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}"


class PackageInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the package")
        self.problems = problems


MAX_DEPTH = 64
"""A package nests about eight levels deep; far deeper is an attack, not a standard."""


class _TooDeep(yaml.composer.ComposerError):
    """Lists and mappings nested beyond MAX_DEPTH, found while reading the package."""

    def __init__(self, mark: Any) -> None:
        super().__init__(None, None, f"lists and mappings nest more than {MAX_DEPTH} "
                                     "levels deep", mark)


def _date_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A date, or an impossible one such as 2024-02-30 as text, so that it is reported
    with its path and line instead of crashing."""
    assert isinstance(node, yaml.ScalarNode)
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


class _CheckingLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader (plain data only), refusing a list or mapping
    deeper than MAX_DEPTH as soon as it opens, before the composer's recursion goes any
    further."""

    depth = 0
    """Lists and mappings open around the node being composed."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        if self.depth > MAX_DEPTH:
            raise _TooDeep(self.current_event.start_mark)  # the one check_event just read
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_CheckingLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_or_text)
_Loader: Any = _CheckingLoader
_LIBYAML_LOADER: Any = getattr(yaml, "CSafeLoader", None)
if _LIBYAML_LOADER is not None:
    class _FastLoader(_LIBYAML_LOADER):  # type: ignore[misc]
        """libyaml's safe loader, several times faster than the pure-Python one (packages
        are read often). Depth and aliases are checked on the composed nodes (see
        ``_refuse_collection_aliases``)."""

    _FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_or_text)
    _Loader = _FastLoader


def _refuse_collection_aliases(root: yaml.Node) -> None:
    """No aliases of lists or mappings, which would let a small file expand into billions
    of nodes (aliases of single values, as ``yaml.safe_dump`` writes for a date used twice,
    are fine), and no nesting beyond MAX_DEPTH (libyaml composes any depth its own limit
    lets through). An alias is the same node object reached twice; it is reported at the
    key that uses it."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Any, int]] = [(root, root.start_mark, 0)]
    while stack:
        node, mark, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > MAX_DEPTH:
            raise _TooDeep(node.start_mark)  # where it opens, as the composer reports it
        if id(node) in seen:
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) of lists or mappings are not allowed in a "
                "package", mark)
        seen.add(id(node))
        # Pushed in reverse so that nodes are visited in document order: the first
        # occurrence is the anchor, a later one the alias.
        if isinstance(node, yaml.MappingNode):
            stack.extend((value, key.start_mark, depth + 1) for key, value in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, item.start_mark, depth + 1) for item in reversed(node.value))


def _compose(text: str | bytes) -> tuple[yaml.Node | None, Any]:
    """The document's root node and the plain data it holds, or the YAMLError that stops
    the reading (``_TooDeep`` when the nesting is what stops it)."""
    try:
        return _compose_with(_Loader, text)
    except _TooDeep:
        raise
    except yaml.YAMLError:
        if _Loader is _CheckingLoader:
            raise
        # A library may have a nesting limit of its own, worded its own way, and libyaml
        # scans up to a line ahead of the nodes it hands over: a line of a thousand
        # brackets is refused inside libyaml before the walk sees a single level. The
        # pure-Python reader counts depth while composing, so reading the text again with
        # it tells too deep nesting (raised as _TooDeep) from any other problem, for which
        # libyaml's reason is kept. It stops at its first problem too, so on a text libyaml
        # refuses it reads about as far as libyaml did.
        try:
            _compose_with(_CheckingLoader, text, construct=False)
        except _TooDeep:
            raise
        except yaml.YAMLError:
            pass
        raise


def _compose_with(loader_class: Any, text: str | bytes, *,
                  construct: bool = True) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)  # a safe loader: plain data only
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _refuse_collection_aliases(node)
        return node, loader.construct_document(node) if construct else None
    finally:
        loader.dispose()


class _Lines:
    """Maps a path like ``principles[0].criteria[2].number`` to its line in the YAML."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[str, int] = {}
        if root is not None:
            self._walk(root, "")

    def _walk(self, node: yaml.Node, path: str) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = f"{path}.{key.value}" if path else str(key.value)
                self.lines[sub] = key.start_mark.line + 1
                self._walk(value, sub)
                self.lines[sub] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, f"{path}[{i}]")

    def at(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("")


class _Reader:
    def __init__(self, lines: _Lines) -> None:
        self.lines = lines
        self.problems: list[Problem] = []
        self.missing: set[str] = set()
        """Paths reported as required and missing: not reported again as malformed."""

    def fail(self, path: str, message: str) -> None:
        if path in self.missing:
            return
        self.problems.append(Problem(path, self.lines.at(path), message))

    def mapping(self, value: Any, path: str, required: set[str],
                optional: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping of keys to values")
            return None
        for key in sorted(required - value.keys()):
            self.fail(f"{path}.{key}" if path else key, "is required")
            self.missing.add(f"{path}.{key}" if path else key)
        for key in sorted(set(value) - required - optional, key=str):
            self.fail(f"{path}.{key}" if path else str(key), "is not a known key")
        return value

    def text(self, value: Any, path: str, *, max_len: int = 20_000, empty: bool = False) -> str:
        if value is None and empty:
            return ""
        if not isinstance(value, str) or (not empty and not value.strip()):
            self.fail(path, "must be non-empty text")
            return ""
        if len(value) > max_len:
            self.fail(path, f"is longer than {max_len} characters")
        return value.strip()

    def day(self, value: Any, path: str, *, optional: bool = False) -> dt.date | None:
        if value is None and optional:
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(path, "must be a date (YYYY-MM-DD)")
        return None

    def integer(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
            self.fail(path, "must be a positive whole number")
            return 0
        return value


def _criterion(r: _Reader, raw: Any, path: str, principle: int, seen: set[str]) -> Criterion | None:
    data = r.mapping(raw, path, {"number", "title", "requirement", "applies_to"},
                     {"guidance", "parts", "thresholds"})
    if data is None:
        return None
    raw_number = data.get("number", "")
    number = raw_number if isinstance(raw_number, str) else ""
    match = CRITERION_NUMBER.match(number)
    if not isinstance(raw_number, str):
        # Unquoted, YAML reads 1.10 as the float 1.1: refuse rather than renumber silently.
        r.fail(f"{path}.number", f"write the criterion number as quoted text, e.g. "
                                 f"\"{principle}.1\" (found {raw_number!r})")
    elif not match:
        r.fail(f"{path}.number", f"'{number}' is not a criterion number like {principle}.1")
    elif int(match.group(1)) != principle:
        r.fail(f"{path}.number", f"criterion {number} does not belong to principle {principle}")
    elif number in seen:
        r.fail(f"{path}.number", f"criterion {number} appears twice")
    seen.add(number)
    activities: frozenset[str] | None = None
    classes = CERTIFYING
    scope = r.mapping(data.get("applies_to"), f"{path}.applies_to", {"activities"},
                      {"member_classes"})
    if scope is not None:
        raw_acts = scope.get("activities")
        if raw_acts == "all":
            activities = None
        elif isinstance(raw_acts, list) and raw_acts:
            unknown = [a for a in raw_acts if not isinstance(a, str) or a not in ALL_ACTIVITIES]
            for a in unknown:
                r.fail(f"{path}.applies_to.activities", f"'{a}' is not a known activity")
            activities = frozenset(str(a) for a in raw_acts)
        else:
            r.fail(f"{path}.applies_to.activities", "must be 'all' or a list of activities")
        if "member_classes" in scope:
            raw_classes = scope["member_classes"]
            if not isinstance(raw_classes, list) or not raw_classes:
                r.fail(f"{path}.applies_to.member_classes", "must be a list")
            else:
                for c in raw_classes:
                    if not isinstance(c, str) or c not in CERTIFYING:
                        r.fail(f"{path}.applies_to.member_classes",
                               f"'{c}' is not a class that certifies")
                classes = frozenset(str(c) for c in raw_classes)
    parts: list[Part] = []
    raw_parts = data.get("parts") or []
    if not isinstance(raw_parts, list):
        r.fail(f"{path}.parts", "must be a list")
        raw_parts = []
    for i, raw_part in enumerate(raw_parts):
        ppath = f"{path}.parts[{i}]"
        part = r.mapping(raw_part, ppath, {"letter", "requirement"}, set())
        if part is None:
            continue
        expected = chr(ord("a") + i)
        if part.get("letter") != expected:
            r.fail(f"{ppath}.letter", f"expected part '{expected}', found '{part.get('letter')}'")
        parts.append(Part(expected, r.text(part.get("requirement"), f"{ppath}.requirement")))
    thresholds: list[Threshold] = []
    raw_thresholds = data.get("thresholds") or []
    if not isinstance(raw_thresholds, list):
        r.fail(f"{path}.thresholds", "must be a list")
        raw_thresholds = []
    for i, raw_t in enumerate(raw_thresholds):
        tpath = f"{path}.thresholds[{i}]"
        t = r.mapping(raw_t, tpath, {"key", "value", "unit"}, {"description", "applies_from"})
        if t is None:
            continue
        try:
            value = Decimal(str(t.get("value")))
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            r.fail(f"{tpath}.value", "must be a decimal number, e.g. \"8.0\"")
            value = Decimal(0)
        thresholds.append(Threshold(
            key=r.text(t.get("key"), f"{tpath}.key", max_len=80), value=value,
            unit=r.text(t.get("unit"), f"{tpath}.unit", max_len=40),
            description=r.text(t.get("description"), f"{tpath}.description", empty=True),
            applies_from=r.day(t.get("applies_from"), f"{tpath}.applies_from", optional=True)))
    return Criterion(
        number=number, title=r.text(data.get("title"), f"{path}.title", max_len=300),
        requirement=r.text(data.get("requirement"), f"{path}.requirement"),
        guidance=r.text(data.get("guidance"), f"{path}.guidance", empty=True),
        activities=activities, member_classes=classes, parts=tuple(parts),
        thresholds=tuple(thresholds))


_TOP_REQUIRED = {"urn", "version", "kind", "title", "provider", "copyright", "published_on",
                 "effective_on", "principles"}
_TOP_OPTIONAL = {"illustrative", "transition_ends_on"}


@functools.lru_cache(maxsize=32)
def parse_package_cached(text: str) -> StandardPackage:
    """parse_package for texts read again and again (stored drafts and versions); a
    package is immutable, so the same text always gives the same package."""
    return parse_package(text)


def parse_package(text: str | bytes) -> StandardPackage:
    """Parse and validate a package; raise PackageInvalid listing every problem."""
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_PACKAGE_BYTES:
        raise PackageInvalid([Problem("", None, f"the package is larger than "
                                               f"{MAX_PACKAGE_BYTES} bytes")])
    try:
        node, raw = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        prefix = "" if isinstance(exc, _TooDeep) else "not valid YAML: "
        raise PackageInvalid([Problem("", mark.line + 1 if mark else None,
                                      f"{prefix}{reason}")]) from None
    r = _Reader(_Lines(node))
    data = r.mapping(raw, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    if data is None:
        raise PackageInvalid(r.problems)
    urn = str(data.get("urn", ""))
    if not URN.match(urn):
        r.fail("urn", f"'{urn}' is not a URN like urn:stewardship:standard:performance")
    elif len(urn) > MAX_URN_LENGTH or not SLUG.match(urn.rsplit(":", 1)[-1]):
        # The last segment names the standard in URLs (/standards/<slug>), stored in 80.
        r.fail("urn", f"'{urn}' must be at most {MAX_URN_LENGTH} characters and end in a "
                      "segment of lowercase letters, digits and hyphens (at most 80), "
                      "like ':performance'")
    version = r.integer(data.get("version"), "version")
    kind = StandardKind.PERFORMANCE
    try:
        kind = StandardKind(str(data.get("kind")))
    except ValueError:
        r.fail("kind", "must be performance or chain_of_custody")
    published = r.day(data.get("published_on"), "published_on")
    effective = r.day(data.get("effective_on"), "effective_on")
    transition = r.day(data.get("transition_ends_on"), "transition_ends_on", optional=True)
    if published and effective and effective < published:
        r.fail("effective_on", "cannot be before published_on")
    if transition and effective and transition <= effective:
        r.fail("transition_ends_on", "must be after effective_on")
    principles: list[Principle] = []
    raw_principles = data.get("principles")
    if not isinstance(raw_principles, list) or not raw_principles:
        r.fail("principles", "must be a non-empty list")
        raw_principles = []
    seen: set[str] = set()
    for i, raw_p in enumerate(raw_principles):
        path = f"principles[{i}]"
        p = r.mapping(raw_p, path, {"number", "title", "group", "criteria"}, {"intent"})
        if p is None:
            continue
        number = p.get("number")
        if isinstance(number, bool) or number != i + 1:
            r.fail(f"{path}.number", f"expected principle {i + 1}, found {number!r}")
        group = PrincipleGroup.GOVERNANCE
        try:
            group = PrincipleGroup(str(p.get("group")))
        except ValueError:
            r.fail(f"{path}.group", "must be governance, environment, social or "
                                    "chain_of_custody")
        raw_criteria = p.get("criteria")
        if not isinstance(raw_criteria, list) or not raw_criteria:
            r.fail(f"{path}.criteria", "must be a non-empty list")
            raw_criteria = []
        criteria = [c for j, raw_c in enumerate(raw_criteria)
                    if (c := _criterion(r, raw_c, f"{path}.criteria[{j}]", i + 1, seen))]
        principles.append(Principle(i + 1, r.text(p.get("title"), f"{path}.title", max_len=200),
                                    group, r.text(p.get("intent"), f"{path}.intent", empty=True),
                                    tuple(criteria)))
    illustrative = data.get("illustrative", False)
    if not isinstance(illustrative, bool):
        r.fail("illustrative", "must be true or false")
    # Read before deciding: a problem found after the check below would pass unreported.
    title = r.text(data.get("title"), "title", max_len=300)
    provider = r.text(data.get("provider"), "provider", max_len=300)
    copyright_ = r.text(data.get("copyright"), "copyright", max_len=1000)
    if r.problems:
        raise PackageInvalid(r.problems)
    assert published and effective
    return StandardPackage(
        urn=urn, version=version, kind=kind, title=title, provider=provider,
        copyright=copyright_,
        illustrative=bool(illustrative), published_on=published, effective_on=effective,
        transition_ends_on=transition, principles=tuple(principles))


def package_to_data(package: StandardPackage) -> dict[str, Any]:
    """The package as plain data in the import format (what ``export`` writes)."""

    def criterion(c: Criterion) -> dict[str, Any]:
        out: dict[str, Any] = {"number": c.number, "title": c.title,
                               "requirement": c.requirement}
        if c.guidance:
            out["guidance"] = c.guidance
        out["applies_to"] = {
            "activities": "all" if c.activities is None else sorted(c.activities),
            "member_classes": sorted(c.member_classes),
        }
        if c.parts:
            out["parts"] = [{"letter": p.letter, "requirement": p.requirement} for p in c.parts]
        if c.thresholds:
            out["thresholds"] = [
                {k: v for k, v in {"key": t.key, "value": str(t.value), "unit": t.unit,
                                   "description": t.description or None,
                                   "applies_from": t.applies_from}.items() if v is not None}
                for t in c.thresholds]
        return out

    return {
        "urn": package.urn, "version": package.version, "kind": package.kind.value,
        "title": package.title, "provider": package.provider, "copyright": package.copyright,
        "illustrative": package.illustrative, "published_on": package.published_on,
        "effective_on": package.effective_on, "transition_ends_on": package.transition_ends_on,
        "principles": [{"number": p.number, "title": p.title, "group": p.group.value,
                        "intent": p.intent, "criteria": [criterion(c) for c in p.criteria]}
                       for p in package.principles],
    }


def export_yaml(package: StandardPackage) -> str:
    return yaml.safe_dump(package_to_data(package), sort_keys=False, allow_unicode=True,
                          width=100)
