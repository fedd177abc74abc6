"""Fixed-window rate limits counted in Redis pipelines; callers let attempts through when Redis is down."""
import time

from ..errors import RateLimited

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
