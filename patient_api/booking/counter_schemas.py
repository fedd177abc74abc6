"""Bodies of the staff endpoints for 代预约 (registration window) and 号源预留 (hospital admin)."""
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..accounts.schemas import NAME, IdNumber
from ..common.masking import mask_id_number, mask_name, mask_phone
from ..common.schemas import Day, LocalDateTime, StrictSchema, Text
from ..directory.schemas import reservations_field
from .models import STATUSES
from .schemas import slot_start_field

CHANNELS = ("counter", "phone")
PAYMENTS = ("counter", "later")


class StaffBookIn(StrictSchema):
    """Book for a resident at the window (ID card seen) or on the phone."""

    id_number = IdNumber(required=True)
    name = Text(required=True, validate=validate.Regexp(NAME, error="姓名格式不正确"))
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 20), metadata={
        "description": "contact number (mobile or landline with area code) the hospital calls back"})
    schedule_id = Text(required=True, validate=validate.Length(1, 40))
    slot_start = slot_start_field()
    channel = Text(required=True, validate=validate.OneOf(CHANNELS), metadata={
        "description": "counter: at the registration window; phone: booked on the phone through staff"})
    payment = Text(load_default=None, validate=validate.OneOf(PAYMENTS), metadata={
        "description": "counter: the fee is taken at the window now (default there); later: paid at a kiosk or "
                       "window before check-in closes (default, and the only choice, on the phone)"})

    @validates_schema
    def payment_fits_channel(self, data, **_):
        """Money cannot be handed over on the phone."""
        if data.get("channel") == "phone" and data.get("payment") == "counter":
            raise ValidationError("电话预约不能当场缴费，请选择到院缴费（later）", field_name="payment")

    @post_load
    def default_payment(self, data, **_):
        """At the window the fee is taken now unless said otherwise."""
        data["payment"] = data["payment"] or ("counter" if data["channel"] == "counter" else "later")
        return data


class StaffCancelIn(StrictSchema):
    """Why the 代预约 is cancelled (the resident's words, as the window heard them)."""

    reason = Text(required=True, validate=[validate.Length(1, 200), validate.Regexp(r"\S", error="不能为空")])


class LookupIn(StrictSchema):
    """The ID number the resident gave."""

    id_number = IdNumber(required=True)


class LookupOut(Schema):
    """Whether the person is registered, the masked name, age and whether the elder pool applies."""

    known = fields.Boolean(required=True)
    name = fields.Function(lambda d: mask_name(d["name"]), allow_none=True, required=True)
    gender = fields.String(required=True)
    age = fields.Integer(required=True)
    elder = fields.Boolean(required=True, metadata={"description": "65 or over today: the elder pool applies"})


class SlipOut(Schema):
    """The printed slip (预约凭条): time, place, queue number, booking number, how to pay and check in."""

    appointment_id = fields.String(required=True, metadata={"description": "预约号 (booking number)"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    hospital_name = fields.String(required=True)
    hospital_address = fields.String(allow_none=True, required=True)
    department_name = fields.String(required=True)
    doctor_name = fields.String(required=True)
    doctor_title = fields.String(required=True)
    fee_kind = fields.String(required=True)
    visit_date = Day(required=True)
    period = fields.String(required=True)
    visit_start = LocalDateTime(required=True)
    visit_end = LocalDateTime(required=True)
    queue_no = fields.Integer(required=True)
    patient_name = fields.Function(lambda d: mask_name(d["patient_name"]), required=True)
    id_number = fields.Function(lambda d: mask_id_number(d["id_number"]), required=True)
    contact_phone = fields.Function(lambda d: mask_phone(d["contact_phone"]), allow_none=True, required=True)
    fee_fen = fields.Integer(required=True)
    payment = fields.String(required=True, validate=validate.OneOf(("paid", "unpaid", "free")))
    pay_before = LocalDateTime(allow_none=True, required=True, metadata={
        "description": "unpaid: pay at a kiosk or window before then, or the ticket goes back"})
    check_in_opens_at = LocalDateTime(required=True)
    check_in_closes_at = LocalDateTime(required=True)
    pool = fields.String(allow_none=True, required=True, metadata={"description": "号源预留 pool the ticket came from"})
    channel = fields.String(required=True)
    printed_at = LocalDateTime(required=True)


class ReservationsIn(StrictSchema):
    """The schedule's new 号源预留: replaces the old one ({} keeps nothing back)."""

    reserved = reservations_field(required=True)


class PoolStateOut(Schema):
    """One pool of a schedule."""

    pool = fields.String(required=True)
    label = fields.String(required=True)
    share = fields.Float(required=True)
    release_at = LocalDateTime(allow_none=True, required=True)
    kept = fields.Integer(required=True, metadata={"description": "tickets kept for the pool, free or used"})
    free = fields.Integer(required=True, metadata={"description": "still free and kept back"})
    used = fields.Integer(required=True, metadata={"description": "held or booked by the pool's bookings"})
    released = fields.Integer(required=True, metadata={"description": "gone to the public unused"})


class ReservationsOut(Schema):
    """号源预留 of a schedule: its rules and where each pool stands."""

    schedule_id = fields.String(required=True)
    capacity = fields.Integer(required=True)
    reserved = fields.Dict(required=True)
    pools = fields.List(fields.Nested(PoolStateOut), required=True)
