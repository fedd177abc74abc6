"""Sandbox only (PATIENT_API_WECHATPAY_MODE=sandbox): play WeChat's part so the demo can be paid end to end.

"Paying" marks the order paid in the sandbox and queues the correctly signed notification that WeChat
would send; the worker POSTs it to PATIENT_API_WECHATPAY_NOTIFY_URL like WeChat does (outbox, retries).
"""
import json
import time

import requests
from flask.views import MethodView
from marshmallow import Schema, fields

from ..accounts.models import Account
from ..common import outbox
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..errors import Conflict, NotFound
from ..extensions import db
from .gateway import pay_gateway, queue_sandbox_notification
from .models import Payment
from .services import bill_for
from .wechatpay import PayError

blp = Blueprint("wechatpay_sandbox", __name__, description="WeChat Pay sandbox (local demo only)")


class SandboxPayOut(Schema):
    """What the sandbox did."""

    out_trade_no = fields.String(required=True)
    notification_queued = fields.Boolean(required=True)


@blp.route("/sandbox/wechatpay/orders/<id:out_trade_no>/pay")
class SandboxPay(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SandboxPayOut)
    def post(self, out_trade_no):
        """The resident confirms the payment in the (simulated) WeChat wallet."""
        settings, client = pay_gateway()
        payment = db.session.query(Payment).filter_by(out_trade_no=out_trade_no).first()
        if settings.is_live or payment is None:
            raise NotFound()
        bill_for(current_account_id(), payment.bill_id)  # only the payer's own orders
        try:
            headers, body = client.simulate_payment(out_trade_no, None, time.time())
        except PayError as exc:
            raise Conflict("订单已关闭或已过期", code="order_not_payable") from exc
        outbox.enqueue("wechatpay_sandbox", settings.notify_url, "TRANSACTION.SUCCESS",
                       {"headers": headers, "body": body.decode()})
        return {"out_trade_no": out_trade_no, "notification_queued": True}


class SandboxSignOut(Schema):
    """What the sandbox did."""

    out_contract_code = fields.String(required=True)
    notification_queued = fields.Boolean(required=True)


@blp.route("/sandbox/wechatpay/contracts/<id:out_contract_code>/sign")
class SandboxSignContract(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SandboxSignOut)
    def post(self, out_contract_code):
        """The resident signs the 委托代扣 contract in the (simulated) WeChat page; PAPAY.SIGN follows."""
        settings, client = pay_gateway()
        if settings.is_live:
            raise NotFound()
        openid = db.session.get(Account, current_account_id()).openid
        try:  # only the account that opened the signing page may sign it
            wire = client.simulate_contract_signing(out_contract_code, time.time(), openid=openid)
        except PayError as exc:
            raise NotFound() if exc.status == 404 or exc.code == "PARAM_ERROR" else \
                Conflict("该协议已解约", code="contract_not_signable") from exc
        queue_sandbox_notification(settings, "PAPAY.SIGN", wire)
        return {"out_contract_code": out_contract_code, "notification_queued": True}


def deliver(notify_url, _event, payload):
    """Worker: send a queued sandbox notification to the service, as WeChat would."""
    message = json.loads(payload)
    response = requests.post(notify_url, data=message["body"].encode(), headers=message["headers"], timeout=(3, 10))
    if response.status_code not in (200, 204):
        raise RuntimeError(f"HTTP {response.status_code}")
