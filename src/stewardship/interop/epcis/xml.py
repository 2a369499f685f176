"""The EPCIS 2.0 XML binding: XML documents in, XML query documents and capture jobs out.

Capture: an ``EPCISDocument`` (or ``EPCISQueryDocument``) in XML is parsed with entity
expansion, DTD loading and network access off (a document declaring a DTD is refused, so
no entity, internal or external, is ever expanded or read), validated against GS1's XSD
when ``Settings.epcis_xsd`` names its folder (GS1 reserves all rights to the XSD, so it is
not shipped; without it the document's structure is checked here), and translated to the
JSON binding's document. From there capture is the JSON capture: same validation, same
CBV 2.0 hash ids, same ledger effects, same stored events.

Responses: a JSON ``EPCISQueryDocument`` (or capture job) is written as XML, fields in the
XSD's order, extension keys (``prefix:name``) as elements of the namespace their prefix
has in the document's ``@context``.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from stewardship.interop import rules
from stewardship.interop.epcis import xml_master
from stewardship.interop.epcis.problems import EpcisProblem

XML_TYPES = ("application/xml", "text/xml")
NS_EPCIS = "urn:epcglobal:epcis:xsd:2"
NS_QUERY = "urn:epcglobal:epcis-query:xsd:2"
NS_SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_BINDING = frozenset({NS_EPCIS, NS_QUERY, NS_SBDH, NS_XSI, "urn:epcglobal:xsd:1",
                      "http://www.w3.org/XML/1998/namespace"})
_MAX_ERRORS = 100
_UNDECLARED = "urn:stewardship:xml-prefix:"
"""The namespace given to an extension prefix that a JSON event's context does not map."""

# --- secure parsing -------------------------------------------------------------------------


class _NothingResolved(etree.Resolver):  # type: ignore[misc]
    """Answers every request for an external resource (DTD, entity) with nothing."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        return self.resolve_string("", context)


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True, collect_ids=False)
    parser.resolvers.add(_NothingResolved())
    return parser


_EXTERNAL_DTD = re.compile(rb"<!DOCTYPE[^>\[]*\b(?:SYSTEM|PUBLIC)\b")


def _declares_entities(raw: bytes) -> bool:
    return b"<!ENTITY" in raw or "<!ENTITY".encode("utf-16-le") in raw or \
        _EXTERNAL_DTD.search(raw[:65536]) is not None


def parse(raw: bytes) -> etree._Element:
    """The document's root element, or a 400 problem (never an expanded entity)."""
    refused = ("the document declares entities or an external DTD (<!DOCTYPE> with "
               "declarations, SYSTEM or PUBLIC): these are refused, so no entity is expanded "
               "and no external file or URL is read")
    if _declares_entities(raw):
        raise EpcisProblem(400, refused, instance="#line=1")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        raise EpcisProblem(400, f"the body is not well-formed XML: {exc.msg} (line {line}, "
                           f"column {column})", instance=f"#line={line}") from None
    info = root.getroottree().docinfo
    dtd = info.internalDTD
    if (dtd is not None and list(dtd.entities())) or info.system_url or info.public_id:
        raise EpcisProblem(400, refused, instance="#line=1")
    return root


# --- validation -----------------------------------------------------------------------------

_SCHEMAS: dict[Path, etree.XMLSchema] = {}
_LOCK = threading.Lock()


def schema_for(folder: Path | None) -> etree.XMLSchema | None:
    """GS1's XSD (the query document's, which imports the capture document's), compiled
    once per folder; None without one."""
    if folder is None:
        return None
    main = folder / "EPCglobal-epcis-query-2_0.xsd"
    if not main.is_file():
        return None
    with _LOCK:
        if folder not in _SCHEMAS:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            _SCHEMAS[folder] = etree.XMLSchema(etree.parse(str(main), parser))
        return _SCHEMAS[folder]


def _event_elements(root: etree._Element) -> list[etree._Element]:
    lists = root.xpath("./EPCISBody/EventList | ./EPCISBody/*[local-name()='QueryResults']"
                       "/resultsBody/EventList")
    found: list[etree._Element] = []
    for event_list in lists:
        for child in event_list:
            if not isinstance(child.tag, str):
                continue
            if etree.QName(child).localname == "extension" and \
                    etree.QName(child).namespace is None:
                found.extend(c for c in child if isinstance(c.tag, str))
            else:
                found.append(child)
    return found


