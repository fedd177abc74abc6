"""Bill and payment bodies."""
from marshmallow import Schema, fields, validate

from ..common.clock import to_local
from ..common.schemas import LocalDateTime, StrictSchema, Text
from . import kinds
from .models import KINDS, PAYMENT_METHODS, STATUSES


class BillItemOut(Schema):
    """One line of a bill."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price_fen = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    insurance_class = fields.String(allow_none=True)


class PaymentOut(Schema):
    """A payment attempt as the resident sees it."""

    id = fields.String(required=True)
    out_trade_no = fields.String(required=True)
    method = fields.String(required=True)
    status = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    paid_at = LocalDateTime(allow_none=True)


class BillOut(Schema):
    """A bill with its items and payments."""

    id = fields.String(required=True)
    patient_id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    total_fen = fields.Integer(required=True)
    order_no = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    doctor = fields.String(allow_none=True)
    hospital_name = fields.String(attribute="hospital.name", required=True)
    department_name = fields.String(allow_none=True, required=True,
                                    metadata={"description": "HIS's department, or the booked one for a 挂号费"})
    doctor_name = fields.String(allow_none=True, required=True,
                                metadata={"description": "HIS's doctor, or the booked schedule's for a 挂号费"})
    appointment_id = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    paid_at = LocalDateTime(allow_none=True)
    items = fields.List(fields.Nested(BillItemOut), required=True)
    payments = fields.List(fields.Nested(PaymentOut), required=True)
    refunds = fields.Method("dump_refunds", required=True)
    hold = fields.Method("dump_hold", allow_none=True, metadata={
        "description": "Why the bill is not paid on its own, or null: {code, message}; e.g. "
                       "credit_bill_pending_settlement, a 先诊疗后付费 bill shown as 待结算, paid with its settlement"})

    def dump_hold(self, bill):
        """The registered hold on the bill (kinds.held) while it is unpaid."""
        return kinds.held(bill) if bill.status in ("unpaid", "paying") else None

    def dump_refunds(self, bill):
        """Refunds of all the bill's payments."""
        return [{"id": r.id, "out_refund_no": r.out_refund_no, "amount_fen": r.amount_fen, "status": r.status,
                 "reason": r.reason, "method": p.method, "created_at": _local(r.created_at),
                 "succeeded_at": _local(r.succeeded_at)}
                for p in bill.payments for r in p.refunds]


def _local(instant):
    """An instant as ISO 8601 in Asia/Shanghai (None stays None)."""
    return None if instant is None else to_local(instant).isoformat()


class BillList(Schema):
    """The account's bills."""

    items = fields.List(fields.Nested(BillOut), required=True)


class BillQuery(StrictSchema):
    """Filter bills by status."""

    status = Text(validate=validate.OneOf(STATUSES))


class SplitOut(Schema):
    """Pre-settlement: who pays what."""

    total_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    self_pay_fen = fields.Integer(required=True)


class PayIn(StrictSchema):
    """How the resident pays."""

    method = Text(required=True, validate=validate.OneOf(PAYMENT_METHODS))


class PayOut(Schema):
    """What the page (or kiosk) needs to take the payment."""

    payment_id = fields.String(required=True)
    out_trade_no = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    jsapi = fields.Dict(allow_none=True)
    code_url = fields.String(allow_none=True)
