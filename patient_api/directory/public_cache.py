"""Shared short-lived caching of the public schedule answers (the list, one schedule, its time windows).

At a release instant thousands of residents read the same list and windows within the same second. Without a
patient the answer is the same for everyone, so it is rendered once and kept in Redis, shared by every worker and
host, for at most SCHEDULE_CACHE_MS — never past the next instant its content changes by the clock alone (a
release, a session's start or end, a pool's tickets going public) — and it is dropped as soon as a ticket or
schedule it shows changes: tickets.py and schedule edits call changed(), and the drop runs after the commit. A
fill whose reading started before such a drop is never stored (a per-schedule sequence number decides), so a
cached count is never older than the last committed change. Every answer carries an ETag, and a matching
If-None-Match gets 304. With Redis down, answers are computed as before.

A miss is filled once (single flight): the first request to miss a key after a drop takes a short lock named by
the key and the drop sequence and renders; the others wait a moment for its answer instead of all rendering the
same thing — after each booking of a rush, a dozen threads used to.
"""
import functools
import hashlib
import logging
import time
from datetime import timezone

import redis as redis_lib
from flask import Response, current_app, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..common.clock import now
from ..extensions import db, redis
from . import pools
from .models import Schedule, Ticket

log = logging.getLogger(__name__)
PREFIX = "pubsched:"
SEQ = PREFIX + "seq"  # incremented by every drop; a drop stamps the schedule with it
DIRTY_KEEP_MS = 120_000  # a drop's stamp outlives any fill that could have started before it
MIN_KEEP_MS = 50  # an answer about to change by the clock is not worth storing
CACHE_CONTROL = "public, no-cache"  # browsers and proxies may keep it but ask again (If-None-Match → 304)
FILL_LOCK_MS = 2000  # a filler that dies holding the lock holds up the others no longer than FILL_WAIT_MS anyway
FILL_WAIT_MS = 200  # then a waiter renders itself: a fill that is not kept (dropped meanwhile) never hangs a read
FILL_POLL_S = 0.005
PROBE = "patient_api.pubsched_probe"  # WSGI environ: the edge's (key, entry, seq) on a miss, reused by the view

# Store only if no schedule shown was dropped after the fill began: KEYS[1] entry, KEYS[2..] dirty stamps;
# ARGV: value, keep ms, the sequence read before the fill, tag keep ms, then the tag keys (one per schedule).
_STORE = """
local n = #KEYS
for i = 2, n do
  local stamp = redis.call('GET', KEYS[i])
  if stamp and tonumber(stamp) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 5, #ARGV do
  redis.call('SADD', ARGV[i], KEYS[1])
  redis.call('PEXPIRE', ARGV[i], ARGV[4])
end
return 1
"""
# Drop: stamp each schedule with a new sequence number, delete the answers tagged with it. KEYS: schedule ids.
_DROP = """
local seq = redis.call('INCR', ARGV[1])
for i = 1, #KEYS do
  local tag = ARGV[2] .. 'tag:' .. KEYS[i]
  redis.call('SET', ARGV[2] .. 'dirty:' .. KEYS[i], seq, 'PX', ARGV[3])
  local entries = redis.call('SMEMBERS', tag)
  for j = 1, #entries do redis.call('DEL', entries[j]) end
  redis.call('DEL', tag)
end
return seq
"""


def shown(schedules, instant, boundaries=()):
    """Record, while rendering, the schedules an answer shows and the clock instants at which it would change."""
    if "pubsched" not in g:
        return
    state = g.pubsched
    for row in schedules:
        state["ids"].add(str(row.id))
        for moment in (row.release_at, row.starts_at, row.ends_at, *_pool_releases(row)):
            _until(state, moment, instant)
    for moment in boundaries:
        _until(state, moment, instant)


def _pool_releases(schedule):
    return [pools.stored_release(rule, schedule) for rule in (schedule.reservations or {}).values()]


def _until(state, moment, instant):
    """Keep the earliest future instant at which the answer changes."""
    if moment is None:
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment > instant and (state["until"] is None or moment < state["until"]):
        state["until"] = moment


def cached(view):
    """Serve a public GET from the shared cache when nobody is named (no `patient_id`), else render it.

    Hits are mostly answered before Flask by directory/edge.py; this serves the rest (the edge off, a test client
    calling the view) and fills the cache on a miss."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        keep_ms = current_app.config.get("SCHEDULE_CACHE_MS", 0)
        key = key_for(request) if keep_ms > 0 else None
        if key is None:
            return view(*args, **kwargs)
        probed = request.environ.pop(PROBE, None)
        try:
            entry, seq = probed[1:] if probed and probed[0] == key else probe(key)
        except redis_lib.RedisError:
            log.warning("schedule cache skipped: redis unavailable")
            return view(*args, **kwargs)
        if entry is None:
            entry, seq, lock = _fill_or_wait(key, seq)
        if entry is not None:
            etag, body = entry_parts(entry)
            return answer(body, etag, request)
        g.pubsched = {"ids": set(), "until": None}
        try:
            response = view(*args, **kwargs)
            if response.status_code == 200:
                _store(key, response, int(seq or 0), keep_ms)
        finally:
            _release(lock)
        return response
    wrapper.public_cache = True  # the edge serves hits of these endpoints (functools.wraps carries it outward)
    return wrapper


def key_for(req):
    """The shared answer's key for a werkzeug request, or None when a patient is named (never shared)."""
    if "patient_id" in req.args:
        return None
    return PREFIX + "v1:" + hashlib.sha256(_canonical(req).encode()).hexdigest()[:40]


