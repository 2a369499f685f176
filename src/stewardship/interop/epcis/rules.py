"""Pure rules of the EPCIS repository: the CBV 2.0 event hash id (CBV 2.0 section 8.9), as
GS1's reference hash generator computes it, so that an event captured here without an
eventID gets the id any other EPCIS 2.0 repository gives it. Pure: no I/O.

An event is first read as a tree of nodes (name, text, children):

- a JSON object's members are its children (``rdfs:comment`` and ``comment`` left out); a
  list becomes one child per element, all under the list's name; a scalar is a leaf whose
  text is the value as written (``True``/``False`` for JSON booleans);
- a member name ``prefix:local`` whose prefix the document's ``@context`` defines becomes
  ``{namespace}local``, a value ``prefix:rest`` becomes the namespace followed by ``rest``;
  standard CBV bare words (``receiving``, ``in_progress``, ``po``, ``owning_party``,
  ``Temperature``...) in the vocabulary fields become their web URIs;
- lists are named as in the XML binding: ``epcList``, ``childEPCs``, ``inputEPCList`` and
  ``outputEPCList`` hold ``epc`` nodes, the quantity lists ``quantityElement`` nodes,
  ``sensorElementList`` its ``sensorElement`` nodes; an entry of ``bizTransactionList``,
  ``sourceList`` or ``destinationList`` is a pair, its ``type`` before its value.

The pre-hash string is ``eventType=<type>``, then the properties the canonical order
names (below), then everything else. A property in the canonical order is written as
``name=value`` (its sub-properties in their own order after it), repeated properties sorted;
a node is used up once it and everything below it has been written. Inside a node other
than the event, extensions whose namespace ends in ``/`` follow the ordered properties.
What is left (the typed lists, ``ilmd``, extensions, and whatever of an ordered node was not
used up) is written at the end in the generic form ``name=value`` followed by its children,
siblings sorted, the pair of a typed entry kept in its order; ``eventID``, ``recordTime``,
``errorDeclaration`` and the event's ``type`` are left out.

Values: timestamps of ordered properties whose name holds ``time`` in UTC at millisecond
precision (``...T10:00:30.000Z``); CBV URNs (``urn:epcglobal:cbv:bizstep:...``) as web URIs;
decimal numbers in their shortest form (``200.0`` -> ``200``); EPC URNs as canonical GS1
Digital Links on ``https://id.gs1.org`` (check digits computed) and Digital Links constrained
to that host without query string and to the finest key qualifier.

The id is ``ni:///sha-256;<hex of SHA-256 over the UTF-8 pre-hash>?ver=CBV2.0``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeAlias

CBV_WEB = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
HASH_VERSION = "CBV2.0"

Convert = Callable[[str], str]
_Order: TypeAlias = tuple[tuple[str, "_Order | None"], ...]
_QUANTITY: _Order = (("epcClass", None), ("quantity", None), ("uom", None))
_EPCS: _Order = (("epc", None),)
_METADATA: _Order = tuple((n, None) for n in (
    "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
    "dataProcessingMethod", "bizRules"))
_REPORT: _Order = tuple((n, None) for n in (
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
    "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue",
    "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev",
    "percRank", "percValue", "uom", "coordinateReferenceSystem"))
CANONICAL_ORDER: _Order = (
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None),
    ("parentID", None), ("epcList", _EPCS), ("inputEPCList", _EPCS), ("childEPCs", _EPCS),
    ("quantityList", (("quantityElement", _QUANTITY),)),
    ("childQuantityList", (("quantityElement", _QUANTITY),)),
    ("inputQuantityList", (("quantityElement", _QUANTITY),)),
    ("outputEPCList", _EPCS), ("outputQuantityList", (("quantityElement", _QUANTITY),)),
    ("action", None), ("transformationID", None), ("bizStep", None), ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)), ("bizLocation", (("id", None),)),
    ("sensorElementList", (("sensorElement", (("sensorMetadata", _METADATA),
                                              ("sensorReport", _REPORT))),)),
)
"""The canonical property order; the typed lists are written with what is left."""

_LEFT_OUT = frozenset({"eventID", "recordTime", "errorDeclaration", "type"})
_IGNORED = frozenset({"rdfs:comment", "comment"})
_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset({"quantityList", "childQuantityList", "inputQuantityList",
                             "outputQuantityList"})
TYPED_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}
_TYPED_ITEMS = frozenset(TYPED_LISTS.values())
_URN_CBV = (("urn:epcglobal:cbv:bizstep:", "BizStep-"), ("urn:epcglobal:cbv:disp:", "Disp-"),
            ("urn:epcglobal:cbv:btt:", "BTT-"), ("urn:epcglobal:cbv:sdt:", "SDT-"),
            ("urn:epcglobal:cbv:er:", "ER-"))
# What ``flat_pre_hash`` writes without the tree, in the canonical order.
_FLAT_SCALARS = frozenset({"eventTime", "eventTimeZoneOffset", "parentID", "action",
                           "transformationID", "bizStep", "disposition"})
_FLAT_PLACES = frozenset({"readPoint", "bizLocation"})
_FLAT_ORDER = tuple(name for name, _ in CANONICAL_ORDER
                    if name in _FLAT_SCALARS | _FLAT_PLACES | _EPC_LISTS)
_SCALAR, _LIST, _PLACE, _LEFT = range(4)
_FLAT_SHAPE = {**{name: _SCALAR for name in _FLAT_SCALARS}, **{name: _LIST for name in _EPC_LISTS},
               **{name: _PLACE for name in _FLAT_PLACES}, **{name: _LEFT for name in _LEFT_OUT}}
_FLAT_POSITION = {name: i for i, name in enumerate(_FLAT_ORDER)}
_PLAIN_EPC = ("urn:epc:", "http://", "https://")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NUMBER_START = frozenset("+-.0123456789")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The standard CBV bare words of each vocabulary field (CBV 2.0), as the JSON-LD context
# of EPCIS 2.0 maps them to web URIs.
BIZ_STEPS = _words(
    "accepting arriving assembling collecting commissioning consigning "
    "creating_class_instance cycle_counting decommissioning departing destroying "
    "disassembling dispensing encoding entering_exiting holding inspecting installing "
    "killing loading other packing picking receiving removing repackaging repairing "
    "replacing reserving retail_selling sampling sensor_reporting shipping "
    "staging_outbound stock_taking stocking storing transporting unloading unpacking "
    "void_shipping")
DISPOSITIONS = _words(
    "active available completeness_verified completeness_inferred conformant "
    "container_closed container_open damaged destroyed dispensed disposed encoded expired "
    "in_progress in_transit inactive mismatch_instance mismatch_class mismatch_quantity "
    "needs_replacement no_pedigree_match non_conformant non_sellable_other "
    "partially_dispensed recalled reserved retail_sold returned sellable_accessible "
    "sellable_not_accessible stolen unavailable unknown")
BTT = _words(
    "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt")
SDT = frozenset(("owning_party", "possessing_party", "location"))
COMPONENTS = _words(
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle "
    "easting northing latitude longitude altitude")
EXCEPTIONS = frozenset(("ALARM_CONDITION", "ERROR_CONDITION"))
MEASUREMENTS = _words(
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration "
    "AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count "
    "Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity "
    "ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy "
    "Exposure Force Frequency Illuminance Inductance Irradiance KinematicViscosity Length "
    "LinearMomentum Luminance LuminousFlux LuminousIntensity MagneticFlux "
    "MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate "
    "MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume "
    "Power Pressure RadiantFlux RadiantIntensity Radioactivity RelativeHumidity "
    "Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension "
    "Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux "
    "Wavenumber")


@dataclass(slots=True)
class Node:
    name: str
    text: str = ""
    children: list[Node] = field(default_factory=list)
    pair: bool = False
    """An entry of a typed list: its two children (type, value) written in order."""


# --- values ------------------------------------------------------------------------------


def _vocabulary(path: tuple[str, ...], value: str) -> str:
    """A standard bare word of a vocabulary field as its web URI."""
    name = path[-1] if path else ""
    parent = path[-2] if len(path) > 1 else ""
    if name == "bizStep" and value in BIZ_STEPS:
        return f"{CBV_WEB}BizStep-{value}"
    if (name == "disposition" or parent == "persistentDisposition") and value in DISPOSITIONS:
        return f"{CBV_WEB}Disp-{value}"
    if name == "type" and parent in ("bizTransactionList",) and value in BTT:
        return f"{CBV_WEB}BTT-{value}"
    if name == "type" and parent in ("sourceList", "destinationList") and value in SDT:
        return f"{CBV_WEB}SDT-{value}"
    if parent == "sensorReport":
        if name == "type" and value in MEASUREMENTS:
            return GS1_VOC + value
        if name == "component" and value in COMPONENTS:
            return f"{CBV_WEB}Comp-{value}"
        if name == "exception" and value in EXCEPTIONS:
            return GS1_VOC + value
    return value


def _scalar(value: Any, path: tuple[str, ...], prefixes: dict[str, str]) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    text = str(value)
    if not isinstance(value, str):
        return text
    text = _vocabulary(path, text)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + rest
    return text


def _expanded(text: str, prefixes: dict[str, str]) -> str:
    """A value ``prefix:rest`` with the prefix declared as the namespace and ``rest``."""
    prefix, sep, rest = text.partition(":")
    return prefixes[prefix] + rest if sep and prefix in prefixes else text


def _name(key: str, prefixes: dict[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in prefixes:
        return "{" + prefixes[prefix] + "}" + local
    return key


def canonical_number(text: str) -> str | None:
    """A decimal number in its shortest form; None when ``text`` is not one."""
    stripped = text.strip()
    if not _NUMBER.match(stripped):
        return None
    number = float(stripped)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number == int(number):
        return str(int(number))
    return str(number)


def _web_vocabulary(text: str) -> str:
    for urn, infix in _URN_CBV:
        if text.startswith(urn):
            return CBV_WEB + infix + text[len(urn):]
    return text


# --- the tree ----------------------------------------------------------------------------


def _members(obj: dict[str, Any], path: tuple[str, ...],
             prefixes: dict[str, str]) -> list[Node]:
    nodes: list[Node] = []
    for key, value in obj.items():
        if key in _IGNORED or key.startswith("@"):
            continue
        nodes.extend(_nodes(key, value, (*path, key), prefixes))
    return nodes


def _nodes(key: str, value: Any, path: tuple[str, ...],
           prefixes: dict[str, str]) -> list[Node]:
    """The nodes of one member (no sorting: every sibling list is sorted as written)."""
    if isinstance(value, list):
        if key in _EPC_LISTS:
            return [Node(key, "", [Node("epc", _scalar(v, path, prefixes)) for v in value])]
        if key in _QUANTITY_LISTS:
            return [Node(key, "", [Node("quantityElement", "", _members(v, path, prefixes))
                                   for v in value if isinstance(v, dict)])]
        if key in TYPED_LISTS:
            return [Node(key, "", [_typed_entry(TYPED_LISTS[key], entry, path, prefixes)
                                   for entry in value if isinstance(entry, dict)])]
        if key == "sensorElementList":
            return [Node(key, "", [Node("sensorElement", "", _members(v, path, prefixes))
                                   for v in value if isinstance(v, dict)])]
        return [n for item in value for n in _nodes(key, item, path, prefixes)]
    name = _name(key, prefixes)
    if isinstance(value, dict):
        return [Node(name, "", _members(value, path, prefixes))]
    return [Node(name, _scalar(value, path, prefixes))]


def _typed_entry(item: str, entry: dict[str, Any], path: tuple[str, ...],
                 prefixes: dict[str, str]) -> Node:
    children = []
    if "type" in entry:
        children.append(Node("type", _scalar(entry["type"], (*path, "type"), prefixes)))
    if item in entry:
        children.append(Node(item, _scalar(entry[item], (*path, item), prefixes)))
    return Node("", "", children, pair=True)


def event_tree(event: dict[str, Any], prefixes: dict[str, str]) -> Node:
    return Node(str(event.get("type", "")), "", _members(event, (), prefixes))


def xml_event_tree(element: Any) -> Node:
    """The tree of one event of the XML binding (an ``xml.etree`` element, parsed by the
    caller): attributes and child elements are children, ``extension`` and
    ``baseExtension`` wrappers dissolve into their parent, names are ``{namespace}local``,
    values ``gs1:``/``cbv:`` expanded; a ``bizTransaction``, ``source`` or ``destination``
    element is a pair of its ``type`` attribute and its value."""
    return Node(_xml_name(element.tag), "", _xml_children(element))


def _xml_name(tag: str) -> str:
    return tag


def _xml_value(text: str) -> str:
    for prefix, iri in (("gs1:", GS1_VOC), ("cbv:", CBV_WEB)):
        if text.startswith(prefix):
            return iri + text[len(prefix):]
    return text


def _xml_elements(element: Any) -> list[Any]:
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        if child.tag in ("extension", "baseExtension"):
            found.extend(_xml_elements(child))
        else:
            found.append(child)
    return found


def _xml_node(element: Any) -> Node:
    if element.tag in _TYPED_ITEMS:
        children = []
        if element.get("type") is not None:
            children.append(Node("type", _xml_value(element.get("type"))))
        children.append(Node(element.tag, (element.text or "").strip()))
        return Node("", "", children, pair=True)
    return Node(_xml_name(element.tag), _xml_value((element.text or "").strip()),
                _xml_children(element))


def _xml_children(element: Any) -> list[Node]:
    children = [Node(_xml_name(name), _xml_value(value)) for name, value in element.items()]
    children += [_xml_node(child) for child in _xml_elements(element)]
    return children


# --- the pre-hash string -----------------------------------------------------------------


class _Writer:
    _CACHE_MAX = 65536

    def __init__(self, canonical_id: Convert, canonical_time: Convert) -> None:
        self.canonical_id = canonical_id
        self.canonical_time = canonical_time
        self._values: dict[str, str] = {}
        self._times: dict[str, str] = {}
        self._scalars: dict[tuple[str, str], str] = {}

    def value(self, text: str) -> str:
        found = self._values.get(text)
        if found is None:
            if len(self._values) > self._CACHE_MAX:
                self._values.clear()
            plain = text.strip()
            if plain.startswith("urn:epcglobal:cbv:"):
                plain = _web_vocabulary(plain)
            number = canonical_number(plain) if plain[:1] in _NUMBER_START else None
            found = self._values[text] = self.canonical_id(plain if number is None else number)
        return found

    def time(self, text: str) -> str:
        found = self._times.get(text)
        if found is None:
            if len(self._times) > self._CACHE_MAX:
                self._times.clear()
            found = self._times[text] = self.canonical_time(text)
        return found

    def ordered(self, children: list[Node], order: _Order, top: bool = False) -> str:
        """Write the children the order names; those used up leave ``children``."""
        extensions: list[Node] = []
        if not top and len(children) > 1:
            kept: list[Node] = []
            for child in children:
                (extensions if "{" in child.name and "/}" in child.name else kept).append(child)
            if extensions:
                children[:] = kept
        by_name: dict[str, list[Node]] = {}
        for child in children:
            by_name.setdefault(child.name, []).append(child)
        out = []
        used: set[int] = set()
        for name, sub_order in order:
            group = by_name.get(name)
            if not group:
                continue
            timed = _timed(name)
            values = []
            for child in group:
                below = self.ordered(child.children, sub_order) if sub_order else ""
                text = child.text.strip()
                if text:
                    text = "=" + (self.time(text) if timed else self.value(text))
                if text or below:
                    values.append(name + text + below)
                if not child.children:
                    used.add(id(child))
            if len(values) > 1:
                values.sort()
            out.append("".join(values))
        if used:
            children[:] = [c for c in children if id(c) not in used]
        return "".join(out) + (self.generic(extensions) if extensions else "")

    def generic(self, nodes: list[Node]) -> str:
        parts = []
        for node in nodes:
            if node.pair:
                parts.append(self.generic(node.children))
                continue
            text = node.text.strip()
            parts.append(node.name + ("=" + self.value(text) if text else "")
                         + self.generic(node.children))
        if len(nodes) > 1 and not any(n.name in _TYPED_ITEMS for n in nodes):
            parts.sort()
        return "".join(parts)

    def _flat_scalar(self, key: str, value: str, prefixes: dict[str, str]) -> str:
        """``name=value`` of a string property of a flat event ("" when it writes nothing);
        remembered per (name, value) when the document declares no prefixes."""
        if not prefixes and key != "eventTime":
            found = self._scalars.get((key, value))
            if found is not None:
                return found
        text = _scalar(value, (key,), prefixes).strip()
        written = f"{key}={self.time(text) if _timed(key) else self.value(text)}" if text else ""
        if not prefixes and key != "eventTime":
            if len(self._scalars) > self._CACHE_MAX:
                self._scalars.clear()
            self._scalars[(key, value)] = written
        return written

    def flat_pre_hash(self, event: dict[str, Any], prefixes: dict[str, str]) -> str | None:
        """The pre-hash string of an event made only of what most events are (string
        properties, EPC lists of strings, a readPoint and bizLocation of one id), written
        straight from the dictionary: the same string ``pre_hash`` writes from the tree,
        without building it. None for any other event (the tree is needed)."""
        return self.flat(event, prefixes)

    def flat(self, event: dict[str, Any], prefixes: dict[str, str], *, hashed: bool = True,
             epcs: list[tuple[str, str, str | None]] | None = None) -> str | None:
        """One pass over a flat event's members (see ``flat_pre_hash``): its shape checked,
        its pre-hash string written (``hashed``; else ``""``) and, into ``epcs``, each EPC of
        its EPC lists as ``(list name, the EPC as written, its canonical value)``. The
        canonical value is the hash's own value of an EPC that is an EPC URN or a URL used
        as written (no prefix expanded, no space stripped), else None. None when the event
        is not flat (and ``epcs`` may then hold some of its EPCs)."""
        slots = [""] * len(_FLAT_ORDER) if hashed else None
        value_of, convert = self.value, self.canonical_id
        for key, value in event.items():
            shape = _FLAT_SHAPE.get(key)
            if shape is None:
                if key in _IGNORED or key.startswith("@"):
                    continue
                return None
            if shape == _SCALAR:
                if not isinstance(value, str):
                    return None
                if slots is not None:
                    slots[_FLAT_POSITION[key]] = self._flat_scalar(key, value, prefixes)
            elif shape == _LIST:
                if not isinstance(value, list):
                    return None
                written = []
                for epc in value:
                    if not isinstance(epc, str):
                        return None
                    # An EPC's path names no vocabulary: only prefixes are expanded.
                    text = _expanded(epc, prefixes).strip() if prefixes else epc.strip()
                    # value() strips, reads vocabulary and numbers: no-ops for these
                    canonical = convert(epc) if text == epc and \
                        epc.startswith(_PLAIN_EPC) else None
                    if epcs is not None:
                        epcs.append((key, epc, canonical))
                    if text and slots is not None:  # an empty epc writes nothing
                        written.append("epc=" + (value_of(text) if canonical is None
                                                 else canonical))
                if written:
                    written.sort()
                    slots[_FLAT_POSITION[key]] = key + "".join(written)  # type: ignore[index]
            elif shape == _PLACE:
                if not isinstance(value, dict) or len(value) != 1 or \
                        not isinstance(value.get("id"), str):
                    return None
                if slots is not None:
                    text = _expanded(value["id"], prefixes).strip()
                    if text:
                        slots[_FLAT_POSITION[key]] = f"{key}id={value_of(text)}"
            elif not isinstance(value, str):  # left out of the hash, still a string
                return None
        if slots is None:
            return ""
        return f"eventType={event.get('type', '')}" + "".join(slots)

    def pre_hash(self, tree: Node) -> str:
        children = list(tree.children)
        ordered = self.ordered(children, CANONICAL_ORDER, top=True)
        rest = [c for c in children if c.name not in _LEFT_OUT]
        return f"eventType={tree.name}{ordered}{self.generic(rest)}"


@lru_cache(maxsize=256)
def _timed(name: str) -> bool:
    """Whether an ordered property holds a timestamp."""
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


_writers: dict[tuple[Convert, Convert], _Writer] = {}


def _writer(canonical_id: Convert, canonical_time: Convert) -> _Writer:
    found = _writers.get((canonical_id, canonical_time))
    if found is None:
        found = _writers[(canonical_id, canonical_time)] = _Writer(canonical_id, canonical_time)
    return found


def pre_hash(event: dict[str, Any], prefixes: dict[str, str], *, canonical_id: Convert,
             canonical_time: Convert) -> str:
    """The pre-hash string of one JSON event; ``prefixes``: the namespaces the document's
    ``@context`` defines."""
    writer = _writer(canonical_id, canonical_time)
    flat = writer.flat_pre_hash(event, prefixes)
    return flat if flat is not None else writer.pre_hash(event_tree(event, prefixes))


def xml_pre_hash(element: Any, *, canonical_id: Convert, canonical_time: Convert) -> str:
    """The pre-hash string of one event of the XML binding."""
    return _writer(canonical_id, canonical_time).pre_hash(xml_event_tree(element))


def hash_id(pre: str) -> str:
    digest = hashlib.sha256(pre.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"
