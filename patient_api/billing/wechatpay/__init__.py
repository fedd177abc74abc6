"""WeChat Pay API v3 adapter: signatures, notifications, JSAPI parameters, live and sandbox clients, trade bills.

No Flask and no database here: everything takes explicit arguments so services can pass fakes.
"""
from .bill import parse_trade_bill, parse_trade_bill_summary, render_trade_bill
from .client import PayClient, jsapi_pay_params
from .crypto import aead_decrypt, aead_encrypt, sign_message, verify_signature
from .errors import BadNotification, BadSignature, NotificationError, PayError, StaleNotification, UnknownSerial
from .factory import build_client, sandbox_keys, sandbox_settings
from .live import LiveClient
from .notify import build_notification, notification_serial, verify_notification
from .resources import (
    CONTRACT_STATES,
    REFUND_STATUSES,
    TRADE_STATES,
    contract_resource,
    refund_resource,
    transaction_resource,
)
from .sandbox import SandboxClient
from .settings import WechatPaySettings
from .store import DictStore, KeyValueStore, RedisStore
from .testkeys import generate_test_keys, settings_from_keys

__all__ = [
    "BadNotification", "BadSignature", "CONTRACT_STATES", "DictStore", "KeyValueStore", "LiveClient",
    "NotificationError", "PayClient", "PayError", "REFUND_STATUSES", "RedisStore", "SandboxClient",
    "StaleNotification", "TRADE_STATES", "UnknownSerial", "WechatPaySettings", "aead_decrypt", "aead_encrypt",
    "build_client", "build_notification", "contract_resource", "generate_test_keys", "jsapi_pay_params",
    "notification_serial", "parse_trade_bill", "parse_trade_bill_summary", "refund_resource", "render_trade_bill",
    "sandbox_keys", "sandbox_settings", "settings_from_keys", "sign_message", "transaction_resource",
    "verify_notification", "verify_signature",
]