def probe(key):
    """The stored entry (ETag line, then body) or None, and the drop sequence: one Redis round trip."""
    return redis.mget(key, SEQ)


def _fill_or_wait(key, seq):
    """(entry, seq, lock): another request's fresh answer, or None and the fill lock this request now holds (None
    when Redis failed or the wait ran out: it renders all the same)."""
    deadline = time.monotonic() + FILL_WAIT_MS / 1000
    try:
        while True:
            # Named by the sequence too: after a drop, the fill that began before it is not kept, so a new one starts.
            lock = f"{PREFIX}fill:{int(seq or 0)}:{key}"
            with redis.pipeline(transaction=False) as pipe:
                pipe.set(lock, 1, nx=True, px=FILL_LOCK_MS)
                pipe.mget(key, SEQ)  # read after the lock: a fill that landed since this request's probe is used
                won, (entry, seq) = pipe.execute()
            if entry is not None:
                if won:
                    _release(lock)
                return entry, seq, None
            if won:
                return None, seq, lock
            if time.monotonic() >= deadline:
                return None, seq, None
            time.sleep(FILL_POLL_S)
    except redis_lib.RedisError:
        return None, seq, None


def _release(lock):
    """Let go of a fill lock (None: nothing held), so that a waiter whose answer was not kept may fill at once."""
    if lock is None:
        return
    try:
        redis.delete(lock)
    except redis_lib.RedisError:
        pass  # it expires by itself


def entry_parts(entry):
    """(etag, body) of a stored entry."""
    etag, _, body = entry.partition(b"\n")
    return etag.decode(), body


def _canonical(req):
    """Path and query in a fixed order, so the same question always finds the same answer."""
    args = sorted((name, value) for name, values in req.args.lists() for value in values)
    return req.path + "?" + "&".join(f"{name}={value}" for name, value in args)


def answer(body, etag, req):
    """A cached body as the view would have answered it, or 304 when the caller has it already."""
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return _conditional(response, req)


def _conditional(response, req):
    """304 for a matching If-None-Match; without one (most first reads) werkzeug's conditional parsing is skipped."""
    return response.make_conditional(req) if "If-None-Match" in req.headers else response


def _store(key, response, seq, keep_ms):
    """Tag and store a fresh 200, if it does not change by the clock too soon and nothing it shows was dropped."""
    state = g.pop("pubsched")
    body = response.get_data()
    etag = hashlib.sha256(body).hexdigest()[:32]
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    if state["until"] is not None:
        keep_ms = min(keep_ms, int((state["until"] - now()).total_seconds() * 1000))
    if keep_ms < MIN_KEEP_MS:
        return
    ids = sorted(state["ids"])
    try:
        redis.eval(_STORE, 1 + len(ids), key, *(PREFIX + "dirty:" + i for i in ids),
                   etag.encode() + b"\n" + body, keep_ms, seq, keep_ms + 1000, *(PREFIX + "tag:" + i for i in ids))
    except redis_lib.RedisError:
        log.warning("schedule answer not cached: redis unavailable")
    _conditional(response, request)


def changed(schedule_id):
    """A ticket or schedule of `schedule_id` changed in this transaction: drop its cached answers after commit."""
    db.session.info.setdefault("pubsched_changed", set()).add(str(schedule_id))


def drop(schedule_ids):
    """Drop the cached answers showing these schedules now (after a commit, or from a job)."""
    ids = sorted({str(i) for i in schedule_ids})
    if not ids:
        return
    try:
        redis.eval(_DROP, len(ids), *ids, SEQ, PREFIX, DIRTY_KEEP_MS)
    except redis_lib.RedisError:
        # The answers then live out their few seconds; booking still decides on the database.
        log.warning("schedule cache not dropped: redis unavailable")


@event.listens_for(Session, "before_flush")
def _schedule_edits(session, _context, _instances):
    """Schedules and tickets changed through the ORM (HIS push, stops) count as changes too."""
    for row in (*session.dirty, *session.deleted):
        if isinstance(row, Schedule) and row.id is not None:
            session.info.setdefault("pubsched_changed", set()).add(str(row.id))
        elif isinstance(row, Ticket) and row.schedule_id is not None:
            session.info.setdefault("pubsched_changed", set()).add(str(row.schedule_id))


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    if session.in_nested_transaction():  # a SAVEPOINT released: nothing is visible to other readers yet
        return
    changed_ids = session.info.pop("pubsched_changed", None)
    if changed_ids:
        drop(changed_ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    """A rolled-back change changed nothing (fired for the real rollback only, not a savepoint's)."""
    session.info.pop("pubsched_changed", None)
