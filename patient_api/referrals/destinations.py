"""Where a referral may go (up: hospitals of level 2 or 3; down: level-1 clinics and centres; never one's own) and
the tickets a city hospital keeps for referrals over the next days."""
from datetime import timedelta

import sqlalchemy as sa

from ..common.clock import now, to_local
from ..directory.levels import level_rank
from ..directory.models import Department, Hospital, Schedule
from ..directory.services import with_pools
from ..errors import Invalid, NotFound
from ..extensions import db
from .booking import POOL

DAYS_AHEAD = 8
MAX_SCHEDULES = 300


def fits(hospital, direction, own_hospital_id):
    """May a referral in `direction` go from `own_hospital_id` to this hospital?"""
    if hospital is None or hospital.id == own_hospital_id:
        return False
    rank = level_rank(hospital.level)
    return rank >= 2 if direction == "up" else rank == 1


def destinations(staff, direction):
    """Hospitals a referral from the staff member's hospital may go to, with their departments."""
    hospitals = [h for h in db.session.scalars(sa.select(Hospital).order_by(Hospital.code)).all()
                 if fits(h, direction, staff.hospital_id)]
    departments = {}
    for department in db.session.scalars(sa.select(Department).where(
            Department.hospital_id.in_([h.id for h in hospitals])).order_by(Department.code)).all():
        departments.setdefault(department.hospital_id, []).append({"id": department.id, "name": department.name})
    return [{"hospital_id": h.id, "name": h.name, "level": h.level, "level_rank": level_rank(h.level),
             "address": h.address, "departments": departments.get(h.id, [])} for h in hospitals]


def destination(staff, direction, hospital_id, department_id=None):
    """(hospital, department or None) named in a referral's body; 422 invalid_destination / invalid_department."""
    hospital = db.session.get(Hospital, hospital_id)
    if not fits(hospital, direction, staff.hospital_id):
        where = "二级及以上医院" if direction == "up" else "一级基层医疗机构（卫生院、社区卫生服务中心）"
        raise Invalid(f"转诊目标须为本院以外的{where}", code="invalid_destination",
                      errors={"to_hospital_id": ["不是可转诊的医疗机构"]})
    department = db.session.get(Department, department_id) if department_id else None
    if department_id and (department is None or department.hospital_id != hospital.id):
        raise Invalid("所选科室不属于转诊目标医院", code="invalid_department",
                      errors={"to_department_id": ["不是该医院的科室"]})
    return hospital, department


def tickets(staff, hospital_id, department_id=None, instant=None):
    """Open schedules of an up destination over the next days, with tickets kept for referrals and public ones."""
    instant = instant or now()
    hospital = db.session.get(Hospital, hospital_id)
    if not fits(hospital, "up", staff.hospital_id):
        raise NotFound("未找到该医院", code="hospital_not_found")
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None or department.hospital_id != hospital.id:
            raise NotFound("未找到该科室", code="department_not_found")
    today = to_local(instant).date()
    stmt = sa.select(Schedule).where(Schedule.hospital_id == hospital.id,
                                     Schedule.date.between(today, today + timedelta(days=DAYS_AHEAD)),
                                     Schedule.stopped.is_(False), Schedule.release_at <= instant,
                                     Schedule.ends_at > instant)
    if department_id is not None:
        stmt = stmt.where(Schedule.department_id == department_id)
    rows = with_pools(db.session.scalars(stmt.order_by(Schedule.starts_at, Schedule.id).limit(MAX_SCHEDULES)).all(),
                      instant)
    return [{"schedule_id": s.id, "department_id": s.department_id, "date": s.date, "period": s.period,
             "starts_at": s.starts_at, "ends_at": s.ends_at, "doctor_name": s.doctor.name,
             "doctor_title": s.doctor.title, "fee_kind": s.fee_kind, "fee_fen": s.fee_fen,
             "referral_available": s.reserved.get(POOL, 0), "public_available": s.public_available} for s in rows]


def schedule_for(hospital, department, schedule_id):
    """The schedule named in a booking: one of the destination's (and department's, when one is named); 422
    invalid_schedule otherwise."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or schedule.hospital_id != hospital.id or (
            department is not None and schedule.department_id != department.id):
        raise Invalid("所选排班不属于转诊目标医院或科室", code="invalid_schedule",
                      errors={"schedule_id": ["不是转诊目标科室的排班"]})
    return schedule
