"""SandboxClient: WeChat Pay's order, refund and bill behaviour without WeChat; all state lives in the store."""
import re
import secrets
import time
import uuid

from .bill import NO_REFUND, render_trade_bill
from .client import PayClient
from .errors import PayError
from .notify import build_notification
from .resources import (
    BALANCE_ACCOUNT,
    TERMINATED_BY_MERCHANT,
    TERMINATED_BY_PAYER,
    TRADE_STATE_DESC,
    contract_resource,
    refund_resource,
    transaction_resource,
)
from .timefmt import bill_time, compact, epoch_of, local_date, rfc3339

DEFAULT_NAMESPACE = "wechatpay:sandbox:"
MAX_REFUNDS_PER_ORDER = 50
REFUND_WINDOW_SECONDS = 365 * 24 * 3600
PAID = ("SUCCESS", "REFUND")
SANDBOX_OPENID = "o-sandbox-payer"
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_|*-]{6,32}")
OUT_CONTRACT_CODE = re.compile(r"[A-Za-z0-9]{1,32}")  # 商户签约协议号: digits and letters only
NOT_ENOUGH = "余额不足（NOT_ENOUGH）"


class SandboxClient(PayClient):
    """A local WeChat Pay: same answers and errors as the live API, notifications signed with a sandbox key."""

    def __init__(self, settings, store, platform_private_key_pem, clock=time.time, namespace=DEFAULT_NAMESPACE):
        self.settings = settings
        self._store = store
        self._platform_key = platform_private_key_pem
        self._clock = clock
        self._ns = namespace

    # -- orders ------------------------------------------------------------------------------------------------
    def create_jsapi(self, out_trade_no, description, amount_fen, openid, time_expire):
        """Place a JSAPI order; repeating identical arguments returns the same prepay_id, as WeChat does."""
        if not openid:
            raise PayError("PARAM_ERROR", "JSAPI 下单需要 payer.openid", status=400)
        return self._create("JSAPI", out_trade_no, description, amount_fen, time_expire, openid)["prepay_id"]

    def create_native(self, out_trade_no, description, amount_fen, time_expire):
        """Place a Native order; returns a weixin://wxpay/bizpayurl code_url."""
        return self._create("NATIVE", out_trade_no, description, amount_fen, time_expire, None)["code_url"]

    def query(self, out_trade_no):
        """The order as WeChat's query answers it; unknown orders raise ORDER_NOT_EXIST (404)."""
        return self._transaction(self._order(out_trade_no))

    def close(self, out_trade_no):
        """Close an unpaid order (closing twice is fine); a paid order raises ORDERPAID."""
        order = self._order(out_trade_no)
        if order["trade_state"] in PAID:
            raise PayError("ORDERPAID", "订单已支付", status=400)
        order["trade_state"] = "CLOSED"
        self._store.set(self._order_key(out_trade_no), order)

    def simulate_payment(self, out_trade_no, payer_openid, now):
        """The payer pays: mark SUCCESS and return the signed TRANSACTION.SUCCESS notification (headers, body)."""
        order = self._order(out_trade_no)
        if order["trade_state"] == "CLOSED":
            raise PayError("ORDER_CLOSED", "订单已关闭", status=400)
        if order["trade_state"] == "NOTPAY":
            if now > order["time_expire"]:
                raise PayError("ORDER_EXPIRED", "订单已过支付期限", status=400)
            if order["trade_type"] == "JSAPI" and payer_openid and payer_openid != order["openid"]:
                raise PayError("PARAM_ERROR", "JSAPI 订单只能由下单用户支付", status=400)
            order.update(trade_state="SUCCESS", success_time=int(now), transaction_id=_digits("4200", 24),
                         openid=order["openid"] or payer_openid or SANDBOX_OPENID)
            self._store.set(self._order_key(out_trade_no), order)
        # A paid order re-sends the same notification (same id), like WeChat's retries.
        resource = self._transaction(order, trade_state="SUCCESS")
        return self._notification("TRANSACTION.SUCCESS", resource, now, out_trade_no)

    # -- refunds -----------------------------------------------------------------------------------------------
    def refund(self, out_trade_no, out_refund_no, refund_fen, total_fen, reason=""):
        """Refund at once (status SUCCESS); repeating an out_refund_no returns the first refund."""
        existing = self._store.get(self._refund_key(out_refund_no))
        if existing is not None:
            return self._same_refund(existing, out_trade_no, refund_fen)
        order = self._order(out_trade_no, missing_code="RESOURCE_NOT_EXISTS")
        now = int(self._clock())
        self._check_refund(order, refund_fen, total_fen, now)
        record = {"out_refund_no": out_refund_no, "out_trade_no": out_trade_no, "refund_fen": refund_fen,
                  "total_fen": total_fen, "reason": reason, "transaction_id": order["transaction_id"],
                  "refund_id": _digits("50", 27), "status": "SUCCESS", "create_time": now, "success_time": now}
        if not self._add(self._refund_key(out_refund_no), record):  # another process won the same refund number
            return self._same_refund(self._store.get(self._refund_key(out_refund_no)), out_trade_no, refund_fen)
        order["refunded_fen"] += refund_fen
        order["refunds"].append(out_refund_no)
        order["trade_state"] = "REFUND"
        self._store.set(self._order_key(out_trade_no), order)
        return self._refund_view(record)

    def query_refund(self, out_refund_no):
        """The refund as WeChat's refund query answers it; unknown refunds raise RESOURCE_NOT_EXISTS (404)."""
        return self._refund_view(self._refund(out_refund_no))

    def simulate_refund_notification(self, out_refund_no, now, status="SUCCESS"):
        """Signed REFUND.<status> notification (SUCCESS, ABNORMAL or CLOSED), updating the refund to that status."""
        record = self._refund(out_refund_no)
        if status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
            raise ValueError("refund notifications are SUCCESS, ABNORMAL or CLOSED")
        if record["status"] != status:
            self._move_refund(record, status, now)
        resource = refund_resource(self.settings, record["out_trade_no"], out_refund_no, record["refund_id"],
                                   record["refund_fen"], record["total_fen"], record["status"],
                                   transaction_id=record["transaction_id"], success_time=record["success_time"])
        return self._notification(f"REFUND.{status}", resource, now, out_refund_no)

    # -- 委托代扣 (papay) ----------------------------------------------------------------------------------------
    def presign_contract(self, plan_id, out_contract_code, display_account, openid, notify_url):
        """Open a signing session; the same code again (still unsigned) gives the same page, a used code is refused."""
        if not isinstance(out_contract_code, str) or not OUT_CONTRACT_CODE.fullmatch(out_contract_code):
            raise PayError("PARAM_ERROR", "out_contract_code 应为 1-32 位数字或字母", status=400)
        if not openid or not display_account or len(display_account) > 32:
            raise PayError("PARAM_ERROR", "openid 必填，contract_display_account 长度应为 1-32", status=400)
        record = {"plan_id": plan_id, "out_contract_code": out_contract_code, "openid": openid,
                  "display_account": display_account, "state": "PENDING", "contract_id": "",
                  "session": secrets.token_urlsafe(12), "operate_time": None, "termination_mode": None}
        if not self._add(self._contract_key(out_contract_code), record):
            record = self._contract(out_contract_code)
            if record["state"] != "PENDING" or record["openid"] != openid:
                raise PayError("INVALID_REQUEST", "商户签约协议号已使用", status=400)
        return {"redirect_url": f"https://sandbox.wechatpay.invalid/papay/sign?session={record['session']}"}

    def simulate_contract_signing(self, out_contract_code, now, openid=None):
        """The payer signs in the (simulated) WeChat page: ADD, and the signed PAPAY.SIGN notification (headers, body).
        Signing again re-sends the same notification, as WeChat's retries do."""
        record = self._contract(out_contract_code)
        if openid and openid != record["openid"]:
            raise PayError("PARAM_ERROR", "只能由发起签约的用户签约", status=400)
        if record["state"] == "DELETE":
            raise PayError("CONTRACT_TERMINATED", "协议已解约", status=400)
        if record["state"] == "PENDING":
            record.update(state="ADD", contract_id=_digits("2026", 20), operate_time=int(now))
            self._store.set(self._contract_key(out_contract_code), record)
            self._store.set(self._contract_id_key(record["contract_id"]), {"out_contract_code": out_contract_code})
        return self.contract_notification(out_contract_code, now)

    def query_contract(self, plan_id, out_contract_code):
        """The signed (or terminated) contract; RESOURCE_NOT_EXISTS while nobody has signed."""
        record = self._store.get(self._contract_key(out_contract_code))
        if record is None or record["state"] == "PENDING" or record["plan_id"] != plan_id:
            raise PayError("RESOURCE_NOT_EXISTS", "协议不存在", status=404)
        return self._contract_view(record)

    def terminate_contract(self, contract_id, note):
        """The merchant ends the contract (repeating it is harmless); the PAPAY.TERMINATE notification follows."""
        self._end_contract(contract_id, TERMINATED_BY_MERCHANT)

    def simulate_user_termination(self, contract_id, now):
        """The payer ends the contract in WeChat (钱包 → 支付设置 → 自动扣费): its PAPAY.TERMINATE notification."""
        record = self._end_contract(contract_id, TERMINATED_BY_PAYER, now)
        return self.contract_notification(record["out_contract_code"], now)

    def contract_notification(self, out_contract_code, now):
        """The signed PAPAY.SIGN or PAPAY.TERMINATE notification of the contract's present state (fixed id)."""
        record = self._contract(out_contract_code)
        if record["state"] == "PENDING":
            raise PayError("RESOURCE_NOT_EXISTS", "协议尚未签约", status=404)
        event = "PAPAY.SIGN" if record["state"] == "ADD" else "PAPAY.TERMINATE"
        return self._notification(event, self._contract_view(record), now, "contract:" + out_contract_code)

    def pay_by_contract(self, out_trade_no, description, amount_fen, contract_id, notify_url):
        """Deduct at once from the payer's sandbox wallet: SUCCESS, or PAYERROR 余额不足 when the wallet is short.
        One out_trade_no is charged once; repeating it with the same arguments is accepted again and changes nothing."""
        index = self._store.get(self._contract_id_key(contract_id)) if contract_id else None
        record = index and self._contract(index["out_contract_code"])
        if not record or record["state"] != "ADD":
            raise PayError("CONTRACT_NOT_EXIST", "委托代扣协议不存在或已解约", status=400)
        _check_order_args(out_trade_no, description, amount_fen)
        now = int(self._clock())
        order = {"out_trade_no": out_trade_no, "trade_type": "PAP", "description": description,
                 "amount_fen": amount_fen, "openid": record["openid"], "time_expire": now, "created_at": now,
                 "trade_state": "NOTPAY", "transaction_id": "", "success_time": None, "refunded_fen": 0, "refunds": [],
                 "prepay_id": "", "code_url": "", "contract_id": contract_id, "fail_reason": ""}
        if not self._add(self._order_key(out_trade_no), order):
            existing = self._order(out_trade_no)
            if (existing.get("contract_id"), existing["amount_fen"]) != (contract_id, amount_fen):
                raise PayError("OUT_TRADE_NO_USED", "商户订单号重复", status=400)
            return
        wallet = self._store.get(self._wallet_key(record["openid"]))
        if wallet is not None and wallet["balance_fen"] < amount_fen:
            order.update(trade_state="PAYERROR", fail_reason=NOT_ENOUGH)
        else:
            if wallet is not None:
                self._store.set(self._wallet_key(record["openid"]), {"balance_fen": wallet["balance_fen"] - amount_fen})
            order.update(trade_state="SUCCESS", success_time=now, transaction_id=_digits("4200", 24))
        self._store.set(self._order_key(out_trade_no), order)

    def deduction_notification(self, out_trade_no, now):
        """The signed TRANSACTION.SUCCESS notification of a successful deduction (fixed id, so re-sends are replays)."""
        order = self._order(out_trade_no)
        if order["trade_state"] not in PAID:
            raise PayError("ORDER_NOT_PAID", "扣款未成功", status=400)
        return self._notification("TRANSACTION.SUCCESS", self._transaction(order, trade_state="SUCCESS"), now,
                                  out_trade_no)

    def set_wallet(self, openid, balance_fen):
        """The payer's sandbox balance (None: unlimited), to play 余额不足 and its remedy."""
        if balance_fen is None:
            self._store.set(self._wallet_key(openid), None)
        else:
            self._store.set(self._wallet_key(openid), {"balance_fen": balance_fen})

    # -- bill --------------------------------------------------------------------------------------------------
    def trade_bill(self, bill_date):
        """The ALL trade bill of bill_date (China time): payments by success time, refunds by application time."""
        orders = [self._store.get(key) for key in self._store.keys(self._ns + "order:")]
        refunds = [self._store.get(key) for key in self._store.keys(self._ns + "refund:")]
        by_no = {order["out_trade_no"]: order for order in orders if order}
        rows = [self._payment_row(order) for order in by_no.values()
                if order.get("success_time") and local_date(order["success_time"]) == bill_date]
        rows += [self._refund_row(refund, by_no[refund["out_trade_no"]]) for refund in refunds
                 if refund and refund["out_trade_no"] in by_no and local_date(refund["create_time"]) == bill_date]
        rows.sort(key=lambda row: (row["trade_time"], row["out_trade_no"], row["out_refund_no"]))
        return render_trade_bill(rows)

    # -- internals ---------------------------------------------------------------------------------------------
    def _order_key(self, out_trade_no):
        """Store key of an order."""
        return f"{self._ns}order:{out_trade_no}"

    def _refund_key(self, out_refund_no):
        """Store key of a refund."""
        return f"{self._ns}refund:{out_refund_no}"

    def _contract_key(self, out_contract_code):
        """Store key of a contract (by the merchant's code)."""
        return f"{self._ns}contract:{out_contract_code}"

    def _contract_id_key(self, contract_id):
        """Store key of the contract-id → code index."""
        return f"{self._ns}contract-id:{contract_id}"

    def _wallet_key(self, openid):
        """Store key of a payer's sandbox balance."""
        return f"{self._ns}wallet:{openid}"

    def _contract(self, out_contract_code):
        """The stored contract, or WeChat's 404."""
        record = self._store.get(self._contract_key(out_contract_code))
        if record is None:
            raise PayError("RESOURCE_NOT_EXISTS", "协议不存在", status=404)
        return record

    def _end_contract(self, contract_id, mode, now=None):
        """ADD → DELETE (once); returns the record."""
        index = self._store.get(self._contract_id_key(contract_id)) if contract_id else None
        if index is None:
            raise PayError("CONTRACT_NOT_EXIST", "委托代扣协议不存在", status=400)
        record = self._contract(index["out_contract_code"])
        if record["state"] == "ADD":
            record.update(state="DELETE", termination_mode=mode, operate_time=int(now or self._clock()))
            self._store.set(self._contract_key(record["out_contract_code"]), record)
        return record

    def _contract_view(self, record):
        """WeChat's contract dict (notification resource and query answer)."""
        return contract_resource(self.settings, record["plan_id"], record["out_contract_code"], record["contract_id"],
                                 record["openid"], record["state"], record["operate_time"], record["display_account"],
                                 record["termination_mode"])

    def _add(self, key, value):
        """Set only if absent; uses the store's atomic add when it has one."""
        add = getattr(self._store, "add", None)
        if add is not None:
            return add(key, value)
        if self._store.get(key) is not None:
            return False
        self._store.set(key, value)
        return True

    def _order(self, out_trade_no, missing_code="ORDER_NOT_EXIST"):
        """The stored order, or WeChat's 404."""
        order = self._store.get(self._order_key(out_trade_no))
        if order is None:
            raise PayError(missing_code, "订单不存在", status=404)
        return order

    def _refund(self, out_refund_no):
        """The stored refund, or WeChat's 404."""
        record = self._store.get(self._refund_key(out_refund_no))
        if record is None:
            raise PayError("RESOURCE_NOT_EXISTS", "退款单不存在", status=404)
        return record

    def _create(self, trade_type, out_trade_no, description, amount_fen, time_expire, openid):
        """Store a NOTPAY order, or answer a repeat the way WeChat does."""
        _check_order_args(out_trade_no, description, amount_fen)
        now = int(self._clock())
        order = {"out_trade_no": out_trade_no, "trade_type": trade_type, "description": description,
                 "amount_fen": amount_fen, "openid": openid, "time_expire": int(epoch_of(time_expire)),
                 "created_at": now, "trade_state": "NOTPAY", "transaction_id": "", "success_time": None,
                 "refunded_fen": 0, "refunds": [],
                 "prepay_id": f"wx{compact(now)}{secrets.token_hex(11)}",
                 "code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"}
        if self._add(self._order_key(out_trade_no), order):
            return order
        return _repeat(self._store.get(self._order_key(out_trade_no)), order)

    def _transaction(self, order, trade_state=None):
        """WeChat's transaction dict for an order."""
        state = trade_state or order["trade_state"]
        if state in PAID:
            return transaction_resource(self.settings, order["out_trade_no"], order["transaction_id"],
                                        order["amount_fen"], order["openid"], trade_state=state,
                                        success_time=order["success_time"], trade_type=order["trade_type"])
        return {"appid": self.settings.appid, "mchid": self.settings.mchid, "out_trade_no": order["out_trade_no"],
                "trade_state": state, "trade_state_desc": order.get("fail_reason") or TRADE_STATE_DESC[state],
                "attach": "",
                "amount": {"total": order["amount_fen"], "currency": "CNY", "payer_currency": "CNY"}}

    def _check_refund(self, order, refund_fen, total_fen, now):
        """WeChat's refund rules: paid order, matching total, within what is left, 50 refunds, 365 days."""
        if order["trade_state"] not in PAID:
            raise PayError("INVALID_REQUEST", "订单未支付，不能退款", status=400)
        if not _positive_int(refund_fen) or total_fen != order["amount_fen"]:
            raise PayError("PARAM_ERROR", "退款金额或订单金额不正确", status=400)
        if order["refunded_fen"] + refund_fen > order["amount_fen"]:
            raise PayError("INVALID_REQUEST", "申请退款金额超过订单可退金额", status=400)
        if len(order["refunds"]) >= MAX_REFUNDS_PER_ORDER:
            raise PayError("INVALID_REQUEST", "超过订单最大退款次数", status=400)
        if now - order["success_time"] > REFUND_WINDOW_SECONDS:
            raise PayError("INVALID_REQUEST", "订单已超过可退款期限", status=400)

    def _same_refund(self, existing, out_trade_no, refund_fen):
        """A repeated out_refund_no: same request → first answer, different request → error."""
        if existing["out_trade_no"] != out_trade_no or existing["refund_fen"] != refund_fen:
            raise PayError("INVALID_REQUEST", "退款单号已用于其他退款", status=400)
        return self._refund_view(existing)

    def _move_refund(self, record, status, now):
        """Change a refund's status; a CLOSED refund gives its amount back to the order's refundable balance."""
        if record["status"] == "CLOSED":
            raise ValueError("a closed refund stays closed")
        if status == "CLOSED":
            order = self._order(record["out_trade_no"])
            order["refunded_fen"] -= record["refund_fen"]
            self._store.set(self._order_key(record["out_trade_no"]), order)
        record.update(status=status, success_time=int(now) if status == "SUCCESS" else None)
        self._store.set(self._refund_key(record["out_refund_no"]), record)

    def _refund_view(self, record):
        """WeChat's refund dict (apply-refund and query-refund answers)."""
        view = {"refund_id": record["refund_id"], "out_refund_no": record["out_refund_no"],
                "transaction_id": record["transaction_id"], "out_trade_no": record["out_trade_no"],
                "channel": "ORIGINAL", "user_received_account": BALANCE_ACCOUNT, "status": record["status"],
                "create_time": rfc3339(record["create_time"]), "funds_account": "AVAILABLE", "promotion_detail": [],
                "amount": {"total": record["total_fen"], "refund": record["refund_fen"],
                           "payer_total": record["total_fen"], "payer_refund": record["refund_fen"],
                           "settlement_total": record["total_fen"], "settlement_refund": record["refund_fen"],
                           "discount_refund": 0, "refund_fee": 0, "currency": "CNY"}}
        if record["success_time"] is not None:
            view["success_time"] = rfc3339(record["success_time"])
        return view

    def _notification(self, event_type, resource, now, number):
        """Build a signed notification whose id is fixed per (object, event), so re-sends are true replays."""
        notification_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.settings.mchid}/{number}/{event_type}"))
        return build_notification(self.settings, self._platform_key, event_type, resource, now,
                                  notification_id=notification_id)

    def _payment_row(self, order):
        """A bill row for a payment (trade state SUCCESS even if refunded later: bills are day snapshots)."""
        return {**self._bill_base(order), "trade_time": bill_time(order["success_time"]), "trade_state": "SUCCESS",
                "settled_fen": order["amount_fen"], "amount_fen": order["amount_fen"],
                "refund_id": NO_REFUND, "out_refund_no": NO_REFUND}

    def _refund_row(self, refund, order):
        """A bill row for a refund application."""
        return {**self._bill_base(order), "trade_time": bill_time(refund["create_time"]), "trade_state": "REFUND",
                "refund_id": refund["refund_id"], "out_refund_no": refund["out_refund_no"],
                "refund_fen": refund["refund_fen"], "requested_refund_fen": refund["refund_fen"],
                "refund_type": "ORIGINAL", "refund_status": refund["status"]}

    def _bill_base(self, order):
        """Columns shared by payment and refund rows."""
        return {"appid": self.settings.appid, "mchid": self.settings.mchid, "sub_mchid": "0", "device_info": "",
                "transaction_id": order["transaction_id"], "out_trade_no": order["out_trade_no"],
                "openid": order["openid"] or "", "trade_type": order["trade_type"], "bank_type": "OTHERS",
                "currency": "CNY", "description": order["description"], "attach": "", "rate": "0.60%",
                "rate_note": ""}


