"""签约居民 priority on referrals: a patient signed with a family-doctor team of the referring clinic may get a public
ticket when none is kept for referrals any more; anyone else stays pool-only (409 referral_tickets_gone)."""
import itertools
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.booking.models import Appointment
from patient_api.common.clock import today_local
from patient_api.directory.models import Hospital, Ticket
from patient_api.extensions import db
from patient_api.family import catalogue
from patient_api.records.models import FamilyDoctorContract

from .pools import refused
from .referrals import API, CLINIC, CLINIC2, World, counts

_seq = itertools.count(1)


def sign(app, patient_id, code):
    """An active contract of the patient with a new team of clinic `code` (as a centre's push linking a team)."""
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code=code)).one()
        team = catalogue.create_team(hospital, f"P{next(_seq)}", "家庭医生团队", 100, [("370911", "范镇村")])
        patient = db.session.get(Patient, patient_id)
        today = today_local()
        db.session.add(FamilyDoctorContract(
            person_index=patient.id_number_index, hospital_id=hospital.id, contract_no=f"QY-P{next(_seq)}",
            team=team.name, doctor="王立新", starts_on=today - timedelta(days=10), ends_on=today + timedelta(days=300),
            status="active", patient_id=patient_id, team_id=team.id))
        db.session.commit()


def ticket(app, appointment_id):
    with app.app_context():
        row = db.session.scalars(sa.select(Ticket).filter_by(appointment_id=appointment_id)).one()
        return row.reserved_for, db.session.get(Appointment, appointment_id).pool


def test_a_patient_signed_with_the_referring_clinics_team_falls_back_to_a_public_ticket(app, client, make):
    w = World(app, client, make, capacity=5)  # 20 % of 5: one ticket kept
    first = w.send(w.up())
    assert first["priority"] is None and ticket(app, first["appointment"]["id"]) == ("referral", "referral")
    _, patient_id, id_number = w.resident()
    sign(app, patient_id, CLINIC)
    second = w.send(w.up(id_number=id_number, report_ids=[]))
    assert second["status"] == "booked" and second["priority"] == "signed"
    assert ticket(app, second["appointment"]["id"]) == (None, None)  # a public ticket
    shown = client.get(f"{API}/staff/referrals/{second['id']}", headers=w.city).json
    assert shown["priority"] == "signed"


def test_unsigned_patients_and_those_signed_elsewhere_stay_pool_only(app, client, make):
    w = World(app, client, make, capacity=5)
    w.send(w.up())
    _, unsigned, unsigned_id = w.resident()
    _, elsewhere, elsewhere_id = w.resident()
    sign(app, elsewhere, CLINIC2)  # a team of another clinic, not the referring one
    before = counts(app)
    for id_number in (unsigned_id, elsewhere_id):
        refused(w.client.post(f"{API}/staff/referrals", json=w.up(id_number=id_number, report_ids=[]),
                              headers=w.clinic), 409, "referral_tickets_gone")
    assert counts(app) == before
    # Sent without a ticket, booked later: the same rule (and nothing changes on the refusal).
    sent = w.send(w.up(id_number=unsigned_id, report_ids=[], schedule_id=None))
    assert sent["priority"] is None
    refused(w.client.post(f"{API}/staff/referrals/{sent['id']}/booking", json={"schedule_id": w.schedule_id},
                          headers=w.clinic), 409, "referral_tickets_gone")
    sign(app, unsigned, CLINIC)  # signs with the clinic's team meanwhile: the next try may take a public ticket
    booked = w.step(w.clinic, sent["id"], "booking", {"schedule_id": w.schedule_id})
    assert booked["status"] == "booked" and booked["priority"] == "signed"
    assert ticket(app, booked["appointment"]["id"]) == (None, None)
    assert w.client.get(f"{API}/staff/referrals/{sent['id']}", headers=w.clinic).json["priority"] == "signed"
