"""Storing encounters, conditions, allergies and immunizations idempotently."""
import json

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..common.clock import now
from ..common.digest import content_hash
from ..extensions import db
from .models import Encounter, RecordEntry

ENCOUNTER_FIELDS = ("encounter_class", "status", "department", "reason", "started_at", "ended_at")
ENTRY_FIELDS = ("code", "code_system", "display", "status", "recorded_on")


def _upsert(model, keys, person_index, values, digest, instant):
    """Insert, or update when the content changed; returns "created", "updated" or "skipped"."""
    row = db.session.scalars(sa.select(model).filter_by(**keys)).first()
    if row is not None and row.content_hash == digest and row.person_index == person_index:
        return "skipped"
    outcome = "updated" if row is not None else "created"
    if row is None:
        row = model(**keys)
    for name, value in values.items():
        setattr(row, name, value)
    row.person_index, row.content_hash, row.updated_at = person_index, digest, instant
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:  # a parallel delivery inserted it first
        return "skipped"
    return outcome


def save_encounter(hospital, person_index, encounter_in, instant=None):
    """One visit or stay."""
    values = {name: getattr(encounter_in, name) for name in ENCOUNTER_FIELDS}
    return _upsert(Encounter, {"hospital_id": hospital.id, "source_id": encounter_in.source_id}, person_index,
                   values, content_hash(encounter_in), instant or now())


def save_entry(hospital, person_index, entry_in, instant=None):
    """One condition, allergy or immunization."""
    values = {name: getattr(entry_in, name) for name in ENTRY_FIELDS}
    values["detail"] = json.dumps(entry_in.detail, ensure_ascii=False, sort_keys=True) if entry_in.detail else None
    return _upsert(RecordEntry, {"hospital_id": hospital.id, "kind": entry_in.kind, "source_id": entry_in.source_id},
                   person_index, values, content_hash(entry_in), instant or now())
