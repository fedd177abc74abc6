"""Every kiosk request is signed: HMAC-SHA256 over method, path, timestamp, nonce and the body's hash.

Headers: X-Kiosk-Device, X-Kiosk-Timestamp (Unix seconds), X-Kiosk-Nonce (16–64 URL-safe chars),
X-Kiosk-Signature = hex HMAC-SHA256(secret, METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nhex SHA-256(body)).
A timestamp more than 5 minutes off is refused, and so is a nonce seen before (kept in Redis for 10 minutes).
"""
import functools
import hashlib
import hmac
import re
import secrets
import time

import redis as redis_lib
from flask import g, request

from ..common import crypto, inputs
from ..errors import Unauthorized, Unavailable
from ..extensions import db, redis
from .models import KioskDevice

SKEW_SECONDS = 300
NONCE_SECONDS = 600
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KIOSK_DOC = {"security": [{"kioskSignature": []}], "parameters": [
    {"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
    for name in ("X-Kiosk-Device", "X-Kiosk-Timestamp", "X-Kiosk-Nonce", "X-Kiosk-Signature")]}


def register(hospital, name):
    """A new device and its secret (shown once)."""
    secret = secrets.token_urlsafe(32)
    device = KioskDevice(hospital_id=hospital.id, name=name, secret_enc=crypto.encrypt(secret))
    db.session.add(device)
    db.session.flush()
    return device, secret


def string_to_sign(method, full_path, timestamp, nonce, body):
    """The canonical request the kiosk signs."""
    return "\n".join((method.upper(), full_path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()))


def sign(secret, method, full_path, timestamp, nonce, body):
    """The signature a kiosk sends (also used by tests and the kiosk SDK)."""
    message = string_to_sign(method, full_path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _refuse(code, message="自助机请求签名无效"):
    raise Unauthorized(message, code=code)


def verify():
    """The signing device, or 401 (invalid_signature, stale_timestamp, nonce_replayed)."""
    headers = request.headers
    device_id, stamp, nonce = (headers.get(f"X-Kiosk-{k}", "") for k in ("Device", "Timestamp", "Nonce"))
    signature = headers.get("X-Kiosk-Signature", "")
    seconds = inputs.ascii_int(stamp, max_digits=12)
    if not (device_id and seconds is not None and NONCE.match(nonce) and signature):
        _refuse("invalid_signature")
    if abs(time.time() - seconds) > SKEW_SECONDS:
        _refuse("stale_timestamp", "自助机时间不准确，请校时后重试")
    device = db.session.get(KioskDevice, device_id)
    if device is None or not device.active:
        _refuse("invalid_signature")
    full_path = request.full_path.rstrip("?")
    expected = sign(crypto.decrypt(device.secret_enc), request.method, full_path, stamp, nonce, request.get_data())
    if not hmac.compare_digest(expected, signature.lower()):
        _refuse("invalid_signature")
    try:  # only a well-signed request spends its nonce, so forgeries cannot burn a kiosk's nonces
        fresh = redis.set(f"kiosk:nonce:{device.id}:{nonce}", 1, nx=True, ex=NONCE_SECONDS)
    except redis_lib.RedisError as exc:
        raise Unavailable() from exc
    if not fresh:
        _refuse("nonce_replayed", "重复的请求")
    return device


def kiosk_required(view):
    """Decorator: the request must be signed by an active kiosk; the device is in g.kiosk."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if "kiosk" not in g:
            g.kiosk = verify()
        return view(*args, **kwargs)
    return wrapper
