"""号源预留 for other features and channels: book from a pool (the referral hook), admit pool bookings in a rush."""
from ..accounts.models import Patient
from ..common.clock import now
from ..directory import pools as directory_pools
from ..directory.models import Schedule
from ..errors import Forbidden
from ..extensions import db
from . import eligibility, services, shedding, tickets


def book_from_pool(pool, patient_id, schedule_id, *, via, account_id=None, slot_start=None, instant=None,
                   fallback=True):
    """Book a ticket kept for `pool` (e.g. "referral") for a patient: the same rules, claim and exactness as a
    public booking (release, limits, no-shows, one per department a day, the hold and its fee).

    The ticket comes from the pool first; with `fallback` a public ticket is taken when the pool is empty.
    `via` names the channel as appointments record it (e.g. "referral:<referral id>", at most 40 characters);
    `account_id` is the booking resident's account (None: the caller vouches for the patient). A pool with an
    eligibility rule (elder) refuses a booking that does not meet it: 403 pool_not_eligible.
    Raises ApiError as POST /appointments does (409 sold_out when neither pool nor public has a ticket).
    """
    if pool not in directory_pools.POOLS:
        raise ValueError(f"unknown pool {pool!r}")
    patient, schedule = db.session.get(Patient, patient_id), db.session.get(Schedule, schedule_id)
    if patient is not None and schedule is not None and not eligibility.allowed(pool, patient, schedule, account_id,
                                                                                 via):
        raise Forbidden("该就诊人不符合该预留号源的使用条件", code="pool_not_eligible")
    return services.book(account_id, patient_id, schedule_id, instant, via=via, slot_start=slot_start,
                         from_pools=(pool,), public=fallback)


def admit(rate_key, schedule_id, may_use_pool, window_start=None, flags=None):
    """shedding.admit, except that a sold-out flag naming pools that still keep tickets back lets through a booking
    that may take from one of them (`may_use_pool()`, asked only then): the rush on a schedule with nothing kept
    back is still answered from Redis alone. A window flag (nothing left in `window_start` for anyone) refuses
    every booking of that window. `flags`: see shedding.admit."""
    try:
        shedding.admit(rate_key, schedule_id, window_start, flags)
    except shedding.SoldOut as refused:
        if not refused.pools or not set(refused.pools) & set(may_use_pool()):
            raise
        if flags is not None:  # refused before the attempt was counted: count it now
            shedding.admit(rate_key, schedule_id, window_start, flags=())


def eligible_pools(patient_id, schedule_id, account_id, via):
    """The pools a booking of this patient on this schedule may take from (none if either is unknown)."""
    patient, schedule = db.session.get(Patient, patient_id), db.session.get(Schedule, schedule_id)
    if patient is None or schedule is None:
        return ()
    return eligibility.pools_for(patient, schedule, account_id, via)


def release_job(instant=None, batch=1000):
    """Worker job: kept-back tickets past their release time become public (one transaction per batch);
    returns {pool: tickets released}."""
    instant = instant or now()
    total = {}
    while True:
        counts = tickets.release_due(instant, batch)
        db.session.commit()
        for pool, count in counts.items():
            total[pool] = total.get(pool, 0) + count
        if sum(counts.values()) < batch:
            return total
