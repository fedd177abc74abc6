"""Bodies of the 双向转诊 endpoints (docs/referrals.md): the lookup, destinations, tickets, sending and each step,
the referral as staff and residents read it."""
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..booking.models import STATUSES as APPOINTMENT_STATUSES
from ..booking.schemas import slot_start_field
from ..common.masking import mask_id_number, mask_name
from ..common.paging import PageOut, PageQuery
from ..common.schemas import Day, LocalDateTime, StrictSchema, Text
from ..records.models import VITAL_KINDS
from .models import CONSENT_BY, CONSENT_METHODS, DIRECTIONS, STATUSES, URGENCIES

ID = validate.Length(1, 40)
ID_NUMBER = {"validate": validate.Length(1, 32), "metadata": {
    "description": "居民身份证号; checksum, birth date and region checked (422 invalid_id_number)"}}
# Follow-up kinds are the vitals residents upload; blood_glucose is read as glucose.
FOLLOWUP_KINDS = VITAL_KINDS + ("blood_glucose",)
MAX_REPORTS = 20


def _text(length, **kwargs):
    """Required free text of at most `length` characters, not blank."""
    return Text(validate=[validate.Length(1, length), validate.Regexp(r"\S", error="不能为空")], **kwargs)


class ReferralLookupIn(StrictSchema):
    """The ID number the patient gave (in the body, never in a URL)."""

    id_number = Text(required=True, **ID_NUMBER)


class ReferralPatientOut(Schema):
    """The patient, masked; age instead of the birth date."""

    id = fields.String(required=True)
    name = fields.Function(lambda p: mask_name(p["name"]), required=True)
    id_number = fields.Function(lambda p: mask_id_number(p["id_number"]), required=True)
    sex = fields.String(required=True)
    age = fields.Integer(required=True)


