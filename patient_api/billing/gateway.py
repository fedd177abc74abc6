"""The WeChat Pay client for this app: live, or the sandbox whose state lives in Redis (shared by all processes)."""
from flask import current_app

from ..common import outbox
from ..extensions import redis
from .wechatpay import RedisStore, WechatPaySettings, build_client


def pay_gateway():
    """(settings, client) built per call: one Redis read in sandbox mode, so every process agrees on keys."""
    return build_client(WechatPaySettings.from_config(current_app.config), RedisStore(redis.client))


def queue_sandbox_notification(settings, event, wire):
    """Sandbox only: post a notification the sandbox signed (headers, body) to our own endpoint after this
    transaction commits, as WeChat would (the worker drains channel wechatpay_sandbox)."""
    if settings.is_live:
        return None
    headers, body = wire
    return outbox.enqueue("wechatpay_sandbox", settings.notify_url, event, {"headers": headers, "body": body.decode()})
