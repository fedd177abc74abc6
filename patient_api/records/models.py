"""The health record (电子健康档案): encounters, conditions, allergies, immunizations, vitals, family doctor,
and the access log of every read of a patient's reports or record."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

ENTRY_KINDS = ("condition", "allergy", "immunization")
VITAL_KINDS = ("blood_pressure", "glucose", "heart_rate", "weight", "temperature")
# applied → active | declined | withdrawn; active → renewed | ended | expired | cancelled (a centre's 解约 push).
CONTRACT_STATUSES = ("applied", "active", "declined", "withdrawn", "renewed", "ended", "expired", "cancelled")


class Encounter(db.Model):
    """A visit or stay at a hospital (门诊/急诊/住院), from the hospital's Encounter."""

    __tablename__ = "encounters"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "source_id"),
                      sa.Index("ix_encounters_person", "person_index", "started_at"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("enc"))
    person_index: Mapped[str] = mapped_column(sa.String(64))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    source_id: Mapped[str] = mapped_column(sa.String(128))
    encounter_class: Mapped[str] = mapped_column(sa.String(20))  # outpatient | inpatient | emergency | other
    status: Mapped[str] = mapped_column(sa.String(20))
    department: Mapped[str | None] = mapped_column(sa.String(60))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class RecordEntry(db.Model):
    """A condition (诊断), allergy (过敏) or immunization (预防接种) from a hospital."""

    __tablename__ = "record_entries"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "kind", "source_id"),
                      sa.Index("ix_record_entries_person", "person_index", "kind"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rec"))
    person_index: Mapped[str] = mapped_column(sa.String(64))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    source_id: Mapped[str] = mapped_column(sa.String(128))
    code: Mapped[str | None] = mapped_column(sa.String(64))
    code_system: Mapped[str | None] = mapped_column(sa.String(120))
    display: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str | None] = mapped_column(sa.String(30))  # clinical status / immunization status
    recorded_on: Mapped[date | None] = mapped_column(sa.Date)  # onset, recorded or occurrence date
    detail: Mapped[str | None] = mapped_column(sa.Text)  # JSON: severity, reaction, dose, lot number …
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Vital(db.Model):
    """A measurement the resident uploads (blood pressure, glucose …), checked for plausibility."""

    __tablename__ = "vitals"
    __table_args__ = (sa.Index("ix_vitals_patient", "patient_id", "kind", "measured_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("vit"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    value: Mapped[float | None] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.String(16))
    context: Mapped[str | None] = mapped_column(sa.String(20))  # glucose: fasting | after_meal | random
    measured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(sa.String(32))  # the account that uploaded it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class FamilyDoctorContract(db.Model):
    """家庭医生签约: every contract and application, whether a community health centre pushed it or a resident signed
    online (patient_api.family keeps the rules). At most one is `active` per person, enforced here by a partial unique
    index, so no two paths (two teams accepting, a centre's push, a renewal) can both make one active."""

    __tablename__ = "family_doctor_contracts"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "contract_no"),
        sa.Index("uq_family_doctor_contracts_one_active", "person_index", unique=True,
                 postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'")),
        sa.Index("uq_family_doctor_contracts_one_application", "person_index", "team_id", unique=True,
                 postgresql_where=sa.text("status = 'applied'"), sqlite_where=sa.text("status = 'applied'")),
        sa.Index("ix_family_doctor_contracts_team", "team_id", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("fdc"))
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    contract_no: Mapped[str] = mapped_column(sa.String(64))
    team: Mapped[str] = mapped_column(sa.String(100))
    doctor: Mapped[str] = mapped_column(sa.String(50))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    package: Mapped[str | None] = mapped_column(sa.String(100))  # 服务包
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(12), default="active")  # CONTRACT_STATUSES
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # Signing online (and pushes that name a known team): who, with which team and package, and what happened.
    source: Mapped[str] = mapped_column(sa.String(8), default="push", server_default="push")  # push | online
    patient_id: Mapped[str | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    team_id: Mapped[str | None] = mapped_column(sa.ForeignKey("family_teams.id"))
    package_id: Mapped[str | None] = mapped_column(sa.ForeignKey("family_packages.id"))
    price_fen: Mapped[int | None]  # the package's price when signed
    applicant_account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"))
    region_code: Mapped[str | None] = mapped_column(sa.String(6))  # where the person lives: 区县 code …
    community: Mapped[str | None] = mapped_column(sa.String(40))  # … and 村/社区
    conditions: Mapped[str | None] = mapped_column(sa.String(100))  # declared by the applicant, comma-separated
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(sa.String(32))  # the staff member who accepted or declined
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    renewed_from_id: Mapped[str | None] = mapped_column(sa.ForeignKey("family_doctor_contracts.id"))
    renewal_reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AccessLogEntry(db.Model):
    """One read of a patient's report or record; rows are only ever inserted."""

    __tablename__ = "access_log"
    # Read by person, so reads made before the patient registered (a hospital's read-back) show too.
    __table_args__ = (sa.Index("ix_access_log_person", "person_index", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor_type: Mapped[str] = mapped_column(sa.String(12))  # resident | staff | hospital | kiosk
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(20))  # wechat | kiosk | nurse_station | integration
    patient_id: Mapped[str | None] = mapped_column(sa.String(32))
    person_index: Mapped[str] = mapped_column(sa.String(64))
    resource_type: Mapped[str] = mapped_column(sa.String(30))
    resource_id: Mapped[str] = mapped_column(sa.String(64))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