def _repeat(existing, order):
    """WeChat's answer to placing an out_trade_no again."""
    if existing["trade_state"] in PAID:
        raise PayError("ORDERPAID", "该订单已支付", status=400)
    if existing["trade_state"] == "CLOSED":
        raise PayError("ORDER_CLOSED", "订单已关闭", status=400)
    fields = ("trade_type", "description", "amount_fen", "openid", "time_expire")
    if any(existing[name] != order[name] for name in fields):
        raise PayError("OUT_TRADE_NO_USED", "商户订单号重复", status=400)
    return existing


def _check_order_args(out_trade_no, description, amount_fen):
    """The parameter checks WeChat makes before accepting an order."""
    if not isinstance(out_trade_no, str) or not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise PayError("PARAM_ERROR", "out_trade_no 应为 6-32 位字母、数字或 _-|*", status=400)
    if not description or len(description) > 127:
        raise PayError("PARAM_ERROR", "description 长度应为 1-127", status=400)
    if not _positive_int(amount_fen):
        raise PayError("PARAM_ERROR", "amount.total 必须为正整数（分）", status=400)


def _positive_int(value):
    """A positive int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _digits(prefix, count):
    """A WeChat-style numeric id: prefix plus random digits."""
    return prefix + "".join(secrets.choice("0123456789") for _ in range(count))
