"""收费窗口: the cashier finds the patient at the counter by the ID card read there (rate-limited, audited).

The number travels in a POST body only (never a URL or an access log line) and is never stored: the audit row
names the patient when the number is registered, nothing otherwise.
"""

from flask import current_app

from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..accounts.people import patient_by_id_number
from ..common import audit, ratelimit
from ..common.masking import mask_id_number, mask_name
from ..errors import Invalid, NotFound
from ..extensions import db
from .staff import known_here

WINDOW_SECONDS = 600


def find(staff, raw_number):
    """The patient with that ID number, if this hospital has a bill of theirs or credit opened here; 404
    patient_not_found otherwise (the same answer whether or not the number is registered anywhere)."""
    try:
        resident = parse_resident_id("".join(raw_number.split()))  # typed in groups: 370902 19860101 0011
    except InvalidIdNumber as exc:
        raise Invalid(str(exc), code="invalid_id_number", errors={"id_number": [str(exc)]}) from None
    ratelimit.hit("credit-lookup", staff.id, current_app.config["CREDIT_LOOKUP_LIMIT"], WINDOW_SECONDS)
    patient = patient_by_id_number(resident.number)
    if patient is None or not known_here(staff.hospital_id, patient.id):
        audit.record("staff", staff.id, "credit.lookup_not_found", patient_id=patient.id if patient else None,
                     resource=staff.hospital_id)
        db.session.commit()  # kept although the answer is an error
        raise NotFound("未找到该就诊人", code="patient_not_found")
    audit.record("staff", staff.id, "credit.lookup", patient_id=patient.id, resource=staff.hospital_id)
    return {"patient_id": patient.id, **identity(patient)}


def identity(patient):
    """Who the patient is, masked, for the cashier to compare with the person at the window."""
    return {"name": mask_name(patient.name), "id_number": mask_id_number(patient.id_number), "gender": patient.gender}

