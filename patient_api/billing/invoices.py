"""Electronic medical receipts (医疗收费电子票据): one per paid bill, numbered without gaps, 冲红 on full refund."""
import hashlib
import hmac
import json
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..accounts.models import Patient
from ..common.clock import UtcDateTime, to_local
from ..common.ids import new_id
from ..common.masking import mask_name
from ..errors import Conflict
from ..extensions import db
from .schemas import BillItemOut

PROVINCE = "37"  # 山东: the province's receipt platform owns the first two digits of every code
INVOICE_STATUSES = ("issued", "reversed")
ITEM_FIELDS = ("code", "name", "category", "quantity", "unit_price_fen", "amount_fen", "insurance_class")


class Invoice(db.Model):
    """The receipt of one paid bill; (code, number) is what the resident and the tax platform see."""

    __tablename__ = "invoices"
    __table_args__ = (sa.UniqueConstraint("code", "number"), sa.UniqueConstraint("reversal_code", "reversal_number"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("inv"))
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), unique=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(8))  # 票据代码
    number: Mapped[str] = mapped_column(sa.String(10))  # 票据号码
    check_code: Mapped[str] = mapped_column(sa.String(6))  # 校验码
    total_fen: Mapped[int]
    self_pay_fen: Mapped[int]
    insurance_fund_fen: Mapped[int]
    personal_account_fen: Mapped[int]
    items_json: Mapped[str] = mapped_column(sa.Text)  # frozen copy: the receipt must not change with the bill
    payer_name_masked: Mapped[str] = mapped_column(sa.String(50))
    status: Mapped[str] = mapped_column(sa.String(10), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reversal_code: Mapped[str | None] = mapped_column(sa.String(8))
    reversal_number: Mapped[str | None] = mapped_column(sa.String(10))


class InvoiceCounter(db.Model):
    """The last number used under one receipt code."""

    __tablename__ = "invoice_counters"

    code: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class _AlreadyDone(Exception):
    """Another caller got there first; unwinds the savepoint so the number taken goes back."""


def receipt_code(hospital_id, instant):
    """票据代码: province, 2-digit local year, 4 digits stable per hospital."""
    # Two hospitals may hash alike; they then share a code and its counter, so (code, number) stays unique.
    digits = int(hashlib.sha256(hospital_id.encode()).hexdigest(), 16) % 10_000
    return f"{PROVINCE}{to_local(instant).year % 100:02d}{digits:04d}"


def make_check_code(code, number, total_fen):
    """校验码: first 6 hex of HMAC-SHA256(SECRET_KEY, code+number+total_fen); fixed widths keep it unambiguous."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{code}{number}{total_fen}".encode(), hashlib.sha256).hexdigest()[:6]


def verify(code, number, total_fen, check_code):
    """True when the check code belongs to that receipt and amount."""
    return hmac.compare_digest(make_check_code(code, number, total_fen), str(check_code).lower())


def _next_number(code):
    """Take the next number of a code; the counter's row lock then holds other issuers until we commit."""
    counters = InvoiceCounter.__table__
    bump = (sa.update(counters).where(counters.c.code == code)
            .values(last_number=counters.c.last_number + 1).returning(counters.c.last_number))
    number = db.session.execute(bump).scalar_one_or_none()
    if number is None:  # the code's first receipt: whoever inserts the row second just bumps it
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(counters).values(code=code, last_number=0))
        except IntegrityError:
            pass
        number = db.session.execute(bump).scalar_one()
    return f"{number:010d}"


def _numbered(fields):
    """Take the next number of the code and insert the receipt (flushed)."""
    number = _next_number(fields["code"])
    invoice = Invoice(number=number, check_code=make_check_code(fields["code"], number, fields["total_fen"]), **fields)
    db.session.add(invoice)
    db.session.flush()
    return invoice


def invoice_for_bill(bill_id):
    """The bill's receipt, or None."""
    return db.session.scalar(sa.select(Invoice).where(Invoice.bill_id == bill_id))


