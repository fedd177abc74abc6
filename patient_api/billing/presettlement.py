"""Pre-settlement (预结算): the insurance split of a bill, from the per-hospital policy table.

The local adjudicator stands in for the medical-insurance platform: policies come from the
`insurance_policies` table (defaults by hospital level when a hospital has none) and the patient's
year-to-date state from `insured_accounts` (what the platform would report).
"""
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..directory.models import Hospital
from ..errors import Conflict
from ..extensions import db
from .insurance import (
    InsuranceAdapter,
    InsuranceInputError,
    Insured,
    LocalAdjudicator,
    Policy,
    SettlementContext,
    default_policy_lookup,
)

log = logging.getLogger(__name__)
SETTING_OF_KIND = {"registration": "outpatient", "outpatient": "outpatient",
                   "inpatient_deposit": "inpatient", "inpatient_settlement": "inpatient"}


class InsurancePolicy(db.Model):
    """One row of a hospital's reimbursement policy (insurance type × outpatient/inpatient)."""

    __tablename__ = "insurance_policies"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "insurance_type", "setting"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    insurance_type: Mapped[str] = mapped_column(sa.String(12))
    setting: Mapped[str] = mapped_column(sa.String(12))
    deductible_fen: Mapped[int]
    fund_ratio_bp: Mapped[int]
    class_b_self_ratio_bp: Mapped[int]
    annual_cap_fen: Mapped[int] = mapped_column(sa.BigInteger)
    personal_account_covers: Mapped[str] = mapped_column(sa.String(80), default="")  # comma-separated

    def to_policy(self):
        """The adjudicator's Policy value."""
        covers = [c for c in self.personal_account_covers.split(",") if c]
        return Policy(self.insurance_type, self.setting, self.deductible_fen, self.fund_ratio_bp,
                      self.class_b_self_ratio_bp, self.annual_cap_fen, covers)


class InsuredAccount(db.Model):
    """A patient's insurance state this year, as the insurance platform reports it."""

    __tablename__ = "insured_accounts"

    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), primary_key=True)
    insurance_type: Mapped[str] = mapped_column(sa.String(12))
    deductible_paid_fen: Mapped[int] = mapped_column(default=0)
    fund_paid_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    account_balance_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)


def table_policy_lookup(context, insurance_type):
    """The hospital's own policy row, else the default for its level."""
    row = db.session.scalars(sa.select(InsurancePolicy).filter_by(
        hospital_id=context.hospital_id, insurance_type=insurance_type, setting=context.setting)).first()
    return row.to_policy() if row else default_policy_lookup(context, insurance_type)


def presettle(bill, adapter: InsuranceAdapter | None = None):
    """The split of a bill: fund + personal account + self-pay == total, always."""
    adapter = adapter or LocalAdjudicator(table_policy_lookup)
    hospital = db.session.get(Hospital, bill.hospital_id)
    account = db.session.get(InsuredAccount, bill.patient_id)
    insured = Insured(bill.insurance_type)  # the scheme HIS billed under; no known year-to-date state
    if account is not None and account.insurance_type == bill.insurance_type:
        insured = Insured(bill.insurance_type, account.deductible_paid_fen, account.fund_paid_fen,
                          account.account_balance_fen)
    try:
        context = SettlementContext(hospital.id, hospital.level, SETTING_OF_KIND[bill.kind])
        return adapter.pre_settle(bill.items, insured, context)
    except InsuranceInputError as exc:  # a hospital level or policy row the adjudicator cannot use: not a 500
        log.error("pre-settlement impossible for bill %s: %s", bill.id, exc)
        raise Conflict("该医院暂不支持线上医保结算，请到窗口缴费", code="presettlement_unavailable") from None
