"""Fixed-window rate limits counted in Redis pipelines; callers let attempts through when Redis is down."""
import logging
import time

import redis as redis_lib

from ..errors import RateLimited
from ..extensions import redis

log = logging.getLogger(__name__)
clock = time.time  # module-level so tests can pin the window


def queue_hit(pipe, name, subject, window_seconds):
    """Add one counted attempt to a pipeline (fixed window); returns what check() needs."""
    window = int(clock() // window_seconds)
    key = f"rl:{name}:{subject}:{window}"
    pipe.incr(key)
    pipe.expire(key, window_seconds + 1)
    return window


def current(client, name, subject, window_seconds):
    """This window's count so far (0 when none), for limits that count only failures."""
    window = int(clock() // window_seconds)
    return int(client.get(f"rl:{name}:{subject}:{window}") or 0), window


def check(count, window, limit, window_seconds):
    """Raise 429 with Retry-After once the window's count is over the limit."""
    if count > limit:
        raise RateLimited(retry_after=max(1, (window + 1) * window_seconds - clock()))


def hit(name, subject, limit, window_seconds):
    """Count one attempt and raise 429 past `limit` in the window; with Redis away the attempt goes through."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            window = queue_hit(pipe, name, subject, window_seconds)
            count = pipe.execute()[0]
    except redis_lib.RedisError:
        log.warning("%s limit skipped: redis unavailable", name)
        return
    check(count, window, limit, window_seconds)
