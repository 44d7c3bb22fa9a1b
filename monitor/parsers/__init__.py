"""Pure parsers from TED documents (eForms UBL or TED XML R2.0.8/R2.0.9) to `Notice`s.

One entry point, `parse_document(data, origin)`: bytes in, a normalised and validated notice
out. It parses with the hardened `monitor.xmlsafe.parse_xml`, recognises the format by the root
element and hands over to `parse_eforms` or `parse_ted_xml`. Used by the TED spider and by
`import`, and tested on saved documents without a crawl.

Errors: `UnsafeXMLError` (DTD/entities), `InputError` (not well-formed, or a notice that cannot
meet the contract, naming the field), `UnknownSchemaError` (well-formed XML of another kind).
All carry `origin` (file name, URL or archive member) in their message.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from monitor.contract import Notice
from monitor.errors import UnknownSchemaError
from monitor.parsers.eforms import ROOT_NAMESPACES, parse_eforms
from monitor.parsers.tedxml import parse_ted_xml
from monitor.xmlsafe import parse_xml

__all__ = ["detect_format", "parse_document", "parse_eforms", "parse_ted_xml"]

_EFORMS_ROOTS: Final = {f"{{{ns}}}{name}" for name, ns in ROOT_NAMESPACES.items()}


def detect_format(root: etree._Element) -> str | None:
    """The format of a parsed document from its root element: "eforms", "ted-xml" or None."""
    tag = root.tag
    if not isinstance(tag, str):
        return None
    if tag in _EFORMS_ROOTS:
        return "eforms"
    # TED XML's namespace changed with every schema release (R2.0.8, R2.0.9.S01 to S05, some
    # without namespace): the root's local name is what identifies it.
    if etree.QName(tag).localname == "TED_EXPORT":
        return "ted-xml"
    return None


def parse_document(data: bytes, origin: str) -> Notice:
    """The notice in `data` (an eForms or TED XML document); raises an `InputError` subclass."""
    root = parse_xml(data, origin)
    kind = detect_format(root)
    if kind == "eforms":
        return parse_eforms(root, origin)
    if kind == "ted-xml":
        return parse_ted_xml(root, origin)
    raise UnknownSchemaError(
        origin,
        f"root element {root.tag!r} is neither an eForms notice "
        f"({', '.join(ROOT_NAMESPACES)}) nor TED XML (TED_EXPORT)",
    )
