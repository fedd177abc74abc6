"""Idempotency-Key handling: same key + same caller, method and path + same body replays the first response,
enforced by the database."""
import functools
import hashlib
import logging
import re
from datetime import timedelta

import redis as redis_lib
from flask import Response, current_app, make_response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..errors import ApiError, Invalid, handle_api_error
from ..extensions import db, redis
from .clock import now
from .models import IdempotencyKey

log = logging.getLogger(__name__)

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Errors worth replaying: a retry with the same key would get the same business answer.
# 401/429/5xx are left out so the client can simply try again.
REPLAYABLE_ERRORS = {403, 404, 409, 422}
# A claim still unanswered after this long belongs to a request that died after committing part-way (its
# worker was killed, e.g. while paying waited on WeChat): the next try with the same key takes it over.
# Longer than any request runs (WeChat's own calls time out after 25 s).
PENDING_LEASE = timedelta(seconds=60)


def _lookup(scope, key):
    return db.session.scalars(select(IdempotencyKey).filter_by(scope=scope, key=key)).first()


def _abandoned(row, digest):
    """An unanswered claim of the same request, older than the lease: drop it (True) so this request runs."""
    if row.status_code is not None or row.request_hash != digest or row.created_at > now() - PENDING_LEASE:
        return False
    return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id,
                                                           IdempotencyKey.status_code.is_(None))).rowcount == 1


def _replay(row, digest):
    if row.request_hash != digest:
        raise Invalid("同一个 Idempotency-Key 不能用于不同的请求", code="idempotency_key_reused")
    if row.status_code is None:  # the first request is still running (or committed part-way, then died)
        raise ApiError("相同请求正在处理中", code="request_in_progress", status=409)
    return Response(row.response_body, status=row.status_code, mimetype="application/json",
                    headers={"Idempotent-Replayed": "true"})


def _forget_pending(scope, key):
    """A view that committed part-way (before calling WeChat, say) and then failed must not leave the key
    stuck as 'in progress': drop the unfinished claim so a retry with the same key runs again."""
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key,
                                                    IdempotencyKey.status_code.is_(None)))
    db.session.commit()


def _store_error(scope, key, digest, response):
    """Record a business error after the request's rollback, in its own small transaction."""
    db.session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest,
                                  status_code=response.status_code,
                                  response_body=response.get_data(as_text=True)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def usable_key(value):
    """The Idempotency-Key header's value when well-formed, else None."""
    return value if value is not None and KEY.match(value) else None


def _marker(key):
    # By the key's value alone, so a booking attempt can ask in the session's own round trip (before its account is
    # known). Keys are random per intent; a marker only ever sends a request on to the database, which replays
    # within the caller's own scope or not at all.
    return "idem:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _mark(key):
    """Note in Redis that the key was claimed: a refusal decided from Redis alone (the rush's sold-out flags) asks
    first (queue_used), so a retry of an answered request is replayed, not refused."""
    try:
        redis.set(_marker(key), 1, ex=current_app.config["IDEMPOTENCY_TTL_HOURS"] * 3600)
    except redis_lib.RedisError:
        log.warning("idempotency marker not written: redis unavailable")


def queue_used(pipe, key):
    """Add to a pipeline the read of whether a well-formed key was claimed before (1 or 0)."""
    pipe.exists(_marker(key))


def _scope(caller):
    """A key belongs to one caller, method and resource: the same key on /bills/A/payments and /bills/B/payments
    are two requests, never a replay of the other (the path is hashed to fit the column)."""
    target = hashlib.sha256(f"{request.method} {request.path}".encode()).hexdigest()[:32]
    return f"{caller}:{request.endpoint}:{target}"[:160]


def idempotent(scope_of):
    """Decorator for POST views that create something; scope_of() names the caller."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return view(*args, **kwargs)
            if not KEY.match(key):
                raise Invalid("Idempotency-Key 应为1–255个可见ASCII字符",
                              errors={"Idempotency-Key": ["应为1–255个可见ASCII字符"]})
            scope = _scope(scope_of())
            digest = hashlib.sha256(request.get_data()).hexdigest()
            row = _lookup(scope, key)
            if row is not None and not _abandoned(row, digest):
                return _replay(row, digest)
            row = IdempotencyKey(scope=scope, key=key, request_hash=digest)
            db.session.add(row)
            try:
                db.session.flush()  # a concurrent twin waits here until the first commits
            except IntegrityError:
                db.session.rollback()
                return _replay(_lookup(scope, key), digest)
            _mark(key)  # once claimed, whatever answer follows (a stored error too) is replayable
            try:
                response = make_response(view(*args, **kwargs))
            except ApiError as err:
                db.session.rollback()
                _forget_pending(scope, key)
                response = handle_api_error(err)
                if err.status in REPLAYABLE_ERRORS:
                    _store_error(scope, key, digest, response)
                return response
            except Exception:
                db.session.rollback()
                _forget_pending(scope, key)
                raise
            row.status_code = response.status_code
            row.response_body = response.get_data(as_text=True)
            return response
        return wrapper
    return decorate


def purge_expired():
    """Delete keys older than IDEMPOTENCY_TTL_HOURS (kept at least 24 h)."""
    hours = max(24, current_app.config["IDEMPOTENCY_TTL_HOURS"])
    cutoff = now() - timedelta(hours=hours)
    return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount
