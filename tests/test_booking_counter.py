"""代预约 at the registration window and on the phone, the printed slip, and a schedule's 号源预留 set by an admin."""
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.billing.models import Bill, Payment
from patient_api.booking import lifecycle
from patient_api.booking.models import Appointment
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import now
from patient_api.directory.models import Schedule, Ticket
from patient_api.extensions import db

from .factories import resident_id
from .kiosk import Kiosk
from .pools import elder_id, kept, pooled_schedule, refused, staff

BOOK = "/api/v1/staff/appointments"
LATER = {"release_hours_before": 2}


def counts(app):
    """Rows a refused request must not leave behind."""
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Patient, Appointment, Bill, Payment)} | {
            "audit": db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.action.in_(("booking.staff_book", "schedule.reservations"))))}


def body(schedule_id, **changes):
    return {"id_number": elder_id(950), "name": "李秀英", "phone": "13900001111", "schedule_id": schedule_id,
            "channel": "counter"} | changes


def test_a_registrar_books_an_elder_at_the_window_and_the_fee_is_taken_there(app, client):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})  # first: the hospital with its address
    registrar = staff(app, client)
    made = client.post(BOOK, json=body(schedule_id), headers=registrar)
    assert made.status_code == 201, made.json
    slip = made.json
    assert (slip["status"], slip["payment"], slip["pool"], slip["channel"]) == ("booked", "paid", "elder", "counter")
    assert (slip["patient_name"], slip["contact_phone"], slip["pay_before"]) == ("李*英", "139****1111", None)
    assert slip["id_number"] == elder_id(950)[:3] + "*" * 11 + elder_id(950)[-4:]
    assert (slip["hospital_name"], slip["department_name"], slip["doctor_name"]) == ("测试医院H1", "内科", "王医生")
    assert slip["hospital_address"] == "泰山区东岳大街1号" and slip["fee_fen"] == 1200
    assert slip["queue_no"] in kept(app, schedule_id, "elder")
    assert datetime.fromisoformat(slip["check_in_closes_at"]) - datetime.fromisoformat(slip["visit_start"]) \
        == timedelta(minutes=30)
    with app.app_context():
        appointment = db.session.get(Appointment, slip["appointment_id"])
        patient = db.session.get(Patient, appointment.patient_id)
        payment = db.session.scalars(sa.select(Payment).filter_by(bill_id=appointment.bill_id)).one()
        audit = db.session.scalars(sa.select(AuditEntry).filter_by(action="booking.staff_book")).one()
        assert appointment.account_id is None and appointment.booked_via.startswith("counter:stf")
        assert (patient.name, patient.name_source) == ("李秀英", "hospital")
        assert (payment.method, payment.status) == ("counter", "paid")
        assert audit.patient_id == patient.id and json.loads(audit.detail) == {
            "channel": "counter", "payment": "counter", "pool": "elder"}
    again = client.get(f"{BOOK}/{slip['appointment_id']}/slip", headers=registrar)
    assert again.status_code == 200 and again.json["queue_no"] == slip["queue_no"]
    assert again.json["payment"] == "paid"


def test_a_phone_booking_is_held_until_check_in_closes_and_paid_at_a_kiosk(app, client):
    registrar = staff(app, client)
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    made = client.post(BOOK, json=body(schedule_id, id_number=resident_id(951), name="张伟", channel="phone",
                                       phone="0538-6221234"), headers=registrar)
    assert made.status_code == 201, made.json
    slip = made.json
    assert (slip["status"], slip["payment"], slip["pool"], slip["channel"]) == (
        "pending_payment", "unpaid", None, "phone")
    assert slip["pay_before"] == slip["check_in_closes_at"] and slip["contact_phone"] == "053****1234"
    with app.app_context():
        appointment = db.session.get(Appointment, slip["appointment_id"])
        ticket = db.session.get(Ticket, appointment.ticket_id)
        assert ticket.hold_expires_at == appointment.hold_expires_at == appointment.visit_start + timedelta(minutes=30)
        assert db.session.get(Patient, appointment.patient_id).name_source == "claim"  # only heard on the phone
        assert lifecycle.sweep_expired_holds(instant=now() + timedelta(hours=1)) == 0
        db.session.commit()
    kiosk.card(method="id_card", id_number=resident_id(951), name="张伟")
    bills = kiosk.call("GET", "/api/v1/kiosk/bills").json["items"]
    assert [(b["kind"], b["status"]) for b in bills] == [("registration", "unpaid")]
    paying = kiosk.call("POST", f"/api/v1/kiosk/bills/{bills[0]['id']}/payments")
    assert paying.status_code == 201 and paying.json["code_url"]


def test_an_admin_may_book_too_and_a_free_clinic_needs_no_payment(app, client):
    admin = staff(app, client, role="admin")
    schedule_id = pooled_schedule(app, {}, fee_fen=0)
    made = client.post(BOOK, json=body(schedule_id, id_number=resident_id(952), name="王芳"), headers=admin)
    assert made.status_code == 201, made.json
    assert (made.json["status"], made.json["payment"], made.json["pay_before"]) == ("booked", "free", None)


