"""Reports from every hospital of the city (lab, imaging, outpatient and inpatient documents) and their results.

Rows are keyed to a person by `person_index`, the blind index of the resident ID number, not by a
patient row: data for someone who has not registered yet is kept, and shows as soon as anyone adds
that patient (their Patient row carries the same index).
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

KINDS = ("lab", "imaging", "outpatient", "inpatient")
# FHIR DiagnosticReport/DocumentReference statuses we keep; entered-in-error and cancelled hide a report.
STATUSES = ("registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled",
            "entered-in-error")
HIDDEN = ("registered", "cancelled", "entered-in-error")
FLAGS = ("N", "H", "L", "HH", "LL", "A")


class MrnLink(db.Model):
    """A hospital's medical record number (病案号/就诊卡号) for a person, learnt from a Patient resource."""

    __tablename__ = "mrn_links"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "mrn"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    mrn: Mapped[str] = mapped_column(sa.String(64))
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Report(db.Model):
    """One report as the hospital last sent it; earlier versions are kept in report_versions."""

    __tablename__ = "reports"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "source_id"),
                      sa.Index("ix_reports_person", "person_index", "issued_at"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rpt"))
    person_index: Mapped[str] = mapped_column(sa.String(64))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    source_id: Mapped[str] = mapped_column(sa.String(128))  # the sender's report id (identifier or resource id)
    source_format: Mapped[str] = mapped_column(sa.String(10))  # fhir | hl7v2
    kind: Mapped[str] = mapped_column(sa.String(12))
    title: Mapped[str] = mapped_column(sa.String(200))
    code: Mapped[str | None] = mapped_column(sa.String(64))
    category: Mapped[str | None] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(20))
    department: Mapped[str | None] = mapped_column(sa.String(60))
    performer: Mapped[str | None] = mapped_column(sa.String(100))
    encounter_source_id: Mapped[str | None] = mapped_column(sa.String(128))
    effective_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    findings: Mapped[str | None] = mapped_column(sa.Text)  # imaging: 检查所见
    impression: Mapped[str | None] = mapped_column(sa.Text)  # imaging: 诊断意见; lab: conclusion
    body: Mapped[str | None] = mapped_column(sa.Text)  # outpatient/inpatient documents (门诊病历, 出院小结)
    sensitive: Mapped[bool] = mapped_column(default=False)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when a held report was released
    mutually_recognised: Mapped[bool] = mapped_column(default=False)  # 检查检验结果互认
    abnormal_count: Mapped[int] = mapped_column(default=0, server_default="0")  # results flagged other than N
    critical: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # any HH/LL (危急值)
    version: Mapped[int] = mapped_column(default=1)
    content_hash: Mapped[str] = mapped_column(sa.String(64))  # re-sending the same content changes nothing
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    items: Mapped[list["Observation"]] = relationship(lazy="selectin", order_by="Observation.position",
                                                      viewonly=True)


class ReportVersion(db.Model):
    """A version of a report that a later one (amended, corrected) replaced: the history is kept."""

    __tablename__ = "report_versions"
    __table_args__ = (sa.UniqueConstraint("report_id", "version"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    report_id: Mapped[str] = mapped_column(sa.ForeignKey("reports.id"))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))
    snapshot: Mapped[str] = mapped_column(sa.Text)  # JSON of the report and its items as they were
    replaced_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Observation(db.Model):
    """One result: a report's item, or a stand-alone observation (vital signs measured at a hospital)."""

    __tablename__ = "observations"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "source_id"),
                      sa.Index("ix_observations_trend", "person_index", "code", "observed_at"))

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    person_index: Mapped[str] = mapped_column(sa.String(64))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    report_id: Mapped[str | None] = mapped_column(sa.ForeignKey("reports.id"), index=True)
    source_id: Mapped[str] = mapped_column(sa.String(160))
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(sa.String(64))  # LOINC where the sender has it, else its local code
    code_system: Mapped[str | None] = mapped_column(sa.String(120))
    name: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[str | None] = mapped_column(sa.String(500))  # as sent (numbers, text, "阴性")
    value_num: Mapped[float | None] = mapped_column(sa.Float)
    unit: Mapped[str | None] = mapped_column(sa.String(40))
    ref_low: Mapped[float | None] = mapped_column(sa.Float)
    ref_high: Mapped[float | None] = mapped_column(sa.Float)
    reference_range: Mapped[str | None] = mapped_column(sa.String(120))
    flag: Mapped[str | None] = mapped_column(sa.String(4))
    critical: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default="final")
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Stand-alone observations carry their own hold (results of a report follow the report's).
    sensitive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
