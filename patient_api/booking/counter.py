"""代预约: registration-window staff book for a resident at the counter or on the phone, with no WeChat account.

The patient is found or created by ID number as a kiosk does; an elder (65+) takes from the elder pool first.
Paid at the counter, the booking is confirmed at once; paid later, the hold lasts until check-in closes, so the
resident can pay at a kiosk or window on arrival. Every step is in the audit trail.
"""
from datetime import timedelta

import phonenumbers
from flask import current_app

from ..accounts import people
from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..accounts.models import Patient
from ..accounts.staff import Staff
from ..billing.models import Bill
from ..billing.payments import record_counter_payment
from ..common import audit, crypto
from ..common.auth import current_staff_id
from ..common.clock import now, to_local
from ..common.locking import lock_row
from ..directory.models import Schedule
from ..errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from ..extensions import db
from . import eligibility, lifecycle, notices, services, tickets
from .models import Appointment

# What each staff role may do here: 挂号窗口 books and prints; only a hospital admin changes 号源预留.
RIGHTS = {"book": ("registrar", "admin"), "reservations": ("admin",), "view_reservations": ("registrar", "admin")}
STAFF_CHANNELS = ("counter", "phone")  # booked_via prefixes of 代预约: only those staff cancel here


def current_staff(right):
    """The signed-in staff member, allowed `right` (401 without a session, 403 role_forbidden)."""
    staff = db.session.get(Staff, current_staff_id())
    if staff is None:
        raise Unauthorized("登录已过期，请重新登录", code="session_expired")
    if staff.role not in RIGHTS[right]:
        raise Forbidden("当前角色无权执行该操作", code="role_forbidden")
    return staff


def hospital_schedule(staff, schedule_id):
    """A schedule of the staff member's hospital; 404 for any other (other hospitals' ids reveal nothing)."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or schedule.hospital_id != staff.hospital_id:
        raise NotFound("未找到该排班", code="schedule_not_found")
    return schedule


def hospital_appointment(staff, appointment_id):
    """An appointment at the staff member's hospital; 404 otherwise."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.hospital_id != staff.hospital_id:
        raise NotFound("未找到该预约", code="appointment_not_found")
    return appointment


def resident_of(id_number):
    """The parsed ID number; 422 with the reason on the field."""
    try:
        return parse_resident_id(id_number)
    except InvalidIdNumber as exc:
        raise Invalid(str(exc), errors={"id_number": [str(exc)]}) from None


def lookup(staff, id_number, instant=None):
    """What the window may know before booking: registered or not, the masked name, age and the elder rule."""
    resident = resident_of(id_number)
    patient = people.patient_by_id_number(resident.number)
    today = to_local(instant or now()).date()
    age = eligibility.age_on(resident.birth_date, today)
    audit.record("staff", staff.id, "booking.patient_lookup", patient_id=patient.id if patient else None)
    return {"known": patient is not None, "name": patient.name if patient else None, "gender": resident.gender,
            "age": age, "elder": age >= eligibility.ELDER_AGE}


def patient_for(id_number, name, channel):
    """The patient of that ID number, created on first use (the name the staff member read off the card, or was
    told on the phone); 422 name_mismatch when the name differs from one a hospital or card already gave."""
    resident = resident_of(id_number)
    name = name.strip()
    patient = people.patient_by_id_number(resident.number)
    source = "hospital" if channel == "counter" else "claim"  # at the counter the staff member saw the ID card
    if patient is None:
        return people.create_patient(name, resident, source)
    if patient.name_is_authoritative and patient.name != name:
        raise Invalid("姓名与身份证号登记的姓名不一致，请核对", code="name_mismatch",
                      errors={"name": ["与该身份证号登记的姓名不一致"]})
    return people.adopt_name(patient, name, source)


def contact_phone(raw):
    """A mainland mobile or landline as digits (0 and area code for a landline); 422 otherwise."""
    try:
        parsed = phonenumbers.parse(str(raw).strip(), "CN")
        valid = parsed.country_code == 86 and phonenumbers.is_valid_number(parsed)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise Invalid("联系电话格式不正确", code="invalid_phone", errors={"phone": ["应为手机号或带区号的固定电话"]})
    return "".join(ch for ch in phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                   if ch.isdigit())


