"""The sending side: create a referral (up, with its ticket booked at once when a schedule is given; down, with the
plan and follow-up for the clinic), book an up-referral's ticket later, cancel."""
from ..accounts.staff import Staff
from ..booking.counter import contact_phone
from ..common import crypto
from ..common.clock import now
from ..common.ids import new_id
from ..common.locking import lock_row
from ..directory.models import Department, Hospital
from ..errors import Invalid
from ..extensions import db
from . import booking, destinations, lookup, notices, states
from .access import audited, require_side
from .models import Referral, ReferralReport


def consent_required():
    """422: the patient's (or guardian's) consent must be recorded before a referral is sent."""
    return Invalid("转诊须经患者或其监护人知情同意，请记录同意方式", code="consent_required",
                   errors={"consent": ["请填写知情同意（by、method）"]})


def create(staff, body, instant=None):
    """Send a referral from the staff member's hospital; returns it. With `schedule_id` (up) the ticket is booked
    first: when none is kept any more nothing is stored (409 referral_tickets_gone)."""
    instant = instant or now()
    consent = body.get("consent")
    if not consent:
        raise consent_required()
    # One referrer's sends run one at a time (an Idempotency-Key retry waits for the first instead of racing it).
    lock_row(Staff, staff.id, keep_keys=True)
    direction = body["direction"]
    patient = lookup.patient_of(body["id_number"])
    hospital, department = destinations.destination(staff, direction, body["to_hospital_id"],
                                                    body.get("to_department_id"))
    reports = lookup.shared(staff.hospital_id, patient, body.get("report_ids") or [])
    phone = contact_phone(body["phone"]) if body.get("phone") else None
    referral_id = new_id("ref")
    appointment = None
    priority = booking.priority(patient.id, staff.hospital_id, instant) if direction == "up" else None
    if body.get("schedule_id"):
        schedule = destinations.schedule_for(hospital, department, body["schedule_id"])
        appointment = booking.book(referral_id, patient.id, schedule.id, body.get("slot_start"), instant, priority)
    followup = body.get("followup") or {}
    referral = Referral(
        id=referral_id, direction=direction, status="sent", urgency=body.get("urgency") or "routine",
        patient_id=patient.id, from_hospital_id=staff.hospital_id, from_staff_id=staff.id,
        to_hospital_id=hospital.id, to_department_id=department.id if department else None,
        reason=body["reason"], diagnosis=body["diagnosis"], summary=body["summary"], plan=body.get("plan"),
        followup_kind=followup.get("kind"), followup_every_days=followup.get("every_days"),
        consent_by=consent["by"], consent_method=consent["method"], consent_recorded_at=instant,
        contact_phone_enc=crypto.encrypt(phone) if phone else None,
        appointment_id=appointment.id if appointment else None, priority=priority, created_at=instant,
        updated_at=instant)
    db.session.add(referral)
    db.session.add_all(ReferralReport(referral_id=referral.id, report_id=report.id, position=n)
                       for n, report in enumerate(reports))
    db.session.flush()
    states.record(referral, "sent", staff, instant)
    if appointment is not None:
        states.record(referral, "booked", staff, instant)
        notices.booked(referral)
    elif direction == "down":
        notices.down_sent(referral)
    audited(staff, "referral.create", referral, direction=direction, to_hospital_id=hospital.id,
            booked=appointment is not None, reports=len(reports))
    return referral


def book(staff, referral, body, instant=None):
    """Book the up-referral's ticket (sending side, status sent)."""
    instant = instant or now()
    require_side(staff, referral, "sending")
    states.check(referral, "book")
    hospital = db.session.get(Hospital, referral.to_hospital_id)
    department = db.session.get(Department, referral.to_department_id) if referral.to_department_id else None
    schedule = destinations.schedule_for(hospital, department, body["schedule_id"])
    priority = booking.priority(referral.patient_id, referral.from_hospital_id, instant)
    appointment = booking.book(referral.id, referral.patient_id, schedule.id, body.get("slot_start"), instant,
                               priority)
    referral.appointment_id, referral.priority = appointment.id, priority
    states.record(referral, "booked", staff, instant)
    notices.booked(referral)
    audited(staff, "referral.book", referral, appointment_id=appointment.id, priority=priority)
    return referral


def cancel(staff, referral, reason, instant=None):
    """Cancel (sending side): a booked appointment is cancelled and its ticket goes back to the pool."""
    instant = instant or now()
    require_side(staff, referral, "sending")
    states.check(referral, "cancel")
    booking.cancel(referral.appointment_id, instant)
    referral.cancel_reason = reason
    states.record(referral, "cancelled", staff, instant)
    notices.cancelled(referral)
    audited(staff, "referral.cancel", referral, reason=reason)
    return referral
