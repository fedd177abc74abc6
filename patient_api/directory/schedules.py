"""Creating schedules and their time-sliced tickets (what HIS pushes, and what the demo loads)."""
import math
from datetime import time, timedelta

from ..common.clock import local_dt
from ..extensions import db
from . import pools
from .models import Schedule, Ticket

# 错时门诊: morning, afternoon and an evening clinic for people who work days.
PERIOD_HOURS = {"morning": (time(8, 0), time(12, 0)), "afternoon": (time(14, 0), time(17, 30)),
                "evening": (time(18, 0), time(21, 0))}


def create_schedule(hospital, department, doctor, day, period, fee_kind, fee_fen, capacity,
                    slot_minutes=30, release_at=None, reserved=None):
    """A schedule with `capacity` tickets spread over `slot_minutes` windows, in queue order.

    `reserved` ({pool: {share, release_hours_before | release_at}}, {} for none) says which share of the tickets
    is kept back for which pool; None takes the defaults of config (directory/pools.py).
    """
    start_time, end_time = PERIOD_HOURS[period]
    starts_at, ends_at = local_dt(day, start_time), local_dt(day, end_time)
    rules = pools.defaults_for(hospital, fee_kind, doctor.id) if reserved is None else reserved
    schedule = Schedule(hospital_id=hospital.id, department_id=department.id, doctor_id=doctor.id, date=day,
                        period=period, starts_at=starts_at, ends_at=ends_at, fee_kind=fee_kind, fee_fen=fee_fen,
                        capacity=capacity, available=capacity,
                        release_at=release_at or Schedule.release_time_for(hospital, day),
                        reservations=pools.stored(rules) or None)
    pools.check_release(rules, schedule)
    db.session.add(schedule)
    db.session.flush()
    windows = max(1, int((ends_at - starts_at) / timedelta(minutes=slot_minutes)))
    per_window = math.ceil(capacity / windows)
    kept = pools.plan(range(1, capacity + 1), {pool: pools.kept_count(rule, capacity) for pool, rule in rules.items()})
    releases = {pool: pools.release_instant(rule, schedule) for pool, rule in rules.items()}
    db.session.add_all(
        Ticket(schedule_id=schedule.id, seq=seq,
               window_start=starts_at + timedelta(minutes=slot_minutes * ((seq - 1) // per_window)),
               window_end=starts_at + timedelta(minutes=slot_minutes * ((seq - 1) // per_window + 1)),
               reserved_for=kept.get(seq), release_at=releases[kept[seq]] if seq in kept else None)
        for seq in range(1, capacity + 1))
    db.session.flush()
    return schedule
