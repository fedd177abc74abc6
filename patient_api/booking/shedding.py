"""Redis flags that turn away attempts on a sold-out schedule before they reach the database.

Only an optimisation: a missing or stale flag costs one database round, never correctness.
"""
import logging

import redis as redis_lib
from flask import current_app

from ..extensions import redis

log = logging.getLogger(__name__)


def _key(schedule_id):
    return f"soldout:{schedule_id}"


def is_sold_out(schedule_id):
    """True if a recent claim found no ticket; False when unknown or Redis is down."""
    try:
        return bool(redis.exists(_key(schedule_id)))
    except redis_lib.RedisError:
        return False


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