def _index_at(starts: list[int], line: int) -> int | None:
    index = None
    for i, start in enumerate(starts):
        if start <= line:
            index = i
    return index


def validate(root: etree._Element, folder: Path | None) -> None:
    """Refuse a document GS1's XSD rejects (or, without the XSD, one not shaped as an
    EPCIS document): 400, each fault with its line and, inside an event, the event's index."""
    qname = etree.QName(root)
    if (qname.namespace, qname.localname) not in ((NS_EPCIS, "EPCISDocument"),
                                                  (NS_QUERY, "EPCISQueryDocument")):
        raise EpcisProblem(400, f"the root element is {{{qname.namespace or ''}}}"
                           f"{qname.localname}, not an EPCISDocument ({NS_EPCIS}) or an "
                           f"EPCISQueryDocument ({NS_QUERY})", instance="#line=1")
    schema = schema_for(folder)
    if schema is None:
        if root.find("EPCISBody") is None:
            raise EpcisProblem(400, "the document has no EPCISBody element",
                               instance="#line=1")
        return
    if schema.validate(root):
        return
    starts = [e.sourceline or 0 for e in _event_elements(root)]
    errors = []
    for entry in list(schema.error_log)[:_MAX_ERRORS]:
        index = _index_at(starts, entry.line)
        who = f"event {index}, " if index is not None else ""
        errors.append({"type": "epcisException:ValidationException",
                       "title": "The request is not valid", "status": 400,
                       "detail": f"{who}line {entry.line}: {entry.message}",
                       "instance": f"#line={entry.line}", "line": entry.line,
                       "eventIndex": index})
    raise EpcisProblem(400, f"the document is not valid against GS1's EPCIS 2.0 XSD; nothing "
                       f"was captured: {errors[0]['detail']}", errors=errors,
                       instance=errors[0]["instance"])


# --- XML to the JSON binding ----------------------------------------------------------------

_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset({"quantityList", "childQuantityList", "inputQuantityList",
                             "outputQuantityList"})
_SCALARS = frozenset({"eventTime", "recordTime", "eventTimeZoneOffset", "eventID",
                      "certificationInfo", "action", "parentID", "transformationID"})
_CBV = {"bizStep": "BizStep", "disposition": "Disp"}
_NUMBERS = frozenset({"value", "minValue", "maxValue", "meanValue", "sDev", "percRank",
                      "percValue"})
_FLATTENED = frozenset({"extension", "baseExtension"})


def _number(text: str) -> int | float | str:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    if value == value.to_integral_value() and "." not in text and "e" not in text.lower():
        return int(value)
    return float(value)


