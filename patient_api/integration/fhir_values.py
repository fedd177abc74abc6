"""Small FHIR helpers shared by the mappers: errors with paths, times, codes, source ids, attachments."""
import hashlib
import html
import math
import re
from datetime import date, datetime, time, timezone
from decimal import Decimal

from ..common.clock import LOCAL, local_dt
from ..results import rules

LOINC = "http://loinc.org"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
TEXT_TYPES = ("text/plain", "text/html")
MAX_DOCUMENT_BYTES = 1024 * 1024
TAG = re.compile(r"<[^>]+>")


class OutOfRange(ValueError):
    """A valid FHIR time that cannot be shown in UTC (year 1 or 9999 near the edge)."""


def instant(value):
    """A FHIR date, dateTime or instant as an aware UTC datetime; dates mean local midnight."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=LOCAL)
            aware.astimezone(LOCAL)  # every answer shows it in Asia/Shanghai: that must not overflow later
            return aware.astimezone(timezone.utc)
        return local_dt(day(value), time(0))
    except OverflowError:
        raise OutOfRange(str(value)) from None


def day(value):
    """A FHIR date or dateTime as a local calendar date (a partial date means its first day)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return instant(value).astimezone(LOCAL).date()
        except OverflowError:
            raise OutOfRange(str(value)) from None
    if isinstance(value, date):
        return value
    parts = [int(part) for part in str(value).split("-")[:2]]  # fhir_core keeps "2026" and "2026-01" as text
    return date(parts[0], parts[1] if len(parts) > 1 else 1, 1)


def clip(text, limit):
    """Free text cut to the column's width (None stays None)."""
    return None if text is None else str(text)[:limit]


def number(value):
    """A FHIR decimal as text exactly as sent (no float noise) and as a finite float."""
    if value is None:
        return None, None
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    as_float = float(value)
    return text, as_float if math.isfinite(as_float) else None


def pick(concept, prefer=LOINC):
    """The coding to use from a CodeableConcept: the preferred system's, else the first with a code."""
    codings = [c for c in (concept.coding or []) if c.code] if concept else []
    return next((c for c in codings if c.system == prefer), codings[0] if codings else None)


def concept_text(concept):
    """What a person reads for a CodeableConcept: its text, else a coding's display, else a code."""
    if concept is None:
        return None
    if concept.text:
        return concept.text
    codings = concept.coding or []
    return next((c.display for c in codings if c.display), next((c.code for c in codings if c.code), None))


def coding_code(concept):
    """The first code of a CodeableConcept (statuses such as clinicalStatus)."""
    coding = pick(concept, prefer=None)
    return coding.code if coding else None


def fit(source_id, limit=128):
    """A source id that fits its column: long ones are replaced by their digest, which is just as stable."""
    if len(source_id) <= limit:
        return source_id
    return "sha256:" + hashlib.sha256(source_id.encode()).hexdigest()


def identifier_key(identifiers):
    """system|value of the first business identifier that has a value."""
    for ident in identifiers or []:
        if ident and ident.value:
            return f"{ident.system or ''}|{ident.value}"
    return None


def sensitive(resource):
    """Restricted confidentiality (R, V) or an HIV/mental-health/genetics label in meta.security."""
    for label in (resource.meta.security or []) if resource.meta else []:
        if label.code in ("R", "V") and label.system in (None, CONFIDENTIALITY):
            return True
        if label.code in rules.SENSITIVE_LABELS - {"R", "V"}:  # policy labels, whatever system names them
            return True
    return False


def plain_text(markup):
    """Narrative XHTML as plain text (tags dropped, entities decoded)."""
    return html.unescape(TAG.sub(" ", markup or "")).strip() or None


def text_type(attachment):
    """True for a text/plain or text/html attachment."""
    return (attachment.contentType or "").split(";")[0].strip().lower() in TEXT_TYPES


def attachment_text(attachment, path, problems):
    """The text of an inline text/plain or text/html attachment; anything else is a problem at `path`."""
    if not text_type(attachment):
        problems.add(f"{path}.contentType", "只接受 text/plain 或 text/html 文本")
        return None
    if not attachment.data:
        problems.add(f"{path}.data", "需要内嵌的 base64 文本 (data)")
        return None
    if len(attachment.data) > MAX_DOCUMENT_BYTES:  # fhir_core has already decoded the base64
        problems.add(f"{path}.data", "文档超过 1 MB")
        return None
    try:
        return bytes(attachment.data).decode("utf-8")
    except UnicodeDecodeError:
        problems.add(f"{path}.data", "不是 UTF-8 编码的文本")
        return None
