"""The official-account server callback: verify, decrypt (safe mode), drop retries, answer from static replies.

No database and no outbound call happens here: a reply is Redis (one SET NX) plus static text, so it is
always inside WeChat's 5 s. Work that needs lookups belongs to the worker (outbox or RQ), never to this path.
"""
import binascii
import logging
import struct
import time
from contextlib import suppress
from xml.parsers.expat import ExpatError

import redis as redis_lib
from flask import current_app
from prometheus_client import Counter
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from . import dedupe, replies, subscriptions

log = logging.getLogger(__name__)
MAX_SKEW_SECONDS = 300  # an older (or future) timestamp may be a captured request played again
SUCCESS = "success"  # what WeChat wants when there is no reply
# What a garbled body can raise inside xmltodict, base64, AES/PKCS7 and wechatpy's field converters.
UNREADABLE = (ExpatError, ValueError, KeyError, TypeError, AttributeError, IndexError, struct.error,
              binascii.Error, InvalidAppIdException)
CALLBACKS = Counter("patient_api_wechat_callbacks_total", "WeChat callback messages", ["outcome"])


class Refused(Exception):
    """The callback is answered with this plain-text status instead of a reply."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _arg(args, name):
    return args.get(name) or ""


def _check_signature(args):
    try:
        check_signature(current_app.config["WECHAT_TOKEN"], _arg(args, "signature"), _arg(args, "timestamp"),
                        _arg(args, "nonce"))
    except InvalidSignatureException:
        raise Refused(403, "bad signature") from None


def _check_fresh(args):
    try:
        stamp = int(_arg(args, "timestamp"))
    except ValueError:
        raise Refused(403, "bad timestamp") from None
    if abs(time.time() - stamp) > MAX_SKEW_SECONDS:
        raise Refused(403, "stale timestamp")


def _crypto():
    config = current_app.config
    key = config.get("WECHAT_ENCODING_AES_KEY") or ""
    try:
        if len(key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        return WeChatCrypto(config["WECHAT_TOKEN"], key, config["WECHAT_APPID"])
    except (ValueError, AssertionError) as exc:
        log.error("safe-mode callback but WECHAT_ENCODING_AES_KEY is unusable: %s", exc)
        raise Refused(503, "safe mode not configured") from None


def verify_server(args):
    """GET from WeChat when the server URL is saved: the echostr back if the signature is ours."""
    _check_signature(args)
    if not args.get("echostr"):
        raise Refused(400, "missing echostr")
    return args["echostr"]


def _read(args, body):
    """(plaintext XML, crypto or None): safe mode is verified by msg_signature, plaintext by signature."""
    _check_fresh(args)
    if _arg(args, "encrypt_type").lower() != "aes":
        _check_signature(args)
        return body, None
    crypto = _crypto()
    try:
        xml = crypto.decrypt_message(body, _arg(args, "msg_signature"), _arg(args, "timestamp"), _arg(args, "nonce"))
    except InvalidSignatureException:
        raise Refused(403, "bad msg_signature") from None
    except UNREADABLE:
        raise Refused(400, "undecryptable message") from None
    return xml, crypto


def _parse(xml):
    """A wechatpy message and its retry key; 400 for anything that is not a WeChat message."""
    try:
        message = parse_message(xml)
        if message is None or not isinstance(message.source, str) or not isinstance(message.target, str):
            raise ValueError("no FromUserName/ToUserName")
        return message, dedupe.key_for(message)
    except UNREADABLE:
        raise Refused(400, "malformed message") from None


def _claim(key):
    try:
        return dedupe.claim(key)
    except redis_lib.RedisError:
        # Replies are static, so answering a retry twice is harmless; not answering at all is not.
        log.warning("wechat callback dedupe unavailable (redis down); answering without it")
        return True


def _earlier_reply(key):
    """What the first delivery was answered, for a retry whose answer WeChat never got."""
    try:
        return dedupe.reply_for(key)
    except redis_lib.RedisError:
        return None


def _encrypted(reply, crypto, args):
    """Safe mode answers encrypted; plaintext mode as is."""
    if reply is None or crypto is None:
        return reply
    return crypto.encrypt_message(reply, _arg(args, "nonce"), str(int(time.time())))


def _is_follow_change(message):
    return getattr(message, "type", None) == "event" and getattr(message, "event", None) in ("subscribe", "unsubscribe")


def handle(args, body):
    """POST from WeChat: the reply body (XML, encrypted in safe mode) or "success"; raises Refused."""
    xml, crypto = _read(args, body)
    message, key = _parse(xml)
    if not _claim(key):
        CALLBACKS.labels("duplicate").inc()
        return _encrypted(_earlier_reply(key), crypto, args) or SUCCESS
    if _is_follow_change(message):
        subscriptions.queue_change(message.source, message.event == "subscribe", message.create_time.timestamp())
    try:
        answer = replies.reply_to(message)
        if answer is not None:
            with suppress(redis_lib.RedisError):
                dedupe.remember(key, answer)
        answer = _encrypted(answer, crypto, args)
    except Exception:  # unreleased, WeChat's retries would be dropped as duplicates of a message never answered
        log.exception("wechat callback reply failed")
        with suppress(redis_lib.RedisError):
            dedupe.release(key)
        raise Refused(503, "try again") from None
    CALLBACKS.labels("handled").inc()
    return answer or SUCCESS
