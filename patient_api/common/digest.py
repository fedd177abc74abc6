"""Content digests of ingested resources (FHIR, HL7 v2)."""
import hashlib
import json
from dataclasses import asdict
from datetime import date, datetime


def content_hash(value):
    """A stable digest of an input, so a re-sent resource with the same content is recognised and skipped."""
    def encode(obj):
        return obj.isoformat() if isinstance(obj, (date, datetime)) else str(obj)
    text = json.dumps(asdict(value), sort_keys=True, ensure_ascii=False, default=encode)
    return hashlib.sha256(text.encode()).hexdigest()