class _Reader:
    """Translates one XML document, naming extension namespaces by prefix."""

    def __init__(self, root: etree._Element) -> None:
        self.prefixes: dict[str, str] = {}
        self.by_uri: dict[str, str] = {}
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            for prefix, uri in element.nsmap.items():
                if uri in _BINDING or uri in self.by_uri:
                    continue
                name = prefix or "ns"
                n = 1
                while name in self.prefixes:
                    n += 1
                    name = f"{prefix or 'ns'}{n}"
                self.prefixes[name] = uri
                self.by_uri[uri] = name

    def key(self, element: etree._Element | str) -> str:
        qname = etree.QName(element)
        if qname.namespace is None:
            return str(qname.localname)
        prefix = self.by_uri.get(qname.namespace)
        if prefix is None:
            prefix = f"ns{len(self.prefixes) + 1}"
            self.prefixes[prefix] = qname.namespace
            self.by_uri[qname.namespace] = prefix
        return f"{prefix}:{qname.localname}"

    def extension(self, element: etree._Element) -> Any:
        children = [c for c in element if isinstance(c.tag, str)]
        attributes = {self.key(name): value for name, value in element.attrib.items()
                      if etree.QName(name).namespace != NS_XSI}
        if not children and not attributes:
            return (element.text or "").strip()
        value: dict[str, Any] = dict(attributes)
        for child in children:
            self._put(value, self.key(child), self.extension(child))
        if not children and (element.text or "").strip():
            value["#text"] = element.text.strip() if element.text else ""
        return value

    @staticmethod
    def _put(target: dict[str, Any], key: str, value: Any) -> None:
        if key not in target:
            target[key] = value
        elif isinstance(target[key], list):
            target[key].append(value)
        else:
            target[key] = [target[key], value]

    def extensions_into(self, target: dict[str, Any], element: etree._Element,
                        handled: frozenset[str] = frozenset()) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace is None and qname.localname in handled:
                continue
            if qname.namespace is None and qname.localname in _FLATTENED:
                self.extensions_into(target, child, handled)
                continue
            self._put(target, self.key(child), self.extension(child))

    def where(self, element: etree._Element) -> dict[str, Any]:
        found: dict[str, Any] = {"id": _text(element.find("id"))}
        self.extensions_into(found, element, frozenset({"id"}))
        return found

    def sensor(self, element: etree._Element) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child)
            if name.namespace is None and name.localname == "sensorMetadata":
                found["sensorMetadata"] = self.attributes(child)
            elif name.namespace is None and name.localname == "sensorReport":
                found.setdefault("sensorReport", []).append(self.attributes(child))
            elif name.namespace is None and name.localname == "extension":
                self.extensions_into(found, child)
            else:
                self._put(found, self.key(child), self.extension(child))
        return found

    def attributes(self, element: etree._Element) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in element.attrib.items():
            key = self.key(name)
            if key in _NUMBERS:
                found[key] = _number(value)
            elif key == "booleanValue":
                found[key] = value.strip() in ("true", "1")
            else:
                found[key] = value
        return found

    def field(self, event: dict[str, Any], name: str, child: etree._Element) -> None:
        if name in _SCALARS:
            event[name] = _text(child)
        elif name in _CBV:
            event[name] = rules.cbv_short(_text(child), _CBV[name])
        elif name in _EPC_LISTS:
            event[name] = [_text(e) for e in child.findall("epc")]
        elif name in _QUANTITY_LISTS:
            event[name] = [self.quantity(q) for q in child.findall("quantityElement")]
        elif name in ("readPoint", "bizLocation"):
            event[name] = self.where(child)
        elif name == "bizTransactionList":
            event[name] = [self.typed(b, "bizTransaction", "BTT")
                           for b in child.findall("bizTransaction")]
        elif name in ("sourceList", "destinationList"):
            item = name[:-4]
            event[name] = [self.typed(b, item, "SDT") for b in child.findall(item)]
        elif name == "persistentDisposition":
            event[name] = {part: [rules.cbv_short(_text(e), "Disp")
                                  for e in child.findall(part)]
                           for part in ("set", "unset") if child.find(part) is not None}
        elif name == "sensorElementList":
            event[name] = [self.sensor(s) for s in child.findall("sensorElement")]
        elif name == "ilmd":
            ilmd: dict[str, Any] = {}
            self.extensions_into(ilmd, child)
            event[name] = ilmd
        elif name == "errorDeclaration":
            event[name] = self.error_declaration(child)
        elif name == "quantity":
            event[name] = _number(_text(child))
        else:
            event[name] = self.extension(child)

    def quantity(self, element: etree._Element) -> dict[str, Any]:
        found: dict[str, Any] = {"epcClass": _text(element.find("epcClass"))}
        quantity = element.find("quantity")
        if quantity is not None and (quantity.text or "").strip():
            found["quantity"] = _number(_text(quantity))
        uom = element.find("uom")
        if uom is not None:
            found["uom"] = _text(uom)
        return found

    def typed(self, element: etree._Element, name: str, kind: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if element.get("type"):
            found["type"] = rules.cbv_short(element.get("type", ""), kind)
        found[name] = _text(element)
        return found

    def error_declaration(self, element: etree._Element) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace is not None:
                self._put(found, self.key(child), self.extension(child))
            elif qname.localname == "declarationTime":
                found["declarationTime"] = _text(child)
            elif qname.localname == "reason":
                found["reason"] = rules.cbv_short(_text(child), "ER")
            elif qname.localname == "correctiveEventIDs":
                found["correctiveEventIDs"] = [_text(e) for e in
                                               child.findall("correctiveEventID")]
            elif qname.localname == "extension":
                self.extensions_into(found, child)
        return found

    def event(self, element: etree._Element) -> dict[str, Any]:
        event: dict[str, Any] = {"type": etree.QName(element).localname}
        self._fields(event, element)
        return event

    def _fields(self, event: dict[str, Any], element: etree._Element) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace is not None:
                self._put(event, self.key(child), self.extension(child))
            elif qname.localname in _FLATTENED:
                self._fields(event, child)
            else:
                self.field(event, qname.localname, child)


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def to_json(root: etree._Element) -> dict[str, Any]:
    """The JSON binding's document for a validated XML document."""
    reader = _Reader(root)
    events = [reader.event(e) for e in _event_elements(root)]
    header = xml_master.read_header(root, reader)
    context: list[Any] = [rules.STANDARD_CONTEXT]
    if reader.prefixes:
        context.append(dict(reader.prefixes))
    query_document = etree.QName(root).localname == "EPCISQueryDocument"
    document: dict[str, Any] = {"@context": context,
                                "type": "EPCISQueryDocument" if query_document
                                else "EPCISDocument",
                                "schemaVersion": root.get("schemaVersion", "2.0"),
                                "creationDate": root.get("creationDate", "")}
    if header is not None:
        document["epcisHeader"] = header
    if query_document:
        results = root.find(f"EPCISBody/{{{NS_QUERY}}}QueryResults")
        body: dict[str, Any] = {"queryName": _text(results.find("queryName"))
                                if results is not None else "SimpleEventQuery"}
        if results is not None and results.find("subscriptionID") is not None:
            body["subscriptionID"] = _text(results.find("subscriptionID"))
        body["resultsBody"] = {"eventList": events}
        document["epcisBody"] = {"queryResults": body}
    else:
        document["epcisBody"] = {"eventList": events}
    return document


def single_event(document: dict[str, Any]) -> dict[str, Any]:
    """``POST /epcis/events`` in XML: a document holding exactly one event (translated by
    ``to_json``), as the JSON binding's event with its ``@context``."""
    events = rules.event_list(document) or []
    if len(events) != 1:
        raise EpcisProblem(400, f"send a document holding exactly one event to capture it "
                           f"on its own, not {len(events)}; POST /epcis/capture takes many")
    return {"@context": document["@context"], **events[0]}


# --- the JSON binding to XML ----------------------------------------------------------------

_COMMON = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration",
           "certificationInfo")
