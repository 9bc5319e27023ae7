"""Civil-status system connector (sources.md §4): one XML document per message.

The document is untrusted: bad UTF-8, any `<!ENTITY` (even in a comment) and XML that is not
well-formed are `DECODE_ERROR`; it is parsed by defusedxml with entities refused and nothing
fetched; a plain DOCTYPE is accepted. The XML declaration's encoding is ignored (the contract
says UTF-8). Element text is trimmed of XML whitespace; an empty element is absent; of an
element given more than once, the last one counts (as for JSON fields).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors._base import Context, Decoded, Reason
from connectors._identity import Invalid, guarded, make_event
from connectors._json import show
from connectors._times import BadTime, civil_time
from hub.domain.events import CivilStatus, EventKind, Source

NAMESPACE = "urn:hotich:sukien:1"
ROOT = f"{{{NAMESPACE}}}SuKienHoTich"
_XML_SPACE = " \t\r\n"
_STATUSES = {s.value: s for s in CivilStatus}
_RESULT = {CivilStatus.DA_CO_KET_QUA: True, CivilStatus.TU_CHOI: False}


def _parse(raw: bytes) -> Element:
    try:
        doc = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(Reason.DECODE_ERROR, f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if "<!ENTITY" in doc:
        raise Invalid(Reason.DECODE_ERROR, "the document declares an entity (<!ENTITY)")
    try:
        root: Element = fromstring(
            doc, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except (ParseError, DefusedXmlException, ValueError) as bad:
        raise Invalid(Reason.DECODE_ERROR, f"not well-formed XML: {bad}") from None
    return root


def _fields(root: Element) -> dict[str, str]:
    """The root's child elements in the namespace, by local name: trimmed text, empty left out."""
    prefix = f"{{{NAMESPACE}}}"
    values: dict[str, str] = {}
    for child in root:
        tag: Any = child.tag
        if not isinstance(tag, str) or not tag.startswith(prefix):
            continue
        name = tag[len(prefix) :]
        value = "".join(child.itertext()).strip(_XML_SPACE)
        if value:
            values[name] = value
        else:
            values.pop(name, None)
    return values


@guarded("civil")
def decode(raw: bytes, ctx: Context) -> Decoded:
    """Decode one civil-status event document into one event or one rejection."""
    root = _parse(raw)
    if root.tag != ROOT:
        raise Invalid(Reason.SCHEMA_ERROR, f"root element {show(root.tag)} is not {ROOT}")
    f = _fields(root)
    onestop_code, civil_id = f.get("MaHoSoMotCua"), f.get("SoHoSo")
    if onestop_code is None and civil_id is None:
        raise Invalid(Reason.NO_DOSSIER_KEY, "neither MaHoSoMotCua nor SoHoSo")
    if "TrangThai" not in f:
        raise Invalid(Reason.SCHEMA_ERROR, "TrangThai is missing")
    status = _STATUSES.get(f["TrangThai"])
    if status is None:
        raise Invalid(Reason.UNKNOWN_STATUS, f"unknown TrangThai {show(f['TrangThai'])}")
    if "MaSuKien" not in f:
        raise Invalid(Reason.SCHEMA_ERROR, "MaSuKien is missing")
    if "ThoiGian" not in f:
        raise Invalid(Reason.SCHEMA_ERROR, "ThoiGian is missing")
    try:
        at = civil_time(f["ThoiGian"])
    except BadTime as exc:
        raise Invalid(Reason.BAD_TIME, str(exc)) from None
    fields = {
        "event_id": f["MaSuKien"],
        "source": Source.CIVIL,
        "kind": EventKind.CIVIL,
        "dossier_code": onestop_code or f"civil:{civil_id}",
        "onestop_code": onestop_code,
        "sector_id": f"civil:{civil_id}" if civil_id is not None else None,
        "event_time": at,
        "civil_status": status,
        "with_result": _RESULT.get(status),
        "holder_unit": f.get("CoQuan"),
        "holder_officer": f.get("CanBo"),
        "procedure_code": f.get("MaTTHC"),
        "note": f.get("LoaiViec"),
    }
    return Decoded(events=[make_event(ctx, None, fields)])
