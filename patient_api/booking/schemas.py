"""Booking request and response bodies."""
from marshmallow import Schema, fields, validate

from ..common.clock import now
from ..common.schemas import LocalDateTime, StrictSchema, Text
from .lifecycle import effective_status
from .models import STATUSES, WAITLIST_STATUSES

ID = validate.Length(1, 40)


class BookIn(StrictSchema):
    """What to book for whom."""

    schedule_id = Text(required=True, validate=ID)
    patient_id = Text(required=True, validate=ID)


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
    visit_date = fields.Date(required=True)
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


class WaitlistList(Schema):
    """The account's waitlist entries."""

    items = fields.List(fields.Nested(WaitlistOut), required=True)