def book(staff, body, instant=None):
    """Book for the resident named in `body`; returns the appointment (paid at the counter, or held until
    check-in closes for payment later)."""
    instant = instant or now()
    # One staff member's bookings run one at a time; on SQLite this also opens the write transaction, so the
    # savepoint that creates the patient stays inside it and a refused booking leaves no patient behind.
    lock_row(Staff, staff.id, keep_keys=True)
    schedule = hospital_schedule(staff, body["schedule_id"])
    phone = contact_phone(body["phone"]) if body.get("phone") else None
    patient = patient_for(body["id_number"], body["name"], body["channel"])
    db.session.flush()
    appointment = services.book(None, patient.id, schedule.id, instant, via=f"{body['channel']}:{staff.id}",
                                slot_start=body.get("slot_start"))
    appointment.contact_phone_enc = crypto.encrypt(phone) if phone else None
    if appointment.bill_id and body["payment"] == "counter":
        record_counter_payment(db.session.get(Bill, appointment.bill_id), instant)
    elif appointment.bill_id:
        until = appointment.visit_start + timedelta(minutes=current_app.config["CHECKIN_LATE_MINUTES"])
        tickets.extend_hold(appointment.id, until)
        appointment.hold_expires_at = until
    db.session.flush()
    db.session.refresh(appointment)
    audit.record("staff", staff.id, "booking.staff_book", patient_id=patient.id, resource=appointment.id,
                 channel=body["channel"], payment=body["payment"] if appointment.bill_id else "free",
                 pool=appointment.pool)
    return appointment


def cancel(staff, appointment_id, reason, instant=None):
    """Cancel a 代预约 of the staff member's hospital (the resident asked at the window or on the phone) through
    booking's own cancel: the ticket goes back to its pool, a paid fee is refunded, the family is told.

    404 for another hospital's appointment; 409 not_counter_booking for one booked another way (the resident cancels
    those in the app, a referral through its referral); booking's own 409s (state, cancel deadline) otherwise.
    """
    instant = instant or now()
    appointment = hospital_appointment(staff, appointment_id)
    if eligibility.channel_of(appointment.booked_via) not in STAFF_CHANNELS:
        raise Conflict("该预约不是窗口或电话代预约，请由预约人自行取消", code="not_counter_booking")
    lifecycle.cancel(appointment, instant, cause="staff")
    notices.cancelled(appointment, reason)
    audit.record("staff", staff.id, "booking.staff_cancel", patient_id=appointment.patient_id,
                 resource=appointment.id, reason=reason, channel=eligibility.channel_of(appointment.booked_via))
    return appointment


def slip(appointment, instant=None):
    """What the printed slip says: when, where, which number, how to pay and check in."""
    instant = instant or now()
    patient = db.session.get(Patient, appointment.patient_id)
    hospital, schedule = appointment.hospital, appointment.schedule
    config = current_app.config
    opens, closes = appointment.check_in_window(config["CHECKIN_OPENS_MINUTES"], config["CHECKIN_LATE_MINUTES"])
    bill = db.session.get(Bill, appointment.bill_id) if appointment.bill_id else None
    phone = crypto.decrypt(appointment.contact_phone_enc) if appointment.contact_phone_enc else None
    return {"appointment_id": appointment.id, "status": lifecycle.effective_status(appointment, instant),
            "hospital_name": hospital.name, "hospital_address": hospital.address,
            "department_name": appointment.department.name, "doctor_name": schedule.doctor.name,
            "doctor_title": schedule.doctor.title, "fee_kind": schedule.fee_kind, "visit_date": appointment.visit_date,
            "period": schedule.period, "visit_start": appointment.visit_start, "visit_end": appointment.visit_end,
            "queue_no": appointment.queue_no, "patient_name": patient.name, "id_number": patient.id_number,
            "contact_phone": phone, "fee_fen": appointment.fee_fen,
            "payment": "free" if bill is None else ("paid" if bill.status == "paid" else "unpaid"),
            "pay_before": appointment.hold_expires_at if bill is not None and bill.status != "paid" else None,
            "check_in_opens_at": opens, "check_in_closes_at": closes, "pool": appointment.pool,
            "channel": eligibility.channel_of(appointment.booked_via), "printed_at": instant}
