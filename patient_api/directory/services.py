"""Reading the hospital directory and schedules."""
from datetime import timedelta

from sqlalchemy import func, select

from ..common.clock import now, today_local
from ..common.paging import page
from ..errors import NotFound
from ..extensions import db
from . import pools
from .models import Department, Doctor, Hospital, Schedule, Ticket


def hospitals():
    """All hospitals by code."""
    return db.session.scalars(select(Hospital).order_by(Hospital.code)).all()


def get(model, row_id, code):
    """One row by id or 404 with a stable code."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(code=code)
    return row


def hospital_names(ids):
    """{hospital id: name} for these ids."""
    ids = set(ids)
    return dict(db.session.execute(select(Hospital.id, Hospital.name).where(Hospital.id.in_(ids))).all()) \
        if ids else {}


def departments(hospital_id):
    """A hospital's departments."""
    get(Hospital, hospital_id, "hospital_not_found")
    return db.session.scalars(select(Department).filter_by(hospital_id=hospital_id).order_by(Department.code)).all()


def doctors(department_id):
    """A department's doctors."""
    get(Department, department_id, "department_not_found")
    return db.session.scalars(select(Doctor).filter_by(department_id=department_id).order_by(Doctor.code)).all()


def schedules(args):
    """A page of the schedules matching the filters in `args`, soonest first; without a date, today through the
    next release day. Returns (schedules, paging fields)."""
    hospital_id, department_id, doctor_id, date = (args.get(name) for name in (
        "hospital_id", "department_id", "doctor_id", "date"))
    query = select(Schedule)
    for column, value in ((Schedule.hospital_id, hospital_id), (Schedule.department_id, department_id),
                          (Schedule.doctor_id, doctor_id)):
        if value is not None:
            query = query.where(column == value)
    if date is not None:
        query = query.where(Schedule.date == date)
    else:
        today = today_local()
        query = query.where(Schedule.date.between(today, today + timedelta(days=8)))
    rows, paging = page(query, Schedule.starts_at, Schedule.id, args, ascending=True)
    return with_pools([row[0] for row in rows]), paging


def schedule(schedule_id):
    """One schedule with its public availability; 404 schedule_not_found."""
    return with_pools([get(Schedule, schedule_id, "schedule_not_found")])[0]


def with_pools(schedules, instant=None):
    """The schedules, each with `public_available` (free tickets the public may take now: not kept back, window not
    over) and `reserved` ({pool: free tickets still kept back}) set for the response."""
    instant = instant or now()
    kept = pools.kept_by_schedule([s.id for s in schedules], instant)
    past = pools.past_free_by_schedule([s.id for s in schedules if s.starts_at <= instant < s.ends_at], instant)
    for row in schedules:
        row.reserved = kept[row.id]
        row.public_available = max(0, row.available - sum(row.reserved.values()) - past.get(row.id, 0))
    return schedules


def slots(schedule_id, instant=None):
    """Time windows (分时段) of a schedule with how many tickets each still has for the public, how many are kept
    back per pool, and its status (open|full|past)."""
    instant = instant or now()
    schedule = get(Schedule, schedule_id, "schedule_not_found")
    free = Ticket.status == "free"
    public = func.sum(func.cast(free & pools.public_clause(instant), db.Integer))
    rows = db.session.execute(
        select(Ticket.window_start, Ticket.window_end, func.count(), public)
        .where(Ticket.schedule_id == schedule.id)
        .group_by(Ticket.window_start, Ticket.window_end).order_by(Ticket.window_start)).all()
    kept = {}
    for start, pool, count in db.session.execute(
            select(Ticket.window_start, Ticket.reserved_for, func.count())
            .where(Ticket.schedule_id == schedule.id, free, pools.kept_clause(instant))
            .group_by(Ticket.window_start, Ticket.reserved_for)).all():
        kept.setdefault(start, dict.fromkeys(pools.POOLS, 0))[pool] = count
    return [{"start": s, "end": e, "capacity": total, "available": int(avail or 0),
             "reserved": kept.get(s, dict.fromkeys(pools.POOLS, 0)),
             "status": slot_status(e, int(avail or 0), instant)} for s, e, total, avail in rows]


def slot_status(window_end, available, instant):
    """past once the window is over (booking refuses it), full with no free ticket, else open."""
    if window_end <= instant:
        return "past"
    return "open" if available > 0 else "full"
