"""Bodies of the inpatient endpoints: HIS pushes, the family's view, the nurse station."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..accounts.schemas import IdNumber
from ..billing.invoices import InvoiceOut
from ..billing.models import PAYMENT_METHODS
from ..billing.schemas import BillOut, PayOut
from ..common.schemas import Day, Instant, LocalDateTime, StrictSchema, Text
from ..integration.schemas import INSURANCE_CLASSES, INSURANCE_TYPES, BillItemIn
from .models import STATUSES

ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$")
CODE = validate.Regexp(r"^[A-Za-z0-9_.-]{1,32}$")
SOURCE_ID = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$")


class NamedPatientRef(StrictSchema):
    """Who is admitted: resident ID number and the name on the hospital's record (created if not registered yet)."""

    id_number = IdNumber(required=True)
    name = Text(required=True, validate=validate.Length(1, 50))
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 20),
                 metadata={"description": "the patient's mobile on the hospital's record (used for 实名认证 codes)"})
    insurance_card_no = Text(load_default=None, allow_none=True, validate=validate.Length(1, 40),
                             metadata={"description": "the person's 社保卡 number as read at registration (kiosk "
                                                      "insurance-card reads are checked against it)"})


class AdmissionIn(StrictSchema):
    """An admission (入院登记) from HIS; re-sending it with another ward or bed is a transfer."""

    admission_no = Text(required=True, validate=CODE)
    patient = fields.Nested(NamedPatientRef, required=True)
    ward_code = Text(required=True, validate=CODE)
    ward_name = Text(load_default=None, allow_none=True, validate=validate.Length(1, 60))
    department = Text(load_default=None, allow_none=True, validate=validate.Length(1, 60))
    bed_no = Text(required=True, validate=validate.Length(1, 16))
    admitted_at = Instant(required=True)
    insurance_type = Text(required=True, validate=validate.OneOf(INSURANCE_TYPES))


class ChargeIn(BillItemIn):
    """One charge line with HIS's own line id and the day it belongs to; a reversal (冲销/退费) names the line it
    takes back and has a negative quantity."""

    source_id = Text(required=True, validate=SOURCE_ID)
    date = Day(required=True, data_key="date", attribute="charge_date")
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(-100_000, 100_000), metadata={
        "description": "positive; negative only on a reversal (reverses_source_id)"})
    reverses_source_id = Text(load_default=None, allow_none=True, validate=SOURCE_ID, metadata={
        "description": "冲销/退费: the source_id of the line this one takes back, repeating its code, name, category, "
                       "unit price and insurance class; at most what is left of it (422 reversal_exceeds_charge)"})

    @validates_schema
    def signed_quantity(self, data, **_):
        """A reversal takes quantity back (negative); every other line adds some (positive)."""
        quantity, reverses = data.get("quantity"), data.get("reverses_source_id")
        if quantity is None:
            return
        if reverses and quantity >= 0:
            raise ValidationError("冲销行的数量应为负数", field_name="quantity")
        if not reverses and quantity <= 0:
            raise ValidationError("数量应为正数；冲销请用负数并填写 reverses_source_id", field_name="quantity")
        if reverses == data.get("source_id"):
            raise ValidationError("不能冲销自身", field_name="reverses_source_id")


class ChargesIn(StrictSchema):
    """A batch of charge lines (typically one day's 一日清单)."""

    items = fields.List(fields.Nested(ChargeIn), required=True, validate=validate.Length(1, 1000))

    @validates_schema
    def distinct_ids(self, data, **_):
        """One source_id once per batch: a repeat inside a push is a HIS bug, not a re-send."""
        seen, errors = set(), {}
        for n, item in enumerate(data.get("items", [])):
            if item["source_id"] in seen:
                errors[n] = {"source_id": ["本次推送中重复"]}
            seen.add(item["source_id"])
        if errors:
            raise ValidationError(errors, field_name="items")


class DischargeIn(StrictSchema):
    """The discharge order; its time defaults to now."""

    discharge_at = Instant(load_default=None, allow_none=True)


