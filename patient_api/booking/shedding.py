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


def admit(account_id, schedule_id):
    """One round trip: count the account's attempt (429 over the limit) and refuse a sold-out schedule."""
    config = current_app.config
    window_seconds = config["BOOKING_RATE_WINDOW"]
    try:
        with redis.pipeline(transaction=False) as pipe:
            window = ratelimit.queue_hit(pipe, "book", account_id, window_seconds)
            pipe.exists(_key(schedule_id))
            count, _, sold_out = pipe.execute()
    except redis_lib.RedisError:
        log.warning("booking admitted without shedding: redis unavailable")
        return
    ratelimit.check(count, window, config["BOOKING_RATE_LIMIT"], window_seconds)
    if sold_out:
        raise Conflict("号源已约满", code="sold_out")


def mark_sold_out(schedule_id):
    """Remember briefly that nothing is left (expired holds may free tickets, so keep it short)."""
    try:
        redis.set(_key(schedule_id), 1, ex=current_app.config["SOLD_OUT_FLAG_SECONDS"])
    except redis_lib.RedisError:
        log.warning("sold-out flag not set: redis unavailable")


def mark_available(schedule_id):
    """A ticket came back: let attempts through again."""
    try:
        redis.delete(_key(schedule_id))
    except redis_lib.RedisError:
        log.warning("sold-out flag not cleared: redis unavailable")
