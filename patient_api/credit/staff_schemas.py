"""Bodies of the window's (收费处) credit endpoints: look-up by ID card, pre-settlement, 窗口结算."""
from marshmallow import Schema, fields, validate

from ..common.schemas import LocalDateTime, StrictSchema, Text
from .schemas import CreditOut


class CreditLookupIn(StrictSchema):
    """The ID card read at the counter (in the body, so the number is never in a URL or an access log)."""

    id_number = Text(required=True, validate=validate.Length(1, 32), metadata={
        "description": "居民身份证号; checksum, birth date and region checked (422 invalid_id_number)"})


class CreditPatientOut(Schema):
    """Who the patient is, masked: the cashier compares with the person at the window."""

    name = fields.String(required=True, metadata={"description": "masked: 张*英"})
    id_number = fields.String(required=True, metadata={"description": "masked: 370***********123X"})
    gender = fields.String(required=True, validate=validate.OneOf(("male", "female")))


class CreditLookupOut(CreditPatientOut):
    """The patient found by the ID card."""

    patient_id = fields.String(required=True)


class StaffSuspensionOut(Schema):
    """This hospital's suspension (暂停), set at the window."""

    id = fields.String(required=True)
    note = fields.String(allow_none=True, required=True)
    created_at = LocalDateTime(required=True)
    created_by = fields.String(allow_none=True, required=True, metadata={"description": "the staff username"})


class StaffCreditOut(CreditOut):
    """The patient's credit at this hospital, with who the patient is (masked) and this hospital's suspension."""

    patient = fields.Nested(CreditPatientOut, required=True)
    suspension = fields.Nested(StaffSuspensionOut, allow_none=True, required=True, metadata={
        "description": "set by this hospital's staff (null: none); `blocks` also lists city-wide overdue ones"})


class CreditCounterQuoteOut(Schema):
    """What 窗口结算 would settle now and the part the cashier collects (self_pay_fen)."""

    settlement_id = fields.String(allow_none=True, required=True, metadata={
        "description": "the settlement already waiting that would be paid; null: a new one over every open bill"})
    deducting = fields.Boolean(required=True, metadata={
        "description": "a 无感支付 deduction is under way: settling now answers 409 credit_deduction_in_progress"})
    bill_count = fields.Integer(required=True)
    bill_ids = fields.List(fields.String(), required=True)
    total_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    self_pay_fen = fields.Integer(required=True, metadata={"description": "taken at the window (cash or card)"})


class CreditCounterSettleIn(StrictSchema):
    """The amount the cashier took, as confirmed on screen; absent: whatever the settlement's self-pay is."""

    self_pay_fen = fields.Integer(strict=True, validate=validate.Range(0, 100_000_000), metadata={
        "description": "409 credit_amount_changed (nothing settled) when the settlement's self-pay differs"})
