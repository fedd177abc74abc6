"""LiveClient: the real api.mch.weixin.qq.com through wechatpayv3 in platform-public-key mode."""
import gzip
import hashlib
import json
import zlib

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType

from .client import PayClient
from .crypto import private_key_pkcs8, public_key_spki
from .errors import PayError
from .timefmt import datetime_rfc3339

# WeChat asks callers to retry these with the same parameters; everything else needs a human or a new request.
RETRYABLE_CODES = {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANK_ERROR", "BANKERROR"}
DEFAULT_TIMEOUT = (5, 20)  # (connect, read) seconds; a hung call must not pin a worker
# 委托代扣 (papay) v3 paths of a direct merchant (普通商户); wechatpayv3 has no wrappers, so they go through its core.
PAPAY_PRESIGN_JSAPI = "/v3/papay/scheduled-deduct-sign/contracts/pre-entrust-sign/jsapi"
PAPAY_CONTRACT_BY_CODE = "/v3/papay/sign/contracts/plan-id/{plan_id}/out-contract-code/{code}?appid={appid}"
PAPAY_TERMINATE = "/v3/papay/sign/contracts/{contract_id}/terminate"
PAPAY_APPLY = "/v3/papay/pay/transactions/apply"


class LiveClient(PayClient):
    """Calls WeChat Pay API v3; answers are WeChat's JSON dicts, failures raise PayError."""

    def __init__(self, settings, timeout=DEFAULT_TIMEOUT):
        self.settings = settings
        # Public-key mode (public_key + public_key_id) means no certificate download at start-up, and every
        # answer is verified against the configured platform public key.
        self._wxpay = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=settings.mchid,
            private_key=private_key_pkcs8(settings.merchant_private_key_pem),
            cert_serial_no=settings.merchant_cert_serial_no,
            appid=settings.appid,
            apiv3_key=settings.apiv3_key,
            notify_url=settings.notify_url,
            # No logger on purpose: wechatpayv3 logs whole request/response bodies (openids, amounts) at DEBUG.
            logger=None,
            timeout=timeout,
            public_key=public_key_spki(settings.platform_public_key_pem),
            public_key_id=settings.platform_public_key_id,
        )

    def create_jsapi(self, out_trade_no, description, amount_fen, openid, time_expire):
        """POST /v3/pay/transactions/jsapi; returns prepay_id."""
        answer = self._json(self._wxpay.pay, description=description, out_trade_no=out_trade_no,
                            amount={"total": amount_fen, "currency": "CNY"}, payer={"openid": openid},
                            time_expire=datetime_rfc3339(time_expire), pay_type=WeChatPayType.JSAPI)
        return _field(answer, "prepay_id")

    def create_native(self, out_trade_no, description, amount_fen, time_expire):
        """POST /v3/pay/transactions/native; returns code_url."""
        answer = self._json(self._wxpay.pay, description=description, out_trade_no=out_trade_no,
                            amount={"total": amount_fen, "currency": "CNY"},
                            time_expire=datetime_rfc3339(time_expire), pay_type=WeChatPayType.NATIVE)
        return _field(answer, "code_url")

    def query(self, out_trade_no):
        """GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=..."""
        return self._json(self._wxpay.query, out_trade_no=out_trade_no)

    def close(self, out_trade_no):
        """POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close (204, no body)."""
        self._call(self._wxpay.close, out_trade_no=out_trade_no)

    def refund(self, out_trade_no, out_refund_no, refund_fen, total_fen, reason=""):
        """POST /v3/refund/domestic/refunds; the refund notification goes to the same notify_url."""
        return self._json(self._wxpay.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                          amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
                          reason=reason or None)

    def query_refund(self, out_refund_no):
        """GET /v3/refund/domestic/refunds/{out_refund_no}."""
        return self._json(self._wxpay.query_refund, out_refund_no=out_refund_no)

    def trade_bill(self, bill_date):
        """GET /v3/bill/tradebill, download the gzip file, check its SHA1, return the CSV text."""
        info = self._json(self._wxpay.trade_bill, bill_date=bill_date.isoformat(), bill_type="ALL", tar_type="GZIP")
        _, content = self._call(self._wxpay.download_bill, url=_field(info, "download_url"))
        raw = content.encode("utf-8") if isinstance(content, str) else content
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PayError("BILL_CORRUPT", "账单文件不是 gzip", retryable=True) from exc
        # The file itself is unsigned; the SHA1 came in a signed answer, so checking it authenticates the file.
        if hashlib.sha1(data).hexdigest().lower() != str(info.get("hash_value", "")).lower():
            raise PayError("BILL_HASH_MISMATCH", "账单文件摘要不符", retryable=True)
        return data.decode("utf-8-sig")

    def presign_contract(self, plan_id, out_contract_code, display_account, openid, notify_url):
        """POST JSAPI pre-sign (公众号纯签约); returns {"redirect_url"} for the H5 page (valid 10 minutes)."""
        answer = self._json(self._core_request, path=PAPAY_PRESIGN_JSAPI, verb=RequestType.POST, data={
            "appid": self.settings.appid, "openid": openid, "plan_id": int(plan_id),
            "out_contract_code": out_contract_code, "contract_display_account": display_account,
            "contract_notify_url": notify_url})
        return {"redirect_url": _field(answer, "redirect_url")}

    def query_contract(self, plan_id, out_contract_code):
        """GET the contract by the merchant's code (查询签约)."""
        return self._json(self._core_request, path=PAPAY_CONTRACT_BY_CODE.format(
            plan_id=int(plan_id), code=out_contract_code, appid=self.settings.appid), verb=RequestType.GET)

    def terminate_contract(self, contract_id, note):
        """POST 申请解约 (204, no body); the PAPAY.TERMINATE notification confirms."""
        self._call(self._core_request, path=PAPAY_TERMINATE.format(contract_id=contract_id), verb=RequestType.POST,
                   data={"appid": self.settings.appid, "termination_note": note[:256]})

    def pay_by_contract(self, out_trade_no, description, amount_fen, contract_id, notify_url):
        """POST 受理扣款: accepted only; the result comes as TRANSACTION.SUCCESS or from query()."""
        self._call(self._core_request, path=PAPAY_APPLY, verb=RequestType.POST, data={
            "appid": self.settings.appid, "out_trade_no": out_trade_no, "description": description,
            "transaction_notify_url": notify_url, "contract_id": contract_id,
            "amount": {"total": amount_fen, "currency": "CNY"}})

    def _core_request(self, path, verb, data=None):
        """wechatpayv3's signed request (answers verified against the platform public key)."""
        return self._wxpay._core.request(path, method=verb, data=data)

    def _json(self, method, **kwargs):
        """Call and decode a JSON answer."""
        status, body = self._call(method, **kwargs)
        try:
            answer = json.loads(body)
        except (ValueError, TypeError) as exc:
            raise PayError("BAD_RESPONSE", "微信支付应答不是 JSON", retryable=True, status=status) from exc
        if not isinstance(answer, dict):
            raise PayError("BAD_RESPONSE", "微信支付应答不是对象", retryable=True, status=status)
        return answer

    def _call(self, method, **kwargs):
        """Run one wechatpayv3 call; network failures and non-2xx answers become PayError."""
        try:
            status, body = method(**kwargs)
        except requests.RequestException as exc:  # connection refused, timeout, TLS...: nothing was answered
            raise PayError("NETWORK_ERROR", str(exc), retryable=True) from exc
        except Exception as exc:  # wechatpayv3 raises bare Exception, e.g. for an answer whose signature fails
            code = "INVALID_RESPONSE_SIGNATURE" if "signature" in str(exc) else "SDK_ERROR"
            raise PayError(code, str(exc), retryable=False) from exc
        if 200 <= status < 300:
            return status, body
        raise error_from_answer(status, body)


def error_from_answer(status, body):
    """PayError from a non-2xx answer {"code", "message"}; 429, 5xx and SYSTEM_ERROR-like codes are retryable."""
    try:
        answer = json.loads(body)
    except (ValueError, TypeError):
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    code = str(answer.get("code") or f"HTTP_{status}")
    retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
    return PayError(code, str(answer.get("message") or ""), retryable=retryable, status=status)


def _field(answer, name):
    """A required string field of an answer."""
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        raise PayError("BAD_RESPONSE", f"微信支付应答缺少 {name}", retryable=True)
    return value
