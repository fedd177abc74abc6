"""Bills, their items, payments and refunds, with the payment state machine."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

KINDS = ("registration", "outpatient", "inpatient_deposit", "inpatient_settlement", "homecare", "credit_settlement")
STATUSES = ("unpaid", "paying", "paid", "partially_refunded", "refunded", "closed")


PAYMENT_METHODS = ("wechat_jsapi", "wechat_native")


class PaymentStateError(Exception):
    """A payment event that its current state does not allow (e.g. paying a closed order twice)."""


class Bill(db.Model):
    """Something a patient owes a hospital; status follows its payments and refunds."""

    __tablename__ = "bills"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "order_no"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("bil"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20), default="unpaid")
    total_fen: Mapped[int]
    appointment_id: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    order_no: Mapped[str | None] = mapped_column(sa.String(64))  # the hospital's own number (HIS)
    department: Mapped[str | None] = mapped_column(sa.String(60))
    doctor: Mapped[str | None] = mapped_column(sa.String(40))
    insurance_type: Mapped[str] = mapped_column(sa.String(12), default="self_pay", server_default="self_pay")
    admission_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)  # deposits and discharge settlement
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    items: Mapped[list["BillItem"]] = relationship(lazy="selectin", order_by="BillItem.id")
    payments: Mapped[list["Payment"]] = relationship(lazy="selectin", order_by="Payment.created_at",
                                                     viewonly=True)
    # For the name a resident reads; lists load it with billing.services.with_names().
    hospital = relationship("Hospital", viewonly=True)
    patient = relationship("Patient", viewonly=True, lazy="raise")  # loaded only on purpose (a receipt's payer)

    @property
    def department_name(self):
        """The department HIS named, or for a registration fee the booked one (copied when the fee was billed)."""
        return self.department

    @property
    def doctor_name(self):
        """The doctor HIS named, or for a registration fee the booked schedule's."""
        return self.doctor

    @property
    def payable(self):
        """A new payment may start: unpaid, or a previous attempt still open."""
        return self.status in ("unpaid", "paying")


class BillItem(db.Model):
    """One line of a bill."""

    __tablename__ = "bill_items"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(100))
    category: Mapped[str] = mapped_column(sa.String(30))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    amount_fen: Mapped[int]
    insurance_class: Mapped[str | None] = mapped_column(sa.String(4))  # 甲 / 乙 / 丙


class Payment(db.Model):
    """One WeChat Pay order for the self-pay part of a bill; `out_trade_no` is unique at WeChat too."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("pay"))
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    method: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(12), default="created")  # created | paid | closed
    amount_fen: Mapped[int]  # what WeChat charges: the self-pay part
    insurance_fund_fen: Mapped[int] = mapped_column(default=0)
    personal_account_fen: Mapped[int] = mapped_column(default=0)
    deposit_fen: Mapped[int] = mapped_column(default=0, server_default="0")  # paid from inpatient deposits held
    # The part of the insurance deductible (起付线) this payment used up: given back to the year if it is refunded.
    deductible_fen: Mapped[int] = mapped_column(default=0, server_default="0")
    transaction_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    payer_openid: Mapped[str | None] = mapped_column(sa.String(64))
    prepay_id: Mapped[str | None] = mapped_column(sa.String(64))
    code_url: Mapped[str | None] = mapped_column(sa.String(200))
    refunded_fen: Mapped[int] = mapped_column(default=0)
    refund_count: Mapped[int] = mapped_column(default=0)
    # Money that arrived for a bill already paid or closed: kept apart from the bill and refunded in full.
    overpaid: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    query_attempts: Mapped[int] = mapped_column(default=0)
    next_query_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)

    refunds: Mapped[list["Refund"]] = relationship(lazy="selectin", order_by="Refund.created_at", viewonly=True)
    bill = relationship("Bill", viewonly=True, lazy="raise")  # loaded only on purpose (with the order's lock)

    def mark_paid(self, transaction_id, openid, instant):
        """created → paid; a duplicate of the same transaction is a no-op, anything else an error."""
        if self.status == "paid":
            if self.transaction_id != transaction_id:
                raise PaymentStateError("order paid by two different transactions")
            return False
        # From `closed` too: WeChat took money for an order we had closed; the fact is kept and the
        # caller refunds it, because the money is real.
        self.status, self.transaction_id, self.payer_openid, self.paid_at = "paid", transaction_id, openid, instant
        self.next_query_at = None
        return True

    def mark_closed(self, instant):
        """created → closed (unpaid at the end of its time); paid orders never close."""
        if self.status != "created":
            return False
        self.status, self.closed_at, self.next_query_at = "closed", instant, None
        return True

    def refundable_fen(self, instant, window_days=365, max_refunds=50):
        """How much may still be refunded now: paid, within 365 days, under 50 refunds."""
        if self.status != "paid" or self.refund_count >= max_refunds:
            return 0
        if self.paid_at is None or (instant - self.paid_at).days >= window_days:
            return 0
        return self.amount_fen - self.refunded_fen


class Refund(db.Model):
    """A full or partial refund of one payment, idempotent by out_refund_no."""

    __tablename__ = "refunds"

    # A hospital's refund number is unique per hospital (two hospitals may both send "TF001"); out_refund_no is the
    # number WeChat sees, unique for the merchant: our own for internal refunds, generated for a hospital's.
    __table_args__ = (sa.UniqueConstraint("hospital_id", "source_refund_no"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rfd"))
    payment_id: Mapped[str] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    # The bill refunded when it is not the payment's own: a bill paid through a 先诊疗后付费 settlement's payment.
    bill_id: Mapped[str | None] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    source_refund_no: Mapped[str | None] = mapped_column(sa.String(64))  # None for our own refunds
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_fen: Mapped[int]
    reason: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(12), default="processing")  # processing | succeeded | failed
    refund_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def caller_refund_no(self):
        """The number the refund's requester knows it by (a hospital's own, else ours)."""
        return self.source_refund_no or self.out_refund_no


class PaymentAlert(db.Model):
    """Something WeChat reported that our books cannot take (an order paid twice by different transactions):
    nothing was changed; a person reconciles it. One row per distinct report, however often WeChat repeats it."""

    __tablename__ = "payment_alerts"
    __table_args__ = (sa.UniqueConstraint("kind", "out_trade_no", "transaction_id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # transaction_mismatch
    out_trade_no: Mapped[str] = mapped_column(sa.String(32))
    transaction_id: Mapped[str] = mapped_column(sa.String(64))
    detail: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
