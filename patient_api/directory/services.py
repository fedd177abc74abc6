"""Reading the hospital directory and schedules."""
from datetime import timedelta

from sqlalchemy import func, select

from ..common.clock import now, today_local
from ..common.paging import page
from ..errors import NotFound
from ..extensions import db
from . import pools, public_cache
from .models import Department, Doctor, Hospital, Schedule, Ticket

# Booking registers the one rule of who may take which pool (booking/eligibility.py): directory cannot import booking,
# and the counts a patient reads must come from the rule their booking meets.
PATIENT_POOLS = []  # [hook(account_id, patient_id, schedules) → {schedule id: pools}]


def patient_pools(hook):
    """Register what tells, for a resident's patient, the pools each schedule's booking may take from (404
    patient_not_found without an active link)."""
    PATIENT_POOLS[:] = [hook]
    return hook


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


def schedules(args, account_id=None):
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
    return for_patient(with_pools([row[0] for row in rows]), account_id, args.get("patient_id")), paging


def schedule(schedule_id, account_id=None, patient_id=None):
    """One schedule with its public availability (and a patient's, given one); 404 schedule_not_found."""
    return for_patient(with_pools([get(Schedule, schedule_id, "schedule_not_found")]), account_id, patient_id)[0]


def with_pools(schedules, instant=None):
    """The schedules, each with `public_available` (free tickets the public may take now: not kept back, window not
    over) and `reserved` ({pool: free tickets still kept back}) set for the response."""
    instant = instant or now()
    kept = pools.kept_by_schedule([s.id for s in schedules], instant)
    past = pools.past_free_by_schedule([s.id for s in schedules if s.starts_at <= instant < s.ends_at], instant)
    for row in schedules:
        row.reserved = kept[row.id]
        row.public_available = max(0, row.available - sum(row.reserved.values()) - past.get(row.id, 0))
    public_cache.shown(schedules, instant)
    return schedules


def for_patient(schedules, account_id, patient_id, instant=None):
    """With a patient: the schedules (from with_pools) each also with `kept_for_patient` ({pool: kept tickets this
    patient's booking through WeChat may take now}) and `available_to_patient` (those plus the public ones)."""
    if patient_id is None:
        return schedules
    instant = instant or now()
    eligible = eligible_pools(account_id, patient_id, schedules)
    kept = pools.claimable_kept_by_schedule([s.id for s in schedules if eligible[s.id]], instant)
    for row in schedules:
        row.kept_for_patient = {pool: kept[row.id][pool] for pool in eligible[row.id]}
        row.available_to_patient = row.public_available + sum(row.kept_for_patient.values())
    return schedules


def eligible_pools(account_id, patient_id, schedules):
    """{schedule id: pools} by booking's rule; 404 patient_not_found when the account does not act for the patient."""
    if not PATIENT_POOLS:  # no booking feature, no rule: nobody may take a kept ticket, yet nobody learns a patient
        raise NotFound("未找到该就诊人", code="patient_not_found")
    return PATIENT_POOLS[0](account_id, patient_id, schedules)


def slots(schedule_id, instant=None, account_id=None, patient_id=None):
    """Time windows (分时段) of a schedule with how many tickets each still has for the public, how many are kept
    back per pool, and its status (open|full|past); with a patient, also what that patient may take in each."""
    instant = instant or now()
    schedule = get(Schedule, schedule_id, "schedule_not_found")
    eligible = eligible_pools(account_id, patient_id, [schedule])[schedule.id] if patient_id is not None else None
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
    public_cache.shown([schedule], instant, [end for _, end, _, _ in rows])
    windows = [{"start": s, "end": e, "capacity": total, "available": int(avail or 0),
                "reserved": kept.get(s, dict.fromkeys(pools.POOLS, 0)),
                "status": slot_status(e, int(avail or 0), instant)} for s, e, total, avail in rows]
    if eligible is not None:
        for window in windows:  # a window over is bookable by nobody: its kept tickets are no one's now
            window["kept_for_patient"] = {pool: window["reserved"][pool] if window["status"] != "past" else 0
                                          for pool in eligible}
            window["available_to_patient"] = window["available"] + sum(window["kept_for_patient"].values())
    return windows


def slot_status(window_end, available, instant):
    """past once the window is over (booking refuses it), full with no free ticket, else open."""
    if window_end <= instant:
        return "past"
    return "open" if available > 0 else "full"