_TAIL = ("bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList")
_ORDER: dict[str, tuple[str, ...]] = {
    "ObjectEvent": ("epcList", "action", *_TAIL, "quantityList", "sourceList",
                    "destinationList", "sensorElementList", "persistentDisposition", "ilmd"),
    "AggregationEvent": ("parentID", "childEPCs", "action", *_TAIL, "childQuantityList",
                         "sourceList", "destinationList", "sensorElementList",
                         "persistentDisposition"),
    "TransactionEvent": ("bizTransactionList", "parentID", "epcList", "action",
                         *_TAIL[:-1], "quantityList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
    "TransformationEvent": ("inputEPCList", "inputQuantityList", "outputEPCList",
                            "outputQuantityList", "transformationID", *_TAIL, "sourceList",
                            "destinationList", "sensorElementList", "persistentDisposition",
                            "ilmd"),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList", "action", *_TAIL,
                         "sourceList", "destinationList", "sensorElementList",
                         "persistentDisposition"),
}
_URN = {"BizStep": "urn:epcglobal:cbv:bizstep:", "Disp": "urn:epcglobal:cbv:disp:",
        "BTT": "urn:epcglobal:cbv:btt:", "SDT": "urn:epcglobal:cbv:sdt:",
        "ER": "urn:epcglobal:cbv:er:"}


def _cbv_long(value: Any, kind: str) -> str:
    text = str(value)
    return text if ":" in text else _URN[kind] + text


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


