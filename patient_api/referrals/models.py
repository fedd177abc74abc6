"""A referral between two hospitals of the city, the reports it shares and the steps it went through."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

DIRECTIONS = ("up", "down")
URGENCIES = ("routine", "urgent")
STATUSES = ("sent", "booked", "received", "accepted", "completed", "declined", "cancelled")
CONSENT_BY = ("patient", "guardian")
CONSENT_METHODS = ("signed", "verbal")


class Referral(db.Model):
    """One referral: who sent whom where, why, with which consent, and (up) the appointment booked for it."""

    __tablename__ = "referrals"
    # The two boxes list by hospital and time (optionally by status); the resident's list by patient.
    __table_args__ = (sa.Index("ix_referrals_outgoing", "from_hospital_id", "created_at"),
                      sa.Index("ix_referrals_outgoing_status", "from_hospital_id", "status", "created_at"),
                      sa.Index("ix_referrals_incoming", "to_hospital_id", "created_at"),
                      sa.Index("ix_referrals_incoming_status", "to_hospital_id", "status", "created_at"),
                      sa.Index("ix_referrals_patient", "patient_id", "created_at"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ref"))
    direction: Mapped[str] = mapped_column(sa.String(4))
    status: Mapped[str] = mapped_column(sa.String(12))
    urgency: Mapped[str] = mapped_column(sa.String(8), default="routine")
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    from_hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    from_staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    to_hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    to_department_id: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    diagnosis: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text)  # 病情摘要: the receiving doctor's, not shown to residents
    plan: Mapped[str | None] = mapped_column(sa.String(1000))  # down: 康复/治疗方案 for the clinic
    followup_kind: Mapped[str | None] = mapped_column(sa.String(20))  # down: a vitals kind the clinic follows up
    followup_every_days: Mapped[int | None]
    consent_by: Mapped[str] = mapped_column(sa.String(10))
    consent_method: Mapped[str] = mapped_column(sa.String(10))
    consent_recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    contact_phone_enc: Mapped[str | None] = mapped_column(sa.String(200))  # for a patient without WeChat
    appointment_id: Mapped[str | None] = mapped_column(sa.ForeignKey("appointments.id"))
    # "signed": when the ticket was last booked, the patient was signed with a family-doctor team of the sender
    priority: Mapped[str | None] = mapped_column(sa.String(8))
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ReferralReport(db.Model):
    """A report of the sending hospital shared with the receiving side."""

    __tablename__ = "referral_reports"

    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id"), primary_key=True)
    report_id: Mapped[str] = mapped_column(sa.ForeignKey("reports.id"), primary_key=True)
    position: Mapped[int]


class ReferralEvent(db.Model):
    """One step of a referral (its history): the status reached, when, by which staff member of which hospital; no
    staff member when the patient's side caused it (the appointment cancelled in the app: `note` 预约已取消)."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    staff_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    note: Mapped[str | None] = mapped_column(sa.String(40))
