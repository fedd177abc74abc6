"""Turning booking attempts away in Redis before they reach the database.

Only an optimisation: a missing or stale flag costs one database round, never correctness, and a
Redis outage lets every attempt through to the database, which decides.
"""
import logging

import redis as redis_lib
from flask import current_app

from ..common import ratelimit
from ..errors import Conflict
from ..extensions import redis

log = logging.getLogger(__name__)


def _key(schedule_id):
    return f"soldout:{schedule_id}"


class SoldOut(Conflict):
    """409 sold_out from the flag; `pools` names the 号源预留 pools that still had tickets kept back."""

    def __init__(self, pools=()):
        super().__init__("号源已约满", code="sold_out")
        self.pools = tuple(pools)


def admit(account_id, schedule_id):
    """One round trip: count the account's attempt (429 over the limit) and refuse a sold-out schedule (SoldOut)."""
    config = current_app.config
    window_seconds = config["BOOKING_RATE_WINDOW"]
    try:
        with redis.pipeline(transaction=False) as pipe:
            window = ratelimit.queue_hit(pipe, "book", account_id, window_seconds)
            pipe.get(_key(schedule_id))
            count, _, flag = pipe.execute()
    except redis_lib.RedisError:
        log.warning("booking admitted without shedding: redis unavailable")
        return
    ratelimit.check(count, window, config["BOOKING_RATE_LIMIT"], window_seconds)
    if flag is not None:
        flag = flag.decode() if isinstance(flag, bytes) else str(flag)
        raise SoldOut(pool for pool in flag.split(",") if pool and pool != "-")


def mark_sold_out(schedule_id, pools=()):
    """Remember briefly that nothing is left for the public (expired holds may free tickets, so keep it short), and
    which pools still keep tickets back: only bookings that may take from those pools get past the flag."""
    try:
        redis.set(_key(schedule_id), ",".join(pools) or "-", ex=current_app.config["SOLD_OUT_FLAG_SECONDS"])
    except redis_lib.RedisError:
        log.warning("sold-out flag not set: redis unavailable")


def mark_available(schedule_id):
    """A ticket came back: let attempts through again."""
    try:
        redis.delete(_key(schedule_id))
    except redis_lib.RedisError:
        log.warning("sold-out flag not cleared: redis unavailable")
