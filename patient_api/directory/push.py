"""A hospital's HIS pushes its schedules (出诊): departments and doctors by their HIS codes, created on first use."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..common import audit
from ..common.clock import today_local
from ..common.locking import lock_row
from ..errors import Conflict, Invalid
from ..extensions import db
from .models import Department, Doctor, Hospital, Schedule
from .schedules import create_schedule

SAME = ("fee_kind", "fee_fen", "capacity")  # a re-push must agree on these; anything else is a new schedule


def upsert(hospital, body):
    """(schedule, created): the pushed schedule, or the one already there for that doctor, day and period.

    A re-push with the same ticket settings is answered with the existing schedule (retries are safe); with other
    settings 409 schedule_conflict, since tickets may already be booked.
    """
    if body["date"] < today_local():
        raise Invalid("出诊日期不能早于今天", code="schedule_in_past", errors={"date": ["不能早于今天"]})
    # One push of a hospital at a time; on SQLite this also opens the write transaction, so the savepoints below
    # stay inside it and a refused push leaves no department or doctor behind.
    lock_row(Hospital, hospital.id, keep_keys=True)
    department = _department(hospital, body["department"])
    doctor = _doctor(hospital, department, body["doctor"])
    query = select(Schedule).where(Schedule.doctor_id == doctor.id, Schedule.date == body["date"],
                                   Schedule.period == body["period"])
    existing = db.session.scalars(query).first()
    if existing is None:
        try:
            with db.session.begin_nested():
                schedule = create_schedule(hospital, department, doctor, body["date"], body["period"],
                                           body["fee_kind"], body["fee_fen"], body["capacity"],
                                           slot_minutes=body["slot_minutes"], release_at=body.get("release_at"),
                                           reserved=body.get("reserved"))
            audit.record("hospital", hospital.id, "schedule.push", resource=schedule.id)
            return schedule, True
        except IntegrityError:  # the same push arrived twice at once: the other one made it
            existing = db.session.scalars(query).one()
    if any(getattr(existing, name) != body[name] for name in SAME):
        raise Conflict("该医生该时段已有排班且号源设置不同，请先停诊再重新排班", code="schedule_conflict")
    return existing, False


def _department(hospital, ref):
    query = select(Department).filter_by(hospital_id=hospital.id, code=ref["code"])
    department = db.session.scalars(query).first()
    if department is not None:
        return department
    if not ref.get("name"):
        raise Invalid("新科室须提供名称", code="department_unknown", errors={"department": {"name": ["新科室必填"]}})
    return _insert(Department(hospital_id=hospital.id, code=ref["code"], name=ref["name"]), query)


def _doctor(hospital, department, ref):
    query = select(Doctor).filter_by(hospital_id=hospital.id, code=ref["code"])
    doctor = db.session.scalars(query).first()
    if doctor is not None:
        return doctor
    missing = {name: ["新医生必填"] for name in ("name", "title") if not ref.get(name)}
    if missing:
        raise Invalid("新医生须提供姓名和职称", code="doctor_unknown", errors={"doctor": missing})
    return _insert(Doctor(hospital_id=hospital.id, department_id=department.id, code=ref["code"], name=ref["name"],
                          title=ref["title"]), query)


def _insert(row, query):
    """Add the row; if a parallel push added the same code a moment ago, use theirs."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
        return row
    except IntegrityError:
        return db.session.scalars(query).one()