@pytest.mark.parametrize(("changes", "status", "code", "field"), [
    ({"id_number": elder_id(950)[:-1] + ("1" if elder_id(950)[-1] == "0" else "0")}, 422, "validation_error",
     "id_number"),
    ({"name": "Robert'); DROP"}, 422, "validation_error", "name"),
    ({"name": "12345"}, 422, "validation_error", "name"),
    ({"phone": "12345"}, 422, "invalid_phone", "phone"),
    ({"channel": "fax"}, 422, "validation_error", "channel"),
    ({"channel": "phone", "payment": "counter"}, 422, "validation_error", "payment"),
    ({"payment": "cash"}, 422, "validation_error", "payment"),
    ({"slot_start": "2020-01-01T08:00:00+08:00"}, 422, "invalid_slot", "slot_start"),
    ({"colour": "red"}, 422, "validation_error", "colour"),
    ({"schedule_id": None}, 422, "validation_error", "schedule_id"),
])
def test_bad_input_is_refused_in_chinese_and_nothing_is_stored(app, client, changes, status, code, field):
    registrar = staff(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    before = counts(app)
    answer = client.post(BOOK, json=body(schedule_id) | changes, headers=registrar)
    refused(answer, status, code)
    assert field in answer.json["errors"]
    assert counts(app) == before
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 8


def test_a_name_other_than_the_one_on_record_is_refused(app, client):
    registrar = staff(app, client)
    kiosk = Kiosk(app, client)
    kiosk.card(method="id_card", id_number=elder_id(953), name="李秀英")  # the chip's name is on record now
    schedule_id = pooled_schedule(app, {})
    before = counts(app)
    refused(client.post(BOOK, json=body(schedule_id, id_number=elder_id(953), name="李秀兰"), headers=registrar),
            422, "name_mismatch")
    assert counts(app) == before


def test_only_registrars_and_admins_of_the_schedules_hospital_may_book(app, client, make):
    schedule_id = pooled_schedule(app, {})
    other_hospital = pooled_schedule(app, {}, hospital_code="H2")
    registrar = staff(app, client)
    resident, _ = make.resident()
    refused(client.post(BOOK, json=body(schedule_id)), 401, "unauthorized")
    refused(client.post(BOOK, json=body(schedule_id), headers=resident), 401, "session_expired")
    for role in ("nurse", "cashier", "dispatcher"):
        refused(client.post(BOOK, json=body(schedule_id), headers=staff(app, client, role=role)), 403,
                "role_forbidden")
    before = counts(app)
    refused(client.post(BOOK, json=body(other_hospital), headers=registrar), 404, "schedule_not_found")
    refused(client.post(BOOK, json=body("sch_nothing"), headers=registrar), 404, "schedule_not_found")
    assert counts(app) == before
    theirs = client.post(BOOK, json=body(other_hospital), headers=staff(app, client, code="H2")).json
    refused(client.get(f"{BOOK}/{theirs['appointment_id']}/slip", headers=registrar), 404, "appointment_not_found")
    refused(client.get(f"{BOOK}/{theirs['appointment_id']}/slip", headers=staff(app, client, role="nurse", code="H2")),
            403, "role_forbidden")


def test_the_window_looks_up_a_person_before_booking(app, client):
    registrar = staff(app, client)
    kiosk = Kiosk(app, client)
    kiosk.card(method="id_card", id_number=elder_id(954), name="李秀英")
    known = client.post("/api/v1/staff/patient-lookup", json={"id_number": elder_id(954)}, headers=registrar)
    assert known.status_code == 200
    assert known.json["known"] is True and known.json["name"] == "李*英" and known.json["elder"] is True
    assert known.json["age"] >= 65 and known.json["gender"] in ("male", "female")
    unknown = client.post("/api/v1/staff/patient-lookup", json={"id_number": resident_id(955)}, headers=registrar)
    assert (unknown.json["known"], unknown.json["name"], unknown.json["elder"]) == (False, None, False)
    refused(client.post("/api/v1/staff/patient-lookup", json={"id_number": "123"}, headers=registrar), 422,
            "validation_error")
    refused(client.post("/api/v1/staff/patient-lookup", json={"id_number": elder_id(954)},
                        headers=staff(app, client, role="nurse")), 403, "role_forbidden")


def reservations_path(schedule_id):
    return f"/api/v1/staff/schedules/{schedule_id}/reservations"


def pool_state(answer, pool):
    return next(p for p in answer.json["pools"] if p["pool"] == pool)


def test_an_admin_changes_what_a_schedule_keeps_back(app, client):
    admin, registrar = staff(app, client, role="admin"), staff(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    assert client.post(BOOK, json=body(schedule_id), headers=registrar).json["pool"] == "elder"
    seen = client.get(reservations_path(schedule_id), headers=registrar)
    assert seen.status_code == 200
    assert {k: pool_state(seen, "elder")[k] for k in ("share", "kept", "free", "used", "released")} == {
        "share": 0.2, "kept": 2, "free": 1, "used": 1, "released": 0}
    more = client.put(reservations_path(schedule_id), headers=admin, json={"reserved": {
        "elder": {"share": 0.4, **LATER}, "referral": {"share": 0.1, "release_at": (now() + timedelta(hours=3))
                                                       .isoformat()}}})
    assert more.status_code == 200, more.json
    assert (pool_state(more, "elder")["kept"], pool_state(more, "elder")["free"]) == (4, 3)
    assert (pool_state(more, "referral")["kept"], pool_state(more, "referral")["free"]) == (1, 1)
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 5
    none = client.put(reservations_path(schedule_id), headers=admin, json={"reserved": {}})
    assert (pool_state(none, "elder")["kept"], pool_state(none, "elder")["used"]) == (1, 1)  # the booked one stays
    assert pool_state(none, "referral")["kept"] == 0 and none.json["reserved"] == {}
    public = client.get(f"/api/v1/schedules/{schedule_id}").json
    assert (public["available"], public["reserved"]) == (9, {"referral": 0, "elder": 0, "family_team": 0})
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEntry.action).where(
            AuditEntry.action == "schedule.reservations")).all()
    assert len(actions) == 2


