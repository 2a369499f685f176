"""Master data in the EPCIS 2.0 XML binding.

In: an XML document's ``EPCISHeader/extension/EPCISMasterData/VocabularyList`` becomes
the JSON binding's ``epcisHeader.epcisMasterData.vocabularyList`` (``Vocabulary`` ->
``{"type", "vocabularyElementList"}``, ``VocabularyElement`` -> ``{"id", "attributes",
"children"}``, each ``attribute`` -> ``{"id", "attribute"}``: its text, or its child
elements as an object keyed ``prefix:name`` like event extensions), so that the capture
stores it exactly as it stores a JSON header's (``master_data.store``).

Out: the master data a reader may see of one element (``resources.sub_resources``) as
GS1's ``EPCISMasterDataDocument`` (``urn:epcglobal:epcis-masterdata:xsd:2``), its
vocabularies in ``EPCISBody/VocabularyList``. An attribute value that is an object
carries the ``@context`` its keys' prefixes were declared in (``master_data.store`` keeps
it), so its elements are written back in their own namespaces.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from stewardship.core import clock
from stewardship.interop import rules

NS_MASTER_DATA = "urn:epcglobal:epcis-masterdata:xsd:2"


def _local(element: etree._Element, name: str) -> bool:
    qname = etree.QName(element)
    return qname.namespace is None and qname.localname == name


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and _local(c, name)]


def _first(element: etree._Element | None, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _attribute_value(reader: Any, element: etree._Element) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip()
    value: dict[str, Any] = {}
    for child in children:
        reader._put(value, reader.key(child), reader.extension(child))
    return value


def read_header(root: etree._Element, reader: Any) -> dict[str, Any] | None:
    """The JSON binding's ``epcisHeader`` with the XML header's master data (None when the
    document sends none). ``reader`` is ``xml._Reader``: it names extension elements."""
    master = _first(_first(_first(root, "EPCISHeader"), "extension"), "EPCISMasterData")
    vocabulary_list = _first(master, "VocabularyList")
    if vocabulary_list is None:
        return None
    vocabularies = []
    for vocabulary in _children(vocabulary_list, "Vocabulary"):
        elements = []
        for element in _children(_first(vocabulary, "VocabularyElementList"),
                                 "VocabularyElement"):
            item: dict[str, Any] = {"id": (element.get("id") or "").strip()}
            attributes = [{"id": (a.get("id") or "").strip(),
                           "attribute": _attribute_value(reader, a)}
                          for a in _children(element, "attribute")]
            if attributes:
                item["attributes"] = attributes
            children = [(c.text or "").strip()
                        for c in _children(_first(element, "children"), "id")]
            if children:
                item["children"] = children
            elements.append(item)
        vocabularies.append({"type": (vocabulary.get("type") or "").strip(),
                             "vocabularyElementList": elements})
    return {"epcisMasterData": {"vocabularyList": vocabularies}}


def master_data_document(elements: list[dict[str, Any]]) -> bytes:
    """GS1's ``EPCISMasterDataDocument`` of vocabulary elements as
    ``master_data.visible`` gives them (each with its vocabulary ``type``), one
    ``Vocabulary`` per type in the order first met."""
    from stewardship.interop.epcis.xml import _bytes, _renamespaced, _Writer

    root = etree.Element(f"{{{NS_MASTER_DATA}}}EPCISMasterDataDocument",
                         nsmap={"epcismd": NS_MASTER_DATA})
    root.set("schemaVersion", "2.0")
    root.set("creationDate", rules.format_time(clock.now()))
    body = etree.SubElement(root, "EPCISBody")
    vocabulary_list = etree.SubElement(body, "VocabularyList")
    by_type: dict[str, etree._Element] = {}
    for item in elements:
        kind = str(item.get("type", ""))
        if kind not in by_type:
            vocabulary = etree.SubElement(vocabulary_list, "Vocabulary", type=kind)
            by_type[kind] = etree.SubElement(vocabulary, "VocabularyElementList")
        element = etree.SubElement(by_type[kind], "VocabularyElement",
                                   id=str(item.get("id", "")))
        for attribute in item.get("attributes") or []:
            child = etree.SubElement(element, "attribute", id=str(attribute.get("id", "")))
            value = attribute.get("attribute")
            if isinstance(value, dict):
                writer = _Writer(value.get("@context"))
                for key, inner in value.items():
                    if not key.startswith("@"):
                        writer.extension(child, key, inner, nested=True)
            elif isinstance(value, list):
                child.text = " ".join(str(v) for v in value)
            elif isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
        if item.get("children"):
            children = etree.SubElement(element, "children")
            for ident in item["children"]:
                etree.SubElement(children, "id").text = str(ident)
    return _bytes(_renamespaced(root))
