"""Booking request and response bodies."""
from flask import current_app
from marshmallow import Schema, fields, validate

from ..common.clock import now, to_local
from ..common.schemas import Day, Instant, LocalDateTime, StrictSchema, Text
from ..directory.models import Hospital, Schedule
from ..extensions import db
from .lifecycle import cancel_deadline, effective_status
from .models import STATUSES, WAITLIST_STATUSES
from .waitlist import cutoff

ID = validate.Length(1, 40)


def slot_start_field():
    """The optional time window (分时段) to book; shared by the WeChat and kiosk booking bodies."""
    return Instant(
        load_default=None, allow_none=True,
        metadata={"description": "分时段: a window's `start` from GET /schedules/{id}/slots (ISO 8601 with offset, "
                                 "e.g. 2026-11-23T08:30:00+08:00; without an offset, Asia/Shanghai). Omitted or "
                                 "null: the next free ticket. Not a window of the schedule → 422 `invalid_slot` "
                                 "(errors.slot_start); window already over → 409 `slot_past`; no ticket left "
                                 "in it → 409 `slot_full`."})


class BookIn(StrictSchema):
    """What to book for whom, and optionally in which time window."""

    schedule_id = Text(required=True, validate=ID)
    patient_id = Text(required=True, validate=ID)
    slot_start = slot_start_field()


class AppointmentQuery(StrictSchema):
    """Filter the account's appointments."""

    status = Text(validate=validate.OneOf(STATUSES))


class AppointmentOut(Schema):
    """An appointment as the resident sees it."""

    id = fields.String(required=True)
    patient_id = fields.String(required=True)
    schedule_id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    department_id = fields.String(required=True)
    hospital_name = fields.String(attribute="hospital.name", required=True)
    department_name = fields.String(attribute="department.name", required=True)
    doctor_name = fields.String(attribute="schedule.doctor.name", required=True)
    visit_date = Day(required=True)
    status = fields.Function(lambda a: effective_status(a, now()), required=True,
                             metadata={"enum": list(STATUSES)})
    queue_no = fields.Integer(required=True)
    visit_start = LocalDateTime(required=True)
    visit_end = LocalDateTime(required=True)
    fee_fen = fields.Integer(required=True)
    bill_id = fields.String(allow_none=True, required=True)
    hold_expires_at = LocalDateTime(allow_none=True, required=True)
    created_at = LocalDateTime(required=True)
    free_revisit_of = fields.String(allow_none=True, metadata={"description": "一次挂号三日免费: the paid visit"})
    pool = fields.String(allow_none=True, metadata={
        "description": "号源预留: the pool the ticket was kept for (elder, referral …), null for a public ticket"})
    cancel_deadline = fields.Function(
        lambda a: to_local(cancel_deadline(a, db.session.get(Hospital, a.hospital_id))).isoformat(), required=True,
        metadata={"format": "date-time", "description": "取消预约 is possible until then (the hospital's rule)"})
    check_in_opens_at = fields.Function(lambda a: _check_in(a)[0], required=True, metadata={
        "format": "date-time", "description": "报到 opens (before the ticket's window)"})
    check_in_closes_at = fields.Function(lambda a: _check_in(a)[1], required=True, metadata={
        "format": "date-time", "description": "报到 closes (late arrival: after that, book again)"})


def _check_in(appointment):
    """The appointment's check-in window as ISO strings in Asia/Shanghai."""
    config = current_app.config
    window = appointment.check_in_window(config["CHECKIN_OPENS_MINUTES"], config["CHECKIN_LATE_MINUTES"])
    return tuple(to_local(instant).isoformat() for instant in window)


class AppointmentList(Schema):
    """The account's appointments."""

    items = fields.List(fields.Nested(AppointmentOut), required=True)


class WaitlistIn(StrictSchema):
    """Wait for a ticket of a sold-out schedule."""

    schedule_id = Text(required=True, validate=ID)
    patient_id = Text(required=True, validate=ID)


class WaitlistOut(Schema):
    """A waitlist entry; `position` while waiting, `appointment_id` once a ticket was offered."""

    id = fields.String(required=True)
    schedule_id = fields.String(required=True)
    patient_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(WAITLIST_STATUSES))
    position = fields.Integer(allow_none=True)  # set by waitlist.with_positions
    appointment_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    offered_at = LocalDateTime(allow_none=True)
    closes_at = fields.Function(
        lambda e: to_local(cutoff(db.session.get(Schedule, e.schedule_id).date)).isoformat(), required=True,
        metadata={"format": "date-time", "description": "候补 ends then (23:00 the day before the visit)"})


class WaitlistList(Schema):
    """The account's waitlist entries."""

    items = fields.List(fields.Nested(WaitlistOut), required=True)
