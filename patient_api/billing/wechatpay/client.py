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

    # -- 委托代扣 (papay): a contract the payer signs once, then deductions without the payer acting ----------------
    @abstractmethod
    def presign_contract(self, plan_id, out_contract_code, display_account, openid, notify_url):
        """JSAPI pre-sign (公众号纯签约); returns {"redirect_url"}: the H5 page opens it and the payer signs in WeChat.
        Nothing is signed yet: the PAPAY.SIGN notification (or query_contract) says when it is."""

    @abstractmethod
    def query_contract(self, plan_id, out_contract_code):
        """The contract dict (contract_id, contract_state ADD | DELETE, openid, …); RESOURCE_NOT_EXISTS until signed."""

    @abstractmethod
    def terminate_contract(self, contract_id, note):
        """End a contract (解约); the PAPAY.TERMINATE notification confirms it."""

    @abstractmethod
    def pay_by_contract(self, out_trade_no, description, amount_fen, contract_id, notify_url):
        """Apply for a deduction (申请扣款) under a contract. WeChat only accepts it here; the charge happens after,
        reported by TRANSACTION.SUCCESS or by query (trade_state SUCCESS, or PAYERROR e.g. 余额不足). The same
        out_trade_no is charged at most once, so repeating the call after a lost answer is safe."""


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
