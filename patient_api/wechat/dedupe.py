"""WeChat's retries, handled once: a Redis SET NX marker per message, shared by every process.

WeChat re-sends a message it got no answer for within 5 s, up to three times. Messages are keyed by
MsgId; events have none, so WeChat's advice is FromUserName + CreateTime (we add the event name, so two
different events of one user in the same second stay apart while retries of one event still collide).
"""
from flask import current_app

from ..extensions import redis

# Longer than the ±5 minutes a callback timestamp may be off: a replay the freshness check lets in is still seen.
KEEP_SECONDS = 600


def key_for(message):
    """The marker key of a parsed wechatpy message or event."""
    appid = current_app.config["WECHAT_APPID"]
    if message.id:
        return f"wechat:{appid}:seen:msg:{message.id}"
    event = getattr(message, "event", "") or message._data.get("Event") or ""
    return f"wechat:{appid}:seen:evt:{message.source}:{message.time}:{str(event).lower()}"


def claim(key):
    """True for the first delivery of a message, False for a retry or replay seen in the last KEEP_SECONDS."""
    return bool(redis.set(key, "1", nx=True, ex=KEEP_SECONDS))


def remember(key, reply):
    """Keep the reply under the claim: WeChat retries when our answer was lost, and the retry should get it too."""
    redis.set(key, reply or "1", xx=True, keepttl=True)


def reply_for(key):
    """The reply given to the first delivery (None when there was none, or it is still being made)."""
    value = redis.get(key)
    return value.decode() if value and value != b"1" else None


def release(key):
    """Forget a claim whose handling failed, so WeChat's next retry does the work."""
    redis.delete(key)
