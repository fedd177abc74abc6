"""Turning booking attempts away in Redis before they reach the database.

Only an optimisation: a missing or stale flag costs one database round, never correctness, and a
Redis outage lets every attempt through to the database, which decides.
"""
import logging
from datetime import timezone

import redis as redis_lib
from flask import current_app

from ..common import idempotency, ratelimit
from ..errors import Conflict
from ..extensions import redis

log = logging.getLogger(__name__)


def _key(schedule_id):
    return f"soldout:{schedule_id}"


def _windows_key(schedule_id):
    """Hash of the schedule's time windows (分时段) that have no free ticket left for anyone."""
    return f"soldout:{schedule_id}:w"


def _field(window_start):
    """One spelling of a window's start, whatever zone it was given in."""
    if window_start.tzinfo is not None:
        window_start = window_start.astimezone(timezone.utc)
    return window_start.isoformat()


class SoldOut(Conflict):
    """409 sold_out from the flag; `pools` names the 号源预留 pools that still had tickets kept back."""

    def __init__(self, pools=()):
        super().__init__("号源已约满", code="sold_out")
        self.pools = tuple(pools)


class WindowFull(Conflict):
    """409 slot_full from the window flag: the chosen time window has no free ticket left, kept ones included."""

    def __init__(self):
        super().__init__("该时段已约满，请选择其他时段", code="slot_full")


def queue_flags(pipe, schedule_id, window_start=None):
    """Add the reads of the schedule's sold-out flag (and the window's, given one) to a pipeline."""
    pipe.get(_key(schedule_id))
    if window_start is not None:
        pipe.hget(_windows_key(schedule_id), _field(window_start))


def admit(account_id, schedule_id, window_start=None, flags=None):
    """Count the account's attempt (429 over the limit), refuse a sold-out schedule (SoldOut) and, given one, a
    time window with nothing left (WindowFull): one round trip.

    `flags`, the results of queue_flags read in an earlier round trip of this request (the session's), refuses a
    flagged attempt with no further round trip, uncounted: a refusal from Redis costs what a 429 would. `flags=()`
    only counts the attempt."""
    config = current_app.config
    window_seconds = config["BOOKING_RATE_WINDOW"]
    try:
        if flags:
            _refuse_flagged(*flags)
        with redis.pipeline(transaction=False) as pipe:
            window = ratelimit.queue_hit(pipe, "book", account_id, window_seconds)
            if flags is None:
                queue_flags(pipe, schedule_id, window_start)
            count, _, *read = pipe.execute()
    except redis_lib.RedisError:
        log.warning("booking admitted without shedding: redis unavailable")
        return
    ratelimit.check(count, window, config["BOOKING_RATE_LIMIT"], window_seconds)
    if read:
        _refuse_flagged(*read)


LOOKED = "patient_api.booking_looked"  # WSGI environ: (account id, flags) the edge read and did not refuse


def first_look(target, key):
    """What the session's round trip also reads for a booking attempt: the flags of its (schedule, window) and,
    given an Idempotency-Key, whether that key was claimed before."""
    def queue(pipe):
        queue_flags(pipe, *target)
        if key is not None:
            idempotency.queue_used(pipe, key)
    return queue


def judge(target, key, results):
    """Refuse outright what first_look's results refuse, unless the key was claimed before (a retry: the view
    replays its answer); returns the flags, for the view."""
    flags = results[:1 if target[1] is None else 2]
    if key is None or not results[len(flags)]:
        refuse_outright(*flags)
    return flags


def refuse_outright(flag, window_flag=None):
    """Refuse, as admit would, an attempt whose flags no pool could let through (sold out with nothing kept back, or
    the window full)."""
    if flag is not None and not _pools_of(flag):
        raise SoldOut()
    if window_flag is not None:
        raise WindowFull()


def _refuse_flagged(flag, window_flag=None):
    """SoldOut (naming the pools that still keep tickets back) or WindowFull when a flag is set."""
    if flag is not None:
        raise SoldOut(_pools_of(flag))
    if window_flag is not None:
        raise WindowFull()


def _pools_of(flag):
    """The pools a sold-out flag names ("-" for none)."""
    flag = flag.decode() if isinstance(flag, bytes) else str(flag)
    return [pool for pool in flag.split(",") if pool and pool != "-"]


def mark_sold_out(schedule_id, pools=()):
    """Remember briefly that nothing is left for the public (expired holds may free tickets, so keep it short), and
    which pools still keep tickets back: only bookings that may take from those pools get past the flag."""
    try:
        redis.set(_key(schedule_id), ",".join(pools) or "-", ex=current_app.config["SOLD_OUT_FLAG_SECONDS"])
    except redis_lib.RedisError:
        log.warning("sold-out flag not set: redis unavailable")


def mark_window_full(schedule_id, window_start):
    """Remember briefly that a time window has no free ticket for anyone (kept ones included)."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.hset(_windows_key(schedule_id), _field(window_start), "-")
            pipe.expire(_windows_key(schedule_id), current_app.config["SOLD_OUT_FLAG_SECONDS"])
            pipe.execute()
    except redis_lib.RedisError:
        log.warning("window-full flag not set: redis unavailable")


def mark_available(schedule_id):
    """A ticket came back: let attempts through again."""
    try:
        redis.delete(_key(schedule_id), _windows_key(schedule_id))
    except redis_lib.RedisError:
        log.warning("sold-out flag not cleared: redis unavailable")