class ChargesResult(Schema):
    """What a charges push did."""

    admission_id = fields.String(required=True)
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    charges_total_fen = fields.Integer(required=True)


class AdmissionOut(Schema):
    """An admission with its money so far."""

    id = fields.String(required=True)
    admission_no = fields.String(required=True)
    hospital_id = fields.String(required=True)
    patient_id = fields.String(required=True)
    patient_name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    ward = fields.String(required=True)
    ward_code = fields.String(required=True)
    department = fields.String(allow_none=True)
    bed_no = fields.String(required=True)
    insurance_type = fields.String(required=True, validate=validate.OneOf(INSURANCE_TYPES))
    admitted_at = LocalDateTime(required=True)
    discharge_at = LocalDateTime(allow_none=True)
    orders_pending = fields.Boolean(required=True)
    deposits_fen = fields.Integer(required=True)
    deposit_balance_fen = fields.Integer(required=True)
    charges_total_fen = fields.Integer(required=True)
    available_fen = fields.Integer(required=True)
    deposit_cap_fen = fields.Integer(required=True)
    flags = fields.List(fields.String(), required=True)
    settlement_id = fields.String(allow_none=True)


class AdmissionList(Schema):
    """Admissions."""

    items = fields.List(fields.Nested(AdmissionOut), required=True)


class AdmissionQuery(StrictSchema):
    """Filter by one linked patient."""

    patient_id = Text(validate=ID)


class DayQuery(StrictSchema):
    """The day of the 一日清单 (Asia/Shanghai); today when left out."""

    date = Day()


class ChargeOut(Schema):
    """One line of the daily list; a reversal (冲销) has a negative quantity and amount and names its line."""

    source_id = fields.String(required=True)
    reverses_source_id = fields.String(allow_none=True, required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price_fen = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    insurance_class = fields.String(allow_none=True, validate=validate.OneOf(INSURANCE_CLASSES))


class CategoryOut(Schema):
    """Lines of one category (药品, 检查, 治疗 …) and their sum."""

    category = fields.String(required=True)
    total_fen = fields.Integer(required=True)
    items = fields.List(fields.Nested(ChargeOut), required=True)


class DailyChargesOut(Schema):
    """The 一日清单 of one day, and which days have one."""

    admission_id = fields.String(required=True)
    date = Day(required=True)
    total_fen = fields.Integer(required=True)
    categories = fields.List(fields.Nested(CategoryOut), required=True)
    days = fields.List(fields.Dict(), required=True)


class DepositIn(StrictSchema):
    """A deposit top-up."""

    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000_000))
    method = Text(required=True, validate=validate.OneOf(PAYMENT_METHODS))


class DepositOut(Schema):
    """The deposit bill and how to pay it."""

    bill = fields.Nested(BillOut, required=True)
    payment = fields.Nested(PayOut, required=True)


class RefundLine(Schema):
    """A surplus refund to one deposit payment."""

    id = fields.String(required=True)
    payment_id = fields.String(required=True)
    out_refund_no = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True)


class FiguresOut(Schema):
    """Pre-settlement at the bed: the insurance split and the deposits against it."""

    total_fen = fields.Integer(required=True)
    insurance_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    self_pay_fen = fields.Integer(required=True)
    deposits_fen = fields.Integer(required=True)
    deposit_applied_fen = fields.Integer(required=True)
    balance_due_fen = fields.Integer(required=True)
    refund_fen = fields.Integer(required=True)


class SettlementOut(FiguresOut):
    """The settlement: balance due (a bill the family pays) or surplus (refunds), and the receipt once paid."""

    id = fields.String(required=True)
    admission_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("awaiting_payment", "settled")))
    bill_id = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    completed_at = LocalDateTime(allow_none=True)
    refunds = fields.List(fields.Nested(RefundLine), required=True)
    invoice = fields.Nested(InvoiceOut, allow_none=True, required=True)


class BedsidePayIn(StrictSchema):
    """The balance due at the bed: a Native QR on the tablet (the family's phone pays via /bills/{id}/payments)."""

    method = Text(load_default="wechat_native", validate=validate.OneOf(("wechat_native",)))
