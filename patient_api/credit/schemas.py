"""Credit bodies: enrolment, settle-now, contract, staff suspension; and what residents and cashiers read."""
from marshmallow import Schema, fields, validate

from ..billing.schemas import BillItemOut, PayOut
from ..common.schemas import LocalDateTime, StrictSchema, Text
from .models import CONTRACT_STATUSES, ENROLMENT_STATUSES, SETTLEMENT_STATUSES

ID = validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$", error="编号格式不正确")


class CreditEnrolIn(StrictSchema):
    """Opt in at one hospital, or city-wide without hospital_id, accepting the consent text of consent_version."""

    hospital_id = Text(allow_none=True, load_default=None, validate=ID,
                       metadata={"description": "the hospital; null or absent: every hospital of the city"})
    consent_version = Text(required=True, validate=validate.Length(1, 20),
                           metadata={"description": "the version of 先诊疗后付费服务协议 the resident accepted"})


class CreditHospitalQuery(StrictSchema):
    """Which hospital (absent: city-wide)."""

    hospital_id = Text(validate=ID)


class CreditSettleIn(StrictSchema):
    """Settle now at this hospital."""

    hospital_id = Text(required=True, validate=ID)


class CreditSuspendIn(StrictSchema):
    """Why the cashier suspends the patient's credit at this hospital."""

    note = Text(validate=validate.Length(1, 200))


class CreditTermsOut(Schema):
    """The hospital's policy as it applies to this patient, and the consent to accept."""

    hospital_id = fields.String(allow_none=True, required=True)
    enabled = fields.Boolean(required=True)
    limit_fen = fields.Integer(required=True, metadata={"description": "what this patient would be granted"})
    limit_basis = fields.String(required=True, validate=validate.OneOf(("base", "family_doctor", "insured")))
    base_limit_fen = fields.Integer(required=True)
    family_doctor_limit_fen = fields.Integer(required=True)
    insured_limit_fen = fields.Integer(required=True)
    consent_version = fields.String(required=True)
    consent_title = fields.String(required=True)
    consent_text = fields.String(required=True)


class CreditEnrolmentOut(Schema):
    """One enrolment with its limit and what is in use."""

    id = fields.String(required=True)
    hospital_id = fields.String(allow_none=True, required=True)
    hospital_name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ENROLMENT_STATUSES))
    limit_fen = fields.Integer(required=True)
    limit_basis = fields.String(required=True)
    open_fen = fields.Integer(required=True, metadata={"description": "bills on credit not yet paid"})
    available_fen = fields.Integer(required=True)
    consent_version = fields.String(required=True)
    consented_at = LocalDateTime(required=True)
    left_at = LocalDateTime(allow_none=True)


class CreditPendingBillOut(Schema):
    """A bill on credit (待结算) with its items and the running total of its hospital's group."""

    bill_id = fields.String(required=True)
    order_no = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    doctor = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    total_fen = fields.Integer(required=True)
    running_total_fen = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "open, or settling (in an unpaid settlement)"})
    settlement_id = fields.String(allow_none=True)
    items = fields.List(fields.Nested(BillItemOut), required=True)


class CreditPendingGroupOut(Schema):
    """待结算 at one hospital."""

    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    total_fen = fields.Integer(required=True)
    bills = fields.List(fields.Nested(CreditPendingBillOut), required=True)


class CreditSettlementOut(Schema):
    """A settlement: the bills it covers, the insurance split, how and when it was paid."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    bill_id = fields.String(required=True, metadata={"description": "its own bill (kind credit_settlement)"})
    status = fields.String(required=True, validate=validate.OneOf(SETTLEMENT_STATUSES))
    method = fields.String(allow_none=True, metadata={"description": "wechat_jsapi, wechat_papay (无感支付), "
                                                                      "counter (收费窗口), insurance"})
    trigger = fields.String(required=True)
    bill_count = fields.Integer(required=True)
    bill_ids = fields.List(fields.String(), required=True)
    total_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    self_pay_fen = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    due_at = LocalDateTime(required=True)
    overdue_at = LocalDateTime(required=True, metadata={
        "description": "when it counts as overdue if still unpaid (reminders, then suspension past the grace period)"})
    paid_at = LocalDateTime(allow_none=True)
    overdue = fields.Boolean(required=True)
    deduction_attempts = fields.Integer(required=True)
    deduction_failed = fields.Boolean(required=True)


class CreditSettlementList(Schema):
    """Settlements, newest first."""

    items = fields.List(fields.Nested(CreditSettlementOut), required=True)


class CreditContractBrief(Schema):
    """The 委托代扣 contract's state."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CONTRACT_STATUSES))
    created_at = LocalDateTime(required=True)
    signed_at = LocalDateTime(allow_none=True)


class CreditBlockOut(Schema):
    """A suspension in force."""

    id = fields.String(required=True)
    hospital_id = fields.String(allow_none=True, required=True)
    hospital_name = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(("overdue", "staff")))
    created_at = LocalDateTime(required=True)


class CreditOut(Schema):
    """A patient's credit: enrolments, 待结算 with running totals, unpaid settlements, contract, suspension."""

    patient_id = fields.String(required=True)
    consent_version = fields.String(required=True, metadata={"description": "the current consent version"})
    enrolments = fields.List(fields.Nested(CreditEnrolmentOut), required=True)
    pending = fields.List(fields.Nested(CreditPendingGroupOut), required=True)
    pending_total_fen = fields.Integer(required=True)
    settlements = fields.List(fields.Nested(CreditSettlementOut), required=True,
                              metadata={"description": "unpaid settlements"})
    contract = fields.Nested(CreditContractBrief, allow_none=True, required=True)
    suspended = fields.Boolean(required=True)
    blocks = fields.List(fields.Nested(CreditBlockOut), required=True)


class CreditSettleOut(Schema):
    """What the tap did: deducted (无感支付 done), deducting (under way), jsapi (pay with `payment.jsapi`), paid."""

    result = fields.String(required=True, validate=validate.OneOf(("deducted", "deducting", "jsapi", "paid")))
    settlement = fields.Nested(CreditSettlementOut, required=True)
    payment = fields.Nested(PayOut, allow_none=True, required=True)


class CreditContractOut(Schema):
    """The contract and, when opening it, where the resident signs (WeChat's pre-sign page)."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CONTRACT_STATUSES))
    out_contract_code = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    signed_at = LocalDateTime(allow_none=True)
    redirect_url = fields.String(allow_none=True, metadata={
        "description": "open with window.location.href; the state follows WeChat's notification"})
    sandbox = fields.Boolean(required=True, metadata={
        "description": "sandbox: sign with POST /sandbox/wechatpay/contracts/{out_contract_code}/sign"})
