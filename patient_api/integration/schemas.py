"""Bodies that hospital systems send."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..common.schemas import Day, Instant, StrictSchema, Text
from ..directory.models import PERIODS
from ..directory.schemas import reservations_field

INSURANCE_CLASSES = ("甲", "乙", "丙")
INSURANCE_TYPES = ("employee", "resident", "self_pay")
MAX_BILL_FEN = 1_000_000_000


class PatientRef(StrictSchema):
    """Who the bill is for: resident ID number, or the hospital's medical record number."""

    id_number = Text(validate=validate.Length(1, 32))
    mrn = Text(validate=validate.Length(1, 40))
    name = Text(validate=validate.Length(1, 50),
                metadata={"description": "needed when the person has not registered yet: the patient is created"})
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 20),
                 metadata={"description": "the patient's mobile on the hospital's record (used for 实名认证 codes)"})
    insurance_card_no = Text(load_default=None, allow_none=True, validate=validate.Length(1, 40),
                             metadata={"description": "the person's 社保卡 number as read at registration (kiosk "
                                                      "insurance-card reads are checked against it)"})

    @validates_schema
    def one_of(self, data, **_):
        """At least one identifier."""
        if not data.get("id_number") and not data.get("mrn"):
            raise ValidationError("id_number 或 mrn 至少提供一个", field_name="id_number")


class BillItemIn(StrictSchema):
    """One line of a HIS bill."""

    code = Text(required=True, validate=validate.Length(1, 40))
    name = Text(required=True, validate=validate.Length(1, 100))
    category = Text(required=True, validate=validate.Length(1, 30))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000))
    unit_price_fen = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000_000))
    insurance_class = Text(load_default=None, allow_none=True, validate=validate.OneOf(INSURANCE_CLASSES))


class HisBillIn(StrictSchema):
    """An outpatient bill (处方/检查/治疗) pushed by HIS."""

    order_no = Text(required=True, validate=validate.Length(1, 64))
    patient = fields.Nested(PatientRef, required=True)
    department = Text(load_default=None, allow_none=True, validate=validate.Length(1, 60))
    doctor = Text(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    insurance_type = Text(load_default="self_pay", validate=validate.OneOf(INSURANCE_TYPES))
    items = fields.List(fields.Nested(BillItemIn), required=True, validate=validate.Length(1, 500))

    @validates_schema
    def total_in_range(self, data, **_):
        """Amounts are stored as 32-bit fen: a bill over 1,000 万元 is a data error, not a bill."""
        total = sum(i["quantity"] * i["unit_price_fen"] for i in data.get("items", []))
        if total > MAX_BILL_FEN:
            raise ValidationError("账单金额超出范围", field_name="items")


class HisRefundIn(StrictSchema):
    """A (partial) refund the hospital orders, e.g. a returned drug (退药) or a cancelled exam."""

    out_refund_no = Text(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_*@|-]{1,64}$"))
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000_000))
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(1, 80))


class RefundOut(Schema):
    """A refund and where it stands."""

    id = fields.String(required=True)
    out_refund_no = fields.String(required=True, attribute="caller_refund_no")
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)


class DepartmentRef(StrictSchema):
    """A department by its HIS code; the name is needed the first time."""

    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(load_default=None, validate=validate.Length(1, 60))


class DoctorRef(StrictSchema):
    """A doctor by HIS code; name and title (主任医师 …) are needed the first time."""

    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(load_default=None, validate=validate.Length(1, 40))
    title = Text(load_default=None, validate=validate.Length(1, 20))


class SchedulePushIn(StrictSchema):
    """A clinic session (出诊) from HIS, with its tickets' settings and optionally its 号源预留."""

    department = fields.Nested(DepartmentRef, required=True)
    doctor = fields.Nested(DoctorRef, required=True)
    date = Day(required=True)
    period = Text(required=True, validate=validate.OneOf(PERIODS))
    fee_kind = Text(required=True, validate=validate.Length(1, 20), metadata={"description": "普通号, 专家号 …"})
    fee_fen = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 500))
    slot_minutes = fields.Integer(load_default=30, strict=True, validate=validate.Range(5, 240), metadata={
        "description": "length of each time window (分时段)"})
    release_at = Instant(metadata={"description": "放号: when booking opens; default the hospital's rule"})
    reserved = reservations_field(metadata={
        "description": "号源预留 by pool, e.g. {\"referral\": {\"share\": 0.2, \"release_hours_before\": 24}}; "
                       "omitted: the defaults for the hospital; {}: nothing kept back. On a re-push it replaces the "
                       "schedule's rules"})
