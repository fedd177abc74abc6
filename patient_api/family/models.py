"""Family-doctor teams (members, covered areas, capacity), service packages, and the teams' follow-up plans."""
import json
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

MEMBER_ROLES = ("doctor", "nurse", "public_health")  # 全科医生, 护士, 公卫人员
PACKAGE_KINDS = ("basic", "elderly", "chronic", "maternal", "child", "disabled")


class FamilyTeam(db.Model):
    """A family-doctor team of a clinic (a hospital of the directory); `capacity`: how many it may sign."""

    __tablename__ = "family_teams"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("fmt"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(60))
    phone: Mapped[str | None] = mapped_column(sa.String(40))  # the team's service number, not personal data
    introduction: Mapped[str | None] = mapped_column(sa.String(500))
    capacity: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    hospital = relationship("Hospital", viewonly=True, lazy="joined")
    areas: Mapped[list["FamilyTeamArea"]] = relationship(order_by="FamilyTeamArea.id", viewonly=True)
    # The lead first, then doctors, nurses, public-health workers (the roles sort so), by name.
    members: Mapped[list["FamilyTeamMember"]] = relationship(order_by=(
        "desc(FamilyTeamMember.is_lead), FamilyTeamMember.member_role, FamilyTeamMember.name"), viewonly=True)

    @property
    def lead(self):
        """The member who leads the team (a doctor), or None."""
        return next((m for m in self.members if m.is_lead), None) or next(
            (m for m in self.members if m.member_role == "doctor"), None)


class FamilyTeamArea(db.Model):
    """A village or residential community (村/社区) of a district or county the team covers."""

    __tablename__ = "family_team_areas"
    __table_args__ = (sa.UniqueConstraint("team_id", "region_code", "community"),
                      sa.Index("ix_family_team_areas_lookup", "region_code", "community"))

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("family_teams.id"))
    region_code: Mapped[str] = mapped_column(sa.String(6))  # district/county code (区县)
    community: Mapped[str] = mapped_column(sa.String(40))  # 村 or 社区 name


class FamilyTeamMember(db.Model):
    """A member of a team; `staff_id` is the staff sign-in (role family_team) that acts for the team, `doctor_id` the
    doctor row whose clinic sessions keep tickets for the team's signed residents (号源预留 family_team)."""

    __tablename__ = "family_team_members"
    __table_args__ = (sa.UniqueConstraint("team_id", "staff_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ftm"))
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("family_teams.id"), index=True)
    staff_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    doctor_id: Mapped[str | None] = mapped_column(sa.ForeignKey("doctors.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    member_role: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str | None] = mapped_column(sa.String(20))  # 全科主治医师 …
    is_lead: Mapped[bool] = mapped_column(default=False)


class FamilyPackage(db.Model):
    """A service package (服务包) a clinic's teams offer: what it includes, its price, who may sign it."""

    __tablename__ = "family_packages"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("fpk"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(12))
    name: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.String(500))
    items_json: Mapped[str] = mapped_column(sa.Text)  # [{"name", "frequency"}]: 服务内容
    price_fen: Mapped[int]  # 0 for the free basic package (基础包); 个性化包 are priced
    eligibility_json: Mapped[str] = mapped_column(sa.Text)  # {"match": "any"|"all", "rules": [...]}
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def items(self):
        """What the package includes."""
        return json.loads(self.items_json)

    @property
    def eligibility(self):
        """Who may sign it."""
        return json.loads(self.eligibility_json)


class FollowUpPlan(db.Model):
    """A team's follow-up for one contract: a reading of `kind` every `interval_days`, in periods from `starts_at`."""

    __tablename__ = "family_followup_plans"
    __table_args__ = (sa.Index("ix_family_followup_plans_patient", "patient_id", "kind", "active"),
                      sa.Index("ix_family_followup_plans_contract", "contract_id", "active"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ffp"))
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("family_doctor_contracts.id"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # a vitals kind: blood_pressure, glucose …
    interval_days: Mapped[int]
    note: Mapped[str | None] = mapped_column(sa.String(100))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def period_of(self, instant):
        """The number of the period `instant` falls in (negative before the plan started)."""
        return (instant - self.starts_at) // timedelta(days=self.interval_days)

    def period_bounds(self, number):
        """(start, end) of period `number`: the reading is due before its end."""
        start = self.starts_at + timedelta(days=self.interval_days * number)
        return start, start + timedelta(days=self.interval_days)


class FollowUpPeriod(db.Model):
    """One period of a plan: reminded (once, by the job) and done (a reading of the kind measured in it)."""

    __tablename__ = "family_followup_periods"
    __table_args__ = (sa.UniqueConstraint("plan_id", "period_no"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("family_followup_plans.id"))
    period_no: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    vital_id: Mapped[str | None] = mapped_column(sa.ForeignKey("vitals.id"))
