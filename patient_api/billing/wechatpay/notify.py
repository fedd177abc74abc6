"""Notifications (回调通知): verify and decrypt what WeChat posts, and build the same wire format for sandbox/tests."""
import json
import re
import uuid

from .crypto import aead_decrypt, aead_encrypt, random_nonce, sign_message, verify_signature
from .errors import BadNotification, BadSignature, StaleNotification, UnknownSerial
from .timefmt import rfc3339

ALGORITHM = "AEAD_AES_256_GCM"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
    "PAPAY.SIGN": "签约成功",
    "PAPAY.TERMINATE": "解约成功",
}
ORIGINAL_TYPES = {"TRANSACTION.": "transaction", "REFUND.": "refund", "PAPAY.": "papay"}
# ASCII digits only: str.isdigit() accepts "²", and int() of thousands of digits raises.
TIMESTAMP = re.compile(r"[0-9]{1,12}")


def verify_notification(settings, headers, body, now):
    """Check headers, signature and freshness, then decrypt; returns {id, event_type, resource_type, resource, ...}."""
    found = _lowercase(headers)
    timestamp, nonce, signature, serial = (
        _required(found, name) for name in ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature",
                                            "wechatpay-serial"))
    if found.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
        raise BadSignature("unsupported Wechatpay-Signature-Type")
    if serial != settings.platform_public_key_id:
        raise UnknownSerial("Wechatpay-Serial is not our platform public key id")
    _check_fresh(timestamp, now)
    if not isinstance(body, bytes | bytearray):
        raise BadNotification("body must be bytes")
    _check_signature(settings, timestamp, nonce, signature, bytes(body))
    envelope = _envelope(body)
    return {
        "id": envelope["id"],
        "create_time": envelope.get("create_time"),
        "event_type": envelope["event_type"],
        "resource_type": envelope.get("resource_type"),
        "summary": envelope.get("summary"),
        "resource": _decrypt(settings, envelope["resource"]),
    }


def notification_serial(headers):
    """The Wechatpay-Serial a notification claims (unchecked: verify_notification decides), "" if none."""
    try:
        return _lowercase(headers).get("wechatpay-serial", "")
    except BadSignature:
        return ""


def _lowercase(headers):
    """Header names folded to lower case (HTTP names are case-insensitive); non-text entries are dropped."""
    try:
        items = list(headers.items())
    except (AttributeError, TypeError) as exc:
        raise BadSignature("headers are not a mapping") from exc
    return {name.lower(): value.strip() for name, value in items if isinstance(name, str) and isinstance(value, str)}


def _required(found, name):
    """One signature header's value; missing or empty means the request is unsigned."""
    value = found.get(name)
    if not value:
        raise BadSignature(f"missing header {name}")
    return value


def _check_fresh(timestamp, now):
    """Refuse notifications signed more than five minutes from now (either direction), which bounds replays."""
    if not TIMESTAMP.fullmatch(timestamp):
        raise BadSignature("Wechatpay-Timestamp is not epoch seconds")
    # Written as "not <=" so that a NaN clock also refuses instead of silently accepting.
    if not abs(now - int(timestamp)) <= MAX_SKEW_SECONDS:
        raise StaleNotification("Wechatpay-Timestamp is more than 300 s away")


def _check_signature(settings, timestamp, nonce, signature, body):
    """Verify the RSA signature over "timestamp\\nnonce\\nbody\\n" with the platform public key."""
    try:
        # The signature covers the raw body bytes; re-encoding a decoded str could differ.
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    except UnicodeEncodeError as exc:
        raise BadSignature("unencodable header") from exc
    if not verify_signature(settings.platform_public_key_pem, message, signature):
        raise BadSignature("Wechatpay-Signature does not verify")


def _envelope(body):
    """The outer JSON object with id, event_type and an encrypted resource."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadNotification("body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise BadNotification("body is not a JSON object")
    for name in ("id", "event_type"):
        if not isinstance(envelope.get(name), str) or not envelope[name]:
            raise BadNotification(f"body has no {name}")
    if not isinstance(envelope.get("resource"), dict):
        raise BadNotification("body has no resource")
    return envelope


def _decrypt(settings, resource):
    """Decrypt resource.ciphertext with the APIv3 key into the resource dict."""
    if resource.get("algorithm") != ALGORITHM:
        raise BadNotification(f"resource.algorithm is not {ALGORITHM}")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated_data = resource.get("associated_data") or ""
    if not all(isinstance(value, str) for value in (nonce, ciphertext, associated_data)):
        raise BadNotification("resource fields must be strings")
    try:
        plain = json.loads(aead_decrypt(settings.apiv3_key, nonce, ciphertext, associated_data))
    except (ValueError, RecursionError) as exc:
        raise BadNotification("resource does not decrypt to JSON") from exc
    if not isinstance(plain, dict):
        raise BadNotification("resource is not a JSON object")
    return plain


def build_notification(settings, platform_private_key_pem, event_type, resource_plain, now, nonce=None,
                       notification_id=None):
    """Headers and body exactly as WeChat posts them, signed with the (sandbox/test) platform private key."""
    original_type = next(kind for prefix, kind in ORIGINAL_TYPES.items() if event_type.startswith(prefix))
    resource_nonce = random_nonce(12)
    plaintext = json.dumps(resource_plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    envelope = {
        "id": notification_id or str(uuid.uuid4()),
        "create_time": rfc3339(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": SUMMARIES.get(event_type, event_type),
        "resource": {
            "original_type": original_type,
            "algorithm": ALGORITHM,
            "ciphertext": aead_encrypt(settings.apiv3_key, resource_nonce, plaintext, original_type),
            "associated_data": original_type,
            "nonce": resource_nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return sign_headers(settings, platform_private_key_pem, body, now, nonce), body


def sign_headers(settings, platform_private_key_pem, body, now, nonce=None):
    """The Wechatpay-* headers WeChat puts on a notification or an API answer with this body."""
    timestamp, nonce = str(int(now)), nonce or random_nonce(32)
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(platform_private_key_pem, message),
        "Wechatpay-Serial": settings.platform_public_key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }
