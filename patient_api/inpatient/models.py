"""Admissions (住院), their itemised daily charges and the discharge settlement."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

# admitted → discharge_ordered → reviewed (出院审核) → settled, or awaiting_payment → settled when a balance is due
STATUSES = ("admitted", "discharge_ordered", "reviewed", "awaiting_payment", "settled")
OPEN_FOR_CHARGES = ("admitted", "discharge_ordered")
OPEN_FOR_DEPOSITS = ("admitted", "discharge_ordered", "reviewed")


class Admission(db.Model):
    """One inpatient stay, pushed by HIS and identified there by `admission_no`."""

    __tablename__ = "admissions"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "admission_no"),
                      sa.Index("ix_admissions_ward", "hospital_id", "ward_code", "status"),
                      # One open stay per patient per hospital, even for two admission numbers pushed at once.
                      sa.Index("uq_admissions_one_open", "hospital_id", "patient_id", unique=True,
                               postgresql_where=sa.text("status <> 'settled'"),
                               sqlite_where=sa.text("status <> 'settled'")))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("adm"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    admission_no: Mapped[str] = mapped_column(sa.String(40))
    ward_code: Mapped[str] = mapped_column(sa.String(32))
    ward_name: Mapped[str | None] = mapped_column(sa.String(60))
    department: Mapped[str | None] = mapped_column(sa.String(60))
    bed_no: Mapped[str] = mapped_column(sa.String(16))
    insurance_type: Mapped[str] = mapped_column(sa.String(12))
    admitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(sa.String(20), default="admitted")
    orders_pending: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    orders_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    discharge_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # from the discharge order (出院医嘱)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(32))
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    low_deposit_warned_on: Mapped[date | None] = mapped_column(sa.Date)  # local day deposit.low was last queued
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    @property
    def ward(self):
        """What residents see: the ward's name when HIS sent one."""
        return self.ward_name or self.ward_code


class Charge(db.Model):
    """One line of the daily charge list (一日清单); `source_id` is HIS's own line id, unique per admission.

    A reversal (冲销/退费) is a line of its own with a negative quantity naming the line it takes back, as HIS
    records it: nothing stored is ever changed, and every sum over the lines is the net amount.
    """

    __tablename__ = "inpatient_charges"
    __table_args__ = (sa.UniqueConstraint("admission_id", "source_id"),
                      sa.Index("ix_inpatient_charges_day", "admission_id", "charge_date"))

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    admission_id: Mapped[str] = mapped_column(sa.ForeignKey("admissions.id"))
    source_id: Mapped[str] = mapped_column(sa.String(64))
    charge_date: Mapped[date] = mapped_column(sa.Date)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(100))
    category: Mapped[str] = mapped_column(sa.String(30))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    insurance_class: Mapped[str | None] = mapped_column(sa.String(4))
    reverses_source_id: Mapped[str | None] = mapped_column(sa.String(64))  # set on a reversal: the line taken back
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    FIELDS = ("charge_date", "code", "name", "category", "quantity", "unit_price_fen", "insurance_class",
              "reverses_source_id")

    def same_as(self, item):
        """True when a re-sent line carries exactly what was stored (then it is a harmless duplicate)."""
        return all(getattr(self, field) == item.get(field) for field in self.FIELDS)


class Settlement(db.Model):
    """The discharge settlement of one admission, made once; amounts in fen as computed at the bed."""

    __tablename__ = "inpatient_settlements"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("stl"))
    admission_id: Mapped[str] = mapped_column(sa.ForeignKey("admissions.id"), unique=True)
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20))  # awaiting_payment | settled
    total_fen: Mapped[int] = mapped_column(sa.BigInteger)
    insurance_fund_fen: Mapped[int] = mapped_column(sa.BigInteger)
    personal_account_fen: Mapped[int] = mapped_column(sa.BigInteger)
    self_pay_fen: Mapped[int] = mapped_column(sa.BigInteger)
    deposits_fen: Mapped[int] = mapped_column(sa.BigInteger)  # held at settlement
    deposit_applied_fen: Mapped[int] = mapped_column(sa.BigInteger)
    balance_due_fen: Mapped[int] = mapped_column(sa.BigInteger)
    refund_fen: Mapped[int] = mapped_column(sa.BigInteger)
    applied_json: Mapped[str] = mapped_column(sa.Text)  # [[deposit bill id, fen], …] consumed by the settlement
    refund_ids_json: Mapped[str] = mapped_column(sa.Text)  # surplus refunds, one per deposit payment
    settled_by: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
