"""The WeChat Pay client for this app: live, or the sandbox whose state lives in Redis (shared by all processes)."""
from functools import lru_cache

from flask import current_app

from ..common import outbox
from ..extensions import redis
from .wechatpay import RedisStore, WechatPaySettings, build_client, sandbox_settings
from .wechatpay.settings import CONFIG_KEYS

_CONFIG_NAMES = (*CONFIG_KEYS.values(), "WECHATPAY_MODE")
_SANDBOX_SEEN_MAX = 16
# Sandbox: settings filled from a key bundle already read from Redis, by the bundle's platform key id (random per
# bundle, so an id names one key pair for good).
_sandbox_seen = {}


def pay_gateway():
    """(settings, client) built per call: one Redis read in sandbox mode, so every process agrees on keys."""
    return build_client(configured_settings(), RedisStore(redis.client))


def configured_settings():
    """The configured settings, built once per distinct configuration: a key given as a file path is read once."""
    config = current_app.config
    return _settings_for(tuple((name, config.get(name)) for name in _CONFIG_NAMES))


@lru_cache(maxsize=8)
def _settings_for(items):
    return WechatPaySettings.from_config(dict(items))


def notification_settings(serial):
    """Settings to verify a notification signed under platform key id `serial`, without building a client.

    Live: the configured settings. Sandbox: the bundle in Redis, remembered per key id once seen there, so a storm
    of notifications does not re-read and re-parse the bundle each time; an id not seen yet (or forged) reads Redis,
    and verification then decides.
    """
    settings = configured_settings()
    if settings.is_live:
        return settings
    seen = _sandbox_seen.get((settings, serial))
    if seen is not None:
        return seen
    filled, _platform_private_key = sandbox_settings(settings, RedisStore(redis.client))
    if filled.platform_public_key_id == serial:
        if len(_sandbox_seen) >= _SANDBOX_SEEN_MAX:  # bounded: test runs regenerate the bundle after each flush
            _sandbox_seen.clear()
        _sandbox_seen[(settings, serial)] = filled
    return filled


def queue_sandbox_notification(settings, event, wire):
    """Sandbox only: post a notification the sandbox signed (headers, body) to our own endpoint after this
    transaction commits, as WeChat would (the worker drains channel wechatpay_sandbox)."""
    if settings.is_live:
        return None
    headers, body = wire
    return outbox.enqueue("wechatpay_sandbox", settings.notify_url, event, {"headers": headers, "body": body.decode()})
