"""WeChat access_token and jsapi_ticket: one cache in Redis shared by every process, refreshed single-flight.

WeChat allows 2,000 token fetches a day and each fetch revokes the previous token after 5 minutes,
so processes must never fetch on their own. The cached value lives under a key whose Redis TTL is
WeChat's `expires_in`; a caller that finds less than MARGIN left takes a lock (SET NX PX) and fetches,
while the others keep using the old token (still valid) or, if there is none, poll the cache.
"""
import random
import re
import time

import requests
from flask import current_app

from ..extensions import redis

MARGIN_MS = 300_000  # refresh 5 minutes before expiry: WeChat keeps the old token valid that long
LOCK_MS = 15_000  # longer than one fetch may take (TIMEOUT); a crashed holder frees it by itself
WAIT_SECONDS = 20  # how long a caller with no usable token waits for another's fetch
FAILED_MS = 2_000  # after a failed fetch, callers without a token get that error instead of fetching again
TIMEOUT = (3, 10)
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / invalid token / token expired

# Delete the key only if it still holds the value we saw: never drop a token someone just refreshed.
_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_CREDENTIALS = re.compile(r"(access_token|secret)=[^&\s'\"]+")


def redact(text):
    """Hide credentials in URLs that requests puts into its error messages (they end up in logs and the outbox)."""
    return _CREDENTIALS.sub(r"\1=***", text)


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode (or not at all)."""

    def __init__(self, errcode, errmsg=""):
        super().__init__(f"wechat errcode {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


def api_request(method, path, **kwargs):
    """Call the WeChat API; its JSON body, or WeChatError for any failure (unreachable, HTTP, non-JSON, errcode)."""
    try:
        response = requests.request(method, api_url(path), timeout=TIMEOUT, **kwargs)
        if response.status_code != 200:
            raise WeChatError(-1, f"HTTP {response.status_code}")
        body = response.json()
    except (requests.RequestException, ValueError) as exc:  # callers handle one error type, never a 500
        raise WeChatError(-1, redact(f"{type(exc).__name__}: {exc}")) from None
    if not isinstance(body, dict):
        raise WeChatError(-1, "answer is not a JSON object")
    if body.get("errcode", 0) != 0:
        raise WeChatError(body["errcode"], body.get("errmsg", ""))
    return body


def api_url(path):
    """An absolute URL on the configured WeChat API base."""
    return current_app.config["WECHAT_API_BASE"].rstrip("/") + path


def cache_key(kind):
    """The Redis key of a cached credential (per appid, so two official accounts never mix)."""
    return f"wechat:{current_app.config['WECHAT_APPID']}:{kind}"


def _read(key):
    """(value, milliseconds left, recent failure) in one round trip; value None when absent."""
    value, ttl, failed = redis.pipeline().get(key).pttl(key).get(key + ":failed").execute()
    return (value.decode() if value is not None else None), ttl, (failed.decode() if failed else None)


def _cached(kind, fetch):
    """The cached value of `kind`, fetched by exactly one caller when missing or near expiry."""
    key = cache_key(kind)
    deadline, pause = time.monotonic() + WAIT_SECONDS, 0.01
    while True:
        value, ttl, failed = _read(key)
        if value is not None and ttl > MARGIN_MS:
            return value
        owner = f"{random.getrandbits(64):x}"
        if failed is None and redis.set(key + ":lock", owner, nx=True, px=LOCK_MS):
            try:
                return _refresh(key, fetch)
            finally:
                redis.eval(_DELETE_IF, 1, key + ":lock", owner)
        if value is not None:
            return value  # near expiry but valid: someone else is refreshing
        if failed is not None:
            code, _, message = failed.partition(" ")
            raise WeChatError(int(code), message)
        if time.monotonic() > deadline:
            raise WeChatError(-1, f"timed out waiting for {kind}")
        time.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 1.5, 0.1)


def _refresh(key, fetch):
    """Under the lock: fetch and store, unless the previous holder stored a fresh value just now."""
    value, ttl, _ = _read(key)
    if value is not None and ttl > MARGIN_MS:
        return value
    try:
        value, expires_in = fetch()
    except Exception as exc:
        # Waiters fail fast with this error for a moment instead of each fetching in turn (2,000 fetches a day).
        reason = f"{exc.errcode} {exc.errmsg}" if isinstance(exc, WeChatError) else f"-1 {type(exc).__name__}: {exc}"
        redis.set(key + ":failed", redact(reason)[:300], px=FAILED_MS)
        raise
    redis.set(key, value, px=int(expires_in) * 1000)
    return value


def _fetch_token():
    config = current_app.config
    body = api_request("GET", "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": config["WECHAT_APPID"], "secret": config["WECHAT_SECRET"]})
    return body["access_token"], body.get("expires_in", 7200)


def invalidate(kind, bad_value):
    """Drop the cached value only if it is still `bad_value`; returns True when it was dropped."""
    return bool(redis.eval(_DELETE_IF, 1, cache_key(kind), bad_value))


def access_token(force=False):
    """The shared access_token; force=True discards the cached one first (WeChat said it is invalid)."""
    if force:
        value = redis.get(cache_key("access_token"))
        if value is not None:
            invalidate("access_token", value.decode())
    return _cached("access_token", _fetch_token)


def call(fn):
    """Run fn(access_token) → body; on an invalid/expired token refresh once and retry once."""
    token = access_token()
    try:
        return fn(token)
    except WeChatError as exc:
        if exc.errcode not in TOKEN_ERRORS:
            raise
    invalidate("access_token", token)
    return fn(access_token())


def _fetch_ticket():
    def get(token):
        return api_request("GET", "/cgi-bin/ticket/getticket", params={"access_token": token, "type": "jsapi"})
    body = call(get)
    return body["ticket"], body.get("expires_in", 7200)


def jsapi_ticket():
    """The shared JS-SDK jsapi_ticket, cached and refreshed like the access_token."""
    return _cached("jsapi_ticket", _fetch_ticket)