class ReferralShareableReport(Schema):
    """A report of the staff member's hospital they may share."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    reported_at = LocalDateTime(required=True, attribute="issued_at")


class ReferralLookupOut(Schema):
    """Who the patient is and what may be shared."""

    patient = fields.Nested(ReferralPatientOut, required=True)
    reports = fields.List(fields.Nested(ReferralShareableReport), required=True)


class ReferralDestinationQuery(StrictSchema):
    """Up (to level-2/3 hospitals) or down (to level-1 clinics)."""

    direction = Text(required=True, validate=validate.OneOf(DIRECTIONS))


class ReferralDepartmentOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class ReferralDestinationOut(Schema):
    """A hospital a referral may go to."""

    hospital_id = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True, metadata={"description": "医院等级 as the directory records it (三级甲等 …)"})
    level_rank = fields.Integer(required=True, metadata={"description": "1, 2 or 3"})
    address = fields.String(allow_none=True)
    departments = fields.List(fields.Nested(ReferralDepartmentOut), required=True)


class ReferralDestinationList(Schema):
    items = fields.List(fields.Nested(ReferralDestinationOut), required=True)


class ReferralTicketQuery(StrictSchema):
    """A destination hospital (and department)."""

    hospital_id = Text(required=True, validate=ID)
    department_id = Text(validate=ID)


class ReferralTicketOut(Schema):
    """An open schedule with the tickets kept for referrals and those the public may still take."""

    schedule_id = fields.String(required=True)
    department_id = fields.String(required=True)
    date = Day(required=True)
    period = fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    doctor_name = fields.String(required=True)
    doctor_title = fields.String(required=True)
    fee_kind = fields.String(required=True)
    fee_fen = fields.Integer(required=True)
    referral_available = fields.Integer(required=True, metadata={"description": "free tickets still kept for 转诊"})
    public_available = fields.Integer(required=True)


class ReferralTicketList(Schema):
    items = fields.List(fields.Nested(ReferralTicketOut), required=True)


class ReferralConsentIn(StrictSchema):
    """知情同意: who agreed and how."""

    by = Text(required=True, validate=validate.OneOf(CONSENT_BY))
    method = Text(required=True, validate=validate.OneOf(CONSENT_METHODS))


class ReferralFollowupIn(StrictSchema):
    """The follow-up the clinic should run after a down-referral."""

    kind = Text(required=True, validate=validate.OneOf(FOLLOWUP_KINDS))
    every_days = fields.Integer(required=True, strict=True, validate=validate.Range(7, 90))

    @post_load
    def vitals_kind(self, data, **_):
        """blood_glucose is the vitals kind glucose."""
        data["kind"] = "glucose" if data["kind"] == "blood_glucose" else data["kind"]
        return data


class ReferralIn(StrictSchema):
    """A referral to send (up: optionally with the ticket booked at once; down: with the plan)."""

    direction = Text(required=True, validate=validate.OneOf(DIRECTIONS))
    id_number = Text(required=True, **ID_NUMBER)
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 20), metadata={
        "description": "contact number for a patient without WeChat (mobile, or landline with area code)"})
    to_hospital_id = Text(required=True, validate=ID)
    to_department_id = Text(load_default=None, allow_none=True, validate=ID)
    urgency = Text(load_default="routine", validate=validate.OneOf(URGENCIES))
    reason = _text(500, required=True)
    diagnosis = _text(200, required=True)
    summary = _text(2000, required=True)
    plan = Text(load_default=None, allow_none=True, validate=validate.Length(1, 1000))
    followup = fields.Nested(ReferralFollowupIn, load_default=None, allow_none=True)
    report_ids = fields.List(Text(validate=ID), load_default=list, validate=validate.Length(max=MAX_REPORTS))
    consent = fields.Nested(ReferralConsentIn, load_default=None, allow_none=True, metadata={
        "description": "required: missing → 422 consent_required"})
    schedule_id = Text(load_default=None, allow_none=True, validate=ID)
    slot_start = slot_start_field()

    @validates_schema
    def fits_direction(self, data, **_):
        """Up names a department and may book; down carries the plan and follow-up instead."""
        if data.get("direction") == "up":
            if not data.get("to_department_id"):
                raise ValidationError("上转须选择接收科室", field_name="to_department_id")
            for name in ("plan", "followup"):
                if data.get(name) is not None:
                    raise ValidationError("仅下转可填写", field_name=name)
        elif data.get("direction") == "down":
            for name in ("schedule_id", "slot_start", "phone"):
                if data.get(name) is not None:
                    raise ValidationError("仅上转可填写", field_name=name)
            if not data.get("plan") or not data["plan"].strip():
                raise ValidationError("下转须填写康复/治疗方案", field_name="plan")
        if data.get("slot_start") is not None and not data.get("schedule_id"):
            raise ValidationError("选择时段须同时选择排班", field_name="slot_start")


class ReferralBookingIn(StrictSchema):
    """The ticket to book for an up-referral."""

    schedule_id = Text(required=True, validate=ID)
    slot_start = slot_start_field()


class ReferralReasonIn(StrictSchema):
    """Why (declining or cancelling)."""

    reason = _text(200, required=True)


class ReferralBoxQuery(PageQuery):
    """Outgoing (sent by the hospital) or incoming (sent to it), of one status or direction."""

    box = Text(required=True, validate=validate.OneOf(("outgoing", "incoming")))
    status = Text(validate=validate.OneOf(STATUSES))
    direction = Text(validate=validate.OneOf(DIRECTIONS))


class ReferralMineQuery(StrictSchema):
    """One linked patient's referrals (else every verified patient's)."""

    patient_id = Text(validate=ID)


class ReferralFromOut(Schema):
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    staff_name = fields.String(metadata={"description": "staff view only"})


class ReferralToOut(Schema):
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    department_id = fields.String(allow_none=True, required=True)
    department_name = fields.String(allow_none=True, required=True)


class ReferralFollowupOut(Schema):
    kind = fields.String(required=True)
    every_days = fields.Integer(required=True)


class ReferralSharedReportOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    hospital_name = fields.String(required=True)
    reported_at = LocalDateTime(required=True)


class ReferralConsentOut(Schema):
    by = fields.String(required=True)
    method = fields.String(required=True)
    recorded_at = LocalDateTime(required=True)


class ReferralAppointmentOut(Schema):
    """The ticket booked for an up-referral."""

    id = fields.String(required=True)
    visit_date = Day(required=True)
    visit_start = LocalDateTime(required=True)
    visit_end = LocalDateTime(required=True)
    queue_no = fields.Integer(required=True)
    doctor_name = fields.String(required=True)
    doctor_title = fields.String(required=True)
    department_name = fields.String(required=True)
    hospital_name = fields.String(required=True)
    hospital_address = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_STATUSES))
    fee_fen = fields.Integer(required=True)
    bill_id = fields.String(allow_none=True)
    pool = fields.String(allow_none=True)


class ReferralHistoryOut(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    at = LocalDateTime(required=True)
    by = fields.String(required=True)
    note = fields.String(allow_none=True, required=True, metadata={
        "description": "what happened when it was not a step of staff, e.g. 预约已取消 (back to sent)"})


class ReferralOut(Schema):
    """A referral (the resident's view has no summary and no staff names)."""

    id = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    priority = fields.String(allow_none=True, required=True, validate=validate.OneOf(("signed",)), metadata={
        "description": "signed: the patient is signed with a family-doctor team of the referring clinic, so the "
                       "ticket may be a public one when none is kept for referrals"})
    patient = fields.Nested(ReferralPatientOut, required=True)
    from_ = fields.Nested(ReferralFromOut, required=True, data_key="from", attribute="from")
    to = fields.Nested(ReferralToOut, required=True)
    reason = fields.String(required=True)
    diagnosis = fields.String(required=True)
    summary = fields.String(metadata={"description": "staff view only"})
    plan = fields.String(allow_none=True, required=True)
    followup = fields.Nested(ReferralFollowupOut, allow_none=True, required=True)
    shared_reports = fields.List(fields.Nested(ReferralSharedReportOut), required=True)
    consent = fields.Nested(ReferralConsentOut, required=True)
    appointment = fields.Nested(ReferralAppointmentOut, allow_none=True, required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    cancel_reason = fields.String(allow_none=True, required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)
    history = fields.List(fields.Nested(ReferralHistoryOut), required=True)


class ReferralPage(PageOut):
    items = fields.List(fields.Nested(ReferralOut), required=True)


class ReferralList(Schema):
    items = fields.List(fields.Nested(ReferralOut), required=True)
