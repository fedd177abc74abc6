"""What hospitals and ID cards say about a person: the legal name and the phones on file.

A resident's typing is a claim; a hospital's record, an ID-card chip or a verification is authoritative
and replaces a claimed name, so a stranger's claim never blocks the real person.
"""
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..common import crypto
from ..common.clock import now
from ..common.phone import mobile
from ..extensions import db
from .models import Patient
from .proofs import PersonPhone

log = logging.getLogger(__name__)
# A verification proves who holds the phone, not how the name is spelt: a hospital's record outranks it,
# and an ID-card chip read outranks everything.
RANK = {"claim": 0, "verified": 1, "hospital": 2, "card": 3}


def patient_by_index(person_index):
    """The registered patient of a person index, or None."""
    return db.session.scalars(sa.select(Patient).filter_by(id_number_index=person_index)).first()


def patient_by_id_number(number):
    """The patient with that (normalised) ID number, or None."""
    return patient_by_index(crypto.blind_index(number))


def create_patient(name, resident, name_source):
    """Insert a patient; if someone inserted the same person a moment ago, use theirs (and offer our name)."""
    try:
        with db.session.begin_nested():
            patient = Patient(name=name, name_source=name_source, id_number_enc=crypto.encrypt(resident.number),
                              id_number_index=crypto.blind_index(resident.number), gender=resident.gender,
                              birth_date=resident.birth_date, region_code=resident.region_code)
            db.session.add(patient)
        return patient
    except IntegrityError:
        patient = patient_by_id_number(resident.number)
        adopt_name(patient, name, name_source)
        return patient


def adopt_name(patient, name, source):
    """Take `name` as the legal name when `source` is at least as good as what gave the current one."""
    name = (name or "").strip()
    if name and RANK[source] >= RANK[patient.name_source] and (name, source) != (patient.name, patient.name_source):
        patient.name, patient.name_source = name, source
    return patient


def from_hospital(resident, name, source="hospital"):
    """The patient a hospital (or an ID-card read) names, created from its data when not registered yet."""
    patient = patient_by_id_number(resident.number)
    if patient is None:
        return create_patient(name.strip(), resident, source)
    return adopt_name(patient, name, source)


def record_phone(person_index, raw, source, hospital_id=None, instant=None):
    """Remember a mobile number a hospital holds for the person; junk is ignored (it must not fail an ingest)."""
    number = mobile(raw)
    if number is None or not person_index:
        return False
    instant = instant or now()
    phone_index = crypto.blind_index(number)
    row = db.session.scalars(sa.select(PersonPhone).filter_by(person_index=person_index,
                                                              phone_index=phone_index)).first()
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(PersonPhone(person_index=person_index, phone_enc=crypto.encrypt(number),
                                           phone_index=phone_index, source=source, hospital_id=hospital_id,
                                           first_seen_at=instant, last_seen_at=instant))
            return True
        except IntegrityError:  # the same phone arrived in parallel: theirs is ours
            row = db.session.scalars(sa.select(PersonPhone).filter_by(person_index=person_index,
                                                                      phone_index=phone_index)).one()
    row.last_seen_at, row.source, row.hospital_id = instant, source, hospital_id or row.hospital_id
    return True


def phone_on_file(person_index):
    """The most recently reported mobile of a person, or None."""
    return db.session.scalars(sa.select(PersonPhone).filter_by(person_index=person_index)
                              .order_by(PersonPhone.last_seen_at.desc(), PersonPhone.id).limit(1)).first()
