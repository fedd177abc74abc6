"""Per-caller rate limits in Redis; they only shed load, so a Redis outage lets calls through."""
import logging
import time

import redis as redis_lib

from ..errors import RateLimited
from ..extensions import redis

log = logging.getLogger(__name__)


def hit(name, subject, limit, window_seconds):
    """Count one attempt in a fixed window; raise 429 with Retry-After once over the limit."""
    window = int(time.time() // window_seconds)
    key = f"rl:{name}:{subject}:{window}"
    try:
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
            count, _ = pipe.execute()
    except redis_lib.RedisError:
        log.warning("rate limit skipped: redis unavailable")
        return
    if count > limit:
        raise RateLimited(retry_after=max(1, (window + 1) * window_seconds - time.time()))
