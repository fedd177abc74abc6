"""The health record as the resident reads it (encounters, entries, vitals, family doctor). Family-doctor contracts
are written by patient_api.family (centres' pushes and signing online); the record shows the one in force."""
import json

import sqlalchemy as sa

from ..common.clock import today_local
from ..common.masking import mask_name
from ..directory.services import hospital_names
from ..extensions import db
from . import vitals
from .models import Encounter, FamilyDoctorContract, RecordEntry

SUMMARY_ENCOUNTERS = 10
MAX_ENTRIES = 200
ENCOUNTER_SORT = sa.func.coalesce(Encounter.started_at, Encounter.updated_at)  # never NULL, so it can page
CONTRACT_FIELDS = ("team", "doctor", "phone", "package", "starts_on", "ends_on", "status")
_MEASURED = {}  # "module.function" → source of hospital-measured values (measured_vitals)


def encounter_query(patient):
    """The patient's visits and stays, for the timeline (paged newest first)."""
    return sa.select(Encounter).where(Encounter.person_index == patient.id_number_index)


def render_encounters(encounters):
    """Encounters with their hospital's name."""
    names = hospital_names(e.hospital_id for e in encounters)
    return [{"hospital_name": names.get(e.hospital_id), **{name: getattr(e, name) for name in (
        "id", "hospital_id", "encounter_class", "status", "department", "reason", "started_at", "ended_at")}}
            for e in encounters]


def entries(patient, kind):
    """Conditions, allergies or immunizations, most recent first (undated ones last)."""
    rows = db.session.scalars(sa.select(RecordEntry).where(
        RecordEntry.person_index == patient.id_number_index, RecordEntry.kind == kind)
        .order_by(RecordEntry.recorded_on.is_(None), RecordEntry.recorded_on.desc(), RecordEntry.id)
        .limit(MAX_ENTRIES)).all()
    names = hospital_names(r.hospital_id for r in rows)
    return [{"hospital_name": names.get(r.hospital_id), "detail": json.loads(r.detail) if r.detail else {},
             **{name: getattr(r, name) for name in (
                 "id", "hospital_id", "kind", "code", "code_system", "display", "status", "recorded_on")}}
            for r in rows]


def measured_vitals(source):
    """Decorator: `source(patient)` lists values measured in hospitals, shown after the uploads. Results registers
    its stand-alone observations this way: it imports records (trends include uploads), so records cannot import it."""
    _MEASURED[f"{source.__module__}.{source.__qualname__}"] = source
    return source


def latest_vitals(patient):
    """The newest upload of each kind (with the code its trend is under), then the newest hospital-measured value
    of each code."""
    uploaded = [{"source": "resident", "name": vitals.UNITS[v.kind][3], "code": vitals.KIND_CODE[v.kind], "flag": None,
                 "hospital_id": None, **{name: getattr(v, name) for name in (
                     "kind", "systolic", "diastolic", "value", "unit", "context", "measured_at")}}
                for v in vitals.latest(patient)]
    return uploaded + [value for source in _MEASURED.values() for value in source(patient)]


def active_contract(patient, day=None):
    """The family-doctor contract in force today (the latest one when several overlap), or None."""
    day = day or today_local()
    contract = db.session.scalars(sa.select(FamilyDoctorContract).where(
        FamilyDoctorContract.person_index == patient.id_number_index, FamilyDoctorContract.status == "active",
        FamilyDoctorContract.starts_on <= day, FamilyDoctorContract.ends_on >= day)
        .order_by(FamilyDoctorContract.starts_on.desc(), FamilyDoctorContract.id).limit(1)).first()
    if contract is None:
        return None
    return {**{name: getattr(contract, name) for name in ("id", "contract_no", "hospital_id") + CONTRACT_FIELDS},
            "hospital_name": hospital_names([contract.hospital_id]).get(contract.hospital_id)}


def record(patient):
    """The summary: who (masked), latest encounters, entries, latest vitals, the family doctor."""
    encounters = db.session.scalars(encounter_query(patient).order_by(ENCOUNTER_SORT.desc(), Encounter.id.desc())
                                    .limit(SUMMARY_ENCOUNTERS)).all()
    return {"patient": {"id": patient.id, "name": mask_name(patient.name), "gender": patient.gender,
                        "birth_date": patient.birth_date},
            "encounters": render_encounters(encounters), "conditions": entries(patient, "condition"),
            "allergies": entries(patient, "allergy"), "immunizations": entries(patient, "immunization"),
            "vitals": latest_vitals(patient), "family_doctor": active_contract(patient)}