@pytest.mark.parametrize(("reserved", "code"), [
    ({"vip": {"share": 0.1, **LATER}}, "validation_error"),
    ({"elder": {"share": 1.5, **LATER}}, "validation_error"),
    ({"elder": {"share": 0.6, **LATER}, "referral": {"share": 0.5, **LATER}}, "validation_error"),
    ({"elder": {"share": 0.1}}, "validation_error"),
    ({"elder": {"share": 0.1, "release_hours_before": 2, "release_at": "2030-01-01T08:00:00+08:00"}},
     "validation_error"),
    ({"elder": {"share": 0.1, "release_hours_before": -1}}, "validation_error"),
    ({"elder": {"share": 0.1, "release_at": "2199-01-01T08:00:00+08:00"}}, "release_after_session"),
    ({"elder": {"share": "lots", **LATER}}, "validation_error"),
])
def test_bad_reservations_are_refused_and_change_nothing(app, client, reserved, code):
    admin = staff(app, client, role="admin")
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    before = kept(app, schedule_id)
    refused(client.put(reservations_path(schedule_id), json={"reserved": reserved}, headers=admin), 422, code)
    assert kept(app, schedule_id) == before
    with app.app_context():
        assert db.session.get(Schedule, schedule_id).reservations == {"elder": {"share": 0.2, **LATER}}


def test_reservations_are_the_admins_of_that_hospital(app, client):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    other = pooled_schedule(app, {}, hospital_code="H2")
    admin = staff(app, client, role="admin")
    change = {"reserved": {}}
    refused(client.put(reservations_path(schedule_id), json=change), 401, "unauthorized")
    for role in ("registrar", "nurse", "cashier"):
        refused(client.put(reservations_path(schedule_id), json=change, headers=staff(app, client, role=role)), 403,
                "role_forbidden")
    refused(client.get(reservations_path(schedule_id), headers=staff(app, client, role="nurse")), 403,
            "role_forbidden")
    refused(client.put(reservations_path(other), json=change, headers=admin), 404, "schedule_not_found")
    refused(client.get(reservations_path(other), headers=admin), 404, "schedule_not_found")
    assert kept(app, schedule_id, "elder") and not kept(app, other)


def test_an_ended_or_stopped_schedule_keeps_its_reservations(app, client):
    admin = staff(app, client, role="admin")
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    with app.app_context():
        db.session.get(Schedule, schedule_id).stopped = True
        db.session.commit()
    refused(client.put(reservations_path(schedule_id), json={"reserved": {}}, headers=admin), 409, "schedule_closed")
    assert len(kept(app, schedule_id, "elder")) == 2


def test_every_staff_endpoint_wants_a_staff_session(app, client, make):
    schedule_id = pooled_schedule(app, {})
    resident, _ = make.resident()
    calls = [("post", "/api/v1/staff/patient-lookup", {"id_number": elder_id(956)}),
             ("post", BOOK, body(schedule_id)),
             ("get", f"{BOOK}/apt_x1/slip", None),
             ("get", reservations_path(schedule_id), None),
             ("put", reservations_path(schedule_id), {"reserved": {}})]
    for method, path, payload in calls:
        refused(getattr(client, method)(path, json=payload), 401, "unauthorized")
        refused(getattr(client, method)(path, json=payload, headers=resident), 401, "session_expired")
    assert counts(app) == {"Patient": 1, "Appointment": 0, "Bill": 0, "Payment": 0, "audit": 0}  # the resident's own
