"""Teams and packages: which teams cover an address, what each offers and how many more it may sign; and setting
them up (the demo data and the `family` CLI)."""
import json

import sqlalchemy as sa

from ..accounts.staff import Staff
from ..directory.models import Doctor
from ..errors import Invalid, NotFound
from ..extensions import db
from ..records.models import FamilyDoctorContract
from .models import MEMBER_ROLES, PACKAGE_KINDS, FamilyPackage, FamilyTeam, FamilyTeamArea, FamilyTeamMember

MAX_TEAMS = 50  # listed for one address; a county has a few dozen teams at most


def team_not_found():
    """The same answer for a missing team, a withdrawn one and one the caller may not act for."""
    return NotFound("未找到该家庭医生团队", code="family_team_not_found")


def package_not_found():
    """A package that does not exist, is withdrawn or belongs to another clinic."""
    return NotFound("未找到该服务包", code="family_package_not_found")


def community_name(text):
    """村/社区 names compared without spaces (全角 ones too)."""
    return "".join((text or "").split())


def published_team(team_id):
    """An active team; 404 family_team_not_found otherwise."""
    team = db.session.get(FamilyTeam, team_id)
    if team is None or not team.active:
        raise team_not_found()
    return team


def covering(region_code, community=None):
    """Active teams covering the district/county (and that 村/社区 when given), by clinic then code."""
    stmt = sa.select(FamilyTeamArea.team_id).where(FamilyTeamArea.region_code == region_code)
    if community:
        stmt = stmt.where(FamilyTeamArea.community == community_name(community))
    return db.session.scalars(sa.select(FamilyTeam).where(FamilyTeam.id.in_(stmt), FamilyTeam.active.is_(True))
                              .order_by(FamilyTeam.hospital_id, FamilyTeam.code).limit(MAX_TEAMS)).all()


def covers(team, region_code, community):
    """The team serves that 村/社区 of that district."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(FamilyTeamArea).where(
        FamilyTeamArea.team_id == team.id, FamilyTeamArea.region_code == region_code,
        FamilyTeamArea.community == community_name(community))) > 0


def signed_count(team_id):
    """Contracts in force with the team (pushed ones naming it too)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract).where(
        FamilyDoctorContract.team_id == team_id, FamilyDoctorContract.status == "active"))


def remaining(team):
    """How many more residents the team may sign (never below 0)."""
    return max(team.capacity - signed_count(team.id), 0)


def packages_of(hospital_id):
    """The clinic's active packages: the free basic one first, then by price."""
    return db.session.scalars(sa.select(FamilyPackage).where(
        FamilyPackage.hospital_id == hospital_id, FamilyPackage.active.is_(True))
        .order_by(FamilyPackage.price_fen, FamilyPackage.code)).all()


def team_package(team, package_id):
    """An active package of the team's clinic; 404 family_package_not_found otherwise."""
    package = db.session.get(FamilyPackage, package_id)
    if package is None or not package.active or package.hospital_id != team.hospital_id:
        raise package_not_found()
    return package


def team_by_code(hospital, code):
    """The clinic's team with that code, or None."""
    return db.session.scalars(sa.select(FamilyTeam).filter_by(hospital_id=hospital.id, code=code)).first()


def package_by_code(hospital, code):
    """The clinic's package with that code, or None."""
    return db.session.scalars(sa.select(FamilyPackage).filter_by(hospital_id=hospital.id, code=code)).first()


def create_team(hospital, code, name, capacity, areas, phone=None, introduction=None):
    """A team of the clinic covering `areas` [(region_code, community)]."""
    team = FamilyTeam(hospital_id=hospital.id, code=code, name=name, capacity=capacity, phone=phone,
                      introduction=introduction)
    db.session.add(team)
    db.session.flush()
    for region_code, community in areas:
        db.session.add(FamilyTeamArea(team_id=team.id, region_code=region_code, community=community_name(community)))
    db.session.flush()
    return team


def add_member(team, name, member_role, title=None, staff=None, is_lead=False, doctor=None):
    """A member of the team; `staff` (role family_team, same clinic) is the sign-in that acts for the team, `doctor`
    (a doctor row of the clinic, for a member who is a doctor) the one whose sessions keep 签约居民预留 tickets."""
    if member_role not in MEMBER_ROLES:
        raise Invalid(errors={"member_role": [f"应为以下之一：{'、'.join(MEMBER_ROLES)}"]})
    if staff is not None and (staff.role != "family_team" or staff.hospital_id != team.hospital_id):
        raise Invalid("只能添加本机构家庭医生团队角色（family_team）的工作人员", code="staff_not_eligible")
    if doctor is not None and (member_role != "doctor" or doctor.hospital_id != team.hospital_id):
        raise Invalid("只能关联本机构出诊医生，且成员角色须为医生", code="doctor_not_eligible")
    member = FamilyTeamMember(team_id=team.id, name=name, member_role=member_role, title=title,
                              staff_id=staff.id if staff else None, doctor_id=doctor.id if doctor else None,
                              is_lead=is_lead)
    db.session.add(member)
    db.session.flush()
    return member


def create_package(hospital, code, kind, name, description, items, price_fen, eligibility=None):
    """A package the clinic's teams offer; `items` [{"name", "frequency"}], `eligibility` as in family.eligibility."""
    if kind not in PACKAGE_KINDS:
        raise Invalid(errors={"kind": [f"应为以下之一：{'、'.join(PACKAGE_KINDS)}"]})
    package = FamilyPackage(hospital_id=hospital.id, code=code, kind=kind, name=name, description=description,
                            items_json=json.dumps(items, ensure_ascii=False), price_fen=price_fen,
                            eligibility_json=json.dumps(eligibility or {"match": "any", "rules": []}))
    db.session.add(package)
    db.session.flush()
    return package


def doctor_by_code(hospital, code):
    """The clinic's doctor row with that code (as HIS pushes schedules), or None."""
    return db.session.scalars(sa.select(Doctor).filter_by(hospital_id=hospital.id, code=code)).first()


def staff_by_username(username):
    """A staff account by username, or None."""
    return db.session.scalars(sa.select(Staff).filter_by(username=username)).first()
