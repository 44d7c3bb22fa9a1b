"""Hardened XML parsing for untrusted documents (TED downloads, imported files).

Notices never need a DTD, so a document that declares one is refused outright: that closes
XXE (external entities), entity-expansion bombs and network look-ups in one rule, before lxml
sees the bytes. The lxml parser itself is also configured not to resolve entities, load DTDs
or touch the network, and to keep its default size limits (no `huge_tree`).
"""

from __future__ import annotations

import re

from lxml import etree

from monitor.errors import InputError, UnsafeXMLError

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, origin: str) -> etree._Element:
    """The root element of `data`, or `InputError`/`UnsafeXMLError` naming `origin` and why."""
    if not data or not data.strip():
        raise InputError(origin, "empty file")
    # A DOCTYPE can only come before the root element; look in the prolog only, so that a
    # notice whose text mentions "<!DOCTYPE" (escaped) is not refused.
    root_start = re.search(rb"<[A-Za-z_]", data)
    prolog = data[: root_start.start()] if root_start else data
    if _DOCTYPE.search(prolog) or (
        # UTF-16 documents hide the prolog from the byte regex; decode a small head to check.
        data[:2] in (b"\xff\xfe", b"\xfe\xff")
        and "<!DOCTYPE" in data[:4096].decode("utf-16", "ignore").upper()
    ):
        raise UnsafeXMLError(origin, "the document declares a DTD or entities, which notices never need")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise InputError(origin, f"malformed XML: {error.msg} (line {error.lineno})") from error
    except ValueError as error:  # e.g. an encoding declaration lxml cannot honour
        raise InputError(origin, f"unreadable XML: {error}") from error
    if root is None:
        raise InputError(origin, "no root element")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXMLError(origin, "the document declares a DTD, which notices never need")
    return root
