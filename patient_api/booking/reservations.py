"""号源预留 of one schedule: what it keeps back per pool, and changing that (hospital admin, HIS re-push)."""
from sqlalchemy import case, func, select

from ..common.clock import now
from ..common.locking import lock_row
from ..directory import pools
from ..directory.models import Schedule, Ticket
from ..errors import Conflict
from ..extensions import db
from . import tickets


def view(schedule, instant=None):
    """Per pool: the rule, tickets kept (free or used), still free and kept, used by the pool's bookings, and
    released to the public."""
    instant = instant or now()
    rules = schedule.reservations or {}
    rows = db.session.execute(
        select(Ticket.reserved_for, Ticket.released_from, func.count(),
               func.sum(case((Ticket.status == "free", 1), else_=0)),
               func.sum(case(((Ticket.status == "free") & (Ticket.release_at > instant), 1), else_=0)))
        .where(Ticket.schedule_id == schedule.id,
               Ticket.reserved_for.is_not(None) | Ticket.released_from.is_not(None))
        .group_by(Ticket.reserved_for, Ticket.released_from)).all()
    counts = {pool: {"kept": 0, "free": 0, "used": 0, "released": 0} for pool in pools.POOLS}
    for pool, released_from, total, free, still_kept in rows:
        if pool is None:
            counts[released_from]["released"] += total
            continue
        counts[pool]["kept"] += total
        counts[pool]["used"] += total - int(free or 0)
        counts[pool]["free"] += int(still_kept or 0)
        counts[pool]["released"] += int(free or 0) - int(still_kept or 0)  # due, the job has not run yet
    return {"schedule_id": schedule.id, "capacity": schedule.capacity, "reserved": rules,
            "pools": [{"pool": pool, "label": label, "share": (rules.get(pool) or {}).get("share", 0),
                       "release_at": pools.stored_release(rules.get(pool), schedule), **counts[pool]}
                      for pool, label in pools.POOLS.items()]}


def change(schedule, rules, instant=None):
    """Apply new rules to the schedule's free tickets (tickets.reserve); 409 schedule_closed once it ended or
    stopped, 422 when a release would come after the session. Returns view()."""
    instant = instant or now()
    pools.check_release(rules, schedule)
    lock_row(Schedule, schedule.id)  # one change at a time per schedule
    db.session.refresh(schedule)
    if schedule.status_at(instant) in ("closed", "stopped"):
        raise Conflict("该排班已结束或停诊，不能调整预留号源", code="schedule_closed")
    tickets.reserve(schedule, rules, instant)
    schedule.reservations = pools.stored(rules) or None
    db.session.flush()
    return view(schedule, instant)