class _Writer:
    """Writes JSON events as XML elements, extension prefixes from the context."""

    def __init__(self, context: Any) -> None:
        self.prefixes: dict[str, str] = {}
        items = context if isinstance(context, list) else [context]
        for item in items:
            if isinstance(item, dict):
                for prefix, uri in item.items():
                    if isinstance(uri, str) and not prefix.startswith("@") and \
                            uri not in _BINDING and ":" not in prefix:
                        self.prefixes.setdefault(prefix, uri)

    def nsmap(self) -> dict[str | None, str]:
        return {p: u for p, u in self.prefixes.items() if p not in ("epcis", "epcisq", "xsi")}

    def tag(self, key: str) -> str | None:
        """The qualified tag of an extension key; None for a key that cannot be one."""
        if key.startswith(("http://", "https://", "urn:")):
            cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":"))
            namespace, local = key[:cut + 1], key[cut + 1:]
        else:
            prefix, sep, local = key.partition(":")
            if not sep:
                return None
            namespace = self.prefixes.get(prefix) or _UNDECLARED + prefix
            self.prefixes.setdefault(prefix, namespace)
        try:
            return str(etree.QName(namespace, local))
        except ValueError:
            return None

    def extension(self, parent: etree._Element, key: str, value: Any,
                  nested: bool = False) -> None:
        """``nested``: inside an extension element, where unqualified names may stand."""
        if isinstance(value, list):
            for item in value:
                self.extension(parent, key, item, nested)
            return
        tag = self.tag(key)
        if tag is None and nested and key.isidentifier():
            tag = key
        if tag is None:
            return
        element = etree.SubElement(parent, tag)
        if isinstance(value, dict):
            simple = "#text" in value
            for name, inner in value.items():
                if name == "#text":
                    element.text = _scalar(inner)
                elif name.startswith("@"):
                    continue
                elif simple and not isinstance(inner, dict | list):
                    # An element with text and attributes: the other keys are attributes.
                    attribute = name if ":" not in name else self.tag(name)
                    if attribute is not None:
                        element.set(attribute, _scalar(inner))
                else:
                    self.extension(element, name, inner, nested=True)
        else:
            element.text = _scalar(value)

    def sub(self, parent: etree._Element, name: str, text: Any) -> etree._Element:
        element = etree.SubElement(parent, name)
        element.text = _scalar(text)
        return element

    def field(self, parent: etree._Element, name: str, value: Any) -> None:
        if name in _CBV:
            self.sub(parent, name, _cbv_long(value, _CBV[name]))
        elif name in _EPC_LISTS:
            element = etree.SubElement(parent, name)
            for epc in value:
                self.sub(element, "epc", epc)
        elif name in _QUANTITY_LISTS:
            element = etree.SubElement(parent, name)
            for item in value:
                quantity = etree.SubElement(element, "quantityElement")
                self.sub(quantity, "epcClass", item.get("epcClass"))
                if "quantity" in item:
                    self.sub(quantity, "quantity", item["quantity"])
                if "uom" in item:
                    self.sub(quantity, "uom", item["uom"])
        elif name in ("readPoint", "bizLocation"):
            element = etree.SubElement(parent, name)
            self.sub(element, "id", value.get("id"))
            self.extensions(element, value, {"id"})
        elif name == "bizTransactionList":
            self.typed_list(parent, name, "bizTransaction", value, "BTT")
        elif name in ("sourceList", "destinationList"):
            self.typed_list(parent, name, name[:-4], value, "SDT")
        elif name == "persistentDisposition":
            element = etree.SubElement(parent, name)
            for part in ("unset", "set"):
                for item in value.get(part, []):
                    self.sub(element, part, _cbv_long(item, "Disp"))
        elif name == "sensorElementList":
            element = etree.SubElement(parent, name)
            for item in value:
                self.sensor(element, item)
        elif name == "ilmd":
            element = etree.SubElement(parent, name)
            self.extensions(element, value, set())
        elif name == "errorDeclaration":
            self.error_declaration(parent, value)
        elif name == "certificationInfo" and isinstance(value, list):
            for item in value[:1]:
                self.sub(parent, name, item)
        else:
            self.sub(parent, name, value)

    def typed_list(self, parent: etree._Element, name: str, item_name: str,
                   items: list[dict[str, Any]], kind: str) -> None:
        element = etree.SubElement(parent, name)
        for item in items:
            child = self.sub(element, item_name, item.get(item_name))
            if item.get("type"):
                child.set("type", _cbv_long(item["type"], kind))

    def sensor(self, parent: etree._Element, item: dict[str, Any]) -> None:
        element = etree.SubElement(parent, "sensorElement")
        if isinstance(item.get("sensorMetadata"), dict):
            self.attributes(etree.SubElement(element, "sensorMetadata"),
                            item["sensorMetadata"])
        for report in item.get("sensorReport", []):
            self.attributes(etree.SubElement(element, "sensorReport"), report)
        self.extensions(element, item, {"sensorMetadata", "sensorReport"})

    def attributes(self, element: etree._Element, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, dict | list):
                continue
            tag = key if ":" not in key else self.tag(key)
            if tag is not None:
                element.set(tag, _scalar(value))

    def error_declaration(self, parent: etree._Element, value: dict[str, Any]) -> None:
        element = etree.SubElement(parent, "errorDeclaration")
        self.sub(element, "declarationTime", value.get("declarationTime"))
        if "reason" in value:
            self.sub(element, "reason", _cbv_long(value["reason"], "ER"))
        if "correctiveEventIDs" in value:
            ids = etree.SubElement(element, "correctiveEventIDs")
            for item in value["correctiveEventIDs"]:
                self.sub(ids, "correctiveEventID", item)
        self.extensions(element, value, {"declarationTime", "reason", "correctiveEventIDs"})

    def extensions(self, element: etree._Element, value: dict[str, Any],
                   handled: set[str]) -> None:
        for key, inner in value.items():
            if key not in handled and not key.startswith("@"):
                self.extension(element, key, inner)

    def event(self, parent: etree._Element, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        order = _ORDER.get(kind)
        if order is None:
            return
        element = etree.SubElement(parent, kind)
        known = set(_COMMON) | set(order) | {"type", "@context"}
        for name in (*_COMMON, *order):
            if name in event and event[name] is not None:
                self.field(element, name, event[name])
        for key, value in event.items():
            if key not in known:
                self.extension(element, key, value)


def _root(qname: str, writer: _Writer, extra: dict[str | None, str]) -> etree._Element:
    return etree.Element(qname, nsmap={**writer.nsmap(), **extra})


def _bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def query_document(document: dict[str, Any]) -> bytes:
    """The XML ``EPCISQueryDocument`` of a JSON one (as ``query.query_document`` makes)."""
    writer = _Writer(document.get("@context"))
    results = document.get("epcisBody", {}).get("queryResults", {})
    events = results.get("resultsBody", {}).get("eventList", [])
    # Extension prefixes are collected while writing: write into a scratch list first.
    scratch = etree.Element("EventList")
    for event in events:
        writer.event(scratch, event)
    root = _root(f"{{{NS_QUERY}}}EPCISQueryDocument", writer,
                 {"epcisq": NS_QUERY, "epcis": NS_EPCIS})
    root.set("schemaVersion", str(document.get("schemaVersion", "2.0")))
    root.set("creationDate", str(document.get("creationDate", "")))
    body = etree.SubElement(root, "EPCISBody")
    query_results = etree.SubElement(body, f"{{{NS_QUERY}}}QueryResults")
    writer.sub(query_results, "queryName", results.get("queryName", "SimpleEventQuery"))
    if results.get("subscriptionID"):
        writer.sub(query_results, "subscriptionID", results["subscriptionID"])
    results_body = etree.SubElement(query_results, "resultsBody")
    results_body.append(scratch)
    return _bytes(_renamespaced(root))


def _renamespaced(root: etree._Element) -> etree._Element:
    """The tree with every namespace declared once, on the root."""
    used = {p: u for p, u in root.nsmap.items()}
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if uri not in used.values() and prefix not in used:
                used[prefix] = uri
    fresh = etree.Element(root.tag, nsmap=used, attrib=dict(root.attrib))
    fresh.extend(list(root))
    etree.cleanup_namespaces(fresh, top_nsmap=used)
    return fresh


def capture_job(job: dict[str, Any]) -> bytes:
    """A capture job (``jobs.job_document``) as GS1's ``EPCISCaptureJob`` element."""
    root = etree.Element(f"{{{NS_EPCIS}}}EPCISCaptureJob", nsmap={"epcis": NS_EPCIS})
    root.set("captureID", str(job.get("captureID", "")))
    root.set("running", _scalar(bool(job.get("running"))))
    root.set("success", _scalar(bool(job.get("success"))))
    writer = _Writer(None)
    if job.get("captureErrorBehaviour"):
        writer.sub(root, "captureErrorBehaviour", job["captureErrorBehaviour"])
    for name in ("createdAt", "finishedAt"):
        if job.get(name):
            writer.sub(root, name, job[name])
    errors = etree.SubElement(root, "errors")
    for error in job.get("errors") or []:
        element = etree.SubElement(errors, "error")
        for name in ("type", "title", "status", "detail", "instance"):
            if error.get(name) is not None:
                writer.sub(element, name, error[name])
    if job.get("errorFile"):
        writer.sub(root, "errorFile", job["errorFile"])
    return _bytes(root)


def from_request(raw: bytes, folder: Path | None) -> dict[str, Any]:
    """A request body in XML: parsed safely, validated, as the JSON binding's document."""
    root = parse(raw)
    validate(root, folder)
    return to_json(root)


def prefers_xml(accept: str) -> bool:
    """Whether an ``Accept`` header asks for XML above JSON (wildcards mean JSON)."""
    best = {"xml": 0.0, "json": 0.0}
    for part in accept.split(",")[:50]:
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        kind = "xml" if media in XML_TYPES else \
            "json" if media in ("application/json", "application/ld+json") else None
        if kind is not None:
            best[kind] = max(best[kind], quality)
    return best["xml"] > 0 and best["xml"] > best["json"]
