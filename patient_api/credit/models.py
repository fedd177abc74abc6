"""Credit tables: hospital policies, enrolments, bills taken on credit, settlements, 委托代扣 contracts, blocks."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

CITY = "city"  # the scope of a city-wide enrolment (hospital_id null)
ENROLMENT_STATUSES = ("active", "left")
CREDIT_BILL_STATUSES = ("open", "settling", "settled", "void")
SETTLEMENT_STATUSES = ("pending", "deducting", "paid", "cancelled")
UNPAID = ("pending", "deducting")
CONTRACT_STATUSES = ("signing", "active", "terminated")


class CreditPolicy(db.Model):
    """A hospital's 先诊疗后付费 terms; a hospital without a row uses the configured defaults."""

    __tablename__ = "credit_policies"

    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    base_limit_fen: Mapped[int] = mapped_column(sa.BigInteger)
    family_doctor_limit_fen: Mapped[int] = mapped_column(sa.BigInteger)  # 家庭医生签约 residents
    insured_limit_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the insured (employee / resident scheme)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
    updated_by: Mapped[str | None] = mapped_column(sa.String(32))  # the admin who set it (staff id)


class CreditEnrolment(db.Model):
    """A patient opted in at one hospital (or city-wide), with the consent accepted and the limit granted."""

    __tablename__ = "credit_enrolments"
    __table_args__ = (sa.UniqueConstraint("patient_id", "scope"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("cre"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    hospital_id: Mapped[str | None] = mapped_column(sa.ForeignKey("hospitals.id"))  # None: every hospital
    scope: Mapped[str] = mapped_column(sa.String(32))  # the hospital id, or "city"
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    limit_fen: Mapped[int] = mapped_column(sa.BigInteger)
    limit_basis: Mapped[str] = mapped_column(sa.String(20))  # base | family_doctor | insured
    consent_version: Mapped[str] = mapped_column(sa.String(20))
    consented_at: Mapped[datetime] = mapped_column(UtcDateTime)
    consented_by: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CreditBill(db.Model):
    """A HIS bill taken on credit: not payable on its own, paid with its settlement."""

    __tablename__ = "credit_bills"
    __table_args__ = (sa.Index("ix_credit_bills_open", "patient_id", "hospital_id", "status"),)

    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), primary_key=True)
    enrolment_id: Mapped[str] = mapped_column(sa.ForeignKey("credit_enrolments.id"), index=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    settlement_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class CreditSettlement(db.Model):
    """All open credit bills of a patient at one hospital, paid once through its own bill (kind credit_settlement)."""

    __tablename__ = "credit_settlements"
    __table_args__ = (sa.Index("ix_credit_settlements_patient", "patient_id", "hospital_id", "status"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("cst"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    trigger: Mapped[str] = mapped_column(sa.String(10))  # day_end | resident | counter
    method: Mapped[str | None] = mapped_column(sa.String(20))  # how it was paid: wechat_jsapi | wechat_papay | …
    bill_count: Mapped[int]
    total_fen: Mapped[int] = mapped_column(sa.BigInteger)
    insurance_fund_fen: Mapped[int] = mapped_column(sa.BigInteger)
    personal_account_fen: Mapped[int] = mapped_column(sa.BigInteger)
    self_pay_fen: Mapped[int] = mapped_column(sa.BigInteger)
    deductible_fen: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_by: Mapped[str | None] = mapped_column(sa.String(32))  # the cashier, for a window settlement
    # 无感支付: attempts so far, when the worker looks next (a new attempt, or the answer to one under way).
    deduction_attempts: Mapped[int] = mapped_column(default=0)
    deduction_payment_id: Mapped[str | None] = mapped_column(sa.String(32))
    next_deduction_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    deduction_failed: Mapped[bool] = mapped_column(default=False)  # retries used up: the resident pays
    reminded_day: Mapped[int] = mapped_column(default=0)  # the last overdue reminder sent: 0, 1, 3 or 7


class CreditContract(db.Model):
    """A WeChat Pay 委托代扣 contract: the signing account's wallet pays the patient's settlements unasked."""

    __tablename__ = "credit_contracts"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ccn"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    openid: Mapped[str] = mapped_column(sa.String(64))
    plan_id: Mapped[int]
    out_contract_code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    contract_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="signing")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    termination_mode: Mapped[int | None]  # WeChat's contract_termination_mode (2 the payer, 3 us)


class CreditBlock(db.Model):
    """No new credit for a patient: at one hospital (a cashier's suspension) or city-wide (a settlement overdue past
    the grace period, lifted when it is paid)."""

    __tablename__ = "credit_blocks"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("cbk"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    hospital_id: Mapped[str | None] = mapped_column(sa.ForeignKey("hospitals.id"))  # None: city-wide
    reason: Mapped[str] = mapped_column(sa.String(10))  # overdue | staff
    note: Mapped[str | None] = mapped_column(sa.String(200))
    settlement_id: Mapped[str | None] = mapped_column(sa.String(32), unique=True)  # the overdue one (once)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")  # active | lifted
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    created_by: Mapped[str] = mapped_column(sa.String(32))  # staff id, or "system"
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(sa.String(32))
