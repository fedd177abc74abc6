"""Rate limits on claiming people and on verification attempts (429 rate_limited with Retry-After).

These Redis counters slow guessing down; the hard limits on codes (tries per code, sends per hour) are
counted in the database, so they hold even when Redis is lost.
"""
import logging

import redis as redis_lib
from flask import current_app

from ..common import crypto, ratelimit
from ..extensions import redis

log = logging.getLogger(__name__)


def _hit(rules):
    """Count one attempt against each (name, subject, limit, window) rule in one round trip."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            windows = [ratelimit.queue_hit(pipe, name, subject, seconds) for name, subject, _, seconds in rules]
            replies = pipe.execute()
    except redis_lib.RedisError:
        log.warning("identity rate limits skipped: redis unavailable")
        return
    for (_, _, limit, seconds), window, count in zip(rules, windows, replies[::2], strict=True):
        ratelimit.check(count, window, limit, seconds)


def adding(account_id, id_number):
    """Adding a 就诊人: per account, and per ID number across accounts (slows a name- or number-guessing run)."""
    config = current_app.config
    _hit([("add-patient", account_id, config["ADD_PATIENT_LIMIT"], 3600),
          ("add-person", crypto.blind_index(id_number), config["ADD_PERSON_LIMIT"], 3600)])


def confirming(account_id, person_index):
    """Entering a code: per account and per person, on top of the five tries each code allows."""
    config = current_app.config
    _hit([("verify-account", account_id, config["VERIFY_ATTEMPT_LIMIT"], 3600),
          ("verify-person", person_index, config["VERIFY_ATTEMPT_LIMIT"], 3600)])


STAFF_WINDOW = 600
UNKNOWN_LOCK_SECONDS = 30 * 60  # as long as a real account's lock


def staff_login_allowed(address):
    """429 before any password is checked once this address failed too often (spraying many usernames)."""
    try:
        count, window = ratelimit.current(redis, "staff-login-failed", address, STAFF_WINDOW)
    except redis_lib.RedisError:
        log.warning("staff sign-in address limit skipped: redis unavailable")
        return
    ratelimit.check(count + 1, window, current_app.config["STAFF_LOGIN_IP_LIMIT"], STAFF_WINDOW)


def staff_login_failed(address, username):
    """Count a failed sign-in against the address, and against the username when no such account exists (so a
    made-up username locks exactly like a real one and a 423 never tells which usernames exist)."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            ratelimit.queue_hit(pipe, "staff-login-failed", address, STAFF_WINDOW)
            if username is not None:
                # The window starts at the first failure (SET NX, not EXPIRE NX: Redis before 7 lacks it).
                pipe.set(unknown_staff_key(username), 0, ex=UNKNOWN_LOCK_SECONDS, nx=True)
                pipe.incr(unknown_staff_key(username))
            pipe.execute()
    except redis_lib.RedisError:
        log.warning("staff sign-in failure not counted: redis unavailable")


def unknown_staff_failures(username):
    """Failed sign-ins of a username that has no account, in its current lock window."""
    try:
        return int(redis.get(unknown_staff_key(username)) or 0)
    except redis_lib.RedisError:
        return 0


def unknown_staff_key(username):
    """Keyed by a blind index: usernames tried by guessers are not kept in clear."""
    return f"staff-unknown:{crypto.blind_index(username.lower())}"
