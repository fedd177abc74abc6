"""Decrypted notification resources in WeChat's own field names (what `resource` holds after decryption)."""
import time

from .timefmt import rfc3339

TRADE_STATES = ("SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR")
TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "NOTPAY": "未支付",
    "CLOSED": "已关闭",
    "REVOKED": "已撤销",
    "USERPAYING": "用户支付中",
    "PAYERROR": "支付失败",
}
REFUND_STATUSES = ("SUCCESS", "PROCESSING", "ABNORMAL", "CLOSED")
CONTRACT_STATES = ("ADD", "DELETE")  # 委托代扣: signed (生效中), terminated (已解约)
# contract_termination_mode: how a contract ended (the payer in WeChat, or the merchant through the API).
TERMINATED_BY_PAYER, TERMINATED_BY_MERCHANT = 2, 3
# What lands in the payer's account for a refund to WeChat balance (零钱), the usual case.
BALANCE_ACCOUNT = "支付用户零钱"


def transaction_resource(settings, out_trade_no, transaction_id, amount_fen, payer_openid, trade_state="SUCCESS",
                         success_time=None, trade_type="JSAPI", bank_type="OTHERS", attach=""):
    """A TRANSACTION.* resource / order-query answer; success_time is epoch seconds or RFC 3339 text."""
    resource = {
        "mchid": settings.mchid,
        "appid": settings.appid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": trade_type,
        "trade_state": trade_state,
        "trade_state_desc": TRADE_STATE_DESC.get(trade_state, trade_state),
        "bank_type": bank_type,
        "attach": attach,
        "payer": {"openid": payer_openid},
        "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
    }
    if trade_state in ("SUCCESS", "REFUND"):  # WeChat only reports a success time for paid orders
        resource["success_time"] = _wire_time(success_time)
    return resource


def refund_resource(settings, out_trade_no, out_refund_no, refund_id, refund_fen, total_fen, refund_status="SUCCESS",
                    transaction_id="", success_time=None, user_received_account=BALANCE_ACCOUNT):
    """A REFUND.* notification resource (the refund notification has fewer fields than a refund query)."""
    resource = {
        "mchid": settings.mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": out_refund_no,
        "refund_id": refund_id,
        "refund_status": refund_status,
        "user_received_account": user_received_account,
        "amount": {"total": total_fen, "refund": refund_fen, "payer_total": total_fen, "payer_refund": refund_fen},
    }
    if refund_status == "SUCCESS":
        resource["success_time"] = _wire_time(success_time)
    return resource


def contract_resource(settings, plan_id, out_contract_code, contract_id, openid, change_type, operate_time,
                      display_account="", termination_mode=None):
    """A PAPAY.SIGN / PAPAY.TERMINATE resource (签约、解约结果通知), also the shape of a contract query answer."""
    resource = {
        "mchid": settings.mchid,
        "appid": settings.appid,
        "plan_id": plan_id,
        "out_contract_code": out_contract_code,
        "contract_id": contract_id,
        "openid": openid,
        "contract_display_account": display_account,
        "change_type": change_type,
        "contract_state": change_type,
        "operate_time": _wire_time(operate_time),
    }
    if change_type == "DELETE":
        resource["contract_termination_mode"] = termination_mode or TERMINATED_BY_MERCHANT
    return resource


def _wire_time(value):
    """RFC 3339 text from epoch seconds, RFC 3339 text, or None (now)."""
    if isinstance(value, str):
        return value
    return rfc3339(time.time() if value is None else value)
