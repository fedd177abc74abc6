"""Session tokens held in Redis (idle and absolute expiry) and the current caller."""
import functools
import hashlib
import logging
import secrets
import time

import redis as redis_lib
from flask import current_app, g, request

from ..errors import Unauthorized, Unavailable
from ..extensions import redis

log = logging.getLogger(__name__)
BEARER_DOC = {"security": [{"bearerAuth": []}]}
# Staff sessions idle out sooner than residents' (15 vs 30 minutes), kiosk sessions sooner still (5).
IDLE_SETTING = {"resident": "SESSION_IDLE_SECONDS", "staff": "STAFF_SESSION_IDLE_SECONDS",
                "kiosk": "KIOSK_SESSION_IDLE_SECONDS"}


def _key(token):
    # Only a hash of the token is stored, so a Redis dump cannot be replayed as sessions.
    return "sess:" + hashlib.sha256(token.encode()).hexdigest()


def issue_session(kind, subject_id, idle=None):
    """Start a session for a resident account, staff or kiosk; returns (token, idle seconds)."""
    token = secrets.token_urlsafe(32)
    idle = idle or current_app.config["SESSION_IDLE_SECONDS"]
    try:
        with redis.pipeline() as pipe:
            pipe.hset(_key(token), mapping={"kind": kind, "sub": subject_id, "created": int(time.time())})
            pipe.expire(_key(token), idle)
            pipe.execute()
    except redis_lib.RedisError as exc:
        raise Unavailable() from exc
    return token, idle


def end_session(token):
    """Log out: the token stops working at once."""
    try:
        redis.delete(_key(token))
    except redis_lib.RedisError as exc:
        raise Unavailable() from exc


def resolve_session(token, kind, also=None):
    """The subject id of a live session of that kind; slides the idle expiry.

    `also(pipe)` may queue commands that do not depend on the caller; they ride the same round trip and their
    results are left in g.session_also (the booking rush reads its sold-out flags this way)."""
    config = current_app.config
    try:
        with redis.pipeline(transaction=False) as pipe:
            # One round trip: read and slide the idle expiry (EXPIRE on a lapsed key revives nothing).
            pipe.hgetall(_key(token))
            pipe.expire(_key(token), config[IDLE_SETTING[kind]])
            if also is not None:
                also(pipe)
            data, _, *g.session_also = pipe.execute()
        if not data or data.get(b"kind", b"").decode() != kind:
            raise Unauthorized("登录已过期，请重新登录", code="session_expired")
        if time.time() - int(data[b"created"]) >= config["SESSION_ABSOLUTE_SECONDS"]:
            redis.delete(_key(token))
            raise Unauthorized("登录已过期，请重新登录", code="session_expired")
    except redis_lib.RedisError as exc:
        log.warning("session lookup failed, answered 503: %s: %s", type(exc).__name__, exc)
        raise Unavailable() from exc
    return data[b"sub"].decode()


def bearer_token():
    """The token from 'Authorization: Bearer <token>', or None."""
    return token_of(request.headers.get("Authorization", ""))


def token_of(header):
    """The token of an Authorization header's value 'Bearer <token>', or None."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_staff_id():
    """The signed-in staff member; 401 if there is none."""
    if "staff_id" not in g:
        token = bearer_token()
        if not token:
            raise Unauthorized()
        g.staff_id = resolve_session(token, "staff")
    return g.staff_id


def current_account_id(also=None):
    """The signed-in resident account; 401 if there is none. `also`: see resolve_session (first call only)."""
    if "account_id" not in g:
        token = bearer_token()
        if not token:
            raise Unauthorized()
        g.account_id = resolve_session(token, "resident", also)
    return g.account_id


def resident_required(view):
    """Decorator: the view runs only for a signed-in resident."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        current_account_id()
        return view(*args, **kwargs)
    return wrapper