def issue(bill, payment, instant, bill_locked=False):
    """The receipt of a paid bill, created on the first call; repeated and concurrent calls return that one.

    bill_locked: the caller holds the bill's row lock and has just turned the bill paid under it (as settling a
    payment does), so the bill has no receipt yet and no other issuer of it can run now: neither the look for an
    existing receipt nor the savepoint that would give the number back to a losing racer is needed — three fewer
    statements, one of them while the counter is held. A racer that did not lock would fail the whole transaction
    instead, which still leaves no gap.
    """
    existing = None if bill_locked else invoice_for_bill(bill.id)
    if existing is not None:
        return existing
    if payment.bill_id != bill.id or payment.status != "paid":
        raise Conflict("账单尚未支付，不能开具票据", code="bill_not_paid")
    self_pay_fen = payment.amount_fen + payment.deposit_fen  # deposits held were the patient's own money
    if self_pay_fen + payment.insurance_fund_fen + payment.personal_account_fen != bill.total_fen:
        raise ValueError(f"bill {bill.id}: payment split does not add up to {bill.total_fen}")
    code = receipt_code(bill.hospital_id, instant)
    # Everything that needs a query is read before the counter is taken: its lock holds every other issuer of
    # the code until we commit, so the time between taking it and committing is kept to a few statements.
    fields = {"bill_id": bill.id, "hospital_id": bill.hospital_id, "patient_id": bill.patient_id, "code": code,
              "total_fen": bill.total_fen, "self_pay_fen": self_pay_fen,
              "insurance_fund_fen": payment.insurance_fund_fen, "personal_account_fen": payment.personal_account_fen,
              "status": "issued", "issued_at": instant,
              "items_json": json.dumps([{f: getattr(item, f) for f in ITEM_FIELDS} for item in bill.items],
                                       ensure_ascii=False),
              "payer_name_masked": mask_name(db.session.get(Patient, bill.patient_id).name)}
    if bill_locked:
        return _numbered(fields)
    try:
        with db.session.begin_nested():
            # A concurrent issuer of this bill has committed by now; its receipt makes our insert fail on the
            # unique bill_id, and rolling back the savepoint gives our number back: no gaps.
            invoice = _numbered(fields)
    except IntegrityError:  # a racer won (same code: its receipt is committed now; another code: a year change)
        return invoice_for_bill(bill.id)
    return invoice


def reverse(bill, instant):
    """冲红 after a full refund: the red receipt takes its own next number; repeated calls change nothing."""
    invoice = invoice_for_bill(bill.id)
    if invoice is None or invoice.status == "reversed":
        return invoice
    code = receipt_code(bill.hospital_id, instant)
    table = Invoice.__table__
    try:
        with db.session.begin_nested():
            number = _next_number(code)
            # Conditional on "issued" so that of two concurrent reversals one wins and the other's number goes back.
            done = db.session.execute(
                sa.update(table).where(table.c.id == invoice.id, table.c.status == "issued")
                .values(status="reversed", reversed_at=instant, reversal_code=code, reversal_number=number)).rowcount
            if not done:
                raise _AlreadyDone
    except _AlreadyDone:
        pass
    db.session.refresh(invoice)
    return invoice


def render(invoice):
    """The receipt as the API shows it, times in Asia/Shanghai."""
    reversed_ = invoice.status == "reversed"
    return {
        "bill_id": invoice.bill_id, "code": invoice.code, "number": invoice.number, "check_code": invoice.check_code,
        "status": invoice.status, "issued_at": to_local(invoice.issued_at).isoformat(),
        "reversed_at": to_local(invoice.reversed_at).isoformat() if invoice.reversed_at else None,
        "reversal": {"code": invoice.reversal_code, "number": invoice.reversal_number} if reversed_ else None,
        "payer": invoice.payer_name_masked, "total_fen": invoice.total_fen, "self_pay_fen": invoice.self_pay_fen,
        "insurance_fund_fen": invoice.insurance_fund_fen, "personal_account_fen": invoice.personal_account_fen,
        "items": json.loads(invoice.items_json),
    }


class ReversalOut(Schema):
    """The red (冲红) receipt's code and number."""

    code = fields.String(required=True)
    number = fields.String(required=True)


class InvoiceOut(Schema):
    """render(invoice) as a response body; times are already ISO strings with +08:00."""

    bill_id = fields.String(required=True)
    code = fields.String(required=True)
    number = fields.String(required=True)
    check_code = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(INVOICE_STATUSES))
    issued_at = fields.String(required=True, metadata={"format": "date-time"})
    reversed_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    reversal = fields.Nested(ReversalOut, required=True, allow_none=True)
    payer = fields.String(required=True)
    total_fen = fields.Integer(required=True)
    self_pay_fen = fields.Integer(required=True)
    insurance_fund_fen = fields.Integer(required=True)
    personal_account_fen = fields.Integer(required=True)
    items = fields.List(fields.Nested(BillItemOut), required=True)
