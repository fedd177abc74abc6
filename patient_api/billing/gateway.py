"""The WeChat Pay client for this app: live, or the sandbox whose state lives in Redis (shared by all processes)."""
from flask import current_app

from ..extensions import redis
from .wechatpay import RedisStore, WechatPaySettings, build_client


def pay_gateway():
    """(settings, client) built per call: one Redis read in sandbox mode, so every process agrees on keys."""
    return build_client(WechatPaySettings.from_config(current_app.config), RedisStore(redis.client))
