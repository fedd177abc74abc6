"""WechatPaySettings: everything the adapter needs, read once from the Flask config mapping."""
import os
from dataclasses import dataclass, field

MODES = ("sandbox", "live")
# Sandbox fallbacks so a fresh checkout runs without any WeChat account (live mode never uses them).
SANDBOX_MCHID = "1900000001"
SANDBOX_NOTIFY_URL = "http://localhost:5000/api/v1/payments/wechatpay/notify"
SANDBOX_APPID = "wx0000000000000000"

CONFIG_KEYS = {
    "mchid": "WECHATPAY_MCHID",
    "appid": "WECHAT_APPID",
    "apiv3_key": "WECHATPAY_APIV3_KEY",
    "merchant_private_key_pem": "WECHATPAY_PRIVATE_KEY",
    "merchant_cert_serial_no": "WECHATPAY_CERT_SERIAL_NO",
    "platform_public_key_pem": "WECHATPAY_PUBLIC_KEY",
    "platform_public_key_id": "WECHATPAY_PUBLIC_KEY_ID",
    "notify_url": "WECHATPAY_NOTIFY_URL",
}
PEM_FIELDS = ("merchant_private_key_pem", "platform_public_key_pem")


@dataclass(frozen=True)
class WechatPaySettings:
    """Merchant identity, keys and mode; secrets are kept out of repr() so they never reach a log."""

    mchid: str
    appid: str
    apiv3_key: str = field(repr=False)
    merchant_private_key_pem: str = field(repr=False)
    merchant_cert_serial_no: str
    platform_public_key_pem: str = field(repr=False)
    platform_public_key_id: str
    notify_url: str
    mode: str = "sandbox"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"WECHATPAY_MODE must be one of {MODES}, not {self.mode!r}")
        if self.apiv3_key and len(self.apiv3_key.encode("utf-8")) != 32:
            raise ValueError("WECHATPAY_APIV3_KEY must be exactly 32 bytes")

    @classmethod
    def from_config(cls, mapping):
        """Settings from a Flask-config-like mapping; live mode refuses to start with anything missing."""
        mode = (mapping.get("WECHATPAY_MODE") or "sandbox").strip().lower()
        values = {name: str(mapping.get(key) or "").strip() for name, key in CONFIG_KEYS.items()}
        for name in PEM_FIELDS:
            values[name] = read_pem(values[name])
        if mode == "live":
            missing = [CONFIG_KEYS[name] for name, value in values.items() if not value]
            if missing:
                raise ValueError(f"WeChat Pay live mode needs {', '.join(missing)}")
        else:
            values["mchid"] = values["mchid"] or SANDBOX_MCHID
            values["appid"] = values["appid"] or SANDBOX_APPID
            values["notify_url"] = values["notify_url"] or SANDBOX_NOTIFY_URL
        return cls(mode=mode, **values)

    @property
    def is_live(self):
        """True when calls go to api.mch.weixin.qq.com."""
        return self.mode == "live"


def read_pem(value):
    """PEM text as given, or the contents of the file it names ("" stays "")."""
    if not value or "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    if os.path.isfile(value):
        with open(value, encoding="ascii") as handle:
            return handle.read()
    raise ValueError("a WeChat Pay key must be PEM text or the path of a PEM file")
