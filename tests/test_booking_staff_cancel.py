"""Staff cancel a 代预约 (booked at the window or on the phone): through booking's own cancel, the ticket back to its
pool, audited, the family told; only registrars and admins of the appointment's hospital, only 代预约."""
import json

import sqlalchemy as sa

from patient_api.booking.models import Appointment
from patient_api.common.audit import AuditEntry
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Ticket
from patient_api.extensions import db

from .factories import chinese_name
from .pools import elder_id, pooled_schedule, refused, staff

BOOK = "/api/v1/staff/appointments"
LATER = {"release_hours_before": 2}


def book(client, headers, schedule_id, n=960, channel="phone", name=None):
    body = {"id_number": elder_id(n), "name": name or chinese_name(n), "phone": "13900001111",
            "schedule_id": schedule_id, "channel": channel, "payment": "later"}
    made = client.post(BOOK, json=body, headers=headers)
    assert made.status_code == 201, made.json
    return made.json


def cancel(client, headers, appointment_id, reason="本人来电要求取消"):
    return client.post(f"{BOOK}/{appointment_id}/cancel", json={"reason": reason}, headers=headers)


def kept_free(client, schedule_id):
    return client.get(f"/api/v1/schedules/{schedule_id}").json["reserved"]["elder"]


def test_a_registrar_cancels_a_phone_booking_the_ticket_goes_back_to_its_pool_and_the_family_is_told(
        app, client, make):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    registrar = staff(app, client)
    # The elder's daughter has a verified link in the app: she hears of the cancellation.
    family = make.login()
    patient_id = make.patient(family, 961, id_number=elder_id(961), name=chinese_name(961), relation="parent")
    make.verify(family, patient_id)
    slip = book(client, registrar, schedule_id, n=961)
    assert slip["pool"] == "elder" and kept_free(client, schedule_id) == 1
    done = cancel(client, registrar, slip["appointment_id"])
    assert done.status_code == 200, done.json
    assert done.json["status"] == "cancelled" and done.json["appointment_id"] == slip["appointment_id"]
    assert kept_free(client, schedule_id) == 2  # back to the elder pool, not to the public
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket).filter_by(schedule_id=schedule_id,
                                                                seq=slip["queue_no"])).one()
        assert (ticket.status, ticket.reserved_for, ticket.appointment_id) == ("free", "elder", None)
        assert db.session.get(Appointment, slip["appointment_id"]).status == "cancelled"
        audit = db.session.scalars(sa.select(AuditEntry).filter_by(action="booking.staff_cancel")).one()
        assert audit.resource == slip["appointment_id"] and audit.patient_id == patient_id
        told = db.session.scalars(sa.select(OutboxMessage).filter_by(event="booking.cancelled")).all()
        assert [json.loads(row.payload)["reason"] for row in told] == ["本人来电要求取消"]
    refused(cancel(client, registrar, slip["appointment_id"]), 409, "appointment_not_cancellable")
    inbox = client.get("/api/v1/me/messages", headers=family).json["items"]
    assert any(item["title"] == "预约已取消" for item in inbox), inbox


def test_only_counter_and_phone_bookings_of_ones_own_hospital_by_registrars_and_admins(app, client, make):
    schedule_id = pooled_schedule(app, {})
    other = pooled_schedule(app, {}, hospital_code="H2")
    registrar = staff(app, client)
    admin = staff(app, client, role="admin")
    at_window = book(client, registrar, schedule_id, n=962, channel="counter")
    theirs = book(client, staff(app, client, code="H2"), other, n=963)
    refused(cancel(client, registrar, theirs["appointment_id"]), 404, "appointment_not_found")
    refused(cancel(client, registrar, "apt_nothing"), 404, "appointment_not_found")
    for role in ("nurse", "cashier"):
        refused(cancel(client, staff(app, client, role=role), at_window["appointment_id"]), 403, "role_forbidden")
    refused(cancel(client, registrar, at_window["appointment_id"], reason="  "), 422, "validation_error")
    refused(client.post(f"{BOOK}/{at_window['appointment_id']}/cancel", json={}, headers=registrar), 422,
            "validation_error")
    refused(client.post(f"{BOOK}/{at_window['appointment_id']}/cancel", json={"reason": "x"}), 401, "unauthorized")
    headers, patient_id = make.resident()
    in_app = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                         headers=headers).json
    refused(cancel(client, registrar, in_app["id"]), 409, "not_counter_booking")
    with app.app_context():
        assert db.session.get(Appointment, in_app["id"]).status == "pending_payment"
        assert db.session.get(Appointment, at_window["appointment_id"]).status == "pending_payment"  # unchanged
    assert cancel(client, admin, at_window["appointment_id"]).json["status"] == "cancelled"
