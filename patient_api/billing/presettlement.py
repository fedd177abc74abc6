"""Pre-settlement (预结算): the insurance split of a bill, from the per-hospital policy table.

The local adjudicator stands in for the medical-insurance platform: policies come from the
`insurance_policies` table (defaults by hospital level when a hospital has none) and the patient's
year-to-date state from `insured_accounts` (what the platform would report).
"""
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now, to_local, today_local
from ..directory.models import Hospital
from ..errors import Conflict
from ..extensions import db
from .insurance import (
    Claim,
    InsuranceAdapter,
    InsuranceInputError,
    Insured,
    LocalAdjudicator,
    Policy,
    SettlementContext,
    default_policy_lookup,
)
from .models import Bill, Payment

log = logging.getLogger(__name__)
SETTING_OF_KIND = {"registration": "outpatient", "outpatient": "outpatient",
                   "inpatient_deposit": "inpatient", "inpatient_settlement": "inpatient",
                   "homecare": "outpatient", "credit_settlement": "outpatient"}


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
    year: Mapped[int | None]  # the calendar year the deductible and fund figures count; a new year starts at 0
    deductible_paid_fen: Mapped[int] = mapped_column(default=0)
    fund_paid_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    account_balance_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)


def table_policy_lookup(context, insurance_type):
    """The hospital's own policy row, else the default for its level."""
    row = db.session.scalars(sa.select(InsurancePolicy).filter_by(
        hospital_id=context.hospital_id, insurance_type=insurance_type, setting=context.setting)).first()
    return row.to_policy() if row else default_policy_lookup(context, insurance_type)


def record_claim(claim: Claim, sign: int):
    """The local platform's books: move the insured person's year (deductible, fund towards the cap) and
    personal-account balance by a settlement (+1) or its reversal (-1), under the row's lock."""
    account = _locked_account(claim.patient_id, claim.insurance_type)
    if account.year is None:  # figures the platform reported without a year count as this one's
        account.year = claim.year
    if account.year != claim.year:
        if sign < 0:  # reversing last year's bill: only the personal account's money comes back
            account.account_balance_fen += claim.personal_account_fen
            db.session.flush()
            return
        account.year, account.deductible_paid_fen, account.fund_paid_fen = claim.year, 0, 0
    if claim.setting == "outpatient":  # the inpatient deductible is per admission, not per year
        account.deductible_paid_fen = max(0, account.deductible_paid_fen + sign * claim.deductible_fen)
    account.fund_paid_fen = max(0, account.fund_paid_fen + sign * claim.fund_fen)
    account.account_balance_fen = max(0, account.account_balance_fen - sign * claim.personal_account_fen)
    db.session.flush()


def _locked_account(patient_id, insurance_type):
    """The person's insured_accounts row (made on first use), locked until the transaction ends."""
    locked = (sa.select(InsuredAccount).where(InsuredAccount.patient_id == patient_id).with_for_update()
              .execution_options(populate_existing=True))
    account = db.session.scalars(locked).first()
    if account is not None:  # the common case, and a second call in one transaction (an order paid at once)
        return account
    try:
        with db.session.begin_nested():
            db.session.add(InsuredAccount(patient_id=patient_id, insurance_type=insurance_type,
                                          year=today_local().year, deductible_paid_fen=0, fund_paid_fen=0,
                                          account_balance_fen=0))
    except IntegrityError:  # another payment just made it
        pass
    return db.session.scalars(locked).one()


def _open_orders(bill):
    """(outpatient deductible, fund, personal account) the person's other open, unexpired orders of this scheme
    would claim when paid."""
    outpatient = [kind for kind, setting in SETTING_OF_KIND.items() if setting == "outpatient"]
    row = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(sa.case((Bill.kind.in_(outpatient), Payment.deductible_fen),
                                                       else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(Payment.insurance_fund_fen), 0),
                  sa.func.coalesce(sa.func.sum(Payment.personal_account_fen), 0))
        .join(Bill, Bill.id == Payment.bill_id)
        .where(Bill.patient_id == bill.patient_id, Bill.insurance_type == bill.insurance_type,
               Bill.id != getattr(bill, "id", None),  # a combined settlement's bills have no id of their own
               Payment.status == "created", Payment.expires_at > now())).one()
    return int(row[0]), int(row[1]), int(row[2])


def adapter() -> InsuranceAdapter:
    """The insurance platform this deployment uses: the local adjudicator on our policy table and books."""
    return LocalAdjudicator(table_policy_lookup, record_claim)


def claim_of(bill, payment, instant):
    """The insurance parts of a paid bill as a Claim (None when insurance paid nothing)."""
    if not (payment.insurance_fund_fen or payment.personal_account_fen or payment.deductible_fen):
        return None
    return Claim(bill.patient_id, bill.insurance_type, SETTING_OF_KIND[bill.kind],
                 to_local(payment.paid_at or instant).year,
                 payment.deductible_fen, payment.insurance_fund_fen, payment.personal_account_fen)


def presettle(bill, adapter: InsuranceAdapter | None = None, for_order=False):
    """The split of a bill: fund + personal account + self-pay == total, always.

    The person's other open orders count as already settled: two orders opened before either is paid never both
    meet the deductible or spend the same personal-account money; an order that lapses unpaid stops counting.
    `for_order`: the split a payment order will charge; the insured account is then locked until the order commits,
    so two orders opened at the same instant are split one after the other."""
    adapter = adapter or LocalAdjudicator(table_policy_lookup)
    hospital = db.session.get(Hospital, bill.hospital_id)
    if for_order and bill.insurance_type:
        account = _locked_account(bill.patient_id, bill.insurance_type)
    else:
        account = db.session.get(InsuredAccount, bill.patient_id)
    insured = Insured(bill.insurance_type)  # the scheme HIS billed under; no known year-to-date state
    if account is not None and account.insurance_type == bill.insurance_type:
        this_year = account.year in (None, today_local().year)  # None: as the platform reported it, undated
        outpatient = SETTING_OF_KIND[bill.kind] == "outpatient"
        deductible, fund, spent = _open_orders(bill)
        deductible += account.deductible_paid_fen if this_year else 0
        fund += account.fund_paid_fen if this_year else 0
        insured = Insured(bill.insurance_type, deductible if outpatient else 0, fund,
                          max(0, account.account_balance_fen - spent))
    try:
        context = SettlementContext(hospital.id, hospital.level, SETTING_OF_KIND[bill.kind])
        return adapter.pre_settle(bill.items, insured, context)
    except InsuranceInputError as exc:  # a hospital level or policy row the adjudicator cannot use: not a 500
        log.error("pre-settlement impossible for bill %s: %s", bill.id, exc)
        raise Conflict("该医院暂不支持线上医保结算，请到窗口缴费", code="presettlement_unavailable") from None
