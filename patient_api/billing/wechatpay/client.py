"""The PayClient interface shared by LiveClient and SandboxClient, and JSAPI payment parameters."""
from abc import ABC, abstractmethod

from .crypto import random_nonce, sign_message


class PayClient(ABC):
    """What services need from WeChat Pay; answers are WeChat's own JSON dicts, failures raise PayError."""

    @abstractmethod
    def create_jsapi(self, out_trade_no, description, amount_fen, openid, time_expire):
        """Place a JSAPI order (公众号支付) for openid; returns prepay_id."""

    @abstractmethod
    def create_native(self, out_trade_no, description, amount_fen, time_expire):
        """Place a Native order (kiosk QR); returns code_url."""

    @abstractmethod
    def query(self, out_trade_no):
        """The transaction dict; trade_state is one of SUCCESS REFUND NOTPAY CLOSED REVOKED USERPAYING PAYERROR."""

    @abstractmethod
    def close(self, out_trade_no):
        """Close an unpaid order so it can no longer be paid."""

    @abstractmethod
    def refund(self, out_trade_no, out_refund_no, refund_fen, total_fen, reason=""):
        """Apply for a refund; the refund dict's status is SUCCESS, PROCESSING, ABNORMAL or CLOSED."""

    @abstractmethod
    def query_refund(self, out_refund_no):
        """The refund dict for out_refund_no."""

    @abstractmethod
    def trade_bill(self, bill_date):
        """The CSV text of the ALL trade bill (交易账单) of that China-time date."""


def jsapi_pay_params(settings, prepay_id, now, nonce=None):
    """Arguments for WeixinJSBridge getBrandWCPayRequest, paySign made with the merchant private key."""
    params = {
        "appId": settings.appid,
        "timeStamp": str(int(now)),  # JS-SDK wants a string of seconds
        "nonceStr": nonce or random_nonce(32),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    message = "".join(f"{params[name]}\n" for name in ("appId", "timeStamp", "nonceStr", "package"))
    params["paySign"] = sign_message(settings.merchant_private_key_pem, message)
    return params
