"""Exceptions of the WeChat Pay adapter: each carries a short, stable `code` for logs and API answers."""


class NotificationError(Exception):
    """A WeChat Pay notification that must be refused; nothing may change state."""

    code = "bad_notification"
    # WeChat retries any non-2xx answer, so the exact 4xx only matters for our logs and tests.
    http_status = 400

    def __init__(self, message=""):
        super().__init__(message or self.code)
        self.message = message or self.code


class BadSignature(NotificationError):
    """Signature headers missing or malformed, or the RSA signature does not verify."""

    code = "bad_signature"
    http_status = 401


class UnknownSerial(BadSignature):
    """Wechatpay-Serial names a key we do not hold (a BadSignature, so one except clause catches both)."""

    code = "unknown_serial"


class StaleNotification(NotificationError):
    """Wechatpay-Timestamp is more than five minutes away from our clock (a replay, or a skewed clock)."""

    code = "stale_timestamp"


class BadNotification(NotificationError):
    """A correctly signed body that is not a decryptable AEAD_AES_256_GCM notification."""

    code = "bad_notification"


class PayError(Exception):
    """A WeChat Pay API call failed; `retryable` says whether the same call may be repeated later."""

    def __init__(self, code, message="", retryable=False, status=None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
